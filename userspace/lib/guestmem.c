// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * guestmem.c - checked access to guest memory: guest-physical addresses to
 * host pointers through the sandbox's memory slots, and guest-virtual to
 * guest-physical by walking the guest's own page tables (none, 32-bit, PAE
 * or 4-level), so that no guest-supplied pointer is ever used raw; and the
 * ranges and strings hypercalls pass by GVA, walked a page at a time. Pure
 * functions of the memory and registers they are given (fuzz/ calls them).
 *
 * Every VMM load or store at a guest-chosen address makes its pages present
 * first (snapvm_guest_prepare): a lazy or clone page of snapvm.ko that
 * cannot be charged is then an error to report, not a SIGBUS that kills
 * every sandbox of the process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "userspace/lib/internal.h"

#define CR0_PG	 (1ULL << 31)
#define CR4_PSE	 (1ULL << 4)
#define CR4_PAE	 (1ULL << 5)
#define CR4_LA57 (1ULL << 12)
#define EFER_LMA (1ULL << 10)

#define PTE_P	     (1ULL << 0)
#define PTE_PS	     (1ULL << 7)
#define PTE_ADDR_64  0x000ffffffffff000ULL
#define PTE_ADDR_32  0xfffff000ULL
#define PDE_4M_ADDR  0xffc00000ULL
#define PDE_4M_HIGH  0x001fe000ULL /* PSE-36: bits 39:32 of the frame, in 20:13 */
#define PAE_PDPT_ALN 0xffffffe0ULL

void *snapvm_gpa_to_host(const struct snapvm_guest_memory *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < mem->nslots; i++) {
		const struct snapvm_guest_slot *slot = &mem->slots[i];

		/* Written to avoid overflow: gpa - slot->gpa only when above. */
		if (gpa >= slot->gpa && gpa - slot->gpa < slot->size &&
		    len <= slot->size - (gpa - slot->gpa))
			return slot->host + (gpa - slot->gpa);
	}
	return NULL;
}

#ifndef MADV_POPULATE_READ /* Linux 5.14; older headers lack them */
#define MADV_POPULATE_READ  22
#define MADV_POPULATE_WRITE 23
#endif

int snapvm_guest_prepare(const void *host, uint64_t len, bool write)
{
	/* Host pages are 4 KiB on x86, as guest pages are. */
	uintptr_t start = (uintptr_t)host & ~(uintptr_t)(SNAPVM_PAGE - 1);
	uintptr_t end = (uintptr_t)host + len;

	if (!len)
		return 0;
	/* The fault handler's SIGBUS becomes EFAULT here (ENOMEM when the
	 * memory cgroup or the page allocator said no). */
	while (madvise((void *)start, end - start,
		       write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) != 0) {
		if (errno == EINTR)
			continue;
		/* Before Linux 5.14 there is nothing to ask: touching is all. */
		return errno == EINVAL ? 0 : errno;
	}
	return 0;
}

/* snapvm_guest_prepare for [host, host + len), which lies inside one host
 * page, skipped when prepared says that page was made present already. */
static int prepare_page(struct snapvm_prepared *prepared, const void *host, uint64_t len,
			bool write)
{
	uintptr_t page = (uintptr_t)host & ~(uintptr_t)(SNAPVM_PAGE - 1);
	int errnum;

	if (prepared)
		for (unsigned int i = 0; i < SNAPVM_PREPARED_CACHE; i++)
			if ((prepared->page[i] & ~(uintptr_t)1) == page &&
			    (!write || (prepared->page[i] & 1)))
				return 0;
	errnum = snapvm_guest_prepare(host, len, write);
	if (!errnum && prepared) {
		prepared->page[prepared->next] = page | write;
		prepared->next = (prepared->next + 1) % SNAPVM_PREPARED_CACHE;
	}
	return errnum;
}

/* One page-table entry: 0, -1 when gpa is outside guest memory, or the
 * errno of a page that cannot be made present. */
