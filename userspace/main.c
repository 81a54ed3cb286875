// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * main.c - the snapvm launcher: `snapvm run GUEST.elf` runs a guest in a
 * fresh sandbox and exits with its status (`--snapshot-out` saves the
 * guest's SNAPSHOT instead, `--from` starts from a saved one, `--repeat`
 * restores and runs again); `snapvm info` shows what the host offers. The
 * guest's output goes to stdout, ours to stderr.
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
#include "userspace/launcher/linux_run.h"
#include "userspace/launcher/oci.h"
#include "userspace/snapvm.h"

static const char usage_text[] =
    "usage: snapvm run [--layout=auto|i686|amd64] [--memory=kmod|memfd]\n"
    "                  [--scratch-size=SIZE] [--max-memory=SIZE] [--kvm-pv]\n"
    "                  [--timeout=SECONDS] [--repeat=N] [--working-set=PAGES]\n"
    "                  [--snapshot-out=FILE] [--no-seccomp] [--core-dump=PATH]\n"
    "                  [--gdb=PORT|unix:PATH] GUEST.elf\n"
    "       snapvm run [--memory=M] [--max-memory=SIZE] [--timeout=SECONDS]\n"
    "                  [--env NAME=VALUE]... [--trace-syscalls] [--snapshot-out=FILE\n"
    "                  --snapshot-at=first-read|entry] [--personality=linux|snapvm]\n"
    "                  PROGRAM [ARG...]   (a static Linux program: docs/linux.md)\n"
    "       snapvm run --from=FILE [--memory=kmod|memfd] [--max-memory=SIZE]\n"
    "                  [--timeout=SECONDS] [--repeat=N] [--working-set=PAGES]\n"
    "                  [--snapshot-out=FILE] [--no-seccomp] [--core-dump=PATH]\n"
    "                  [--gdb=PORT|unix:PATH]\n"
    "       snapvm call --from=FILE [--input=FILE|-] [--timeout=SECONDS]\n"
    "                   [--memory=kmod|memfd] [--max-memory=SIZE] [--no-seccomp]\n"
    "                   FUNCTION\n"
    "       snapvm snapshot export FILE --oci=DIR[:TAG]\n"
    "       snapvm snapshot import --oci=DIR[:TAG] FILE\n"
    "       snapvm info\n"
    "       snapvm --help | --version\n"
    "\n"
    "run      start GUEST.elf (ELF32 i386 -> i686 layout, ELF64 x86-64 -> amd64)\n"
    "         in a fresh sandbox; its console and WRITE output go to stdout\n"
    "  --layout=L        insist on a layout (default auto: from the ELF header)\n"
    "  --memory=M        kmod: snapvm.ko regions (default when /dev/snapvm exists)\n"
    "                    memfd: sealed memfds (the fallback)\n"
    "  --scratch-size=S  scratch memory, bytes with an optional K, M or G suffix\n"
    "                    (powers of 1024; default 16M)\n"
    "  --max-memory=S    refuse a guest whose image and scratch together need more\n"
    "                    than S bytes of memory (default 4G)\n"
    "  --kvm-pv          offer the guest KVM's paravirtual CPUID leaves (kvmclock,\n"
    "                    ...); by default it sees a normalised CPUID without them\n"
    "  --timeout=SECS    stop the guest after SECS seconds (may be fractional)\n"
    "  --snapshot-out=F  stop at the guest's SNAPSHOT hypercall, save that\n"
    "                    snapshot to F (atomically) and exit 0\n"
    "  --from=F          start from snapshot file F instead of an ELF file\n"
    "  --repeat=N        run N times (default 1), restoring the sandbox to its\n"
    "                    snapshot between runs; exit with the last run's status\n"
    "  --working-set=P   keep at most P pages (default 1024; 0: none) that recent\n"
    "                    runs wrote write-enabled across restores: they are put\n"
    "                    back every time, and their writes cost no fault\n"
    "  --no-seccomp      for debugging: run without the seccomp filter that\n"
    "                    otherwise confines snapvm once the sandbox exists\n"
    "  --core-dump=PATH  when the guest faults or aborts, write an ELF core file\n"
    "                    to PATH (atomically) for `gdb GUEST.elf PATH`\n"
    "  --gdb=PORT        hold the guest at its entry point (or where the snapshot\n"
    "                    resumes) and wait for gdb's `target remote :PORT`; binds\n"
    "                    to localhost (127.0.0.1) only, unless given as\n"
    "                    ADDRESS:PORT. --gdb=unix:PATH listens on a unix socket.\n"
    "                    Breakpoints last across --repeat's runs; the seccomp\n"
    "                    filter then also allows the connection's recv/send/poll\n"
    "call     restore snapshot FILE and call guest FUNCTION (a number) with the\n"
    "         bytes of --input (a file, or - for stdin; none by default) through\n"
    "         its I/O area (rt_buffer_call_loop); the output bytes go to stdout.\n"
    "         64 when the input does not fit, 65 when the output claims more\n"
    "         than fits, 70 when the function returns an error\n"
    "snapshot export|import  a snapshot file to an OCI image layout and back\n"
    "         (see snapvm snapshot --help)\n"
    "info     KVM and snapvm.ko API versions and capabilities\n"
    "\n"
    "exit status: the guest's EXIT code; 70 when it aborts or faults; 124 on\n"
    "timeout; 64 bad usage; 65 bad ELF, contradicting --layout, a corrupt,\n"
    "truncated or foreign snapshot file, an input that is not a regular file, or\n"
    "a guest needing more than --max-memory; 66 no such file; 69 no usable\n"
    "/dev/kvm, a module API mismatch, or a snapshot whose CPUID this host cannot\n"
    "give; 73/74 the snapshot could not be saved, or the output failed (a closed\n"
    "pipe); 75 a restore failed.\n";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "snapvm: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'snapvm --help'.\n");
	return EX_USAGE;
}

