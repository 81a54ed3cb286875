/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * service.c - the service guest of the start, restore, direct-write and
 * density benchmarks (bench-service*, see bench_guest.h): boots, does its
 * initialisation work, takes a SNAPSHOT and serves calls from there.
 */
#include "guests/bench/bench_guest.h"
#include "guests/include/rt.h"

#define POOL_PAGES (BENCH_POOL_BYTES / BENCH_PAGE_BYTES)

/* The header the pool writes at the start of each free page. */
struct pool_page {
	struct pool_page *next;
	uint32_t index;
	uint32_t magic;
};
#define POOL_MAGIC 0x6c6f6f70 /* "pool" */

static unsigned char arena[BENCH_ARENA_BYTES] __attribute__((aligned(4096)));
static uint32_t table[BENCH_TABLE_ENTRIES];
static struct pool_page *pool_free;
static uint32_t write_sequence;

static void build_pool(void)
{
	struct pool_page *next = 0;

	/* Linked from the top down, so the list starts at the first page. */
	for (uint64_t i = POOL_PAGES; i-- > 0;) {
		struct pool_page *page = (struct pool_page *)(arena + i * BENCH_PAGE_BYTES);

		page->next = next;
		page->index = (uint32_t)i;
		page->magic = POOL_MAGIC;
		next = page;
	}
	pool_free = next;
}

static void build_table(void)
{
	for (uint32_t v = 0; v < BENCH_TABLE_ENTRIES; v++)
		table[v] = bench_crc32_u16(v);
}

static uint32_t *data_page(uint64_t page)
{
	return (uint32_t *)(arena + BENCH_POOL_BYTES + page * BENCH_PAGE_BYTES);
}

static uint64_t serve(uint64_t function, uint64_t arg)
{
	static const char byte = '.';

	switch (function) {
	case BENCH_CALL_LOOKUP:
		if (!pool_free || pool_free->magic != POOL_MAGIC)
			rt_abort(1, "bench-service: the page pool is gone");
		return table[arg & (BENCH_TABLE_ENTRIES - 1)];
	case BENCH_CALL_DIRTY:
	case BENCH_CALL_WRITE_PAGES:
		if (arg > BENCH_DATA_PAGES)
			rt_abortf(1, "bench-service: %llu pages asked, the data area has %llu",
				  (unsigned long long)arg, (unsigned long long)BENCH_DATA_PAGES);
		write_sequence++;
		for (uint64_t p = 0; p < arg; p++) {
			volatile uint32_t *words = data_page(p);

			if (function == BENCH_CALL_DIRTY) {
				words[0] = write_sequence;
				continue;
			}
			for (unsigned int w = 0; w < BENCH_PAGE_BYTES / sizeof(uint32_t); w++)
				words[w] = write_sequence + w;
		}
		return arg;
	case BENCH_CALL_HYPERCALLS:
		for (uint64_t i = 0; i < arg; i++)
			rt_write(&byte, 0);
		return arg;
	default:
		rt_abortf(1, "bench-service: unknown call %llu", (unsigned long long)function);
	}
}

int main(void)
{
	build_pool();
	build_table();
#ifndef BENCH_SERVICE_COLD
	rt_snapshot();
#endif
	rt_call_loop(serve);
}