static int read_entry(const struct snapvm_guest_memory *mem, struct snapvm_prepared *prepared,
		      uint64_t gpa, size_t size, uint64_t *entry)
{
	const void *p = snapvm_gpa_to_host(mem, gpa, size);
	uint32_t e32;
	int errnum;

	if (!p)
		return -1;
	errnum = prepare_page(prepared, p, size, false);
	if (errnum)
		return errnum;
	if (size == sizeof(e32)) {
		memcpy(&e32, p, sizeof(e32));
		*entry = e32;
	} else {
		memcpy(entry, p, sizeof(*entry));
	}
	return 0;
}

static int read_entry64(const struct snapvm_guest_memory *mem, struct snapvm_prepared *prepared,
			uint64_t gpa, uint64_t *entry)
{
	return read_entry(mem, prepared, gpa, sizeof(uint64_t), entry);
}

static int read_entry32(const struct snapvm_guest_memory *mem, struct snapvm_prepared *prepared,
			uint64_t gpa, uint64_t *entry)
{
	return read_entry(mem, prepared, gpa, sizeof(uint32_t), entry);
}

static int done(uint64_t frame, uint64_t gva, uint64_t page_size, uint64_t *gpa,
		uint64_t *contiguous)
{
	uint64_t offset = gva & (page_size - 1);

	*gpa = frame + offset;
	*contiguous = page_size - offset;
	return 0;
}

/* Legacy 32-bit paging: two levels of 4-byte entries, optional 4 MiB pages. */
static int walk32(const struct snapvm_guest_memory *mem, struct snapvm_prepared *prepared,
		  const struct snapvm_paging *paging, uint64_t gva, uint64_t *gpa,
		  uint64_t *contiguous)
{
	uint64_t pde, pte;
	int ret;

	ret = read_entry32(mem, prepared, (paging->cr3 & PTE_ADDR_32) + ((gva >> 22) & 0x3ff) * 4,
			   &pde);
	if (ret || !(pde & PTE_P))
		return ret ? ret : -1;
	if ((pde & PTE_PS) && (paging->cr4 & CR4_PSE))
		return done((pde & PDE_4M_ADDR) | ((pde & PDE_4M_HIGH) << 19), gva, 4ULL << 20, gpa,
			    contiguous);
	ret = read_entry32(mem, prepared, (pde & PTE_ADDR_32) + ((gva >> 12) & 0x3ff) * 4, &pte);
	if (ret || !(pte & PTE_P))
		return ret ? ret : -1;
	return done(pte & PTE_ADDR_32, gva, SNAPVM_PAGE, gpa, contiguous);
}

/* PAE and 4-level paging share the 8-byte entry format below the top. */
static int walk64(const struct snapvm_guest_memory *mem, struct snapvm_prepared *prepared,
		  uint64_t table, int level, uint64_t gva, uint64_t *gpa, uint64_t *contiguous)
{
	for (; level >= 0; level--) {
		unsigned int shift = 12 + 9 * (unsigned int)level;
		uint64_t entry;
		int ret = read_entry64(mem, prepared, table + ((gva >> shift) & 0x1ff) * 8, &entry);

		if (ret || !(entry & PTE_P))
			return ret ? ret : -1;
		/* Large pages exist at the 1 GiB and 2 MiB levels only. */
		if (level == 0 || ((level == 1 || level == 2) && (entry & PTE_PS))) {
			uint64_t page_size = 1ULL << shift;

			return done(entry & PTE_ADDR_64 & ~(page_size - 1), gva, page_size, gpa,
				    contiguous);
		}
		table = entry & PTE_ADDR_64;
	}
	return -1;
}

int snapvm_gva_to_gpa(const struct snapvm_guest_memory *mem, const struct snapvm_paging *paging,
		      uint64_t gva, uint64_t *gpa, uint64_t *contiguous)
{
	return snapvm_gva_to_gpa_cached(mem, paging, gva, gpa, contiguous, NULL);
}

