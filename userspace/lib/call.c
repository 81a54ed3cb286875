// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * call.c - calls into a guest waiting at CALL_WAIT: u64 and buffer calls.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "userspace/lib/internal.h"

static uint64_t ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - start->tv_sec) * 1000 +
	       (uint64_t)((now.tv_nsec - start->tv_nsec) / 1000000);
}

/* A call stopped midway (its deadline, an interrupt) leaves the guest
 * inside a function: no later call may find it there. */
static void poison_unfinished_call(struct snapvm_sandbox *sb, const struct snapvm_outcome *outcome)
{
	if (outcome->stop != SNAPVM_STOP_TIMEOUT && outcome->stop != SNAPVM_STOP_INTERRUPTED)
		return;
	sb->poisoned = true;
	snprintf(sb->poison_reason, sizeof(sb->poison_reason), "a call %s midway",
		 outcome->stop == SNAPVM_STOP_TIMEOUT ? "timed out" : "was interrupted");
}

/* Run to the guest's CALL_WAIT unless it is there; what is left of the
 * timeout in *left. Returns like snapvm_sandbox_run; false in *ready when
 * the guest stopped otherwise. */
static int reach_call_wait(struct snapvm_sandbox *sb, uint64_t timeout_ms, uint64_t *left,
			   bool *ready, struct snapvm_outcome *outcome, struct snapvm_error *err)
{
	struct timespec start;
	int ret;

	*left = timeout_ms;
	*ready = sb->at_call_wait;
	if (sb->at_call_wait)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &start);
	ret = snapvm_sandbox_run(sb, timeout_ms, outcome, err);
	if (ret)
		return ret;
	if (outcome->stop != SNAPVM_STOP_CALL_WAIT) {
		poison_unfinished_call(sb, outcome);
		return 0;
	}
	if (timeout_ms) {
		uint64_t spent = ms_since(&start);

		/* At least 1 ms: 0 would mean no limit at all. */
		*left = spent < timeout_ms ? timeout_ms - spent : 1;
	}
	*ready = true;
	return 0;
}

int snapvm_sandbox_call(struct snapvm_sandbox *sb, uint64_t function, uint64_t arg,
			uint64_t timeout_ms, uint64_t *result, struct snapvm_outcome *outcome,
			struct snapvm_error *err)
{
	struct snapvm_boot_info *info = (struct snapvm_boot_info *)sb->scratch_memory;
	uint64_t left;
	bool ready;
	int ret;

	if (sb->in_host_call)
		return snapvm_reentered("snapvm_sandbox_call", err);
	ret = reach_call_wait(sb, timeout_ms, &left, &ready, outcome, err);
	if (ret || !ready)
		return ret;
	info->call.function = function;
	info->call.arg = arg;
	ret = snapvm_sandbox_run(sb, left, outcome, err);
	if (!ret && outcome->stop == SNAPVM_STOP_CALL_WAIT)
		*result = (uint64_t)outcome->code;
	if (!ret)
		poison_unfinished_call(sb, outcome);
	return ret;
}

uint64_t snapvm_snapshot_io_size(const struct snapvm_snapshot *snap)
{
	return snap->io_size;
}

/* The I/O area is the guest's scratch like any other: a page of it may be
 * one snapvm.ko cannot charge (see guest_memory_failed). */
static int io_area_failed(struct snapvm_error *err, const char *which, uint64_t offset, int errnum)
{
	return snapvm_fail_errno(err, EX_OSERR, errnum,
				 "snapvm_sandbox_call_buffer: cannot bring in the %s area at "
				 "scratch offset 0x%llx (snapvm.ko could not charge the page: "
				 "check RLIMIT_MEMLOCK, its max_total_mb and the memory cgroup)",
				 which, (unsigned long long)offset);
}

int snapvm_sandbox_call_buffer(struct snapvm_sandbox *sb, uint64_t function, const void *in,
			       size_t in_len, void *out, size_t out_cap, size_t *out_len,
			       uint64_t timeout_ms, struct snapvm_outcome *outcome,
			       struct snapvm_error *err)
{
	const struct snapvm_snapshot *snap = sb->snapshot;
	struct snapvm_boot_info *info = (struct snapvm_boot_info *)sb->scratch_memory;
	uint64_t left, room = out_cap < snap->io_size ? out_cap : snap->io_size;
	int64_t result;
	bool ready;
	int ret, errnum;

	memset(outcome, 0, sizeof(*outcome));
	if (sb->in_host_call)
		return snapvm_reentered("snapvm_sandbox_call_buffer", err);
	if (sb->poisoned)
		return snapvm_poisoned(sb, err);
	if (in_len > snap->io_size)
		return snapvm_fail(err, EX_USAGE,
				   "an input of %zu bytes does not fit the sandbox's %llu-byte I/O "
				   "area",
				   in_len, (unsigned long long)snap->io_size);
	ret = reach_call_wait(sb, timeout_ms, &left, &ready, outcome, err);
	if (ret || !ready)
		return ret;
	errnum = snapvm_guest_prepare(sb->scratch_memory + snap->io_in_offset, in_len, true);
	if (errnum)
		return io_area_failed(err, "input", snap->io_in_offset, errnum);
	/* Written by the VMM, so restore must be told: the pages join the
	 * pending set (the boot info's page always does). */
	memcpy(sb->scratch_memory + snap->io_in_offset, in, in_len);
	for (uint64_t page = snap->io_in_offset / SNAPVM_PAGE;
	     in_len && page <= (snap->io_in_offset + in_len - 1) / SNAPVM_PAGE; page++)
		sb->scratch_dirty[page / 64] |= 1ULL << (page % 64);
	info->call.function = function;
	info->call.arg = in_len;
	ret = snapvm_sandbox_run(sb, left, outcome, err);
	if (ret)
		return ret;
	if (outcome->stop != SNAPVM_STOP_CALL_WAIT) {
		poison_unfinished_call(sb, outcome);
		return 0;
	}
	/* CALL_WAIT's result has the guest's register width. */
	result =
	    snap->arch->arg_mask == UINT32_MAX ? (int64_t)(int32_t)outcome->code : outcome->code;
	outcome->code = result;
	*out_len = 0;
	if (result < 0)
		return 0;
	if ((uint64_t)result > room)
		return snapvm_fail(err, EX_DATAERR, "guest returned %lld bytes, room for %llu",
				   (long long)result, (unsigned long long)room);
	errnum =
	    snapvm_guest_prepare(sb->scratch_memory + snap->io_out_offset, (uint64_t)result, false);
	if (errnum)
		return io_area_failed(err, "output", snap->io_out_offset, errnum);
	memcpy(out, sb->scratch_memory + snap->io_out_offset, (size_t)result);
	*out_len = (size_t)result;
	return 0;
}
