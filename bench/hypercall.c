/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * hypercall.c - benchmark 1: one hypercall round trip (guest `out`, KVM exit,
 * libsnapvm decodes and answers it, KVM_RUN again) vs the floor, a bare
 * KVM_RUN loop on the same `out` in the same process (kvm_floor.c).
 *
 * Ours per sample: a bench-hypercall run (BENCH_HYPERCALL_COUNT hypercalls)
 * minus a bench-empty run, both from creation to EXIT, over the count; the
 * boot and EXIT both runs share cancel out. Each sample sits between floor
 * samples, so both see the same machine.
 */
#include <stdio.h>

#include "bench/bench.h"
#include "guests/bench/bench_guest.h"

/* Floor exits per sample: as many as bench-hypercall makes. */
#define FLOOR_EXITS BENCH_HYPERCALL_COUNT

static int floor_sample(struct kvm_floor_vm *vm, struct bench_samples *floor)
{
	uint64_t ns;

	if (kvm_floor_run(vm, FLOOR_EXITS, &ns))
		return -1;
	bench_samples_add(floor, (double)ns / FLOOR_EXITS);
	return 0;
}

void bench_floor_exit(void)
{
	struct kvm_floor_vm *vm;
	struct bench_samples s = {0};
	char why[160];
	uint64_t ns;

	if (kvm_floor_create(&vm, why, sizeof(why))) {
		bench_progress("kvm floor: %s", why);
		return;
	}
	for (int i = 0; i < 5 && !kvm_floor_run(vm, 100, &ns); i++)
		bench_samples_add(&s, (double)ns / 100);
	kvm_floor_destroy(vm);
	bench_config.exit_ns_estimate = (uint64_t)bench_stats_of(&s).median;
	bench_progress("one bare KVM exit: ~%llu ns",
		       (unsigned long long)bench_config.exit_ns_estimate);
	bench_note("one bare KVM exit (out to port 0x%x, real mode) took ~%llu ns at the start",
		   SNAPVM_PORT_HYPERCALL, (unsigned long long)bench_config.exit_ns_estimate);
	bench_samples_free(&s);
}

/* Create a sandbox (untimed), run it to EXIT(0) (timed), destroy it. */
static int timed_run(struct snapvm_snapshot *snap, int devnull, uint64_t *ns, char *why,
		     size_t why_len)
{
	struct snapvm_sandbox_options options = {.output_fd = devnull};
	struct snapvm_sandbox *sb;
	struct snapvm_outcome outcome;
	struct snapvm_error err;
	uint64_t start;
	int ret;

	ret = snapvm_sandbox_create(snap, &options, &sb, &err);
	if (ret) {
		snprintf(why, why_len, "snapvm_sandbox_create: %s", err.message);
		return ret;
	}
	start = bench_now_ns();
	ret = snapvm_sandbox_run(sb, 60000, &outcome, &err);
	*ns = bench_now_ns() - start;
	snapvm_sandbox_destroy(sb);
	if (ret) {
		snprintf(why, why_len, "snapvm_sandbox_run: %s", err.message);
		return ret;
	}
	if (outcome.stop != SNAPVM_STOP_EXIT || outcome.code != 0) {
		snprintf(why, why_len, "the guest stopped with %d (code %lld): %s", outcome.stop,
			 (long long)outcome.code, outcome.message);
		return -1;
	}
	return 0;
}

static void hypercall_layout(uint32_t layout)
{
	const char *arch = snapvm_layout_name(layout);
	struct snapvm_snapshot *busy = NULL, *empty = NULL;
	struct bench_samples ours = {0}, floor = {0};
	struct bench_budget budget = bench_budget(5, 200, 8);
	struct kvm_floor_vm *vm = NULL;
	struct bench_figure *f;
	struct snapvm_error err;
	char name[64], path[4096], why[1400];
	uint64_t start;
	int devnull = bench_devnull();

	snprintf(name, sizeof(name), "hypercall.%s", arch);
	f = bench_figure_add("hypercall", name, "ns",
			     "one hypercall round trip (WRITE(buf, 0)), libsnapvm");
	bench_figure_baseline(f, "kvm_floor.exit",
			      "bare KVM_RUN loop on the same `out` in the same process");
	bench_figure_target(f, 1.15, "<= 1.15 (stretch <= 1.05)");
	bench_figure_stretch(f, 1.05);
	bench_progress("hypercall %s ...", arch);

	if (snapvm_snapshot_from_elf(
		bench_guest_path(path, sizeof(path), layout, "bench-hypercall"), NULL, &busy,
		&err) ||
	    snapvm_snapshot_from_elf(bench_guest_path(path, sizeof(path), layout, "bench-empty"),
				     NULL, &empty, &err)) {
		bench_figure_skip(f, "snapvm_snapshot_from_elf: %s", err.message);
		goto out;
	}
	if (kvm_floor_create(&vm, why, sizeof(why))) {
		bench_figure_skip(f, "kvm floor: %s", why);
		goto out;
	}
	start = bench_now_ns();
	while (bench_budget_more(&budget, ours.n, start)) {
		uint64_t busy_ns, empty_ns;

		if (floor_sample(vm, &floor)) {
			bench_figure_skip(f, "the kvm floor failed (see above)");
			goto out;
		}
		if (timed_run(busy, devnull, &busy_ns, why, sizeof(why)) ||
		    timed_run(empty, devnull, &empty_ns, why, sizeof(why))) {
			bench_figure_skip(f, "%s", why);
			goto out;
		}
		bench_samples_add(&ours,
				  ((double)busy_ns - (double)empty_ns) / BENCH_HYPERCALL_COUNT);
	}
	if (floor_sample(vm, &floor) == 0)
		bench_figure_set(f, bench_stats_of(&ours), bench_stats_of(&floor));
	else
		bench_figure_skip(f, "the kvm floor failed (see above)");
out:
	kvm_floor_destroy(vm);
	snapvm_snapshot_put(busy);
	snapvm_snapshot_put(empty);
	bench_samples_free(&ours);
	bench_samples_free(&floor);
}

void bench_hypercall(void)
{
	hypercall_layout(SNAPVM_LAYOUT_I686);
	hypercall_layout(SNAPVM_LAYOUT_AMD64);
}
