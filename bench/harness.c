/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * harness.c - the benchmark harness: clocks, statistics, repetition budgets
 * and the list of figures (see bench.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "bench/bench.h"
#include "uapi/snapvm.h"

struct bench_config bench_config = {.scale = 1.0};

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void bench_samples_add(struct bench_samples *s, double value)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		double *values = realloc(s->values, cap * sizeof(*values));

		if (!values) {
			perror("snapvm-bench: samples");
			exit(71);
		}
		s->values = values;
		s->cap = cap;
	}
	s->values[s->n++] = value;
}

void bench_samples_free(struct bench_samples *s)
{
	free(s->values);
	*s = (struct bench_samples){0};
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Percentile p (0..1) of sorted values, interpolating between neighbours. */
static double percentile(const double *sorted, size_t n, double p)
{
	double pos = p * (double)(n - 1);
	size_t lo = (size_t)floor(pos), hi = (size_t)ceil(pos);

	return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - (double)lo);
}

struct bench_stats bench_stats_of(const struct bench_samples *s)
{
	struct bench_stats st = {.n = s->n};
	double *sorted;

	if (!s->n)
		return st;
	sorted = malloc(s->n * sizeof(*sorted));
	if (!sorted) {
		perror("snapvm-bench: statistics");
		exit(71);
	}
	memcpy(sorted, s->values, s->n * sizeof(*sorted));
	qsort(sorted, s->n, sizeof(*sorted), compare_doubles);
	st.median = percentile(sorted, s->n, 0.5);
	st.p10 = percentile(sorted, s->n, 0.1);
	st.p90 = percentile(sorted, s->n, 0.9);
	free(sorted);
	return st;
}

bool bench_budget_more(const struct bench_budget *budget, size_t samples, uint64_t start_ns)
{
	if (samples < budget->min_samples)
		return true;
	if (samples >= budget->max_samples)
		return false;
	return (double)(bench_now_ns() - start_ns) < budget->seconds * 1e9;
}

struct bench_budget bench_budget(unsigned int min_samples, unsigned int max_samples, double seconds)
{
	return (struct bench_budget){
	    .min_samples = min_samples,
	    .max_samples = max_samples,
	    .seconds = seconds * bench_config.scale,
	};
}

/* ---- figures ---- */

struct bench_figure *bench_figures;
size_t bench_nfigures;
static size_t figures_cap;

struct bench_figure *bench_figure_add(const char *benchmark, const char *name, const char *unit,
				      const char *title)
{
	struct bench_figure *f;

	if (bench_nfigures == figures_cap) {
		size_t cap = figures_cap ? 2 * figures_cap : 64;
		struct bench_figure *figures = realloc(bench_figures, cap * sizeof(*figures));

		if (!figures) {
			perror("snapvm-bench: figures");
			exit(71);
		}
		bench_figures = figures;
		figures_cap = cap;
	}
	f = &bench_figures[bench_nfigures++];
	*f = (struct bench_figure){.unit = unit, .target = BENCH_TARGET_NONE};
	snprintf(f->benchmark, sizeof(f->benchmark), "%s", benchmark);
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->title, sizeof(f->title), "%s", title);
	return f;
}

void bench_figure_baseline(struct bench_figure *f, const char *name, const char *title)
{
	snprintf(f->baseline_name, sizeof(f->baseline_name), "%s", name);
	snprintf(f->baseline_title, sizeof(f->baseline_title), "%s", title);
}

void bench_figure_higher_is_better(struct bench_figure *f)
{
	f->higher_is_better = true;
}

void bench_figure_target(struct bench_figure *f, double ratio, const char *text)
{
	f->target_ratio = ratio;
	snprintf(f->target_text, sizeof(f->target_text), "%s", text);
	f->target = f->measured ? f->target : BENCH_TARGET_UNKNOWN;
}

void bench_figure_stretch(struct bench_figure *f, double ratio)
{
	f->stretch_ratio = ratio;
	f->stretch = f->measured ? f->stretch : BENCH_TARGET_UNKNOWN;
}

/* A measured ratio against a bound: at most, or at least when higher is better. */
static enum bench_target_result judge(const struct bench_figure *f, double bound)
{
	if (!(bound > 0))
		return BENCH_TARGET_NONE;
	if (!isfinite(f->ratio))
		return BENCH_TARGET_MISSED;
	return (f->higher_is_better ? f->ratio >= bound : f->ratio <= bound) ? BENCH_TARGET_MET
									     : BENCH_TARGET_MISSED;
}

