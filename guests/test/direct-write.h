/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * direct-write.h - what the direct-write guest writes, shared with the
 * launcher kselftest so it can recompute the checksum the guest prints.
 * Pure C on <stdint.h>.
 */
#ifndef SNAPVM_GUEST_DIRECT_WRITE_H
#define SNAPVM_GUEST_DIRECT_WRITE_H

#include <stdint.h>

/* Pages in .data (initialised to DIRECT_WRITE_DATA_FILL in the ELF file)
 * and in .bss (zero), written in that order as one sequence of pages. */
#define DIRECT_WRITE_DATA_PAGES 8
#define DIRECT_WRITE_BSS_PAGES	64
#define DIRECT_WRITE_PAGES	(DIRECT_WRITE_DATA_PAGES + DIRECT_WRITE_BSS_PAGES)
#define DIRECT_WRITE_DATA_FILL	0xa5

/* The 32-bit word the guest writes at word `word` of page `page`: distinct
 * per page and word, so a page written twice or to the wrong place shows. */
static inline uint32_t direct_write_word(uint32_t page, uint32_t word)
{
	return 0x9e3779b9u * (page * 1024u + word + 1u);
}

/* The line the guest prints (printf format): pages and checksum, the FNV-1a
 * 64 over all written pages in order. */
#define DIRECT_WRITE_CHECKSUM_LINE                                                                 \
	"direct-write: %u pages written and checked, checksum=0x%016llx\n"
/* amd64: FNV-1a 64 over the snapshot's own bytes of the RW segment (read
 * through a private mapping of the original GPAs after the writes). */
#define DIRECT_WRITE_SNAPSHOT_LINE "direct-write: snapshot rw-segment checksum=0x%016llx\n"
/* amd64: the copies the #PF handler made. */
#define DIRECT_WRITE_COW_LINE "direct-write: copy-on-write copies=%llu\n"

#endif /* SNAPVM_GUEST_DIRECT_WRITE_H */
