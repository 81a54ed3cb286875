/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * call-loop.c - a snapshotting service: initialises its buffers, takes a
 * SNAPSHOT, then serves the calls of call-loop.h forever, so that each
 * restore + call runs one function from the snapshot's state.
 */
#include "guests/include/rt.h"
#include "guests/test/call-loop.h"

static volatile uint32_t data[CALL_LOOP_PAGES][RT_PAGE_SIZE / 4] __attribute__((aligned(4096)));
static volatile uint32_t *scratch[CALL_LOOP_PAGES];
static uint32_t counter;
static long snapshot_value;

static uint64_t touch(volatile uint32_t *page)
{
	return ++page[1];
}

static uint64_t serve(uint64_t function, uint64_t arg)
{
	switch (function) {
	case CALL_ADD:
		return arg + CALL_LOOP_ADDEND;
	case CALL_WRITE_SCRATCH:
	case CALL_WRITE_DATA:
		if (arg > CALL_LOOP_PAGES)
			rt_abortf(1, "call-loop: %llu pages asked, there are %u",
				  (unsigned long long)arg, CALL_LOOP_PAGES);
		for (uint64_t p = 0; p < arg; p++)
			touch(function == CALL_WRITE_DATA ? data[p] : scratch[p]);
		return arg;
	case CALL_GENERATION:
		return rt_boot_info()->generation;
	case CALL_SEED:
		return rt_boot_info()->random_seed;
	case CALL_COUNTER:
		return ++counter;
	case CALL_POKE:
		data[0][0] = (uint32_t)arg;
		scratch[0][0] = (uint32_t)arg;
		return 0;
	case CALL_PEEK_DATA:
		return data[0][0];
	case CALL_PEEK_SCRATCH:
		return scratch[0][0];
	case CALL_SNAPSHOT_VALUE:
		return (uint64_t)snapshot_value;
	case CALL_EXIT:
		rt_exit((int)arg);
	case CALL_SCRIBBLE: {
		unsigned int x = (unsigned int)arg | 1;
		unsigned int n = call_loop_scribble_next(&x) % 48;

		for (unsigned int i = 0; i < n; i++) {
			unsigned int r = call_loop_scribble_next(&x);
			volatile uint32_t *page = (r & 1) ? data[(r >> 1) % CALL_LOOP_PAGES]
							  : scratch[(r >> 1) % CALL_LOOP_PAGES];

			page[(r >> 8) % (RT_PAGE_SIZE / 4)] = r;
		}
		return n;
	}
	}
	rt_abortf(1, "call-loop: unknown function %llu", (unsigned long long)function);
}

int main(void)
{
	for (int p = 0; p < CALL_LOOP_PAGES; p++)
		scratch[p] = rt_alloc_page();
	data[0][0] = CALL_LOOP_MARK;
	scratch[0][0] = CALL_LOOP_MARK;
	snapshot_value = rt_snapshot();
	rt_call_loop(serve);
}
