// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * host.c - the digest example's host program: SHA-256 of files, each
 * computed by the digest guest in a sandbox restored to its snapshot, one
 * restore and one buffer call per file. Prints what sha256sum(1) prints.
 *
 *	digest-host GUEST.elf|GUEST.snap FILE...
 *
 * Build it against an installed libsnapvm:
 *	cc -o digest-host host.c $(pkg-config --cflags --libs snapvm)
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "snapvm.h"

#define DIGEST_SHA256	     1 /* examples/digest/digest.h */
#define DIGEST_HOST_FUNCTION 7

/* Host function 7: the input, upper-cased (the guest's function 2 uses it). */
static int64_t upper_case(void *ctx, struct snapvm_sandbox *sandbox, const void *in, size_t in_len,
			  void *out, size_t out_cap)
{
	const unsigned char *src = in;
	unsigned char *dst = out;

	if (in_len > out_cap)
		return -ENOSPC;
	for (size_t i = 0; i < in_len; i++)
		dst[i] = (unsigned char)toupper(src[i]);
	return (int64_t)in_len;
}

/* The guest at its SNAPSHOT: from an ELF file, run there; or a file. */
static int load(const char *path, struct snapvm_snapshot **snapshot, struct snapvm_error *err)
{
	size_t len = strlen(path);
	struct snapvm_snapshot *elf;
	struct snapvm_sandbox *taker;
	struct snapvm_outcome outcome;
	int ret;

	if (len < 4 || strcmp(path + len - 4, ".elf"))
		return snapvm_snapshot_load(path, NULL, snapshot, err);
	ret = snapvm_snapshot_from_elf(path, NULL, &elf, err);
	if (ret)
		return ret;
	ret = snapvm_sandbox_create(elf, NULL, &taker, err);
	snapvm_snapshot_put(elf);
	if (ret)
		return ret;
	ret = snapvm_sandbox_run(taker, 10000, &outcome, err);
	if (!ret && outcome.stop != SNAPVM_STOP_SNAPSHOT) {
		fprintf(stderr, "digest-host: %s stopped before its SNAPSHOT: %s\n", path,
			outcome.message);
		ret = EX_SOFTWARE;
	}
	if (!ret)
		ret = snapvm_sandbox_take_snapshot(taker, snapshot, err);
	snapvm_sandbox_destroy(taker);
	return ret;
}

static int read_file(const char *path, unsigned char *buf, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "rb");

	if (!f) {
		fprintf(stderr, "digest-host: %s: %s\n", path, strerror(errno));
		return EX_NOINPUT;
	}
	*len = fread(buf, 1, cap, f);
	if (ferror(f) || fgetc(f) != EOF) {
		fprintf(stderr,
			"digest-host: %s: unreadable, or larger than the %zu-byte I/O area\n", path,
			cap);
		fclose(f);
		return EX_DATAERR;
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	struct snapvm_snapshot *snapshot;
	struct snapvm_sandbox *sandbox;
	struct snapvm_outcome outcome;
	struct snapvm_error err;
	unsigned char *input, digest[32];
	size_t cap, in_len, out_len;
	int ret = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: digest-host GUEST.elf|GUEST.snap FILE...\n");
		return EX_USAGE;
	}
	if (load(argv[1], &snapshot, &err) ||
	    snapvm_sandbox_create(snapshot, NULL, &sandbox, &err) ||
	    snapvm_sandbox_set_host_function(sandbox, DIGEST_HOST_FUNCTION, upper_case, NULL,
					     &err)) {
		fprintf(stderr, "digest-host: %s\n", err.message);
		return err.status;
	}
	cap = snapvm_snapshot_io_size(snapshot);
	snapvm_snapshot_put(snapshot);
	input = malloc(cap);
	for (int i = 2; input && i < argc && !ret; i++) {
		ret = read_file(argv[i], input, cap, &in_len);
		if (!ret && i > 2)
			ret = snapvm_sandbox_restore(sandbox, &err);
		if (!ret)
			ret = snapvm_sandbox_call_buffer(sandbox, DIGEST_SHA256, input, in_len,
							 digest, sizeof(digest), &out_len, 10000,
							 &outcome, &err);
		if (ret) {
			fprintf(stderr, "digest-host: %s: %s\n", argv[i], err.message);
			break;
		}
		if (outcome.stop != SNAPVM_STOP_CALL_WAIT || out_len != sizeof(digest)) {
			fprintf(stderr, "digest-host: %s: the guest stopped (%d): %s\n", argv[i],
				outcome.stop, outcome.message);
			ret = snapvm_outcome_exit_status(&outcome);
			break;
		}
		for (size_t b = 0; b < sizeof(digest); b++)
			printf("%02x", digest[b]);
		printf("  %s\n", argv[i]);
	}
	free(input);
	snapvm_sandbox_destroy(sandbox);
	return ret;
}
