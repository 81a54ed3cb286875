// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * run.c - `snapvm run`: a guest in a fresh sandbox (or from a saved
 * snapshot), its SNAPSHOT saved, --repeat, --gdb, --core-dump.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "layout/amd64.h"
#include "layout/i686.h"
#include "uapi/snapvm.h"
#include "userspace/launcher/cli.h"
#include "userspace/launcher/oci.h"
#include "userspace/lib/snapvm.h"

/* One run; a SNAPSHOT on the way is taken and saved when snapshot_out is
 * set (and ends the run), else the guest goes on with SNAPSHOT = 0. */
/* An output file in a directory opened before the seccomp filter. */
struct output {
	const char *path, *name;
	int dirfd;
};

static int run_once(struct snapvm_sandbox *sandbox, struct snapvm_gdb *gdb, uint64_t timeout_ms,
		    const struct output *snapshot_out, struct snapvm_outcome *outcome,
		    struct snapvm_error *err)
{
	int ret;

	for (;;) {
		struct snapvm_snapshot *taken;

		ret = gdb ? snapvm_gdb_run(gdb, sandbox, timeout_ms, outcome, err)
			  : snapvm_sandbox_run(sandbox, timeout_ms, outcome, err);
		if (ret || outcome->stop != SNAPVM_STOP_SNAPSHOT)
			return ret;
		if (!snapshot_out)
			continue;
		ret = snapvm_sandbox_take_snapshot(sandbox, &taken, err);
		if (ret)
			return ret;
		ret = snapvm_snapshot_save_at(taken, snapshot_out->dirfd, snapshot_out->name, err);
		if (ret) {
			char why[sizeof(err->message)];

			snprintf(why, sizeof(why), "%s", err->message);
			snprintf(err->message, sizeof(err->message), "%s: %.1000s",
				 snapshot_out->path, why);
		}
		snapvm_snapshot_put(taken);
		return ret;
	}
}

/* --core-dump: the run faulted or aborted; its status stays the guest's. */
static void write_core_dump(struct snapvm_sandbox *sandbox, const struct output *core)
{
	struct snapvm_error err;

	if (snapvm_sandbox_core_dump_at(sandbox, core->dirfd, core->name, &err)) {
		fprintf(stderr, "snapvm: %s: %s\n", core->path, err.message);
		return;
	}
	fprintf(stderr, "snapvm: core dump written to %s\n", core->path);
	if (err.message[0]) /* written, but cut short: say so */
		fprintf(stderr, "snapvm: %s\n", err.message);
}

/* The directories of --snapshot-out and --core-dump, opened now: the
 * seccomp filter then allows creating files in them and nowhere else. */
static int open_outputs(struct output *outs, int *dirfds, unsigned int *count)
{
	struct snapvm_error err;

	*count = 0;
	for (int i = 0; i < 2; i++) {
		if (!outs[i].path)
			continue;
		if (snapvm_output_dir_open(outs[i].path, &outs[i].dirfd, &outs[i].name, &err)) {
			fprintf(stderr, "snapvm: %s\n", err.message);
			return err.status;
		}
		dirfds[(*count)++] = outs[i].dirfd;
	}
	return 0;
}

/* --gdb: listen, say where (tests and people wait for that line), and take
 * gdb's connection. */
static int start_gdb(const char *where, struct snapvm_gdb **gdb)
{
	struct snapvm_error err;
	char address[160];
	int ret = snapvm_gdb_listen(where, gdb, address, sizeof(address), &err);

	if (!ret) {
		fprintf(stderr, "snapvm: waiting for gdb on %s\n", address);
		ret = snapvm_gdb_accept(*gdb, &err);
	}
	if (ret) {
		fprintf(stderr, "snapvm: %s\n", err.message);
		snapvm_gdb_end(*gdb, 0);
		*gdb = NULL;
	}
	return ret;
}