void bench_figure_set(struct bench_figure *f, struct bench_stats ours, struct bench_stats baseline)
{
	f->measured = true;
	f->reason[0] = '\0';
	f->ours = ours;
	f->baseline = baseline;
	f->ratio = baseline.median > 0 ? ours.median / baseline.median : NAN;
	f->target = judge(f, f->target_ratio);
	f->stretch = judge(f, f->stretch_ratio);
}

void bench_figure_skip(struct bench_figure *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->reason, sizeof(f->reason), fmt, ap);
	va_end(ap);
	f->measured = false;
	if (f->target_ratio > 0)
		f->target = BENCH_TARGET_UNKNOWN;
	if (f->stretch_ratio > 0)
		f->stretch = BENCH_TARGET_UNKNOWN;
	bench_progress("  %s: not measured: %s", f->name, f->reason);
}

char bench_notes[64][1024];
size_t bench_nnotes;

void bench_note(const char *fmt, ...)
{
	va_list ap;

	if (bench_nnotes == sizeof(bench_notes) / sizeof(bench_notes[0]))
		return;
	va_start(ap, fmt);
	vsnprintf(bench_notes[bench_nnotes++], sizeof(bench_notes[0]), fmt, ap);
	va_end(ap);
}

/* ---- counting ioctls (the binary is linked with -Wl,--wrap=ioctl) ---- */

static __thread struct bench_ioctl_count ioctls;

static __thread bool profiling;
static __thread struct bench_ioctl_profile profile;

int __real_ioctl(int fd, unsigned long request, ...);
int __wrap_ioctl(int fd, unsigned long request, ...);

static void count_ioctl(unsigned long request, int ret)
{
	if (request != KVM_RUN)
		ioctls.other++;
	else if (ret == 0)
		ioctls.exits++;
	else if (errno == EINTR || errno == EAGAIN)
		ioctls.no_entry++;
}

static int profiled_ioctl(int fd, unsigned long request, void *arg)
{
	uint64_t t0 = bench_now_ns(), ns;
	int ret = __real_ioctl(fd, request, arg);
	int errnum = errno;
	size_t i;

	ns = bench_now_ns() - t0;
	count_ioctl(request, ret);
	if (request == KVM_RUN && ret != 0)
		request = BENCH_IOCTL_RUN_NO_ENTRY;
	for (i = 0; i < profile.n && profile.kind[i].request != request; i++)
		;
	if (i == profile.n && profile.n < BENCH_IOCTL_KINDS)
		profile.kind[profile.n++].request = request;
	if (i < profile.n) {
		profile.kind[i].calls++;
		profile.kind[i].ns += ns;
	} else {
		profile.overflow = true;
	}
	errno = errnum;
	return ret;
}

void bench_ioctl_profile_reset(void)
{
	profile = (struct bench_ioctl_profile){0};
}

void bench_ioctl_profile_on(bool on)
{
	profiling = on;
}

struct bench_ioctl_profile bench_ioctl_profile(void)
{
	return profile;
}

