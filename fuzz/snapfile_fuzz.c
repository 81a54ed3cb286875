// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * snapfile_fuzz.c - libFuzzer harness for the snapshot-file parser:
 * snapfile_parse on the input, with and without a memory cap. Random bytes
 * would almost never pass the CRC, so an input whose checksum field is zero
 * gets the right checksum patched in: the fuzzer reaches the geometry checks
 * and the accepting path; any other input is parsed as it is.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/lib/internal.h"
#include "userspace/lib/snapfile.h"

#define HEADER_SIZE SNAPVM_GUEST_PAGE_SIZE

static void patch_checksum(unsigned char *buf, size_t size)
{
	const size_t at = offsetof(struct snapfile_header, checksum);
	uint64_t crc, zero = 0;

	memcpy(&crc, buf + at, sizeof(crc));
	if (size < HEADER_SIZE || crc != 0)
		return;
	/* As snapfile_save: header page with the field zero, then the rest. */
	memcpy(buf + at, &zero, sizeof(zero));
	crc = snapfile_crc64(0, buf, HEADER_SIZE);
	crc = snapfile_crc64(crc, buf + HEADER_SIZE, size - HEADER_SIZE);
	memcpy(buf + at, &crc, sizeof(crc));
}

static void check(const unsigned char *buf, size_t size, const struct snapfile_contents *c)
{
	const unsigned char *end = buf + size;
	const unsigned char *v = c->vcpu_state, *s = c->snapshot, *x = c->scratch;

	/* Every section inside the buffer, in order, not overlapping. */
	if (v < buf + HEADER_SIZE || c->vcpu_state_size > (size_t)(end - v) ||
	    s < v + c->vcpu_state_size || c->snapshot_size > (size_t)(end - s) ||
	    x < s + c->snapshot_size || c->scratch_size > (size_t)(end - x) ||
	    c->snapshot_size == 0 || c->vcpu_state_size == 0)
		abort();
	if (!snapvm_layout_name(c->layout))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *buf = malloc(size ? size : 1);
	struct snapfile_contents c;
	struct snapvm_error err;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (size >= HEADER_SIZE)
		patch_checksum(buf, size);
	if (snapfile_parse("fuzz.snap", buf, size, 0, &c, &err) == 0)
		check(buf, size, &c);
	/* The cap refuses from the header, before the checksum. */
	if (snapfile_parse("fuzz.snap", buf, size, 64 << 10, &c, &err) == 0) {
		check(buf, size, &c);
		if (c.snapshot_size + c.scratch_size > (64 << 10))
			abort();
	}
	free(buf);
	return 0;
}
