/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * common.h - what both layouts share: the page size and alignment helpers.
 * Pure C on <stdint.h>, for the VMM, the guests and the host unit tests.
 */
#ifndef SNAPVM_LAYOUT_COMMON_H
#define SNAPVM_LAYOUT_COMMON_H

#include <stdint.h>

/* Guest pages and module region pages are the same 4 KiB. */
#define SNAPVM_GUEST_PAGE_SIZE 0x1000ULL

static inline uint64_t snapvm_page_align_down(uint64_t x)
{
	return x & ~(SNAPVM_GUEST_PAGE_SIZE - 1);
}

/* Callers check x <= UINT64_MAX - 0xfff first; it wraps to 0 otherwise. */
static inline uint64_t snapvm_page_align_up(uint64_t x)
{
	return (x + SNAPVM_GUEST_PAGE_SIZE - 1) & ~(SNAPVM_GUEST_PAGE_SIZE - 1);
}

/* Default scratch size when the user gives none: room for the VMM's own
 * structures, a stack and a guest heap, and small enough to pin by default. */
#define SNAPVM_DEFAULT_SCRATCH_SIZE (16ULL << 20)

#endif /* SNAPVM_LAYOUT_COMMON_H */
