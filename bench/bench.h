/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * bench.h - the benchmark harness shared by the bench/ sources: clocks, samples and
 * their statistics, how long to repeat, and the figures that become the
 * table, results.json and the plot.
 *
 * Every figure compares "ours" with a baseline measured in the same run
 * (ratio = ours / baseline, so lower is better for times and bytes alike;
 * a throughput figure says that higher is better, and its target is a
 * lower bound).
 * A figure that cannot be measured here stays in the results, marked not
 * measured with the reason: numbers are never invented.
 */
#ifndef SNAPVM_BENCH_BENCH_H
#define SNAPVM_BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "userspace/lib/snapvm.h"

/* ---- clocks ---- */

uint64_t bench_now_ns(void);

/* ---- samples and statistics ---- */

struct bench_samples {
	double *values;
	size_t n, cap;
};

void bench_samples_add(struct bench_samples *s, double value);
void bench_samples_free(struct bench_samples *s);

/* Median and spread (10th and 90th percentile, linear interpolation). */
struct bench_stats {
	double median, p10, p90;
	size_t n;
};

struct bench_stats bench_stats_of(const struct bench_samples *s);

/*
 * How long to repeat one measurement: at least min_samples, then until
 * seconds have passed or max_samples were taken. Inside the test VM every
 * KVM exit costs ~50 us, natively ~1 us: the time budget keeps `make bench`
 * short there while native runs collect many more samples.
 */
struct bench_budget {
	unsigned int min_samples, max_samples;
	double seconds;
};

bool bench_budget_more(const struct bench_budget *budget, size_t samples, uint64_t start_ns);

/* ---- figures ---- */

enum bench_target_result {
	BENCH_TARGET_NONE = 0, /* the issue sets no target for this figure */
	BENCH_TARGET_MET,
	BENCH_TARGET_MISSED,
	BENCH_TARGET_UNKNOWN, /* not measured */
};

struct bench_figure {
	char name[96];	    /* e.g. "restore.i686.kmod.k16" */
	char benchmark[32]; /* "hypercall", "restore", "start", "direct_write", "density", ... */
	char title[160];    /* what ours is, for the table */
	const char *unit;   /* "ns", "ns/page", "bytes", ... */
	bool measured;
	char reason[320]; /* when not measured: why and what it needs */
	struct bench_stats ours;
	char baseline_name[96];
	char baseline_title[160];
	bool baseline_computed; /* a bound from the issue, not a measurement */
	struct bench_stats baseline;
	double ratio; /* ours.median / baseline.median */
	/* Throughput and the like: a higher ratio is better, and the targets
	 * are lower bounds on it. */
	bool higher_is_better;
	/* The target: a bound on the ratio, at most target_ratio (at
	 * least when higher_is_better); 0 = no target. stretch_ratio: a harder
	 * bound of the same kind beside it, 0 = none. */
	double target_ratio, stretch_ratio;
	char target_text[96];
	enum bench_target_result target, stretch;
};

/* A new figure, measured = false until bench_figure_set() fills it. */
struct bench_figure *bench_figure_add(const char *benchmark, const char *name, const char *unit,
				      const char *title);
void bench_figure_baseline(struct bench_figure *f, const char *name, const char *title);
/* Ours is a rate (requests/s, ...): a higher ratio is better. Before a target. */
void bench_figure_higher_is_better(struct bench_figure *f);
/* The target as a bound on the ratio, e.g. 1.15 for "<= 1.15 x floor":
 * an upper bound, or a lower one when the figure is higher_is_better. */
void bench_figure_target(struct bench_figure *f, double ratio, const char *text);
/* A stretch target beside the target, a bound of the same kind; the
 * target's text should name it. */
void bench_figure_stretch(struct bench_figure *f, double ratio);
void bench_figure_set(struct bench_figure *f, struct bench_stats ours, struct bench_stats baseline);
__attribute__((format(printf, 2, 3))) void bench_figure_skip(struct bench_figure *f,
							     const char *fmt, ...);

