/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * request.c - benchmarks 6 and 7: the request, the unit of work of a
 * service built on snapvm: snapvm_sandbox_restore + one trivial call. The
 * call is LOOKUP on bench-service-small (4 MiB snapshot): it reads one
 * entry of the table the boot computed and returns, the cheapest call the
 * service guest serves.
 *
 * request.<arch>: one request, timed, vs the floor for what any VMM must
 * do for it on bare KVM (kvm_floor.c): put the registers back (one
 * KVM_SET_REGS) and take as many KVM exits as our request takes. Those are
 * counted, not assumed: every ioctl libsnapvm makes goes through
 * bench_ioctl_count (harness.c, -Wl,--wrap=ioctl), and a KVM_RUN that
 * returns an exit is one exit. A KVM_RUN with immediate_exit (KVM finishes
 * a pending I/O without entering the guest) is not one; it stays in ours,
 * like every other ioctl of the request, and the notes give all three
 * counts. The count comes from a request made before the measurement and
 * is checked on every measured one.
 *
 * scaling.<arch>.t2: requests per second of 2 threads, each with its own
 * sandbox, both created from one shared snapshot, vs 1 thread; higher is
 * better. Each round runs 1 thread, then 2, for the same window; a
 * phase's throughput is its requests over the time from its first thread's
 * start to its last thread's last request. A first 2-thread round is not
 * counted.
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "bench/bench.h"
#include "guests/bench/bench_guest.h"

#define TRIVIAL_CALL BENCH_CALL_LOOKUP
#define TRIVIAL_ARG  7

#define SCALING_THREADS	  2
#define SCALING_WINDOW_NS (250ULL * 1000 * 1000)

static int request(struct snapvm_sandbox *sb, char *why, size_t why_len)
{
	return bench_service_request(sb, TRIVIAL_CALL, TRIVIAL_ARG, why, why_len);
}

/* A sandbox of bench-service-small past its first requests: a fresh
 * sandbox's first restore does more (README.md, "Details"). */
static int ready_sandbox(struct snapvm_snapshot *snap, struct snapvm_sandbox **sb, char *why,
			 size_t why_len)
{
	if (bench_service_create(snap, sb, why, why_len))
		return -1;
	for (int i = 0; i < 3; i++)
		if (request(*sb, why, why_len))
			return -1;
	return 0;
}

/* ---- request.<arch> ---- */

/* Where a request's time goes (bench_ioctl_profile): more requests, apart
 * from the timed ones, with every ioctl timed. */
static int profile_requests(struct snapvm_sandbox *sb, const char *arch, char *why, size_t why_len)
{
	const unsigned int n = 20;
	double total = 0;
	int ret = 0;

	bench_ioctl_profile_reset();
	for (unsigned int i = 0; i < n && !ret; i++) {
		uint64_t t0 = bench_now_ns();

		bench_ioctl_profile_on(true);
		ret = request(sb, why, why_len);
		bench_ioctl_profile_on(false);
		total += (double)(bench_now_ns() - t0);
	}
	if (ret)
		return ret;
	struct bench_ioctl_profile p = bench_ioctl_profile();

	bench_ioctl_profile_note(&p, n, total, "request.%s, ioctls of %u requests", arch, n);
	return 0;
}

