/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * direct-write.c - writes every word of DIRECT_WRITE_PAGES pages of .data
 * and .bss, reads them back, and prints their checksum. On i686 the writes
 * land straight in the (private view of the) snapshot; on amd64 each first
 * write to a page faults and the runtime copies it into scratch, so the
 * guest also reads the original snapshot pages through a private read-only
 * mapping and prints their checksum: they must still hold the ELF's bytes.
 */
#include "guests/include/rt.h"
#include "guests/test/direct-write.h"

#define WORDS_PER_PAGE (RT_PAGE_SIZE / sizeof(uint32_t))

static uint32_t data_pages[DIRECT_WRITE_DATA_PAGES][WORDS_PER_PAGE] __attribute__((
    aligned(4096))) = {[0 ... DIRECT_WRITE_DATA_PAGES -
			1] = {[0 ... WORDS_PER_PAGE - 1] = DIRECT_WRITE_DATA_FILL * 0x01010101u}};
static uint32_t bss_pages[DIRECT_WRITE_BSS_PAGES][WORDS_PER_PAGE] __attribute__((aligned(4096)));

static uint32_t *page_words(unsigned page)
{
	return page < DIRECT_WRITE_DATA_PAGES ? data_pages[page]
					      : bss_pages[page - DIRECT_WRITE_DATA_PAGES];
}

static void check_initial(void)
{
	for (unsigned p = 0; p < DIRECT_WRITE_PAGES; p++) {
		uint32_t expect =
		    p < DIRECT_WRITE_DATA_PAGES ? DIRECT_WRITE_DATA_FILL * 0x01010101u : 0;
		const uint32_t *w = page_words(p);

		for (unsigned i = 0; i < WORDS_PER_PAGE; i++)
			if (w[i] != expect)
				rt_abortf(1,
					  "direct-write: page %u word %u is 0x%x before any write, "
					  "expected 0x%x",
					  p, i, w[i], expect);
	}
}

#if defined(__x86_64__)
/* Checksum of the snapshot's own bytes of [__data_start, __data_end): each
 * original GPA (= GVA in the snapshot) mapped read-only at a private GVA. */
static uint64_t snapshot_checksum(void)
{
	uint64_t hash = RT_FNV1A64_INIT;

	for (uintptr_t page = (uintptr_t)__data_start; page < (uintptr_t)__data_end;
	     page += RT_PAGE_SIZE) {
		if (rt_amd64_map_page(RT_AMD64_PRIVATE_GVA, page, AMD64_PTE_NX))
			rt_abort(1, "direct-write: cannot map the private window");
		hash =
		    rt_fnv1a64(hash, (const void *)(uintptr_t)RT_AMD64_PRIVATE_GVA, RT_PAGE_SIZE);
		rt_amd64_unmap_page(RT_AMD64_PRIVATE_GVA);
	}
	return hash;
}
#endif

int main(void)
{
	uint64_t hash = RT_FNV1A64_INIT;

	check_initial();
	for (unsigned p = 0; p < DIRECT_WRITE_PAGES; p++) {
		uint32_t *w = page_words(p);

		for (unsigned i = 0; i < WORDS_PER_PAGE; i++)
			w[i] = direct_write_word(p, i);
	}
	for (unsigned p = 0; p < DIRECT_WRITE_PAGES; p++) {
		const uint32_t *w = page_words(p);

		for (unsigned i = 0; i < WORDS_PER_PAGE; i++)
			if (w[i] != direct_write_word(p, i))
				rt_abortf(1, "direct-write: page %u word %u reads 0x%x, wrote 0x%x",
					  p, i, w[i], direct_write_word(p, i));
		hash = rt_fnv1a64(hash, w, RT_PAGE_SIZE);
	}
	rt_printf(DIRECT_WRITE_CHECKSUM_LINE, (unsigned)DIRECT_WRITE_PAGES,
		  (unsigned long long)hash);
#if defined(__x86_64__)
	rt_printf(DIRECT_WRITE_SNAPSHOT_LINE, (unsigned long long)snapshot_checksum());
	rt_printf(DIRECT_WRITE_COW_LINE, (unsigned long long)rt_state()->cow_copies);
#endif
	return 0;
}
