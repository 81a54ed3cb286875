/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * density.c - benchmark 5: host memory for N = 1, 10, 100 sandboxes from one
 * snapshot, and the bytes each extra sandbox costs.
 *
 * Host memory = PSS of the process's anonymous and shmem pages (memfd
 * backing, the i686 views' private copies) + the pages snapvm.ko pins. PSS,
 * not RSS: every i686 sandbox maps the shared snapshot once more, and RSS
 * would count its pages once per mapping. Module pages are counted through
 * pinned_pages only (their mappings show up as file pages, left out). What
 * the kernel spends besides (KVM's VM and vCPU structures, nested page
 * tables) is in MemAvailable, reported separately against N bare KVM VMs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "guests/bench/bench_guest.h"

#define DENSITY_MAX 100
/* The allowance per sandbox besides its scratch and dirty pages. */
#define DENSITY_SLACK (64ULL << 10)

static const unsigned int density_counts[] = {1, 10, 100};
#define NCOUNTS (sizeof(density_counts) / sizeof(density_counts[0]))

struct memory_reading {
	double process;	  /* PSS anon + shmem + pinned, bytes */
	double available; /* MemAvailable, bytes */
};

static double field_kib(const char *path, const char *name)
{
	char line[256];
	size_t len = strlen(name);
	double kib = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, len) && line[len] == ':') {
			kib = strtod(line + len + 1, NULL);
			break;
		}
	fclose(f);
	return kib;
}

static struct memory_reading read_memory(void)
{
	struct memory_reading r;

	r.process = 1024 * (field_kib("/proc/self/smaps_rollup", "Pss_Anon") +
			    field_kib("/proc/self/smaps_rollup", "Pss_Shmem")) +
		    (double)bench_pinned_pages() * 4096;
	r.available = 1024 * field_kib("/proc/meminfo", "MemAvailable");
	return r;
}

/*
 * The pages a sandbox writes outside its scratch: on i686 the guest's data
 * pages plus one more, all private copies of the view (with the snapshot
 * API: the page holding the service guest's write counter; without: the
 * GDT page whose Accessed bits the CPU sets); on amd64 the copies land in
 * scratch.
 */
static uint64_t view_dirty_pages(uint32_t layout)
{
	return layout == SNAPVM_LAYOUT_I686 ? BENCH_TOUCH_PAGES + 1 : 0;
}

/* One snapshot for all: the one bench-service-small took of itself. */
static struct snapvm_snapshot *density_snapshot(uint32_t layout, enum snapvm_memory memory,
						char *why, size_t why_len)
{
	return bench_service_snapshot(layout, false, memory, why, why_len);
}
/* The service snapshots live for the whole run. */
#define DENSITY_OWNS_SNAPSHOT false

/* Bring one sandbox to the state we count: created, one call that dirtied
 * BENCH_TOUCH_PAGES data pages. */
static int bring_up(struct snapvm_snapshot *snap, struct snapvm_sandbox **sb, char *why,
		    size_t why_len)
{
	return bench_service_create(snap, sb, why, why_len) ||
	       bench_service_call(*sb, BENCH_CALL_DIRTY, BENCH_TOUCH_PAGES, NULL, why, why_len);
}

/* Touch every page of the snapshot so its shared pages are in the PSS
 * before the first sandbox exists: it is not any sandbox's cost. */
static void touch_snapshot(struct snapvm_snapshot *snap)
{
	uint64_t gpa, size;
	const volatile unsigned char *p = snapvm_snapshot_memory(snap, &gpa, &size);

	for (uint64_t off = 0; p && off < size; off += 4096)
		(void)p[off];
}

struct density_figures {
	struct bench_figure *total[NCOUNTS], *per_extra, *kernel;
};

static void skip_all(struct density_figures *d, const char *fmt, const char *why)
{
	for (size_t i = 0; i < NCOUNTS; i++)
		bench_figure_skip(d->total[i], fmt, why);
	bench_figure_skip(d->per_extra, fmt, why);
	bench_figure_skip(d->kernel, fmt, why);
}