static void request_layout(uint32_t layout)
{
	const char *arch = snapvm_layout_name(layout);
	struct bench_samples ours = {0}, floor = {0}, pages = {0};
	struct bench_budget budget = bench_budget(10, 1000, 6);
	struct bench_ioctl_count before, counted, per;
	struct kvm_floor_vm *vm = NULL;
	struct snapvm_snapshot *snap;
	struct snapvm_sandbox *sb = NULL;
	struct bench_figure *f;
	uint64_t start, min_exits, max_exits;
	char name[64], why[1400];

	snprintf(name, sizeof(name), "request.%s", arch);
	f = bench_figure_add("request", name, "ns",
			     "a request: snapvm_sandbox_restore + one trivial call (LOOKUP)");
	bench_figure_baseline(f, "kvm_floor.request",
			      "bare KVM: KVM_SET_REGS + as many KVM_RUN exits as a request takes");
	bench_figure_target(f, 2.0, "<= 2");
	bench_progress("request %s ...", arch);

	snap = bench_service_snapshot(layout, false, SNAPVM_MEMORY_AUTO, why, sizeof(why));
	if (!snap || ready_sandbox(snap, &sb, why, sizeof(why)))
		goto fail;
	before = bench_ioctl_count();
	if (request(sb, why, sizeof(why)))
		goto fail;
	counted = bench_ioctl_count_since(&before);
	if (!counted.exits) {
		snprintf(why, sizeof(why),
			 "a request took no KVM exit: are the ioctls counted (-Wl,--wrap=ioctl)?");
		goto fail;
	}
	if (kvm_floor_create(&vm, why, sizeof(why)))
		goto fail;
	min_exits = max_exits = counted.exits;
	start = bench_now_ns();
	while (bench_budget_more(&budget, ours.n, start)) {
		uint64_t t0, ns;

		if (kvm_floor_request(vm, (unsigned int)counted.exits, &ns)) {
			snprintf(why, sizeof(why), "the kvm floor failed (see above)");
			goto fail;
		}
		bench_samples_add(&floor, (double)ns);
		before = bench_ioctl_count();
		t0 = bench_now_ns();
		if (request(sb, why, sizeof(why)))
			goto fail;
		bench_samples_add(&ours, (double)(bench_now_ns() - t0));
		per = bench_ioctl_count_since(&before);
		min_exits = per.exits < min_exits ? per.exits : min_exits;
		max_exits = per.exits > max_exits ? per.exits : max_exits;
		bench_samples_add(&pages, (double)snapvm_sandbox_last_restore_pages(sb));
	}
	if (profile_requests(sb, arch, why, sizeof(why)))
		goto fail;
	snprintf(f->title, sizeof(f->title),
		 "a request: snapvm_sandbox_restore (%.0f pages) + one trivial call (LOOKUP): %llu "
		 "KVM exits",
		 bench_stats_of(&pages).median, (unsigned long long)counted.exits);
	snprintf(f->baseline_title, sizeof(f->baseline_title),
		 "bare KVM: KVM_SET_REGS + %llu KVM_RUN exits at an `out` (a request's exits)",
		 (unsigned long long)counted.exits);
	bench_figure_set(f, bench_stats_of(&ours), bench_stats_of(&floor));
	bench_note("request.%s: a request made %llu KVM_RUN that returned an exit, %llu KVM_RUN "
		   "with immediate_exit (no guest entry) and %llu other ioctls (counted through "
		   "-Wl,--wrap=ioctl); the floor: 1 KVM_SET_REGS + %llu KVM_RUN",
		   arch, (unsigned long long)counted.exits, (unsigned long long)counted.no_entry,
		   (unsigned long long)counted.other, (unsigned long long)counted.exits);
	if (min_exits != max_exits)
		bench_note(
		    "request.%s: the measured requests took %llu..%llu exits, the floor %llu", arch,
		    (unsigned long long)min_exits, (unsigned long long)max_exits,
		    (unsigned long long)counted.exits);
	goto out;
fail:
	bench_figure_skip(f, "%s", why);
out:
	kvm_floor_destroy(vm);
	snapvm_sandbox_destroy(sb);
	bench_samples_free(&ours);
	bench_samples_free(&floor);
	bench_samples_free(&pages);
}

void bench_request(void)
{
	request_layout(SNAPVM_LAYOUT_I686);
	request_layout(SNAPVM_LAYOUT_AMD64);
}

/* ---- scaling.<arch>.t2 ---- */

/* Holds a phase's threads until all exist: then they start together, or
 * give up when one could not be created. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t open;
	int state; /* 0 closed, 1 go, -1 give up */
};

struct worker {
	struct snapvm_sandbox *sb;
	struct gate *gate;
	uint64_t start_ns, end_ns, requests;
	bool failed;
	char why[1400];
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int state;

	pthread_mutex_lock(&w->gate->lock);
	while (!w->gate->state)
		pthread_cond_wait(&w->gate->open, &w->gate->lock);
	state = w->gate->state;
	pthread_mutex_unlock(&w->gate->lock);
	w->requests = 0;
	w->start_ns = w->end_ns = bench_now_ns();
	while (state > 0 && w->end_ns - w->start_ns < SCALING_WINDOW_NS) {
		if (request(w->sb, w->why, sizeof(w->why))) {
			w->failed = true;
			break;
		}
		w->requests++;
		w->end_ns = bench_now_ns();
	}
	return NULL;
}

static void gate_set(struct gate *gate, int state)
{
	pthread_mutex_lock(&gate->lock);
	gate->state = state;
	pthread_cond_broadcast(&gate->open);
	pthread_mutex_unlock(&gate->lock);
}