static const char *ioctl_name(unsigned long request)
{
	static const struct {
		unsigned long request;
		const char *name;
	} names[] = {
	    {KVM_RUN, "KVM_RUN (exit)"},
	    {BENCH_IOCTL_RUN_NO_ENTRY, "KVM_RUN (immediate_exit)"},
	    {KVM_SET_REGS, "KVM_SET_REGS"},
	    {KVM_SET_SREGS, "KVM_SET_SREGS"},
	    {KVM_SET_XSAVE, "KVM_SET_XSAVE"},
	    {KVM_SET_FPU, "KVM_SET_FPU"},
	    {KVM_SET_XCRS, "KVM_SET_XCRS"},
	    {KVM_SET_MSRS, "KVM_SET_MSRS"},
	    {KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS"},
	    {KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS"},
	    {KVM_SET_DEVICE_ATTR, "KVM_SET_DEVICE_ATTR (TSC offset)"},
	    {KVM_GET_DIRTY_LOG, "KVM_GET_DIRTY_LOG"},
	    {KVM_CLEAR_DIRTY_LOG, "KVM_CLEAR_DIRTY_LOG"},
	    {KVM_GET_REGS, "KVM_GET_REGS"},
	    {KVM_GET_SREGS, "KVM_GET_SREGS"},
	    {SNAPVM_REGION_RESTORE, "SNAPVM_REGION_RESTORE"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].request == request)
			return names[i].name;
	return NULL;
}

void bench_ioctl_profile_note(const struct bench_ioctl_profile *p, uint64_t operations,
			      double total_ns, const char *fmt, ...)
{
	char text[2048], what[256];
	size_t len = 0;
	double in_ioctls = 0;
	va_list ap;

	if (!operations || total_ns <= 0)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	len += (size_t)snprintf(text + len, sizeof(text) - len, "%s: %.1f us per operation:", what,
				total_ns / (double)operations / 1e3);
	for (size_t i = 0; i < p->n && len < sizeof(text); i++) {
		const char *name = ioctl_name(p->kind[i].request);

		in_ioctls += (double)p->kind[i].ns;
		if (name)
			len += (size_t)snprintf(text + len, sizeof(text) - len, " %s", name);
		else
			len += (size_t)snprintf(text + len, sizeof(text) - len, " ioctl 0x%lx",
						p->kind[i].request);
		if (len < sizeof(text))
			len += (size_t)snprintf(text + len, sizeof(text) - len,
						" %.3gx %.1f us (%.0f%%);",
						(double)p->kind[i].calls / (double)operations,
						(double)p->kind[i].ns / (double)operations / 1e3,
						100.0 * (double)p->kind[i].ns / total_ns);
	}
	if (len < sizeof(text))
		snprintf(text + len, sizeof(text) - len, " outside ioctls %.1f us (%.0f%%)%s",
			 (total_ns - in_ioctls) / (double)operations / 1e3,
			 100.0 * (total_ns - in_ioctls) / total_ns,
			 p->overflow ? " (some ioctl kinds not counted)" : "");
	bench_note("%s", text);
	bench_progress("  %s", text);
}

int __wrap_ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;
	int ret;

	/* Every caller passes at most one argument, a pointer or an integer
	 * in the same register, which the system call takes as it is. */
	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (profiling)
		return profiled_ioctl(fd, request, arg);
	ret = __real_ioctl(fd, request, arg);
	count_ioctl(request, ret);
	return ret;
}

struct bench_ioctl_count bench_ioctl_count(void)
{
	return ioctls;
}

struct bench_ioctl_count bench_ioctl_count_since(const struct bench_ioctl_count *before)
{
	return (struct bench_ioctl_count){
	    .exits = ioctls.exits - before->exits,
	    .no_entry = ioctls.no_entry - before->no_entry,
	    .other = ioctls.other - before->other,
	};
}

/* ---- small helpers ---- */

const char *bench_guest_path(char *buf, size_t len, uint32_t layout, const char *name)
{
	snprintf(buf, len, "%s/%s/%s.elf", bench_config.guests_dir, snapvm_layout_name(layout),
		 name);
	return buf;
}

uint64_t bench_pinned_pages(void)
{
	FILE *f = fopen("/sys/class/misc/snapvm/pinned_pages", "r");
	unsigned long long pages = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%llu", &pages) != 1)
		pages = 0;
	fclose(f);
	return pages;
}

int bench_devnull(void)
{
	static int fd = -1;

	/* Guest output is not what we measure. */
	if (fd < 0)
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	return fd;
}

void bench_spare_cpus(bool online)
{
	long cpus = sysconf(_SC_NPROCESSORS_CONF);

	if (!bench_config.spare_cpus_offline)
		return;
	for (long cpu = 1; cpu < cpus; cpu++) {
		char path[64];
		FILE *f;
		bool ok;

		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%ld/online", cpu);
		f = fopen(path, "w");
		ok = f && fputs(online ? "1" : "0", f) != EOF;
		/* The write itself happens (and fails) at fclose. */
		if (f && fclose(f))
			ok = false;
		if (!ok)
			bench_progress("snapvm-bench: cannot take CPU %ld %s: %s", cpu,
				       online ? "online" : "offline", strerror(errno));
	}
}

bool bench_selected(const char *benchmark)
{
	return !bench_config.only || strstr(bench_config.only, benchmark);
}

void bench_progress(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}