/* Extra facts about the run for results.json ("notes"). */
__attribute__((format(printf, 1, 2))) void bench_note(const char *fmt, ...);

/* ---- the run's configuration ---- */

struct bench_config {
	const char *guests_dir; /* build/guests: <arch>/bench-*.elf */
	const char *only;	/* e.g. "restore,start": run only these benchmarks */
	double scale;		/* multiplies every time budget (SNAPVM_BENCH_SCALE) */
	bool kvm_usable;
	bool kmod_usable;	   /* /dev/snapvm answers with our API version */
	bool spare_cpus_offline;   /* --spare-cpus-offline: see bench_spare_cpus() */
	uint64_t exit_ns_estimate; /* one bare KVM exit, measured first */
	double guest_loop_ns;	   /* one dec/jnz iteration of guest code */
};

extern struct bench_config bench_config;

/* A budget scaled by bench_config.scale. */
struct bench_budget bench_budget(unsigned int min_samples, unsigned int max_samples,
				 double seconds);
/* build/guests/<layout>/<name>.elf into buf. */
const char *bench_guest_path(char *buf, size_t len, uint32_t layout, const char *name);
/* Pages pinned by snapvm.ko now, or 0 without the module. */
uint64_t bench_pinned_pages(void);

/*
 * With --spare-cpus-offline (make bench in the test VM), every CPU but the
 * first is offline except while a benchmark that needs several runs:
 * QEMU's TCG with 2 vCPUs and nested SVM now and then stops delivering
 * interrupts and NMIs to one vCPU while the other is idle and ours runs
 * guest code, which hangs the whole test VM (RCU stalls, soft lockups).
 * Takes them offline (false) or online (true) when asked to; a failure is
 * reported and leaves fewer CPUs online, which the benchmark then sees.
 */
void bench_spare_cpus(bool online);

/* Whether a benchmark was selected with --only. */
bool bench_selected(const char *benchmark);

/*
 * The ioctls the calling thread made: snapvm-bench is linked with
 * -Wl,--wrap=ioctl, so every ioctl of libsnapvm (a static library) and of
 * the floors passes through a counter in harness.c, and a benchmark counts
 * what one request costs by difference.
 */
struct bench_ioctl_count {
	uint64_t exits;	   /* KVM_RUN that returned an exit: the guest ran and exited to us */
	uint64_t no_entry; /* KVM_RUN that returned EINTR/EAGAIN (immediate_exit: KVM
			    * finished a pending I/O and did not enter the guest) */
	uint64_t other;	   /* every other ioctl (KVM_SET_REGS, dirty log, snapvm.ko, ...) */
};
struct bench_ioctl_count bench_ioctl_count(void);
struct bench_ioctl_count bench_ioctl_count_since(const struct bench_ioctl_count *before);

/*
 * Where a thread's time goes, by ioctl: while bench_ioctl_profile_on(true)
 * every ioctl of the thread is timed (clock_gettime around it) and
 * summed per request code; a KVM_RUN that entered the guest (an exit) and
 * one with immediate_exit are kept apart. bench_ioctl_profile_note adds a
 * note: per operation, each kind's calls and time and its share of
 * total_ns (the operations' own time over the same span), and what is left
 * outside ioctls (copies, bitmaps, exit handling).
 */
#define BENCH_IOCTL_KINDS 32
struct bench_ioctl_profile {
	size_t n;
	bool overflow; /* more kinds than BENCH_IOCTL_KINDS: some not counted */
	struct {
		unsigned long request; /* BENCH_IOCTL_RUN_NO_ENTRY for KVM_RUN without entry */
		uint64_t calls, ns;
	} kind[BENCH_IOCTL_KINDS];
};
#define BENCH_IOCTL_RUN_NO_ENTRY (~0UL)
void bench_ioctl_profile_reset(void);
void bench_ioctl_profile_on(bool on);
struct bench_ioctl_profile bench_ioctl_profile(void);
__attribute__((format(printf, 4, 5))) void
bench_ioctl_profile_note(const struct bench_ioctl_profile *p, uint64_t operations, double total_ns,
			 const char *fmt, ...);