/* MemAvailable drop per extra bare KVM VM (one page, one vCPU, run once). */
static int floor_kernel_per_extra(struct bench_samples *out)
{
	static struct kvm_floor_vm *vms[DENSITY_MAX];
	struct memory_reading one = {0}, all;
	char why[160];
	uint64_t ns;
	int ret = 0;

	for (unsigned int i = 0; i < DENSITY_MAX; i++) {
		if (kvm_floor_create(&vms[i], why, sizeof(why)) || kvm_floor_run(vms[i], 1, &ns)) {
			bench_progress("kvm floor: %s", why);
			ret = -1;
			break;
		}
		if (i == 0)
			one = read_memory();
	}
	if (!ret) {
		all = read_memory();
		bench_samples_add(out, (one.available - all.available) / (DENSITY_MAX - 1));
	}
	for (unsigned int i = 0; i < DENSITY_MAX; i++) {
		kvm_floor_destroy(vms[i]);
		vms[i] = NULL;
	}
	return ret;
}

/* Measures one configuration; its per-extra median in *per_extra_out (when
 * measured: returns true). */
static bool density_config(uint32_t layout, enum snapvm_memory memory,
			   const struct bench_stats *floor, struct bench_stats *per_extra_out)
{
	const char *arch = snapvm_layout_name(layout), *mem = snapvm_memory_name(memory);
	struct bench_samples totals[NCOUNTS] = {0}, per_extra = {0}, kernel = {0};
	struct bench_budget budget = bench_budget(2, 5, 15);
	static struct snapvm_sandbox *sandboxes[DENSITY_MAX];
	struct snapvm_snapshot *snap = NULL;
	bool measured = false;
	struct density_figures d;
	double bound;
	char name[96], title[160], why[1400];
	uint64_t start;

	for (size_t i = 0; i < NCOUNTS; i++) {
		snprintf(name, sizeof(name), "density.%s.%s.n%u", arch, mem, density_counts[i]);
		snprintf(title, sizeof(title),
			 "host memory (PSS anon+shmem + pinned) of %u sandboxes from one snapshot",
			 density_counts[i]);
		d.total[i] = bench_figure_add("density", name, "bytes", title);
		snprintf(title, sizeof(title), "%u x (scratch + dirty pages + 64 KiB)",
			 density_counts[i]);
		bench_figure_baseline(d.total[i], "bound", title);
		d.total[i]->baseline_computed = true;
		bench_figure_target(d.total[i], 1.0, "<= 1 (bound)");
	}
	snprintf(name, sizeof(name), "density.%s.%s.per_extra", arch, mem);
	d.per_extra = bench_figure_add("density", name, "bytes",
				       "host memory per extra sandbox: (m(100) - m(1)) / 99");
	bench_figure_baseline(d.per_extra, "bound", "scratch + dirty pages + 64 KiB");
	d.per_extra->baseline_computed = true;
	bench_figure_target(d.per_extra, 1.0, "<= 1 (bound)");
	snprintf(name, sizeof(name), "density.%s.%s.kernel_per_extra", arch, mem);
	d.kernel = bench_figure_add("density", name, "bytes",
				    "MemAvailable drop per extra sandbox (includes KVM's own)");
	bench_figure_baseline(d.kernel, "kvm_floor.vm_memory",
			      "MemAvailable drop per extra bare KVM VM (1 page, 1 vCPU)");

	if (!floor->n) {
		skip_all(&d, "%s", "the kvm floor failed (see above)");
		return false;
	}
	if (memory == SNAPVM_MEMORY_KMOD && !bench_config.kmod_usable) {
		skip_all(&d, "%s", "needs snapvm.ko (/dev/snapvm is not usable here)");
		return false;
	}
	bench_progress("density %s %s ...", arch, mem);
	snap = density_snapshot(layout, memory, why, sizeof(why));
	if (!snap) {
		skip_all(&d, "%s", why);
		return false;
	}
	bound = (double)(snapvm_snapshot_scratch_size(snap) + view_dirty_pages(layout) * 4096 +
			 DENSITY_SLACK);
	touch_snapshot(snap);
	start = bench_now_ns();
	while (bench_budget_more(&budget, per_extra.n, start)) {
		struct memory_reading before = read_memory(), at[NCOUNTS];
		unsigned int made = 0;
		int failed = 0;

		for (size_t i = 0; i < NCOUNTS && !failed; i++) {
			for (; made < density_counts[i] && !failed; made++)
				failed = bring_up(snap, &sandboxes[made], why, sizeof(why));
			at[i] = read_memory();
		}
		for (unsigned int i = 0; i < made; i++) {
			snapvm_sandbox_destroy(sandboxes[i]);
			sandboxes[i] = NULL;
		}
		if (failed) {
			skip_all(&d, "creating a sandbox: %s", why);
			goto out;
		}
		for (size_t i = 0; i < NCOUNTS; i++)
			bench_samples_add(&totals[i], at[i].process - before.process);
		bench_samples_add(&per_extra,
				  (at[NCOUNTS - 1].process - at[0].process) / (DENSITY_MAX - 1));
		bench_samples_add(&kernel, (at[0].available - at[NCOUNTS - 1].available) /
					       (DENSITY_MAX - 1));
	}
	for (size_t i = 0; i < NCOUNTS; i++) {
		struct bench_stats b = {.median = bound * density_counts[i]};

		bench_figure_set(d.total[i], bench_stats_of(&totals[i]), b);
	}
	*per_extra_out = bench_stats_of(&per_extra);
	measured = true;
	bench_figure_set(d.per_extra, *per_extra_out, (struct bench_stats){.median = bound});
	bench_figure_set(d.kernel, bench_stats_of(&kernel), *floor);
	bench_note("density.%s.%s: scratch %llu bytes, bound per sandbox %.0f bytes", arch, mem,
		   (unsigned long long)snapvm_snapshot_scratch_size(snap), bound);
out:
	if (DENSITY_OWNS_SNAPSHOT)
		snapvm_snapshot_put(snap);
	for (size_t i = 0; i < NCOUNTS; i++)
		bench_samples_free(&totals[i]);
	bench_samples_free(&per_extra);
	bench_samples_free(&kernel);
	return measured;
}