/* Requests per second of the first n workers, each on its own thread,
 * started together. The sandboxes change threads only across
 * pthread_create and pthread_join. */
static int throughput(struct worker *workers, unsigned int n, double *rate, char *why,
		      size_t why_len)
{
	struct gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
	pthread_t threads[SCALING_THREADS];
	uint64_t first = UINT64_MAX, last = 0, requests = 0;
	unsigned int started;
	int ret = 0;

	for (started = 0; started < n; started++) {
		workers[started].gate = &gate;
		workers[started].failed = false;
		if (pthread_create(&threads[started], NULL, worker_main, &workers[started])) {
			snprintf(why, why_len, "pthread_create failed");
			ret = -1;
			break;
		}
	}
	gate_set(&gate, ret ? -1 : 1);
	for (unsigned int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	for (unsigned int i = 0; i < started && !ret; i++) {
		if (workers[i].failed) {
			snprintf(why, why_len, "%s", workers[i].why);
			return -1;
		}
		first = workers[i].start_ns < first ? workers[i].start_ns : first;
		last = workers[i].end_ns > last ? workers[i].end_ns : last;
		requests += workers[i].requests;
	}
	if (!ret)
		*rate = last > first ? (double)requests * 1e9 / (double)(last - first) : 0;
	return ret;
}

static void scaling_layout(uint32_t layout)
{
	const char *arch = snapvm_layout_name(layout);
	struct bench_samples one = {0}, two = {0};
	struct bench_budget budget = bench_budget(3, 40, 8);
	struct worker workers[SCALING_THREADS] = {0};
	struct snapvm_snapshot *snap;
	struct bench_figure *f;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char name[64], title[160], why[1400];
	uint64_t start;
	double rate;

	snprintf(name, sizeof(name), "scaling.%s.t%u", arch, SCALING_THREADS);
	snprintf(title, sizeof(title),
		 "requests/s of %u threads, a sandbox each, all from one snapshot",
		 SCALING_THREADS);
	f = bench_figure_add("scaling", name, "req/s", title);
	bench_figure_baseline(f, "one_thread", "requests/s of 1 thread (the same requests)");
	bench_figure_higher_is_better(f);
	bench_figure_target(f, 1.8, ">= 1.8");
	bench_progress("scaling %s ...", arch);

	if (cpus < SCALING_THREADS) {
		snprintf(why, sizeof(why),
			 "needs %u online CPUs, this machine has %ld (make bench gives the test VM "
			 "BENCH_VM_SMP=2 vCPUs unless told otherwise)",
			 SCALING_THREADS, cpus);
		goto fail;
	}
	snap = bench_service_snapshot(layout, false, SNAPVM_MEMORY_AUTO, why, sizeof(why));
	if (!snap)
		goto fail;
	for (unsigned int i = 0; i < SCALING_THREADS; i++)
		if (ready_sandbox(snap, &workers[i].sb, why, sizeof(why)))
			goto fail;
	/* Not counted: the sandboxes' first runs on other threads and CPUs
	 * (one may have just come online, see bench_spare_cpus). */
	if (throughput(workers, SCALING_THREADS, &rate, why, sizeof(why)))
		goto fail;
	start = bench_now_ns();
	while (bench_budget_more(&budget, two.n, start)) {
		if (throughput(workers, 1, &rate, why, sizeof(why)))
			goto fail;
		bench_samples_add(&one, rate);
		if (throughput(workers, SCALING_THREADS, &rate, why, sizeof(why)))
			goto fail;
		bench_samples_add(&two, rate);
	}
	bench_figure_set(f, bench_stats_of(&two), bench_stats_of(&one));
	bench_note(
	    "scaling.%s: %ld online CPUs; each round runs 1 thread, then %u, for %.2g s each", arch,
	    cpus, SCALING_THREADS, (double)SCALING_WINDOW_NS / 1e9);
	goto out;
fail:
	bench_figure_skip(f, "%s", why);
out:
	for (unsigned int i = 0; i < SCALING_THREADS; i++)
		snapvm_sandbox_destroy(workers[i].sb);
	bench_samples_free(&one);
	bench_samples_free(&two);
}

void bench_scaling(void)
{
	bench_spare_cpus(true);
	scaling_layout(SNAPVM_LAYOUT_I686);
	scaling_layout(SNAPVM_LAYOUT_AMD64);
	bench_spare_cpus(false);
}
