// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * main.c - the snapvm launcher: --help, --version, and the dispatch to its
 * subcommands, one file each (run.c, call.c, snapshot.c, info.c; what they
 * share is cli.c's). The guest's output goes to stdout, ours to stderr.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "uapi/snapvm.h"
#include "userspace/launcher/cli.h"
#include "userspace/launcher/linux_run.h"
#include "userspace/lib/snapvm.h"

int main(int argc, char **argv)
{
	/* A reader that went away (`snapvm run G | head`) is an output error
	 * (EPIPE, exit 74), not a reason to die of SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		return usage_error("%s", "which command? (run, call, snapshot, info)");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("snapvm %s (module API %d, KVM API %d)\n", SNAPVM_VERSION,
		       SNAPVM_API_VERSION, 12);
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return linux_run_wanted(argc - 1, argv + 1) ? linux_cmd_run(argc - 1, argv + 1)
							    : cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "call"))
		return cmd_call(argc - 1, argv + 1);
	if (!strcmp(argv[1], "snapshot"))
		return cmd_snapshot(argc - 1, argv + 1);
	if (!strcmp(argv[1], "info")) {
		if (argc > 2)
			return usage_error("info takes no arguments, not '%s'", argv[2]);
		return cmd_info();
	}
	return usage_error("unknown command '%s': want run, call, snapshot or info", argv[1]);
}