static int parse_layout(const char *text, uint32_t *layout)
{
	if (!strcmp(text, "auto"))
		*layout = SNAPVM_LAYOUT_AUTO;
	else if (!strcmp(text, "i686"))
		*layout = SNAPVM_LAYOUT_I686;
	else if (!strcmp(text, "amd64"))
		*layout = SNAPVM_LAYOUT_AMD64;
	else
		return usage_error("unknown layout '%s': want auto, i686 or amd64", text);
	return 0;
}

static int parse_memory(const char *text, enum snapvm_memory *memory)
{
	if (!strcmp(text, "auto"))
		*memory = SNAPVM_MEMORY_AUTO;
	else if (!strcmp(text, "kmod"))
		*memory = SNAPVM_MEMORY_KMOD;
	else if (!strcmp(text, "memfd"))
		*memory = SNAPVM_MEMORY_MEMFD;
	else
		return usage_error("unknown memory backend '%s': want kmod or memfd", text);
	return 0;
}

/* Positive seconds, possibly fractional, as whole milliseconds (rounded up
 * so that a tiny timeout is still a timeout). */
static int parse_timeout(const char *text, uint64_t *ms)
{
	char *end;
	double seconds;

	errno = 0;
	seconds = strtod(text, &end);
	if (errno || end == text || *end || !isfinite(seconds) || seconds <= 0 || seconds > 1e9)
		return usage_error("malformed timeout '%s': want a positive number of seconds",
				   text);
	*ms = (uint64_t)(seconds * 1000);
	if ((double)*ms < seconds * 1000)
		(*ms)++;
	return 0;
}

static int parse_max_memory(const char *text, uint64_t *size)
{
	struct snapvm_error err;

	if (snapvm_parse_size(text, size, &err))
		return usage_error("--max-memory: %s", err.message);
	if (*size == 0)
		return usage_error("--max-memory: %s is no memory at all", text);
	return 0;
}

/* A decimal count in [min, max]; false for anything else (a sign, a suffix). */
static bool parse_count(const char *text, uint64_t min, uint64_t max, uint64_t *count)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || n < min || n > max)
		return false;
	*count = n;
	return true;
}

