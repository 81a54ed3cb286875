/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * restore.c - benchmark 2: restore a sandbox of the 64 MiB bench-service
 * snapshot after a call dirtied k pages (k = 1, 16, 256, 4096), vs a
 * full-copy restore, Hyperlight's method: copy the whole snapshot over the
 * guest memory and zero the scratch.
 *
 * Ours per sample: call DIRTY(k) (untimed), then snapvm_sandbox_restore
 * (timed). The full copy runs on buffers of the same sizes, touched before
 * (as a sandbox's memory is): memcpy of the snapshot's bytes + memset of
 * the scratch. It leaves out the vCPU register reset both need, which only
 * flatters the baseline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench/bench.h"
#include "guests/bench/bench_guest.h"

static const unsigned int restore_ks[] = {1, 16, 256, 4096};
#define NKS (sizeof(restore_ks) / sizeof(restore_ks[0]))

struct full_copy {
	const void *snapshot;
	uint64_t snapshot_size, scratch_size;
	unsigned char *memory, *scratch;
};

static int full_copy_init(struct full_copy *fc, struct snapvm_snapshot *snap)
{
	uint64_t gpa;

	fc->snapshot = snapvm_snapshot_memory(snap, &gpa, &fc->snapshot_size);
	fc->scratch_size = snapvm_snapshot_scratch_size(snap);
	fc->memory = mmap(NULL, fc->snapshot_size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	fc->scratch = mmap(NULL, fc->scratch_size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (!fc->snapshot || fc->memory == MAP_FAILED || fc->scratch == MAP_FAILED)
		return -1;
	/* Warm: the first copy would also pay the page faults. */
	memcpy(fc->memory, fc->snapshot, fc->snapshot_size);
	return 0;
}

static double full_copy_ns(struct full_copy *fc)
{
	uint64_t start = bench_now_ns();

	memcpy(fc->memory, fc->snapshot, fc->snapshot_size);
	memset(fc->scratch, 0, fc->scratch_size);
	/* The copy must not be optimised away: a byte of each is read. */
	__asm__ volatile(""
			 :
			 : "r"(fc->memory[fc->snapshot_size - 1]), "r"(fc->scratch[0])
			 : "memory");
	return (double)(bench_now_ns() - start);
}

static void full_copy_free(struct full_copy *fc)
{
	if (fc->memory && fc->memory != MAP_FAILED)
		munmap(fc->memory, fc->snapshot_size);
	if (fc->scratch && fc->scratch != MAP_FAILED)
		munmap(fc->scratch, fc->scratch_size);
}

/* Where a restore's time goes (bench_ioctl_profile): a few more restores,
 * apart from the timed ones, with every ioctl timed. */
static int profile_restores(struct snapvm_sandbox *sb, const char *arch, unsigned int k, char *why,
			    size_t why_len)
{
	const unsigned int n = 5;
	double total = 0;

	bench_ioctl_profile_reset();
	for (unsigned int s = 0; s < n; s++) {
		uint64_t t0;
		int ret;

		if (bench_service_call(sb, BENCH_CALL_DIRTY, k, NULL, why, why_len))
			return -1;
		t0 = bench_now_ns();
		bench_ioctl_profile_on(true);
		ret = bench_service_restore(sb, why, why_len);
		bench_ioctl_profile_on(false);
		total += (double)(bench_now_ns() - t0);
		if (ret)
			return -1;
	}
	struct bench_ioctl_profile p = bench_ioctl_profile();

	bench_ioctl_profile_note(&p, n, total, "restore.%s.k%u, ioctls of %u restores", arch, k, n);
	return 0;
}

/* The k = 4096 restores of each layout, for restore.k4096.amd64_vs_i686. */
static struct bench_stats k4096[2];
static bool k4096_measured[2];

static void restore_layout(uint32_t layout)
{
	const char *arch = snapvm_layout_name(layout);
	struct bench_figure *f[NKS];
	char name[64], title[160];

	for (size_t i = 0; i < NKS; i++) {
		snprintf(name, sizeof(name), "restore.%s.k%u", arch, restore_ks[i]);
		snprintf(title, sizeof(title),
			 "snapvm_sandbox_restore after a call dirtied %u pages of the 64 MiB "
			 "snapshot",
			 restore_ks[i]);
		f[i] = bench_figure_add("restore", name, "ns", title);
		bench_figure_baseline(f[i], "full_copy",
				      "full-copy restore (Hyperlight): copy the whole snapshot, "
				      "zero the scratch");
		if (restore_ks[i] == 1)
			bench_figure_target(f[i], 0.01, "<= 0.01 (100x)");
	}
	struct bench_samples ours[NKS] = {0}, full = {0}, pages[NKS] = {0};
	struct full_copy fc = {0};
	struct snapvm_snapshot *snap;
	struct snapvm_sandbox *sb = NULL;
	char why[1400];

	bench_progress("restore %s ...", arch);
	snap = bench_service_snapshot(layout, true, SNAPVM_MEMORY_AUTO, why, sizeof(why));
	if (!snap)
		goto fail;
	if (full_copy_init(&fc, snap)) {
		snprintf(why, sizeof(why), "cannot map the full-copy buffers");
		goto fail;
	}
	if (bench_service_create(snap, &sb, why, sizeof(why)) ||
	    bench_service_call(sb, BENCH_CALL_LOOKUP, 1, NULL, why, sizeof(why)) ||
	    bench_service_restore(sb, why, sizeof(why)))
		goto fail;
	for (size_t i = 0; i < NKS; i++) {
		/* Each restore of 4096 pages costs ~4096 page copies, inside the
		 * test VM seconds: fewer samples there, by the budget. */
		struct bench_budget budget = bench_budget(5, 200, 6);
		uint64_t start = bench_now_ns();

		while (bench_budget_more(&budget, ours[i].n, start)) {
			uint64_t t0;

			if (bench_service_call(sb, BENCH_CALL_DIRTY, restore_ks[i], NULL, why,
					       sizeof(why)))
				goto fail;
			t0 = bench_now_ns();
			if (bench_service_restore(sb, why, sizeof(why)))
				goto fail;
			bench_samples_add(&ours[i], (double)(bench_now_ns() - t0));
			bench_samples_add(&pages[i], (double)snapvm_sandbox_last_restore_pages(sb));
			if (ours[i].n % 4 == 1)
				bench_samples_add(&full, full_copy_ns(&fc));
		}
		if (profile_restores(sb, arch, restore_ks[i], why, sizeof(why)))
			goto fail;
	}
	while (full.n < 5)
		bench_samples_add(&full, full_copy_ns(&fc));
	for (size_t i = 0; i < NKS; i++) {
		struct bench_stats p = bench_stats_of(&pages[i]);

		snprintf(f[i]->title, sizeof(f[i]->title),
			 "snapvm_sandbox_restore after a call dirtied %u pages of the 64 MiB "
			 "snapshot (restored %.0f pages)",
			 restore_ks[i], p.median);
		bench_figure_set(f[i], bench_stats_of(&ours[i]), bench_stats_of(&full));
		if (restore_ks[i] == 4096) {
			k4096[layout == SNAPVM_LAYOUT_AMD64] = bench_stats_of(&ours[i]);
			k4096_measured[layout == SNAPVM_LAYOUT_AMD64] = true;
		}
	}
	bench_note("restore.%s: the full copy moves %llu snapshot bytes and zeroes %llu scratch "
		   "bytes",
		   arch, (unsigned long long)fc.snapshot_size, (unsigned long long)fc.scratch_size);
	goto out;
fail:
	for (size_t i = 0; i < NKS; i++)
		bench_figure_skip(f[i], "%s", why);
out:
	snapvm_sandbox_destroy(sb);
	full_copy_free(&fc);
	for (size_t i = 0; i < NKS; i++) {
		bench_samples_free(&ours[i]);
		bench_samples_free(&pages[i]);
	}
	bench_samples_free(&full);
}

void bench_restore(void)
{
	struct bench_figure *f;

	restore_layout(SNAPVM_LAYOUT_I686);
	restore_layout(SNAPVM_LAYOUT_AMD64);
	/* The same 4096 dirtied pages (the guest's DIRTY call) on both
	 * layouts: i686 writes them in its private view, amd64 copies them
	 * into scratch (clone pages of snapvm.ko, or memfd) in its #PF handler. */
	f = bench_figure_add("restore", "restore.k4096.amd64_vs_i686", "ns",
			     "amd64 restore after a call dirtied 4096 pages (restore.amd64.k4096)");
	bench_figure_baseline(f, "restore.i686.k4096",
			      "i686 restore after the same call (restore.i686.k4096)");
	bench_figure_target(f, 1.2, "<= 1.2");
	if (k4096_measured[0] && k4096_measured[1])
		bench_figure_set(f, k4096[1], k4096[0]);
	else
		bench_figure_skip(f, "needs restore.i686.k4096 and restore.amd64.k4096");
}