void bench_density(void)
{
	struct bench_samples floor_samples = {0};
	struct bench_stats floor;

	/* The same floor for every configuration: N bare KVM VMs, three times. */
	for (int i = 0; i < 3 && !floor_kernel_per_extra(&floor_samples); i++)
		;
	floor = bench_stats_of(&floor_samples);
	bench_samples_free(&floor_samples);
	bench_note("density: %s, each dirtying %u data pages; host memory = PSS anon + shmem + "
		   "snapvm.ko pinned pages",
		   "sandboxes from the snapshot bench-service-small took, one call each",
		   BENCH_TOUCH_PAGES);
	for (int l = 0; l < 2; l++) {
		uint32_t layout = l ? SNAPVM_LAYOUT_AMD64 : SNAPVM_LAYOUT_I686;
		struct bench_stats kmod, memfd;
		struct bench_figure *f;
		char name[96];
		bool have_kmod, have_memfd;

		/* snapvm.ko pins what a sandbox holds; it must not cost more
		 * than memfd's pageable memory for that (issue 12). */
		snprintf(name, sizeof(name), "density.%s.kmod_vs_memfd",
			 snapvm_layout_name(layout));
		f = bench_figure_add("density", name, "bytes",
				     "host memory per extra sandbox, snapvm.ko memory");
		bench_figure_baseline(f, "memfd", "the same with memfd memory");
		bench_figure_target(f, 1.1, "<= 1.1");
		have_kmod = density_config(layout, SNAPVM_MEMORY_KMOD, &floor, &kmod);
		have_memfd = density_config(layout, SNAPVM_MEMORY_MEMFD, &floor, &memfd);
		if (have_kmod && have_memfd)
			bench_figure_set(f, kmod, memfd);
		else
			bench_figure_skip(f, "needs both snapvm.ko and memfd measured (see their "
					     "per_extra figures)");
	}
}
