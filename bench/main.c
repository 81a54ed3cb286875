/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * main.c - snapvm-bench: runs the benchmarks of bench/README.md, prints the
 * table, writes results.json and the data files bench/plot.gp draws.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"

/* The guest-speed probe: 1M iterations of dec/jnz, at most 100 ns each. */
#define SPIN_ITERATIONS 1000000
#define SPIN_MAX_NS	100.0

extern struct bench_figure *bench_figures;
extern size_t bench_nfigures;
extern char bench_notes[64][1024];
extern size_t bench_nnotes;

struct host_facts {
	char kernel[256];
	char release[96];
	char cpu_model[128];
	bool nested;
	const char *where;
	char date[32];
	const char *memory_backends;
	long cpus; /* online */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: snapvm-bench [--guests DIR] [--out FILE] [--table FILE] [--plot-data DIR]\n"
		"                    [--only LIST] [--scale X] [--spare-cpus-offline] [--probe]\n"
		"\n"
		"  --guests DIR     where <arch>/bench-*.elf are (default build/guests)\n"
		"  --out FILE       results.json to write (default build/bench/results.json)\n"
		"  --table FILE     also write the table there\n"
		"  --plot-data DIR  write ratios.dat and restore.dat there for bench/plot.gp\n"
		"  --only LIST      comma-separated benchmarks: hypercall, start, restore,\n"
		"                   direct_write, density, request, scaling, linux,\n"
		"                   container\n"
		"  --scale X        multiply every time budget by X (SNAPVM_BENCH_SCALE)\n"
		"  --spare-cpus-offline\n"
		"                   keep every CPU but the first offline except for the scaling\n"
		"                   benchmark (root; make bench does so in the test VM)\n"
		"  --probe          exit 0 when /dev/kvm runs guest code at CPU speed here,\n"
		"                   69 otherwise (no /dev/kvm, or a KVM that emulates)\n");
}

