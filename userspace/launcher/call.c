// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * call.c - `snapvm call`: one buffer call into a saved snapshot's guest,
 * its output bytes on stdout.
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
int cmd_call(int argc, char **argv)
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
		if (outcome.stop == SNAPVM_STOP_EXIT) /* report() says nothing of an EXIT */
			fprintf(stderr,
				"snapvm: %s: the guest exited with code %lld instead of answering "
				"function %llu\n",
				from, (long long)outcome.code, function);
		report(from, &outcome, timeout_text);
		ret = outcome.stop == SNAPVM_STOP_EXIT && outcome.code == 0
			  ? EX_SOFTWARE
			  : snapvm_outcome_exit_status(&outcome);
	}
	free(out);
	return ret;
}
