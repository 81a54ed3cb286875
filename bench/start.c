/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * start.c - benchmark 3: a sandbox created from the snapshot bench-service
 * took of itself, plus its first call (LOOKUP), vs
 *  - a cold start: load bench-service-cold's ELF, create a sandbox, boot it
 *    (32 MiB page pool, lookup table) and make the same first call;
 *  - the floor for "a new VM": create a bare KVM VM with one page and one
 *    vCPU and run it to its first exit (kvm_floor.c).
 * Destroying the sandboxes and VMs is not timed.
 */
#include <stdio.h>

#include "bench/bench.h"
#include "guests/bench/bench_guest.h"

/* Create from the snapshot + first call. */
static int from_snapshot_ns(struct snapvm_snapshot *snap, double *ns, char *why, size_t why_len)
{
	struct snapvm_sandbox *sb = NULL;
	uint64_t start = bench_now_ns();
	int ret;

	ret = bench_service_create(snap, &sb, why, why_len) ||
	      bench_service_call(sb, BENCH_CALL_LOOKUP, 7, NULL, why, why_len);
	*ns = (double)(bench_now_ns() - start);
	snapvm_sandbox_destroy(sb);
	return ret;
}

/* ELF load + create + boot + first call. */
static int cold_ns(uint32_t layout, double *ns, char *why, size_t why_len)
{
	struct snapvm_snapshot_options opts = {.layout = layout,
					       .scratch_size = bench_service_scratch(layout, true)};
	struct snapvm_snapshot *elf = NULL;
	struct snapvm_sandbox *sb = NULL;
	struct snapvm_error err;
	char path[4096];
	uint64_t start = bench_now_ns();
	int ret;

	bench_guest_path(path, sizeof(path), layout, bench_service_guest(true, true));
	ret = snapvm_snapshot_from_elf(path, &opts, &elf, &err);
	if (ret)
		snprintf(why, why_len, "snapvm_snapshot_from_elf: %s", err.message);
	else
		ret = bench_service_create(elf, &sb, why, why_len) ||
		      bench_service_call(sb, BENCH_CALL_LOOKUP, 7, NULL, why, why_len);
	*ns = (double)(bench_now_ns() - start);
	snapvm_sandbox_destroy(sb);
	snapvm_snapshot_put(elf);
	return ret;
}

static void start_layout(uint32_t layout)
{
	const char *arch = snapvm_layout_name(layout);
	struct bench_figure *vs_cold, *vs_floor;
	char name[64];

	snprintf(name, sizeof(name), "start.%s.vs_cold", arch);
	vs_cold =
	    bench_figure_add("start", name, "ns", "create from the taken snapshot + first call");
	bench_figure_baseline(vs_cold, "cold_start",
			      "ELF load + create + boot (32 MiB pool, table) + first call");
	bench_figure_target(vs_cold, 0.05, "<= 0.05 (20x)");
	snprintf(name, sizeof(name), "start.%s.vs_empty_vm", arch);
	vs_floor =
	    bench_figure_add("start", name, "ns", "create from the taken snapshot + first call");
	bench_figure_baseline(vs_floor, "kvm_floor.new_vm",
			      "bare KVM VM, 1 page, 1 vCPU, created and run to its first exit");
	bench_figure_target(vs_floor, 2.0, "<= 2");
	struct bench_samples ours = {0}, cold = {0}, floor = {0};
	struct bench_budget budget = bench_budget(3, 100, 20);
	struct snapvm_snapshot *snap;
	char why[1400];
	uint64_t start;

	bench_progress("start %s ...", arch);
	snap = bench_service_snapshot(layout, true, SNAPVM_MEMORY_AUTO, why, sizeof(why));
	if (!snap)
		goto fail;
	start = bench_now_ns();
	while (bench_budget_more(&budget, cold.n, start)) {
		double ns;
		uint64_t floor_ns;

		if (cold_ns(layout, &ns, why, sizeof(why)))
			goto fail;
		bench_samples_add(&cold, ns);
		/* The cheap ones more often: their spread is worth knowing. */
		for (int i = 0; i < 4; i++) {
			if (from_snapshot_ns(snap, &ns, why, sizeof(why)))
				goto fail;
			bench_samples_add(&ours, ns);
			if (kvm_floor_start_ns(&floor_ns)) {
				snprintf(why, sizeof(why), "the kvm floor failed (see above)");
				goto fail;
			}
			bench_samples_add(&floor, (double)floor_ns);
		}
	}
	bench_figure_set(vs_cold, bench_stats_of(&ours), bench_stats_of(&cold));
	bench_figure_set(vs_floor, bench_stats_of(&ours), bench_stats_of(&floor));
	goto out;
fail:
	bench_figure_skip(vs_cold, "%s", why);
	bench_figure_skip(vs_floor, "%s", why);
out:
	bench_samples_free(&ours);
	bench_samples_free(&cold);
	bench_samples_free(&floor);
}

void bench_start(void)
{
	start_layout(SNAPVM_LAYOUT_I686);
	start_layout(SNAPVM_LAYOUT_AMD64);
}
