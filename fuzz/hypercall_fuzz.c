// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * hypercall_fuzz.c - libFuzzer harness for the path of WRITE and ABORT
 * arguments: guest memory of two slots, paging registers and a GVA (and
 * length) from the input, through snapvm_guest_range_visit (WRITE) and
 * snapvm_guest_read_string (ABORT), checking that every piece handed out
 * lies inside a slot, that a successful WRITE covers exactly len bytes and
 * that an ABORT message is NUL-terminated and no longer than the limit.
 *
 * Input: struct fuzz_input (little-endian), then the slots' contents, slot
 * 0 first; what the input does not cover is zero.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/lib/internal.h"

/* Few pages per slot: enough for page tables and data, quick to set up. */
#define MAX_SLOT_PAGES 64

struct fuzz_input {
	uint8_t op; /* bit 0: ABORT, else WRITE */
	uint8_t reserved[3];
	uint16_t slot_pages[2]; /* 1 + value % MAX_SLOT_PAGES */
	uint64_t slot_gpa[2];	/* page-aligned down */
	uint64_t cr0, cr3, cr4, efer;
	uint64_t gva, len;
} __attribute__((packed));

struct visit_state {
	const struct snapvm_guest_memory *mem;
	uint64_t total;
	unsigned char sink[SNAPVM_GUEST_PAGE_SIZE];
};

static const struct snapvm_guest_slot *slot_of(const struct snapvm_guest_memory *mem,
					       const unsigned char *p, uint64_t len)
{
	for (unsigned int i = 0; i < mem->nslots; i++) {
		const struct snapvm_guest_slot *s = &mem->slots[i];

		if (p >= s->host && p < s->host + s->size && len <= s->size - (p - s->host))
			return s;
	}
	return NULL;
}

static int visit(void *ctx, const void *host, uint64_t len)
{
	struct visit_state *v = ctx;

	/* A piece is within one slot and one guest page. */
	if (len == 0 || len > SNAPVM_GUEST_PAGE_SIZE || !slot_of(v->mem, host, len))
		abort();
	memcpy(v->sink, host, len); /* ASan checks every byte is real memory */
	v->total += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snapvm_guest_memory mem = {.nslots = 2};
	struct snapvm_paging paging;
	struct fuzz_input in = {0};
	const uint8_t *rest;
	size_t left;

	memcpy(&in, data, size < sizeof(in) ? size : sizeof(in));
	rest = data + (size < sizeof(in) ? size : sizeof(in));
	left = size - (size_t)(rest - data);
	for (unsigned int i = 0; i < 2; i++) {
		struct snapvm_guest_slot *s = &mem.slots[i];
		size_t take;

		s->gpa = in.slot_gpa[i] & ~(uint64_t)(SNAPVM_GUEST_PAGE_SIZE - 1);
		s->size =
		    (1 + in.slot_pages[i] % MAX_SLOT_PAGES) * (uint64_t)SNAPVM_GUEST_PAGE_SIZE;
		/* Exactly the slot: ASan flags any byte read outside it. */
		s->host = calloc(1, s->size);
		if (!s->host)
			abort();
		take = left < s->size ? left : s->size;
		memcpy(s->host, rest, take);
		rest += take;
		left -= take;
	}
	paging = (struct snapvm_paging){in.cr0, in.cr3, in.cr4, in.efer};

	if (in.op & 1) {
		char *msg = malloc(SNAPVM_ABORT_MSG_MAX);
		int error;
		long n;

		if (!msg)
			abort();
		n = snapvm_guest_read_string(&mem, &paging, in.gva, msg, SNAPVM_ABORT_MSG_MAX,
					     &error);
		/* Plain heap memory is always present. */
		if (error || n < -1 || n > SNAPVM_ABORT_MSG_MAX - 1 || msg[n < 0 ? 0 : n] != '\0' ||
		    strlen(msg) != (size_t)(n < 0 ? 0 : n))
			abort();
		free(msg);
	} else if (in.len <= SNAPVM_WRITE_MAX) {
		struct visit_state *v = malloc(sizeof(*v));
		int ret, error;

		if (!v)
			abort();
		v->mem = &mem;
		v->total = 0;
		ret = snapvm_guest_range_visit(&mem, &paging, in.gva, in.len, visit, v, &error);
		/* All or nothing. */
		if (error || (ret == 0 && v->total != in.len) || (ret < 0 && v->total != 0) ||
		    ret > 0)
			abort();
		free(v);
	}
	free(mem.slots[0].host);
	free(mem.slots[1].host);
	return 0;
}
