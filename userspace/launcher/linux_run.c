// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * linux_run.c - `snapvm run` for Linux programs: `snapvm run [options]
 * PROGRAM [ARG...]` when PROGRAM is a static Linux executable (or
 * --personality=linux), and `snapvm run --from=F` when F holds the Linux
 * personality. Options stop at PROGRAM: what follows is the program's.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "userspace/launcher/linux_run.h"
#include "userspace/lib/snapvm.h"

/* cmd_run's options that take a value, also as a separate argument. */
static const char *const valued[] = {
    "layout",	   "memory",	 "scratch-size", "timeout", "snapshot-out", "from",
    "repeat",	   "max-memory", "core-dump",	 "gdb",	    "working-set",  "personality",
    "snapshot-at", "env",	 "root",	 NULL,
};

static bool takes_value(const char *opt)
{
	for (int i = 0; valued[i]; i++)
		if (!strcmp(opt, valued[i]))
			return true;
	return false;
}

int linux_run_wanted(int argc, char **argv)
{
	const char *from = NULL, *program = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq;
		char name[32];

		if (!strcmp(a, "--"))
			break;
		if (strncmp(a, "--", 2)) {
			program = a;
			break;
		}
		eq = strchr(a, '=');
		snprintf(name, sizeof(name), "%.*s", (int)(eq ? eq - a - 2 : (long)strlen(a) - 2),
			 a + 2);
		if (!strcmp(name, "personality")) {
			const char *v = eq ? eq + 1 : i + 1 < argc ? argv[i + 1] : "";

			return !strcmp(v, "linux");
		}
		if (!strcmp(name, "from"))
			from = eq ? eq + 1 : i + 1 < argc ? argv[i + 1] : NULL;
		if (!eq && takes_value(name))
			i++;
	}
	if (from) {
		struct snapvm_snapshot *snap;
		struct snapvm_error err;
		bool is_linux;

		if (snapvm_snapshot_load(from, NULL, &snap, &err))
			return 0; /* the usual path reports it */
		is_linux = snapvm_snapshot_is_linux(snap);
		snapvm_snapshot_put(snap);
		return is_linux;
	}
	if (program) {
		struct snapvm_error err;
		bool is_linux;

		return !snapvm_linux_classify(program, &is_linux, &err) && is_linux;
	}
	return 0;
}

static int usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "snapvm: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'snapvm --help'.\n");
	return EX_USAGE;
}

static int fail(struct snapvm_error *err, int status, const char *fmt, const char *a, const char *b)
{
	err->status = status;
	snprintf(err->message, sizeof(err->message), fmt, a, b);
	return status;
}

static int read_all(int fd, unsigned char **buf, size_t *len)
{
	size_t cap = 1 << 16;

	*len = 0;
	*buf = malloc(cap);
	for (;;) {
		ssize_t n;

		if (!*buf)
			return EX_OSERR;
		if (*len == cap) {
			unsigned char *grown = realloc(*buf, cap * 2);

			if (!grown)
				return EX_OSERR;
			*buf = grown;
			cap *= 2;
		}
		n = read(fd, *buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "snapvm: reading stdin: %s\n", strerror(errno));
			return EX_IOERR;
		}
		if (!n)
			return 0;
		*len += (size_t)n;
	}
}

static void report(const char *what, const struct snapvm_outcome *o, const char *timeout_text)
{
	switch (o->stop) {
	case SNAPVM_STOP_ABORT:
		fprintf(stderr, "snapvm: %s: personality aborted: %s\n", what, o->message);
		break;
	case SNAPVM_STOP_FAULT:
		fprintf(stderr, "snapvm: %s: %s\n", what, o->message);
		break;
	case SNAPVM_STOP_TIMEOUT:
		fprintf(stderr, "snapvm: %s: timeout after %s s: stopped at RIP 0x%llx\n", what,
			timeout_text, (unsigned long long)o->rip);
		break;
	default:
		break;
	}
}

/* SIGTERM, SIGINT and SIGHUP of the launcher go to the program
 * (snapvm_linux_raise is async-signal-safe); --repeat stops after the
 * request they reached. */
static struct snapvm_linux *volatile signal_target;
static volatile sig_atomic_t signalled;

static void forward_signal(int signo)
{
	struct snapvm_linux *lx = signal_target;

	signalled = 1;
	if (lx)
		snapvm_linux_raise(lx, signo);
}

static void forward_signals(struct snapvm_linux *lx)
{
	static const int signals[] = {SIGTERM, SIGINT, SIGHUP};
	struct sigaction sa = {.sa_handler = forward_signal, .sa_flags = SA_RESTART};

	signal_target = lx;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		sigaction(signals[i], lx ? &sa : &(struct sigaction){.sa_handler = SIG_DFL}, NULL);
}

int linux_cmd_run(int argc, char **argv)
{
	static const struct option long_options[] = {
	    {"layout", required_argument, NULL, 'l'},
	    {"memory", required_argument, NULL, 'm'},
	    {"max-memory", required_argument, NULL, 'M'},
	    {"timeout", required_argument, NULL, 't'},
	    {"snapshot-out", required_argument, NULL, 'o'},
	    {"snapshot-at", required_argument, NULL, 'a'},
	    {"from", required_argument, NULL, 'f'},
	    {"repeat", required_argument, NULL, 'r'},
	    {"working-set", required_argument, NULL, 'w'},
	    {"personality", required_argument, NULL, 'p'},
	    {"trace-syscalls", no_argument, NULL, 'T'},
	    {"env", required_argument, NULL, 'e'},
	    {"root", required_argument, NULL, 'R'},
	    {"no-seccomp", no_argument, NULL, 'S'},
	    {0},
	};
	struct snapvm_linux_options lo = {0};
	enum snapvm_memory memory = SNAPVM_MEMORY_AUTO;
	const char *snapshot_out = NULL, *from = NULL, *timeout_text = NULL, *layout = NULL;
	const char **envp = calloc((size_t)argc + 1, sizeof(char *));
	uint64_t timeout_ms = 0, repeat = 1, working_set = SNAPVM_WORKING_SET_DEFAULT;
	struct snapvm_snapshot *snapshot = NULL;
	struct snapvm_sandbox *sandbox = NULL;
	struct snapvm_linux *lx = NULL;
	struct snapvm_outcome outcome = {0};
	struct snapvm_error err;
	unsigned char *input = NULL;
	size_t input_len = 0;
	int opt, ret = 0, nenv = 0, out_dirfd = -1;
	const char *what, *out_name = NULL;
	bool seccomp = true;
	char *end;

	if (!envp)
		return EX_OSERR;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:", long_options, NULL)) != -1) {
		switch (opt) {
		case 'l':
			layout = optarg;
			break;
		case 'm':
			if (!strcmp(optarg, "kmod"))
				memory = SNAPVM_MEMORY_KMOD;
			else if (!strcmp(optarg, "memfd"))
				memory = SNAPVM_MEMORY_MEMFD;
			else if (strcmp(optarg, "auto"))
				return usage("unknown memory backend '%s': want kmod or memfd",
					     optarg);
			break;
		case 'M':
			if (snapvm_parse_size(optarg, &lo.max_memory, &err))
				return usage("--max-memory: %s", err.message);
			break;
		case 't': {
			double s = strtod(optarg, &end);

			if (end == optarg || *end || !(s > 0) || s > 1e9)
				return usage(
				    "malformed timeout '%s': want a positive number of seconds",
				    optarg);
			timeout_text = optarg;
			timeout_ms = (uint64_t)(s * 1000);
			if ((double)timeout_ms < s * 1000)
				timeout_ms++;
			break;
		}
		case 'o':
			if (!*optarg)
				return usage("%s", "--snapshot-out needs a file name");
			snapshot_out = optarg;
			break;
		case 'a':
			if (!strcmp(optarg, "entry"))
				lo.snapshot_at = SNAPVM_LINUX_SNAPSHOT_ENTRY;
			else if (!strcmp(optarg, "first-read"))
				lo.snapshot_at = SNAPVM_LINUX_SNAPSHOT_FIRST_READ;
			else
				return usage("unknown --snapshot-at '%s': want entry or first-read",
					     optarg);
			break;
		case 'f':
			from = optarg;
			break;
		case 'r':
			errno = 0;
			repeat = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || !repeat)
				return usage(
				    "malformed --repeat '%s': want a positive number of runs",
				    optarg);
			break;
		case 'w':
			errno = 0;
			working_set = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' ||
			    working_set > SNAPVM_WORKING_SET_MAX)
				return usage("malformed --working-set '%s'", optarg);
			break;
		case 'p':
			if (strcmp(optarg, "linux") && strcmp(optarg, "snapvm"))
				return usage("unknown --personality '%s': want linux or snapvm",
					     optarg);
			break;
		case 'T':
			lo.trace_syscalls = true;
			break;
		case 'e':
			if (!strchr(optarg, '=') || optarg[0] == '=')
				return usage("--env '%s': want NAME=VALUE", optarg);
			envp[nenv++] = optarg;
			break;
		case 'R':
			if (!*optarg)
				return usage("%s", "--root needs a directory");
			lo.root = optarg;
			break;
		case 'S':
			seccomp = false;
			break;
		case ':':
			return usage("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage("unknown option '%s' (for a Linux program, snapvm's options "
				     "come before PROGRAM)",
				     argv[optind - 1]);
		}
	}
	lo.envp = envp;
	if (snapshot_out && repeat > 1)
		return usage("%s", "--snapshot-out stops at the snapshot: no --repeat");
	if (snapshot_out && !lo.snapshot_at)
		return usage("%s", "--snapshot-out needs --snapshot-at=entry|first-read for a "
				   "Linux program");
	if (from) {
		static const char *const default_argv[] = {"program", NULL};

		if (lo.snapshot_at)
			return usage("%s", "--snapshot-at is for a PROGRAM, not --from");
		lo.argv = optind < argc ? (const char *const *)argv + optind : default_argv;
		what = from;
		ret = snapvm_linux_create(NULL, &lo, &lx, &err);
		if (!ret) {
			struct snapvm_snapshot_options so = {.memory = memory,
							     .max_memory = lo.max_memory};

			ret =
			    snapvm_snapshot_load(from, lo.max_memory ? &so : NULL, &snapshot, &err);
			if (!ret && memory != SNAPVM_MEMORY_AUTO && !lo.max_memory) {
				snapvm_snapshot_put(snapshot);
				so.max_memory = 0;
				ret = snapvm_snapshot_load(from, &so, &snapshot, &err);
			}
		}
		if (!ret && !snapvm_snapshot_is_linux(snapshot))
			ret = fail(&err, EX_DATAERR, "%s holds no Linux program%s", from, "");
	} else {
		if (optind == argc)
			return usage("%s", "run: which PROGRAM?");
		what = argv[optind];
		lo.argv = (const char *const *)argv + optind;
		ret = snapvm_linux_create(argv[optind], &lo, &lx, &err);
		if (!ret && layout && strcmp(layout, "auto") &&
		    strcmp(layout, snapvm_layout_name(snapvm_linux_layout(lx))))
			ret = fail(&err, EX_USAGE, "--layout=%s contradicts %s", layout, what);
		if (!ret)
			ret = snapvm_linux_snapshot(lx, memory, &snapshot, &err);
	}
	if (!ret)
		ret = snapvm_sandbox_create(snapshot, NULL, &sandbox, &err);
	if (snapshot && !snapshot_out)
		snapvm_snapshot_put(snapshot), snapshot = NULL;
	if (!ret)
		ret = snapvm_linux_attach(lx, sandbox, &err);
	if (!ret && working_set != SNAPVM_WORKING_SET_DEFAULT)
		ret = snapvm_sandbox_set_working_set(sandbox, working_set, &err);
	if (!ret)
		forward_signals(lx);
	if (!ret && repeat > 1) {
		ret = read_all(0, &input, &input_len);
		if (ret)
			goto out_quiet;
	}
	/* The snapshot's directory, opened now: the filter then allows
	 * creating the file there and nowhere else. */
	if (!ret && snapshot_out)
		ret = snapvm_output_dir_open(snapshot_out, &out_dirfd, &out_name, &err);
	/* Set-up is over: from here on the run loop's and the personality's
	 * host calls only, before the program's first instruction. */
	if (!ret && seccomp)
		ret = snapvm_linux_seccomp_install(lx, &out_dirfd, snapshot_out ? 1 : 0, &err);
	for (uint64_t i = 0; i < repeat && !ret && !(i && signalled); i++) {
		if (i)
			ret = snapvm_sandbox_restore(sandbox, &err);
		if (repeat > 1)
			snapvm_linux_set_input(lx, -1, input ? (const void *)input : "", input_len);
		while (!ret) {
			ret = snapvm_sandbox_run(sandbox, timeout_ms, &outcome, &err);
			if (ret || outcome.stop != SNAPVM_STOP_SNAPSHOT)
				break;
			if (!snapshot_out)
				continue;
			{
				struct snapvm_snapshot *taken;

				ret = snapvm_sandbox_take_snapshot(sandbox, &taken, &err);
				if (!ret) {
					ret = snapvm_snapshot_save_at(taken, out_dirfd, out_name,
								      &err);
					if (ret)
						fprintf(stderr, "snapvm: %s:", snapshot_out);
					snapvm_snapshot_put(taken);
				}
			}
			break;
		}
		if (!ret)
			report(what, &outcome, timeout_text);
	}
	if (ret)
		fprintf(stderr, "snapvm: %s\n", err.message);
out_quiet:
	if (lx)
		forward_signals(NULL);
	if (sandbox)
		snapvm_sandbox_destroy(sandbox);
	if (snapshot)
		snapvm_snapshot_put(snapshot);
	snapvm_linux_destroy(lx);
	if (out_dirfd >= 0)
		close(out_dirfd);
	free(input);
	free(envp);
	if (ret)
		return ret;
	if (snapshot_out) {
		if (outcome.stop == SNAPVM_STOP_SNAPSHOT)
			return 0;
		fprintf(stderr, "snapvm: %s ended before its snapshot point: %s not written\n",
			what, snapshot_out);
		return outcome.stop == SNAPVM_STOP_EXIT ? EX_SOFTWARE
							: snapvm_outcome_exit_status(&outcome);
	}
	return snapvm_outcome_exit_status(&outcome);
}