int cmd_run(int argc, char **argv)
{
	static const struct option long_options[] = {
	    {"layout", required_argument, NULL, 'l'},
	    {"memory", required_argument, NULL, 'm'},
	    {"scratch-size", required_argument, NULL, 's'},
	    {"timeout", required_argument, NULL, 't'},
	    {"snapshot-out", required_argument, NULL, 'o'},
	    {"from", required_argument, NULL, 'f'},
	    {"repeat", required_argument, NULL, 'r'},
	    {"max-memory", required_argument, NULL, 'M'},
	    {"kvm-pv", no_argument, NULL, 'P'},
	    {"no-seccomp", no_argument, NULL, 'S'},
	    {"core-dump", required_argument, NULL, 'c'},
	    {"gdb", required_argument, NULL, 'g'},
	    {"working-set", required_argument, NULL, 'w'},
	    {"personality", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct snapvm_snapshot_options options = {0};
	uint64_t working_set = SNAPVM_WORKING_SET_DEFAULT;
	const char *core_dump = NULL, *gdb_where = NULL;
	struct output outs[2] = {{.dirfd = -1}, {.dirfd = -1}};
	int dirfds[2];
	unsigned int ndirs;
	struct snapvm_gdb *gdb = NULL;
	struct snapvm_snapshot *snapshot;
	struct snapvm_sandbox *sandbox;
	struct snapvm_outcome outcome;
	struct snapvm_error err;
	const char *timeout_text = NULL, *snapshot_out = NULL, *from = NULL;
	uint64_t timeout_ms = 0, repeat = 1;
	bool repeat_given = false, seccomp = true;
	const char *path;
	int opt, ret;

	opterr = 0;
	/* GNU order: options may follow GUEST.elf too; "--" ends them. */
	while ((opt = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
		ret = 0;
		switch (opt) {
		case 'l':
			ret = parse_layout(optarg, &options.layout);
			break;
		case 'm':
			ret = parse_memory(optarg, &options.memory);
			break;
		case 's':
			if (snapvm_parse_size(optarg, &options.scratch_size, &err))
				return usage_error("--scratch-size: %s", err.message);
			if (options.scratch_size == 0)
				return usage_error("--scratch-size: %s is no memory at all",
						   optarg);
			break;
		case 't':
			timeout_text = optarg;
			ret = parse_timeout(optarg, &timeout_ms);
			break;
		case 'o':
			snapshot_out = optarg;
			break;
		case 'f':
			from = optarg;
			break;
		case 'r':
			repeat_given = true;
			ret = parse_repeat(optarg, &repeat);
			break;
		case 'M':
			ret = parse_max_memory(optarg, &options.max_memory);
			break;
		case 'P':
			options.kvm_pv = true;
			break;
		case 'S':
			seccomp = false;
			break;
		case 'c':
			if (!*optarg)
				return usage_error("%s", "--core-dump needs a file name");
			core_dump = optarg;
			break;
		case 'g':
			gdb_where = optarg;
			break;
		case 'w':
			ret = parse_working_set(optarg, &working_set);
			break;
		case 'p': /* linux: linux_cmd_run took it */
			if (strcmp(optarg, "snapvm"))
				return usage_error(
				    "unknown --personality '%s': want linux or snapvm", optarg);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
		if (ret)
			return ret;
	}
	if (from && options.kvm_pv)
		return usage_error("%s", "--kvm-pv is for ELF guests: a snapshot file brings its "
					 "own CPUID");
	if (snapshot_out && repeat_given)
		return usage_error("%s", "--snapshot-out stops at the first SNAPSHOT: no --repeat");
	if (snapshot_out && !*snapshot_out)
		return usage_error("%s", "--snapshot-out needs a file name");
	if (from && optind != argc)
		return usage_error("run --from=FILE takes no GUEST.elf, not '%s'", argv[optind]);
	if (!from && optind == argc)
		return usage_error("%s", "run: which GUEST.elf?");
	if (!from && optind + 1 != argc)
		return usage_error("run: one GUEST.elf only, not also '%s'", argv[optind + 1]);
	outs[0].path = snapshot_out;
	outs[1].path = core_dump;
	ret = open_outputs(outs, dirfds, &ndirs);
	if (ret)
		return ret;
	if (from) {
		path = from;
		ret = snapvm_snapshot_load(from, &options, &snapshot, &err);
	} else {
		path = argv[optind];
		ret = snapvm_snapshot_from_elf(path, &options, &snapshot, &err);
	}
	if (ret) {
		fprintf(stderr, "snapvm: %s\n", err.message);
		return ret;
	}
	ret = snapvm_sandbox_create(snapshot, NULL, &sandbox, &err);
	snapvm_snapshot_put(snapshot);
	if (!ret && working_set != SNAPVM_WORKING_SET_DEFAULT) {
		ret = snapvm_sandbox_set_working_set(sandbox, working_set, &err);
		if (ret)
			snapvm_sandbox_destroy(sandbox);
	}
	if (ret) {
		fprintf(stderr, "snapvm: %s\n", err.message);
		return ret;
	}
	/* gdb connects before the filter: it allows no socket, bind or accept. */
	if (gdb_where) {
		ret = start_gdb(gdb_where, &gdb);
		if (ret) {
			snapvm_sandbox_destroy(sandbox);
			return ret;
		}
	}
	/* Set-up is over: from here on only the run loop's system calls, and
	 * output files only in the directories opened above. */
	if (seccomp)
		ret = gdb ? snapvm_gdb_seccomp_install_dirs(gdb, dirfds, ndirs, &err)
			  : snapvm_seccomp_install_dirs(dirfds, ndirs, &err);
	for (uint64_t i = 0; i < repeat && !ret; i++) {
		if (i)
			ret = snapvm_sandbox_restore(sandbox, &err);
		if (!ret)
			ret = run_once(sandbox, gdb, timeout_ms, snapshot_out ? &outs[0] : NULL,
				       &outcome, &err);
		if (!ret && (!snapshot_out || outcome.stop != SNAPVM_STOP_SNAPSHOT))
			report(path, &outcome, timeout_text);
		if (!ret && core_dump &&
		    (outcome.stop == SNAPVM_STOP_FAULT || outcome.stop == SNAPVM_STOP_ABORT))
			write_core_dump(sandbox, &outs[1]);
		if (snapvm_gdb_killed(gdb))
			break;
	}
	if (gdb)
		snapvm_gdb_end(gdb, ret ? ret : snapvm_outcome_exit_status(&outcome));
	snapvm_sandbox_destroy(sandbox);
	if (ret) {
		fprintf(stderr, "snapvm: %s\n", err.message);
		return ret;
	}
	if (snapshot_out) {
		if (outcome.stop == SNAPVM_STOP_SNAPSHOT)
			return 0;
		fprintf(stderr, "snapvm: %s ended without a SNAPSHOT hypercall: %s not written\n",
			path, snapshot_out);
		return outcome.stop == SNAPVM_STOP_EXIT ? EX_SOFTWARE
							: snapvm_outcome_exit_status(&outcome);
	}
	return snapvm_outcome_exit_status(&outcome);
}