int snapvm_gva_to_gpa_cached(const struct snapvm_guest_memory *mem,
			     const struct snapvm_paging *paging, uint64_t gva, uint64_t *gpa,
			     uint64_t *contiguous, struct snapvm_prepared *prepared)
{
	bool long_mode = paging->efer & EFER_LMA;
	uint64_t pdpte;
	int ret;

	if (!long_mode && gva > 0xffffffffULL)
		return -1;
	if (!(paging->cr0 & CR0_PG))
		return done(snapvm_page_align_down(gva), gva, SNAPVM_PAGE, gpa, contiguous);
	if (long_mode) {
		/* 48-bit canonical addresses only; 5-level paging is not ours. */
		if ((paging->cr4 & CR4_LA57) || ((int64_t)(gva << 16) >> 16) != (int64_t)gva)
			return -1;
		return walk64(mem, prepared, paging->cr3 & PTE_ADDR_64, 3, gva, gpa, contiguous);
	}
	if (!(paging->cr4 & CR4_PAE))
		return walk32(mem, prepared, paging, gva, gpa, contiguous);
	ret = read_entry64(mem, prepared, (paging->cr3 & PAE_PDPT_ALN) + ((gva >> 30) & 3) * 8,
			   &pdpte);
	if (ret || !(pdpte & PTE_P))
		return ret ? ret : -1;
	return walk64(mem, prepared, pdpte & PTE_ADDR_64, 1, gva, gpa, contiguous);
}

const void *snapvm_guest_range_next(struct snapvm_guest_range *r, uint64_t *chunk)
{
	uint64_t gpa, contiguous, gva = r->gva + r->done;
	const void *host;
	int ret;

	if (r->done == r->len || gva < r->gva || r->error)
		return NULL;
	ret = snapvm_gva_to_gpa_cached(r->mem, r->paging, gva, &gpa, &contiguous, &r->prepared);
	if (ret) {
		r->error = ret > 0 ? ret : 0;
		return NULL;
	}
	/* A guest's huge page may reach past the end of a slot; its 4 KiB
	 * page never does (slots are page-aligned), so a string that ends
	 * inside guest memory stays readable. */
	if (contiguous > SNAPVM_PAGE - (gpa & (SNAPVM_PAGE - 1)))
		contiguous = SNAPVM_PAGE - (gpa & (SNAPVM_PAGE - 1));
	*chunk = contiguous < r->len - r->done ? contiguous : r->len - r->done;
	host = snapvm_gpa_to_host(r->mem, gpa, *chunk);
	if (host && !r->present)
		r->error = prepare_page(&r->prepared, host, *chunk, r->write);
	if (!host || r->error)
		return NULL;
	r->done += *chunk;
	return host;
}

int snapvm_guest_range_visit(const struct snapvm_guest_memory *mem,
			     const struct snapvm_paging *paging, uint64_t gva, uint64_t len,
			     int (*visit)(void *ctx, const void *host, uint64_t len), void *ctx,
			     int *error)
{
	struct snapvm_guest_range range = {.mem = mem, .paging = paging, .gva = gva, .len = len};
	const void *p;
	uint64_t chunk, end;
	int ret = 0;

	*error = 0;
	if (__builtin_add_overflow(gva, len, &end))
		return -1;
	/* All or nothing: check (and make present) every page before
	 * visiting any byte. */
	while (snapvm_guest_range_next(&range, &chunk))
		;
	*error = range.error;
	if (range.done != range.len)
		return -1;
	range.done = 0;
	while (!ret && (p = snapvm_guest_range_next(&range, &chunk)))
		ret = visit(ctx, p, chunk);
	/* Present a moment ago; kept for the day a page could go away. */
	if (!ret && range.error) {
		*error = range.error;
		return -1;
	}
	return ret;
}

long snapvm_guest_read_string(const struct snapvm_guest_memory *mem,
			      const struct snapvm_paging *paging, uint64_t gva, char *buf,
			      size_t size, int *error)
{
	struct snapvm_guest_range range = {
	    .mem = mem, .paging = paging, .gva = gva, .len = size - 1};
	size_t n = 0;
	uint64_t chunk;
	const char *p;

	while (n < range.len && (p = snapvm_guest_range_next(&range, &chunk))) {
		const char *nul = memchr(p, '\0', chunk);
		size_t take = nul ? (size_t)(nul - p) : chunk;

		memcpy(buf + n, p, take);
		n += take;
		if (nul)
			break;
	}
	buf[n] = '\0';
	*error = range.error;
	return n == 0 && range.done == 0 ? -1 : (long)n;
}