static int parse_working_set(const char *text, uint64_t *pages)
{
	if (!parse_count(text, 0, SNAPVM_WORKING_SET_MAX, pages))
		return usage_error("malformed --working-set '%s': want a number of pages from 0 "
				   "(none) to 1048576 (SNAPVM_WORKING_SET_MAX)",
				   text);
	return 0;
}

static int parse_repeat(const char *text, uint64_t *repeat)
{
	if (!parse_count(text, 1, UINT64_MAX, repeat))
		return usage_error("malformed --repeat '%s': want a positive number of runs", text);
	return 0;
}

/* Guest-supplied text reaches the terminal only as printable ASCII: any
 * other byte (an escape sequence, say) is shown as \xNN. */
static void print_escaped(FILE *out, const char *text)
{
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p >= 0x20 && *p < 0x7f)
			fputc(*p, out);
		else
			fprintf(out, "\\x%02x", *p);
	}
}

/* Say why a run ended, on stderr (EXIT says nothing: its status does). */
static void report(const char *what, const struct snapvm_outcome *outcome, const char *timeout_text)
{
	switch (outcome->stop) {
	case SNAPVM_STOP_EXIT:
		break;
	case SNAPVM_STOP_ABORT:
		fprintf(stderr, "snapvm: %s aborted with code %lld: ", what,
			(long long)outcome->code);
		print_escaped(stderr, outcome->message);
		fputc('\n', stderr);
		break;
	case SNAPVM_STOP_FAULT:
		fprintf(stderr, "snapvm: %s: ", what);
		print_escaped(stderr, outcome->message);
		fputc('\n', stderr);
		break;
	case SNAPVM_STOP_TIMEOUT:
		fprintf(stderr, "snapvm: %s: timeout after %s s: stopped at RIP 0x%llx\n", what,
			timeout_text, (unsigned long long)outcome->rip);
		break;
	case SNAPVM_STOP_INTERRUPTED:
		fprintf(stderr, "snapvm: %s: %s\n", what,
			outcome->message[0] ? outcome->message : "interrupted");
		break;
	case SNAPVM_STOP_SNAPSHOT:
		fprintf(stderr, "snapvm: %s: stopped at SNAPSHOT (RIP 0x%llx)\n", what,
			(unsigned long long)outcome->rip);
		break;
	case SNAPVM_STOP_CALL_WAIT:
		fprintf(stderr,
			"snapvm: %s waits for a call (CALL_WAIT at RIP 0x%llx); the launcher "
			"makes none\n",
			what, (unsigned long long)outcome->rip);
		break;
	case SNAPVM_STOP_DEBUG:
		break;
	}
}

/* One run; a SNAPSHOT on the way is taken and saved when snapshot_out is
 * set (and ends the run), else the guest goes on with SNAPSHOT = 0. */
static int run_once(struct snapvm_sandbox *sandbox, struct snapvm_gdb *gdb, uint64_t timeout_ms,
		    const char *snapshot_out, struct snapvm_outcome *outcome,
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
		ret = snapvm_snapshot_save(taken, snapshot_out, err);
		snapvm_snapshot_put(taken);
		return ret;
	}
}