static void read_host_facts(struct host_facts *h)
{
	struct utsname u;
	char line[1024];
	FILE *f;
	time_t now = time(NULL);

	if (uname(&u) == 0) {
		snprintf(h->kernel, sizeof(h->kernel), "%s %s", u.release, u.version);
		snprintf(h->release, sizeof(h->release), "%s", u.release);
	}
	snprintf(h->cpu_model, sizeof(h->cpu_model), "unknown");
	f = fopen("/proc/cpuinfo", "r");
	if (f) {
		bool have_model = false;

		while (fgets(line, sizeof(line), f)) {
			char *colon = strchr(line, ':');

			if (!colon)
				continue;
			if (!have_model && !strncmp(line, "model name", 10)) {
				snprintf(h->cpu_model, sizeof(h->cpu_model), "%s", colon + 2);
				h->cpu_model[strcspn(h->cpu_model, "\n")] = '\0';
				have_model = true;
			}
			/* The CPU says it runs under a hypervisor: our KVM is nested. */
			if (!strncmp(line, "flags", 5) && strstr(colon, " hypervisor"))
				h->nested = true;
		}
		fclose(f);
	}
	h->where = getenv("SNAPVM_BENCH_WHERE");
	if (!h->where || !*h->where)
		h->where = "native";
	strftime(h->date, sizeof(h->date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	h->memory_backends = bench_config.kmod_usable ? "kmod, memfd" : "memfd";
	h->cpus = sysconf(_SC_NPROCESSORS_ONLN);
}

/* ---- formatting ---- */

static void format_value(char *buf, size_t len, double v, const char *unit)
{
	if (isnan(v)) {
		snprintf(buf, len, "-");
	} else if (!strncmp(unit, "ns", 2)) {
		const char *rest = unit + 2; /* "/page", "" */

		if (v >= 1e9)
			snprintf(buf, len, "%.3g s%s", v / 1e9, rest);
		else if (v >= 1e6)
			snprintf(buf, len, "%.3g ms%s", v / 1e6, rest);
		else if (v >= 1e3)
			snprintf(buf, len, "%.3g us%s", v / 1e3, rest);
		else
			snprintf(buf, len, "%.3g ns%s", v, rest);
	} else if (!strncmp(unit, "bytes", 5)) {
		if (fabs(v) >= 1024.0 * 1024 * 1024)
			snprintf(buf, len, "%.3g GiB", v / (1024.0 * 1024 * 1024));
		else if (fabs(v) >= 1024.0 * 1024)
			snprintf(buf, len, "%.3g MiB", v / (1024.0 * 1024));
		else if (fabs(v) >= 1024.0)
			snprintf(buf, len, "%.3g KiB", v / 1024.0);
		else
			snprintf(buf, len, "%.0f B", v);
	} else if (v >= 1e3 && !strcmp(unit, "req/s")) {
		snprintf(buf, len, "%.3g k%s", v / 1e3, unit);
	} else {
		snprintf(buf, len, "%.3g %s", v, unit);
	}
}

static const char *result_word(enum bench_target_result result, bool json)
{
	switch (result) {
	case BENCH_TARGET_MET:
		return "met";
	case BENCH_TARGET_MISSED:
		return json ? "missed" : "MISSED";
	case BENCH_TARGET_UNKNOWN:
		return "unknown";
	default:
		return "";
	}
}

/* "met", or "met, stretch MISSED" beside a stretch target. */
static const char *target_words(char *buf, size_t len, const struct bench_figure *f)
{
	if (f->stretch == BENCH_TARGET_NONE)
		snprintf(buf, len, "%s", result_word(f->target, false));
	else
		snprintf(buf, len, "%s, stretch %s", result_word(f->target, false),
			 result_word(f->stretch, false));
	return buf;
}

static void print_table(FILE *out, const struct host_facts *h)
{
	int target_width = 14;

	fprintf(out, "\nsnapvm benchmarks, %s: %s, kernel %s, nested KVM: %s\n", h->where,
		h->cpu_model, h->release, h->nested ? "yes" : "no");
	fprintf(out, "%ld CPUs online%s\n", h->cpus,
		bench_config.spare_cpus_offline && h->cpus > 1
		    ? ", all but one offline except for scaling"
		    : "");
	fprintf(out, "(median [p10..p90]; ratio = ours / baseline, lower is better except where "
		     "the target is '>=', a throughput)\n\n");
	for (size_t i = 0; i < bench_nfigures; i++) {
		int len = (int)strlen(bench_figures[i].target_text);

		target_width = len > target_width ? len : target_width;
	}
	fprintf(out, "%-36s %-26s %-40s %8s  %-*s %s\n", "figure", "ours", "baseline", "ratio",
		target_width, "target", "");
	for (size_t i = 0; i < bench_nfigures; i++) {
		const struct bench_figure *f = &bench_figures[i];
		char ours[32], base[32], lo[32], hi[32], col[200], words[40];

		if (!f->measured) {
			fprintf(out, "%-36s not measured: %s\n", f->name, f->reason);
			continue;
		}
		format_value(ours, sizeof(ours), f->ours.median, f->unit);
		format_value(lo, sizeof(lo), f->ours.p10, f->unit);
		format_value(hi, sizeof(hi), f->ours.p90, f->unit);
		snprintf(col, sizeof(col), "%s [%s..%s]", ours, lo, hi);
		fprintf(out, "%-36s %-26s ", f->name, col);
		format_value(base, sizeof(base), f->baseline.median, f->unit);
		snprintf(col, sizeof(col), "%s %s%s", f->baseline_name, base,
			 f->baseline_computed ? " (bound)" : "");
		fprintf(out, "%-40s %8.3g  %-*s %s\n", col, f->ratio, target_width, f->target_text,
			target_words(words, sizeof(words), f));
	}
	fputc('\n', out);
}

/* ---- results.json ---- */

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void json_number(FILE *out, double v)
{
	if (isfinite(v))
		fprintf(out, "%.6g", v);
	else
		fputs("null", out);
}

static void json_stats(FILE *out, const struct bench_stats *s)
{
	fputs("{\"median\": ", out);
	json_number(out, s->median);
	fputs(", \"p10\": ", out);
	json_number(out, s->p10);
	fputs(", \"p90\": ", out);
	json_number(out, s->p90);
	fprintf(out, ", \"samples\": %zu}", s->n);
}

static int write_json(const char *path, const struct host_facts *h)
{
	FILE *out = fopen(path, "w");

	if (!out) {
		fprintf(stderr, "snapvm-bench: cannot write %s: %s\n", path, strerror(errno));
		return EX_CANTCREAT;
	}
	fputs("{\n  \"schema\": \"snapvm-bench/2\",\n  \"date\": ", out);
	json_string(out, h->date);
	fputs(",\n  \"host\": {\"where\": ", out);
	json_string(out, h->where);
	fputs(", \"kernel\": ", out);
	json_string(out, h->kernel);
	fputs(", \"cpu_model\": ", out);
	json_string(out, h->cpu_model);
	fprintf(out, ", \"nested\": %s, \"cpus\": %ld, \"memory_backends\": ",
		h->nested ? "true" : "false", h->cpus);
	json_string(out, h->memory_backends);
	fputs(", \"snapvm_version\": ", out);
	json_string(out, SNAPVM_VERSION);
	fputs(", \"time_scale\": ", out);
	json_number(out, bench_config.scale);
	fputs(", \"guest_loop_ns\": ", out);
	json_number(out, bench_config.guest_loop_ns);
	fputs(", \"kvm_exit_ns\": ", out);
	json_number(out, (double)bench_config.exit_ns_estimate);
	fputs("},\n  \"notes\": [", out);
	for (size_t i = 0; i < bench_nnotes; i++) {
		fputs(i ? ",\n    " : "\n    ", out);
		json_string(out, bench_notes[i]);
	}
	fputs("\n  ],\n  \"figures\": [", out);
	for (size_t i = 0; i < bench_nfigures; i++) {
		const struct bench_figure *f = &bench_figures[i];

		fputs(i ? ",\n    {" : "\n    {", out);
		fputs("\"name\": ", out);
		json_string(out, f->name);
		fputs(", \"benchmark\": ", out);
		json_string(out, f->benchmark);
		fputs(", \"title\": ", out);
		json_string(out, f->title);
		fputs(", \"unit\": ", out);
		json_string(out, f->unit);
		fprintf(out, ", \"better\": \"%s\", \"measured\": %s",
			f->higher_is_better ? "higher" : "lower", f->measured ? "true" : "false");
		if (!f->measured) {
			fputs(", \"reason\": ", out);
			json_string(out, f->reason);
		}
		fputs(",\n     \"value\": ", out);
		json_number(out, f->measured ? f->ours.median : NAN);
		fputs(", \"spread\": ", out);
		if (f->measured)
			json_stats(out, &f->ours);
		else
			fputs("null", out);
		fputs(",\n     \"baseline\": {\"name\": ", out);
		json_string(out, f->baseline_name);
		fputs(", \"title\": ", out);
		json_string(out, f->baseline_title);
		fprintf(out, ", \"kind\": \"%s\", \"value\": ",
			f->baseline_computed ? "bound" : "measured");
		json_number(out, f->measured ? f->baseline.median : NAN);
		fputs(", \"spread\": ", out);
		if (f->measured && !f->baseline_computed)
			json_stats(out, &f->baseline);
		else
			fputs("null", out);
		fputs("},\n     \"ratio\": ", out);
		json_number(out, f->measured ? f->ratio : NAN);
		fputs(", \"target\": ", out);
		if (f->target_ratio > 0) {
			const char *bound = f->higher_is_better ? "min_ratio" : "max_ratio";

			fputs("{\"text\": ", out);
			json_string(out, f->target_text);
			fprintf(out, ", \"%s\": ", bound);
			json_number(out, f->target_ratio);
			fprintf(out, ", \"result\": \"%s\"", result_word(f->target, true));
			if (f->stretch_ratio > 0) {
				fprintf(out, ", \"stretch_%s\": ", bound);
				json_number(out, f->stretch_ratio);
				fprintf(out, ", \"stretch_result\": \"%s\"",
					result_word(f->stretch, true));
			}
			fputc('}', out);
		} else {
			fputs("null", out);
		}
		fputc('}', out);
	}
	fputs("\n  ]\n}\n", out);
	if (fclose(out)) {
		fprintf(stderr, "snapvm-bench: writing %s: %s\n", path, strerror(errno));
		return EX_IOERR;
	}
	return 0;
}

/* ---- data for bench/plot.gp ---- */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static int write_plot_data(const char *dir, const char *where)
{
	char path[4096];
	FILE *ratios, *restore, *vars;
	int row = 0, restore_rows = 0;

	snprintf(path, sizeof(path), "%s/ratios.dat", dir);
	ratios = fopen(path, "w");
	snprintf(path, sizeof(path), "%s/restore.dat", dir);
	restore = fopen(path, "w");
	if (!ratios || !restore) {
		fprintf(stderr, "snapvm-bench: cannot write the plot data in %s: %s\n", dir,
			strerror(errno));
		if (ratios)
			fclose(ratios);
		if (restore)
			fclose(restore);
		return EX_CANTCREAT;
	}
	fprintf(ratios, "# row name ratio target_ratio(0=none) p10_ratio p90_ratio rgb "
			"bound(1=at most,-1=at least) stretch_ratio(0=none)\n");
	fprintf(restore, "# layout k ours_ns ours_p10 ours_p90 full_copy_ns\n");
	for (size_t i = 0; i < bench_nfigures; i++) {
		const struct bench_figure *f = &bench_figures[i];
		double b = f->baseline.median;

		if (!f->measured)
			continue;
		/* The N = 1 and 10 totals repeat the ratio of N = 100. */
		if (!strcmp(f->benchmark, "density") &&
		    (ends_with(f->name, ".n1") || ends_with(f->name, ".n10")))
			continue;
		/* Bar colour: met green, missed red, no target blue. */
		fprintf(ratios, "%d \"%s\" %.6g %.6g %.6g %.6g %d %d %.6g\n", row++, f->name,
			f->ratio, f->target_ratio, b > 0 ? f->ours.p10 / b : f->ratio,
			b > 0 ? f->ours.p90 / b : f->ratio,
			f->target == BENCH_TARGET_MET	   ? 0x55a868
			: f->target == BENCH_TARGET_MISSED ? 0xc44e52
							   : 0x4c72b0,
			f->higher_is_better ? -1 : 1, f->stretch_ratio);
		if (!strcmp(f->benchmark, "restore")) {
			const char *k = strrchr(f->name, 'k');
			char layout[16] = "";

			sscanf(f->name, "restore.%15[^.]", layout);
			if (k && fprintf(restore, "%s %s %.6g %.6g %.6g %.6g\n", layout, k + 1,
					 f->ours.median, f->ours.p10, f->ours.p90, b) > 0)
				restore_rows++;
		}
	}
	fclose(ratios);
	fclose(restore);
	/* What there is to draw: gnuplot fails on a plot without points. */
	snprintf(path, sizeof(path), "%s/plot.vars", dir);
	vars = fopen(path, "w");
	if (!vars) {
		fprintf(stderr, "snapvm-bench: cannot write %s: %s\n", path, strerror(errno));
		return EX_CANTCREAT;
	}
	fprintf(vars, "nratios = %d\nhave_restore = %d\nwhere = \"%s\"\n", row, restore_rows > 0,
		where);
	fclose(vars);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"guests", required_argument, NULL, 'g'},
	    {"out", required_argument, NULL, 'o'},
	    {"plot-data", required_argument, NULL, 'p'},
	    {"only", required_argument, NULL, 'O'},
	    {"scale", required_argument, NULL, 's'},
	    {"probe", no_argument, NULL, 'P'},
	    {"table", required_argument, NULL, 't'},
	    {"spare-cpus-offline", no_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *out = "build/bench/results.json", *plot_dir = NULL, *scale = NULL;
	const char *table = NULL;
	struct snapvm_host_info info;
	struct host_facts host = {0};
	bool probe = false;
	char why[256];
	uint64_t spin_ns;
	struct rlimit nofile;
	int opt, status;

	bench_config.guests_dir = "build/guests";
	scale = getenv("SNAPVM_BENCH_SCALE");
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'g':
			bench_config.guests_dir = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'p':
			plot_dir = optarg;
			break;
		case 'O':
			bench_config.only = optarg;
			break;
		case 's':
			scale = optarg;
			break;
		case 't':
			table = optarg;
			break;
		case 'P':
			probe = true;
			break;
		case 'C':
			bench_config.spare_cpus_offline = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if (scale && *scale) {
		char *end;

		bench_config.scale = strtod(scale, &end);
		if (*end || !(bench_config.scale > 0)) {
			fprintf(stderr, "snapvm-bench: --scale wants a positive number, not '%s'\n",
				scale);
			return EX_USAGE;
		}
	}

	bench_config.kvm_usable = kvm_floor_usable(why, sizeof(why));
	if (!bench_config.kvm_usable) {
		fprintf(stderr, "snapvm-bench: /dev/kvm cannot run a guest here: %s\n", why);
		return EX_UNAVAILABLE;
	}
	if (!kvm_floor_spin_ns(SPIN_ITERATIONS, &spin_ns))
		bench_config.guest_loop_ns = (double)spin_ns / SPIN_ITERATIONS;
	if (probe) {
		/* A KVM that runs guest code a hundred times slower than a CPU
		 * (it emulates, or traps every instruction) distorts every
		 * figure with guest work in it: not the place to benchmark. */
		if (!(bench_config.guest_loop_ns < SPIN_MAX_NS)) {
			fprintf(stderr,
				"snapvm-bench: /dev/kvm runs guest code at %.0f ns per loop "
				"iteration (a CPU: ~0.3 ns): too slow to benchmark here\n",
				bench_config.guest_loop_ns);
			return EX_UNAVAILABLE;
		}
		return 0;
	}
	snapvm_host_info(&info);
	bench_config.kmod_usable = info.module_api_version == info.module_api_expected;
	if (!bench_config.kmod_usable)
		bench_note("snapvm.ko is not usable here (/dev/snapvm: %s): module-backed figures "
			   "are not measured",
			   info.module_api_version < 0 ? strerror(-info.module_api_version)
						       : "API version differs");
	/* 100 sandboxes hold a few hundred file descriptors. */
	if (!getrlimit(RLIMIT_NOFILE, &nofile) && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	read_host_facts(&host);
	bench_progress(
	    "snapvm-bench: %s, %s, %ld CPUs, nested KVM: %s, memory: %s, time scale %.2g",
	    host.where, host.cpu_model, host.cpus, host.nested ? "yes" : "no", host.memory_backends,
	    bench_config.scale);

	if (bench_config.spare_cpus_offline) {
		bench_note("--spare-cpus-offline: of the %ld CPUs, all but the first were offline "
			   "except during the scaling benchmark",
			   host.cpus);
		bench_spare_cpus(false);
	}

	bench_floor_exit();
	if (bench_selected("hypercall"))
		bench_hypercall();
	if (bench_selected("restore"))
		bench_restore();
	if (bench_selected("start"))
		bench_start();
	if (bench_selected("direct_write"))
		bench_direct_write();
	if (bench_selected("density"))
		bench_density();
	if (bench_selected("request"))
		bench_request();
	if (bench_selected("scaling"))
		bench_scaling();
	if (bench_selected("linux"))
		bench_linux();
	if (bench_selected("container"))
		bench_container();

	bench_service_release();
	bench_spare_cpus(true);
	print_table(stdout, &host);
	if (table) {
		FILE *f = fopen(table, "w");

		if (!f) {
			fprintf(stderr, "snapvm-bench: cannot write %s: %s\n", table,
				strerror(errno));
			return EX_CANTCREAT;
		}
		print_table(f, &host);
		fclose(f);
	}
	status = write_json(out, &host);
	if (!status && plot_dir)
		status = write_plot_data(plot_dir, host.where);
	if (!status)
		bench_progress("snapvm-bench: wrote %s", out);
	return status;
}
