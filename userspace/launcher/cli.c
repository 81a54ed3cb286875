// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * cli.c - what the launcher's commands share: the usage text, usage
 * errors, option parsers, and the report of how a run stopped.
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

const char usage_text[] =
    "usage: snapvm run [--layout=auto|i686|amd64] [--memory=auto|kmod|memfd]\n"
    "                  [--scratch-size=SIZE] [--max-memory=SIZE] [--kvm-pv]\n"
    "                  [--timeout=SECONDS] [--repeat=N] [--working-set=PAGES]\n"
    "                  [--snapshot-out=FILE] [--no-seccomp] [--core-dump=PATH]\n"
    "                  [--gdb=PORT|unix:PATH] GUEST.elf\n"
    "       snapvm run [--memory=auto|kmod|memfd] [--max-memory=SIZE]\n"
    "                  [--timeout=SECONDS] [--env NAME=VALUE]... [--trace-syscalls]\n"
    "                  [--snapshot-at=first-read|entry --snapshot-out=FILE]\n"
    "                  [--root=DIR] [--personality=linux|snapvm] PROGRAM [ARG...]\n"
    "       snapvm run --from=FILE [--memory=auto|kmod|memfd] [--max-memory=SIZE]\n"
    "                  [--timeout=SECONDS] [--repeat=N] [--working-set=PAGES]\n"
    "                  [--snapshot-out=FILE] [--no-seccomp] [--core-dump=PATH]\n"
    "                  [--gdb=PORT|unix:PATH]\n"
    "       snapvm call --from=FILE [--input=FILE|-] [--timeout=SECONDS]\n"
    "                   [--memory=auto|kmod|memfd] [--max-memory=SIZE] [--no-seccomp]\n"
    "                   FUNCTION\n"
    "       snapvm snapshot export FILE --oci=DIR[:TAG]\n"
    "       snapvm snapshot import --oci=DIR[:TAG] FILE\n"
    "       snapvm info\n"
    "       snapvm --help | --version\n"
    "\n"
    "run      start GUEST.elf (ELF32 i386 -> i686 layout, ELF64 x86-64 -> amd64)\n"
    "         in a fresh sandbox; its console and WRITE output go to stdout\n"
    "  --layout=L        insist on a layout (default auto: from the ELF header)\n"
    "  --memory=M        kmod: snapvm.ko regions, memfd: sealed memfds; auto (the\n"
    "                    default): kmod when /dev/snapvm exists, else memfd\n"
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
    "                    ADDRESS:PORT; port 0 picks a free one. No password:\n"
    "                    any local user who connects first controls the guest;\n"
    "                    --gdb=unix:PATH (a mode 0600 socket) is the safe choice.\n"
    "                    Breakpoints last across --repeat's runs; the seccomp\n"
    "                    filter then also allows the connection's recv/send/poll\n"
    "run PROGRAM [ARG...]  a static Linux executable (no PT_INTERP; i386 ->\n"
    "         i686, x86-64 -> amd64) in ring 3 under the Linux personality, with\n"
    "         stdin, stdout and stderr as its fds 0-2; options stop at PROGRAM\n"
    "  --env NAME=VALUE  add to its (otherwise empty) environment; repeatable\n"
    "  --trace-syscalls  print each system call on stderr, as strace does\n"
    "  --snapshot-at=W   with --snapshot-out: first-read (at its first read of\n"
    "                    stdin) or entry (its first instruction; argv per run)\n"
    "  --root=DIR        the program sees DIR, read-only, as /: the host resolves\n"
    "                    every path inside it (.., symlinks and /proc cannot leave;\n"
    "                    writes give EROFS). Without it no path exists (ENOENT)\n"
    "  --personality=P   linux or snapvm: override the ELF note's choice\n"
    "         (a fault exits 128+signal; see docs/linux.md)\n"
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
    "give; 71 a system call or allocation failed; 73/74 the snapshot could not\n"
    "be saved, the output failed (a closed pipe) or --input could not be read;\n"
    "75 a restore failed; 130 gdb killed the guest. See snapvm(1).\n";

int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "snapvm: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'snapvm --help'.\n");
	return EX_USAGE;
}

int parse_layout(const char *text, uint32_t *layout)
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

int parse_memory(const char *text, enum snapvm_memory *memory)
{
	if (!strcmp(text, "auto"))
		*memory = SNAPVM_MEMORY_AUTO;
	else if (!strcmp(text, "kmod"))
		*memory = SNAPVM_MEMORY_KMOD;
	else if (!strcmp(text, "memfd"))
		*memory = SNAPVM_MEMORY_MEMFD;
	else
		return usage_error("unknown memory backend '%s': want auto, kmod or memfd", text);
	return 0;
}

/* Positive seconds, possibly fractional, as whole milliseconds (rounded up
 * so that a tiny timeout is still a timeout). */
int parse_timeout(const char *text, uint64_t *ms)
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

int parse_max_memory(const char *text, uint64_t *size)
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

int parse_working_set(const char *text, uint64_t *pages)
{
	if (!parse_count(text, 0, SNAPVM_WORKING_SET_MAX, pages))
		return usage_error("malformed --working-set '%s': want a number of pages from 0 "
				   "(none) to 1048576 (SNAPVM_WORKING_SET_MAX)",
				   text);
	return 0;
}

int parse_repeat(const char *text, uint64_t *repeat)
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
void report(const char *what, const struct snapvm_outcome *outcome, const char *timeout_text)
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
	case SNAPVM_STOP_SIGNAL: /* the status says it: 128 + signal */
		break;
	}
}
