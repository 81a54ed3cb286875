// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * cli.c - snapvm-runc's command line, runc's: global options, then one
 * command. Also the commands that need no container: features, --version,
 * --help, and exec's refusal.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/runc/runc.h"

static const char usage_text[] =
    "usage: snapvm-runc [GLOBAL OPTIONS] COMMAND [OPTIONS] [ID]\n"
    "\n"
    "An OCI runtime with runc's command line: each container's process runs in a\n"
    "snapvm micro-VM (docs/runc.md).\n"
    "\n"
    "Global options:\n"
    "  --root DIR           state directory (default " RUNC_DEFAULT_ROOT ")\n"
    "  --log FILE           append errors to FILE\n"
    "  --log-format json|text   (default json)\n"
    "  --debug, --systemd-cgroup   accepted and ignored (a systemd cgroupsPath\n"
    "                       \"slice:prefix:name\" is recognised by its form)\n"
    "  -v, --version        print the version\n"
    "  -h, --help           print this help\n"
    "\n"
    "Commands:\n"
    "  create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK]\n"
    "         [--no-pivot] [--no-new-keyring] ID\n"
    "  start ID\n"
    "  kill [--all] ID [SIGNAL]      SIGNAL: a number or a name (default SIGTERM)\n"
    "  delete [--force] ID\n"
    "  state ID\n"
    "  ps [--format json|table] ID\n"
    "  pause ID, resume ID\n"
    "  update [--memory SIZE] [--resources FILE|-] ID   the memory limit only\n"
    "  features\n"
    "  exec                          refused: a snapvm container runs one process\n"
    "\n"
    "Errors go to stderr and --log; a failed command exits with status 1.\n";

static int cmd_features(void)
{
	json_t *f = json_pack(
	    "{s:s,s:s,s:[],s:[],s:{s:[s,s,s,s,s,s,s],s:[],s:{s:b,s:b,s:b,s:b},s:{s:b},"
	    "s:{s:b},s:{s:b}},s:{s:s,s:s,s:s,s:s,s:s}}",
	    "ociVersionMin", "1.0.0", "ociVersionMax", RUNC_OCI_VERSION, "hooks", "mountOptions",
	    "linux", "namespaces", "cgroup", "ipc", "mount", "network", "pid", "user", "uts",
	    "capabilities", "cgroup", "v1", 1, "v2", 1, "systemd", 0, "systemdUser", 0, "seccomp",
	    "enabled", 0, "apparmor", "enabled", 0, "selinux", "enabled", 0, "annotations",
	    "io.snapvm.runtime", RUNC_NAME " " SNAPVM_VERSION, "io.snapvm.memory",
	    "SIZE: the guest's memory cap (K, M, G suffixes)", "io.snapvm.timeout",
	    "SECONDS: the run's deadline, then status 124", "io.snapvm.snapshot-at",
	    "entry|first-read: the program's start-up runs in create, up to that point",
	    "io.snapvm.process", "a static Linux program, a snapvm guest ELF or a snapshot file");
	char *text = f ? json_dumps(f, JSON_INDENT(2)) : NULL;

	json_decref(f);
	if (!text)
		return fail("features: out of memory");
	printf("%s\n", text);
	free(text);
	return 0;
}

/* --name VALUE or --name=VALUE at argv[*i]; NULL when argv[*i] is not it. */
static const char *valued(int argc, char **argv, int *i, const char *name, int *bad)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n))
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n])
		return NULL;
	if (*i + 1 >= argc) {
		*bad = fail("option %s needs a value", name);
		return NULL;
	}
	return argv[++*i];
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
	    {"create", cmd_create}, {"start", cmd_start},   {"kill", cmd_kill},
	    {"delete", cmd_delete}, {"state", cmd_state},   {"ps", cmd_ps},
	    {"pause", cmd_pause},   {"resume", cmd_resume}, {"update", cmd_update},
	};
	const char *log = NULL, *v;
	bool json = true;
	int i, bad = 0;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if ((v = valued(argc, argv, &i, "--root", &bad)))
			runc_root = v;
		else if ((v = valued(argc, argv, &i, "--log", &bad)) && strncmp(a, "--log-", 6))
			log = v;
		else if ((v = valued(argc, argv, &i, "--log-format", &bad))) {
			if (strcmp(v, "json") && strcmp(v, "text"))
				return fail("--log-format %s: want json or text", v);
			json = !strcmp(v, "json");
		} else if ((v = valued(argc, argv, &i, "--criu", &bad)) ||
			   (v = valued(argc, argv, &i, "--rootless", &bad)))
			; /* no checkpointing; rootless needs nothing else */
		else if (bad)
			return bad;
		else if (!strcmp(a, "--debug") || !strcmp(a, "--systemd-cgroup"))
			; /* no debug log; a systemd cgroupsPath is known by its form */
		else if (!strcmp(a, "-v") || !strcmp(a, "--version")) {
			printf(RUNC_NAME " version " SNAPVM_VERSION "\nspec: " RUNC_OCI_VERSION
					 "\n");
			return 0;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage_text, stdout);
			return 0;
		} else
			return fail("unknown global option '%s' (see --help)", a);
		if (bad)
			return bad;
	}
	if (log)
		log_open(log, json);
	if (i == argc)
		return fail("which command? (see --help)");
	if (!strcmp(argv[i], "features"))
		return cmd_features();
	if (!strcmp(argv[i], "exec"))
		return fail("exec is not supported by snapvm-runc: a snapvm container runs one "
			    "process");
	if (!strcmp(argv[i], "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++)
		if (!strcmp(argv[i], cmds[c].name))
			return cmds[c].fn(argc - i, argv + i);
	return fail("unknown command '%s' (see --help)", argv[i]);
}
