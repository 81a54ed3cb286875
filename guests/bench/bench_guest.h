/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * bench_guest.h - what the benchmark guests (guests/bench/) and snapvm-bench
 * (bench/) agree on: hypercall counts, the service guest's call numbers and
 * its memory sizes. Pure C on <stdint.h>, for -m32, -m64 and the host.
 */
#ifndef SNAPVM_GUEST_BENCH_GUEST_H
#define SNAPVM_GUEST_BENCH_GUEST_H

#include <stdint.h>

/* bench-hypercall makes this many WRITE(buf, 0) hypercalls, then EXITs;
 * bench-empty EXITs at once. Their difference / count = one hypercall. */
#define BENCH_HYPERCALL_COUNT 2000

/* Density: each sandbox dirties this many data pages (one call). */
#define BENCH_TOUCH_PAGES 16

/*
 * The service guest (service.c): its boot does real initialisation work,
 * as a language runtime or Nanvix would: it links a page pool (every page
 * written) and computes a lookup table, then takes a SNAPSHOT and serves
 * calls. Its .bss arena = pool + data area; calls dirty the data area, whose
 * pages the boot never touched (so on amd64 every first write is a
 * copy-on-write fault, on i686 a host copy-on-write of the private view).
 *
 * bench-service: 64 MiB arena (the restore benchmark's 64 MiB snapshot),
 * 32 MiB pool. bench-service-small: 4 MiB arena, 1 MiB pool. The -cold
 * variants never SNAPSHOT: their boot goes straight to the call loop (the
 * cold-start baseline).
 */
#ifdef BENCH_SERVICE_BIG
#define BENCH_ARENA_BYTES (64ULL << 20)
#define BENCH_POOL_BYTES  (32ULL << 20)
#else
#define BENCH_ARENA_BYTES (4ULL << 20)
#define BENCH_POOL_BYTES  (1ULL << 20)
#endif
#define BENCH_PAGE_BYTES 4096ULL
#define BENCH_DATA_PAGES ((BENCH_ARENA_BYTES - BENCH_POOL_BYTES) / BENCH_PAGE_BYTES)
/* The lookup table: CRC-32 of every 16-bit value (256 KiB). */
#define BENCH_TABLE_ENTRIES 65536
/* The data pages of each size, for the host (which sees both). */
#define BENCH_SMALL_DATA_PAGES (((4ULL << 20) - (1ULL << 20)) / BENCH_PAGE_BYTES)
#define BENCH_BIG_DATA_PAGES   (((64ULL << 20) - (32ULL << 20)) / BENCH_PAGE_BYTES)

/* Call numbers (snapvm_sandbox_call's function) and what they return. */
enum bench_call {
	/* Returns table[arg & 0xffff] (proves the boot's state is there). */
	BENCH_CALL_LOOKUP = 1,
	/* Writes one word in each of the first arg data pages; returns arg. */
	BENCH_CALL_DIRTY = 2,
	/* Writes every word of the first arg data pages; returns arg. */
	BENCH_CALL_WRITE_PAGES = 3,
	/* Makes arg WRITE(buf, 0) hypercalls; returns arg. */
	BENCH_CALL_HYPERCALLS = 4,
};

/* CRC-32 (IEEE, reflected) of the 2 little-endian bytes of v: the lookup
 * table's entries, recomputed by the host to check a LOOKUP result. */
static inline uint32_t bench_crc32_u16(uint32_t v)
{
	uint32_t crc = 0xffffffffu;

	for (int byte = 0; byte < 2; byte++) {
		crc ^= (v >> (8 * byte)) & 0xff;
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}

#endif /* SNAPVM_GUEST_BENCH_GUEST_H */