/* --core-dump: the run faulted or aborted; its status stays the guest's. */
static void write_core_dump(struct snapvm_sandbox *sandbox, const char *path)
{
	struct snapvm_error err;

	if (snapvm_sandbox_core_dump(sandbox, path, &err))
		fprintf(stderr, "snapvm: %s\n", err.message);
	else
		fprintf(stderr, "snapvm: core dump written to %s\n", path);
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

static int cmd_run(int argc, char **argv)
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
	if (from) {
		if (optind != argc)
			return usage_error("run --from=FILE takes no GUEST.elf, not '%s'",
					   argv[optind]);
		path = from;
		ret = snapvm_snapshot_load(from, &options, &snapshot, &err);
	} else {
		if (optind == argc)
			return usage_error("%s", "run: which GUEST.elf?");
		if (optind + 1 != argc)
			return usage_error("run: one GUEST.elf only, not also '%s'",
					   argv[optind + 1]);
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
	/* Set-up is over: from here on only the run loop's system calls. */
	if (seccomp)
		ret = gdb ? snapvm_gdb_seccomp_install(gdb, &err) : snapvm_seccomp_install(&err);
	for (uint64_t i = 0; i < repeat && !ret; i++) {
		if (i)
			ret = snapvm_sandbox_restore(sandbox, &err);
		if (!ret)
			ret = run_once(sandbox, gdb, timeout_ms, snapshot_out, &outcome, &err);
		if (!ret && (!snapshot_out || outcome.stop != SNAPVM_STOP_SNAPSHOT))
			report(path, &outcome, timeout_text);
		if (!ret && core_dump &&
		    (outcome.stop == SNAPVM_STOP_FAULT || outcome.stop == SNAPVM_STOP_ABORT))
			write_core_dump(sandbox, core_dump);
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

static const char *memory_default(enum snapvm_memory memory)
{
	return memory == SNAPVM_MEMORY_KMOD ? "kmod (/dev/snapvm exists)"
					    : "memfd (no /dev/snapvm)";
}

/* The call's input: the whole of path ("-": stdin), at most cap bytes. */
static int read_input(const char *path, size_t cap, unsigned char **buf, size_t *len)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	size_t room = cap + 1; /* one more, to see it does not fit */

	*len = 0;
	if (fd < 0) {
		fprintf(stderr, "snapvm: --input=%s: %s\n", path, strerror(errno));
		return EX_NOINPUT;
	}
	*buf = malloc(room);
	while (*buf && *len < room) {
		ssize_t n = read(fd, *buf + *len, room - *len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "snapvm: --input=%s: %s\n", path, strerror(errno));
			if (fd != STDIN_FILENO)
				close(fd);
			return EX_IOERR;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (!*buf)
		return EX_OSERR;
	if (*len > cap)
		return usage_error("--input=%s does not fit the guest's I/O area", path);
	return 0;
}

static int write_output(const unsigned char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(STDOUT_FILENO, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "snapvm: writing the call's output: %s\n",
				strerror(n < 0 ? errno : EIO));
			return EX_IOERR;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* snapvm call --from=FILE [--input=FILE|-] [--timeout=S] FUNCTION: one buffer
 * call, its output bytes on stdout. */
static int cmd_call(int argc, char **argv)
{
	static const struct option long_options[] = {
	    {"from", required_argument, NULL, 'f'},
	    {"input", required_argument, NULL, 'i'},
	    {"timeout", required_argument, NULL, 't'},
	    {"memory", required_argument, NULL, 'm'},
	    {"max-memory", required_argument, NULL, 'M'},
	    {"no-seccomp", no_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct snapvm_snapshot_options options = {0};
	const char *from = NULL, *input = NULL, *timeout_text = NULL;
	struct snapvm_snapshot *snapshot;
	struct snapvm_sandbox *sandbox;
	struct snapvm_outcome outcome;
	struct snapvm_error err;
	unsigned char *in = NULL, *out = NULL;
	size_t in_len = 0, out_len = 0, cap;
	unsigned long long function;
	uint64_t timeout_ms = 0;
	bool seccomp = true;
	char *end;
	int opt, ret;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
		ret = 0;
		switch (opt) {
		case 'f':
			from = optarg;
			break;
		case 'i':
			input = optarg;
			break;
		case 't':
			timeout_text = optarg;
			ret = parse_timeout(optarg, &timeout_ms);
			break;
		case 'm':
			ret = parse_memory(optarg, &options.memory);
			break;
		case 'M':
			ret = parse_max_memory(optarg, &options.max_memory);
			break;
		case 'S':
			seccomp = false;
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
	if (!from)
		return usage_error("%s", "call needs --from=FILE (a snapshot file)");
	if (optind != argc - 1)
		return usage_error("%s", "call takes one FUNCTION number");
	errno = 0;
	function = strtoull(argv[optind], &end, 0);
	if (errno || end == argv[optind] || *end || argv[optind][0] == '-')
		return usage_error("malformed FUNCTION '%s': want a number", argv[optind]);
	ret = snapvm_snapshot_load(from, &options, &snapshot, &err);
	if (ret) {
		fprintf(stderr, "snapvm: %s\n", err.message);
		return ret;
	}
	cap = (size_t)snapvm_snapshot_io_size(snapshot);
	if (input)
		ret = read_input(input, cap, &in, &in_len);
	out = malloc(cap ? cap : 1);
	if (!ret && !out)
		ret = EX_OSERR;
	if (!ret) {
		ret = snapvm_sandbox_create(snapshot, NULL, &sandbox, &err);
		if (ret)
			fprintf(stderr, "snapvm: %s\n", err.message);
	}
	snapvm_snapshot_put(snapshot);
	if (ret) {
		free(in);
		free(out);
		return ret;
	}
	if (seccomp)
		ret = snapvm_seccomp_install(&err);
	if (!ret)
		ret = snapvm_sandbox_call_buffer(sandbox, function, in, in_len, out, cap, &out_len,
						 timeout_ms, &outcome, &err);
	snapvm_sandbox_destroy(sandbox);
	free(in);
	if (ret) {
		fprintf(stderr, "snapvm: %s\n", err.message);
		free(out);
		return ret;
	}
	if (outcome.stop == SNAPVM_STOP_CALL_WAIT && outcome.code < 0) {
		fprintf(stderr, "snapvm: %s: function %llu failed with %lld\n", from, function,
			(long long)outcome.code);
		ret = SNAPVM_STATUS_GUEST_FAULT;
	} else if (outcome.stop == SNAPVM_STOP_CALL_WAIT) {
		ret = write_output(out, out_len);
	} else {
		report(from, &outcome, timeout_text);
		ret = outcome.stop == SNAPVM_STOP_EXIT && outcome.code == 0
			  ? EX_SOFTWARE
			  : snapvm_outcome_exit_status(&outcome);
	}
	free(out);
	return ret;
}

static int cmd_info(void)
{
	struct snapvm_host_info info;

	snapvm_host_info(&info);
	printf("snapvm %s\n", SNAPVM_VERSION);
	if (info.kvm_api_version < 0)
		printf("KVM API: /dev/kvm unusable: %s\n", strerror(-info.kvm_api_version));
	else
		printf("KVM API version %d (/dev/kvm), CPU vendor %s\n", info.kvm_api_version,
		       info.cpu_vendor[0] ? info.cpu_vendor : "unknown");
	for (unsigned int i = 0; i < info.ncaps; i++)
		printf("  %-34s %d\n", info.caps[i].name, info.caps[i].value);
	if (info.module_api_version < 0)
		printf("module API: /dev/snapvm unusable: %s\n",
		       strerror(-info.module_api_version));
	else
		printf("module API version %d (/dev/snapvm; this snapvm speaks %d)%s\n",
		       info.module_api_version, info.module_api_expected,
		       info.module_api_version == info.module_api_expected ? "" : ": MISMATCH");
	if (info.module_api_version >= 0)
		printf("module features: 0x%x%s\n", info.module_features,
		       info.module_features & SNAPVM_FEATURE_DUP_READONLY ? " (DUP_READONLY)" : "");
	printf("memory: default %s\n", memory_default(info.default_memory));
	printf("layouts: i686 (ELF32 i386, scratch below 0x%llx), amd64 (ELF64 x86-64, "
	       "GPAs up to 0x%llx)\n",
	       (unsigned long long)I686_APIC_BASE_GPA, (unsigned long long)AMD64_MAX_GPA);
	return info.kvm_api_version < 0 ? EX_UNAVAILABLE : 0;
}

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
		return oci_cmd_snapshot(argc - 1, argv + 1);
	if (!strcmp(argv[1], "info")) {
		if (argc > 2)
			return usage_error("info takes no arguments, not '%s'", argv[2]);
		return cmd_info();
	}
	return usage_error("unknown command '%s': want run, call, snapshot or info", argv[1]);
}
