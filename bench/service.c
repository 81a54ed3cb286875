/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * service.c - the host side of the service guest (guests/bench/service.c):
 * boot it to its SNAPSHOT, keep the snapshot it took for the benchmarks
 * that start, restore and call sandboxes from it, and make calls.
 */
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "guests/bench/bench_guest.h"

#define CALL_TIMEOUT_MS 600000

/* Taken snapshots, kept for the whole run: [big][layout][memory]. */
static struct snapvm_snapshot *taken[2][3][3];

uint64_t bench_service_scratch(uint32_t layout, bool big)
{
	/* amd64 copies every page the boot writes (pool, table) and every
	 * page a call dirties into scratch; i686 writes its view instead and
	 * needs only the boot info, IDT, runtime state and stack. */
	if (layout == SNAPVM_LAYOUT_AMD64)
		return big ? 64ULL << 20 : 4ULL << 20;
	return 1ULL << 20;
}

const char *bench_service_guest(bool big, bool cold)
{
	if (big)
		return cold ? "bench-service-cold" : "bench-service";
	return cold ? "bench-service-small-cold" : "bench-service-small";
}

int bench_service_create(struct snapvm_snapshot *snap, struct snapvm_sandbox **sb, char *why,
			 size_t why_len)
{
	struct snapvm_sandbox_options options = {.output_fd = bench_devnull()};
	struct snapvm_error err;

	if (snapvm_sandbox_create(snap, &options, sb, &err)) {
		snprintf(why, why_len, "snapvm_sandbox_create: %s", err.message);
		return -1;
	}
	return 0;
}

int bench_service_call(struct snapvm_sandbox *sb, uint64_t function, uint64_t arg, uint64_t *result,
		       char *why, size_t why_len)
{
	struct snapvm_outcome outcome;
	struct snapvm_error err;
	uint64_t r = 0;

	if (snapvm_sandbox_call(sb, function, arg, CALL_TIMEOUT_MS, &r, &outcome, &err)) {
		snprintf(why, why_len, "snapvm_sandbox_call: %s", err.message);
		return -1;
	}
	if (outcome.stop != SNAPVM_STOP_CALL_WAIT) {
		snprintf(why, why_len,
			 "call %llu(%llu): the guest stopped with %d (code %lld): %.900s",
			 (unsigned long long)function, (unsigned long long)arg, outcome.stop,
			 (long long)outcome.code, outcome.message);
		return -1;
	}
	/* LOOKUP proves the boot's table is there; the others echo arg. */
	if (function == BENCH_CALL_LOOKUP ? (uint32_t)r != bench_crc32_u16(arg & 0xffff)
					  : (uint32_t)r != (uint32_t)arg) {
		snprintf(why, why_len, "call %llu(%llu) returned %llu",
			 (unsigned long long)function, (unsigned long long)arg,
			 (unsigned long long)r);
		return -1;
	}
	if (result)
		*result = r;
	return 0;
}

int bench_service_restore(struct snapvm_sandbox *sb, char *why, size_t why_len)
{
	struct snapvm_error err;

	if (snapvm_sandbox_restore(sb, &err)) {
		snprintf(why, why_len, "snapvm_sandbox_restore: %s", err.message);
		return -1;
	}
	return 0;
}

int bench_service_request(struct snapvm_sandbox *sb, uint64_t function, uint64_t arg, char *why,
			  size_t why_len)
{
	if (bench_service_restore(sb, why, why_len) ||
	    bench_service_call(sb, function, arg, NULL, why, why_len))
		return -1;
	return 0;
}

struct snapvm_snapshot *bench_service_snapshot(uint32_t layout, bool big, enum snapvm_memory memory,
					       char *why, size_t why_len)
{
	struct snapvm_snapshot_options opts = {
	    .layout = layout,
	    .memory = memory,
	    .scratch_size = bench_service_scratch(layout, big),
	};
	struct snapvm_snapshot **slot = &taken[big][layout][memory], *elf = NULL;
	struct snapvm_sandbox *sb = NULL;
	struct snapvm_outcome outcome;
	struct snapvm_error err;
	char path[4096];
	uint64_t start = bench_now_ns();

	if (*slot)
		return *slot;
	bench_guest_path(path, sizeof(path), layout, bench_service_guest(big, false));
	if (snapvm_snapshot_from_elf(path, &opts, &elf, &err)) {
		snprintf(why, why_len, "snapvm_snapshot_from_elf: %s", err.message);
		return NULL;
	}
	if (bench_service_create(elf, &sb, why, why_len))
		goto out;
	if (snapvm_sandbox_run(sb, CALL_TIMEOUT_MS, &outcome, &err)) {
		snprintf(why, why_len, "snapvm_sandbox_run: %s", err.message);
		goto out;
	}
	if (outcome.stop != SNAPVM_STOP_SNAPSHOT) {
		snprintf(why, why_len, "%s stopped with %d before its SNAPSHOT: %.900s", path,
			 outcome.stop, outcome.message);
		goto out;
	}
	if (snapvm_sandbox_take_snapshot(sb, slot, &err))
		snprintf(why, why_len, "snapvm_sandbox_take_snapshot: %s", err.message);
	else
		bench_progress("  %s (%s, %s): booted and snapshotted in %.3g s", path,
			       snapvm_layout_name(layout), snapvm_memory_name(memory),
			       (double)(bench_now_ns() - start) / 1e9);
out:
	snapvm_sandbox_destroy(sb);
	snapvm_snapshot_put(elf);
	return *slot;
}

void bench_service_release(void)
{
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0][0][0]); i++) {
		struct snapvm_snapshot **snap = &taken[0][0][0] + i;

		snapvm_snapshot_put(*snap);
		*snap = NULL;
	}
}