/* Progress for the person waiting, on stderr. */
__attribute__((format(printf, 1, 2))) void bench_progress(const char *fmt, ...);

/* ---- the floors: bare KVM, no libsnapvm (kvm_floor.c) ---- */

/* A VM with one page and one vCPU that loops on `out %eax, %dx`. */
struct kvm_floor_vm;

int kvm_floor_create(struct kvm_floor_vm **vm, char *why, size_t why_len);
/* KVM_RUN n times (each returns at the `out`); the time of all of them. */
int kvm_floor_run(struct kvm_floor_vm *vm, unsigned int n, uint64_t *ns);
/* What any VMM must do for a request that takes n exits: KVM_SET_REGS back
 * to the entry state, then KVM_RUN n times; the time of all of it. */
int kvm_floor_request(struct kvm_floor_vm *vm, unsigned int n, uint64_t *ns);
void kvm_floor_destroy(struct kvm_floor_vm *vm);
/* create + first KVM_RUN to the `out`, timed; destroy is not. */
int kvm_floor_start_ns(uint64_t *ns);
/* Is /dev/kvm usable for running a guest? why says what failed. */
bool kvm_floor_usable(char *why, size_t why_len);
/* A dec/jnz loop of that many iterations in a new VM, timed from the first
 * KVM_RUN to its `out`: how fast this KVM runs guest code at all. */
int kvm_floor_spin_ns(uint32_t iterations, uint64_t *ns);

/* ---- the service guest (service.c; needs the snapshot API) ---- */

/* What figures say when libsnapvm lacks the snapshot API. */
#define BENCH_NEEDS_SNAPSHOT_API                                                                   \
	"needs snapvm_sandbox_take_snapshot, snapvm_sandbox_call and snapvm_sandbox_restore "      \
	"(issue 5) in userspace/lib/snapvm.h"

/* The snapshot bench-service (big) or bench-service-small took of itself at
 * its SNAPSHOT, booted once per run and kept; NULL with why on failure. */
struct snapvm_snapshot *bench_service_snapshot(uint32_t layout, bool big, enum snapvm_memory memory,
					       char *why, size_t why_len);
void bench_service_release(void);
uint64_t bench_service_scratch(uint32_t layout, bool big);
/* "bench-service", "bench-service-small-cold", ... */
const char *bench_service_guest(bool big, bool cold);
int bench_service_create(struct snapvm_snapshot *snap, struct snapvm_sandbox **sb, char *why,
			 size_t why_len);
/* A call that must end at the next CALL_WAIT with the expected result. */
int bench_service_call(struct snapvm_sandbox *sb, uint64_t function, uint64_t arg, uint64_t *result,
		       char *why, size_t why_len);
int bench_service_restore(struct snapvm_sandbox *sb, char *why, size_t why_len);
/* A request: restore, then one call (checked as bench_service_call does). */
int bench_service_request(struct snapvm_sandbox *sb, uint64_t function, uint64_t arg, char *why,
			  size_t why_len);
int bench_devnull(void);

/* ---- the benchmarks (one file each) ---- */

void bench_floor_exit(void); /* measures bench_config.exit_ns_estimate */
void bench_hypercall(void);
void bench_start(void);
void bench_restore(void);
void bench_direct_write(void);
void bench_density(void);
void bench_request(void);
void bench_scaling(void);

/* Linux programs as guests (linux.c): busybox from .cache/busybox. */
void bench_linux(void);

/* Containers through a private containerd (container.c): snapvm-runc vs runc. */
void bench_container(void);

#endif /* SNAPVM_BENCH_BENCH_H */
