/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * direct_write.c - benchmark 4: a request (restore + call) in which the
 * guest writes every word of K pages of its data, per written page:
 *  - i686, whose guest writes straight into its private view of the
 *    snapshot (the host kernel copies a page on its first write), vs amd64,
 *    whose guest runtime copies each page into scratch on a write fault;
 *  - module-backed (snapvm.ko) vs memfd-backed memory.
 * Per sample: request(K) - request(0), over K, back to back, so restore,
 * call and exit costs that do not depend on K cancel. The restore belongs
 * in it: every request pays again for the pages the last one wrote.
 */
#include <stdio.h>

#include "bench/bench.h"
#include "guests/bench/bench_guest.h"

#define WRITE_PAGES 256

static const uint32_t layouts[] = {SNAPVM_LAYOUT_I686, SNAPVM_LAYOUT_AMD64};
static const enum snapvm_memory memories[] = {SNAPVM_MEMORY_KMOD, SNAPVM_MEMORY_MEMFD};

static int request_ns(struct snapvm_sandbox *sb, uint64_t pages, double *ns, char *why,
		      size_t why_len)
{
	uint64_t start = bench_now_ns();
	int ret = bench_service_request(sb, BENCH_CALL_WRITE_PAGES, pages, why, why_len);

	*ns = (double)(bench_now_ns() - start);
	return ret;
}

/* Per-page samples for one layout and memory; 0, or -1 with why. */
static int measure(uint32_t layout, enum snapvm_memory memory, struct bench_samples *per_page,
		   char *why, size_t why_len)
{
	struct bench_budget budget = bench_budget(5, 200, 8);
	struct snapvm_snapshot *snap;
	struct snapvm_sandbox *sb = NULL;
	uint64_t start;
	int ret = -1;

	if (memory == SNAPVM_MEMORY_KMOD && !bench_config.kmod_usable) {
		snprintf(why, why_len, "needs snapvm.ko (/dev/snapvm is not usable here)");
		return -1;
	}
	snap = bench_service_snapshot(layout, false, memory, why, why_len);
	if (!snap || bench_service_create(snap, &sb, why, why_len))
		goto out;
	start = bench_now_ns();
	while (bench_budget_more(&budget, per_page->n, start)) {
		double busy, idle;

		if (request_ns(sb, WRITE_PAGES, &busy, why, why_len) ||
		    request_ns(sb, 0, &idle, why, why_len))
			goto out;
		bench_samples_add(per_page, (busy - idle) / WRITE_PAGES);
	}
	ret = 0;
out:
	snapvm_sandbox_destroy(sb);
	return ret;
}

void bench_direct_write(void)
{
	struct bench_figure *by_layout[2], *by_memory[2];
	char name[96], title[200];

	for (size_t m = 0; m < 2; m++) {
		snprintf(name, sizeof(name), "direct_write.%s.i686_vs_amd64",
			 snapvm_memory_name(memories[m]));
		snprintf(title, sizeof(title),
			 "i686: guest writes %u pages of its view per request (restore + call), "
			 "per page",
			 WRITE_PAGES);
		by_layout[m] = bench_figure_add("direct_write", name, "ns/page", title);
		bench_figure_baseline(by_layout[m], "amd64_cow",
				      "amd64: the same writes, copy-on-write into scratch");
		bench_figure_target(by_layout[m], 1.0 / 3, "<= 0.333 (3x)");
	}
	for (size_t l = 0; l < 2; l++) {
		snprintf(name, sizeof(name), "direct_write.%s.kmod_vs_memfd",
			 snapvm_layout_name(layouts[l]));
		snprintf(title, sizeof(title),
			 "%s, snapvm.ko memory: %u pages written per request, per page",
			 snapvm_layout_name(layouts[l]), WRITE_PAGES);
		by_memory[l] = bench_figure_add("direct_write", name, "ns/page", title);
		bench_figure_baseline(by_memory[l], "memfd", "the same with memfd memory");
	}
	struct bench_samples s[2][2] = {0};
	char why[2][2][1400] = {0};
	bool ok[2][2];

	for (size_t l = 0; l < 2; l++)
		for (size_t m = 0; m < 2; m++) {
			bench_progress("direct_write %s %s ...", snapvm_layout_name(layouts[l]),
				       snapvm_memory_name(memories[m]));
			ok[l][m] = !measure(layouts[l], memories[m], &s[l][m], why[l][m],
					    sizeof(why[l][m]));
		}
	for (size_t m = 0; m < 2; m++) {
		if (!ok[0][m] || !ok[1][m])
			bench_figure_skip(by_layout[m], "%s", ok[0][m] ? why[1][m] : why[0][m]);
		else
			bench_figure_set(by_layout[m], bench_stats_of(&s[0][m]),
					 bench_stats_of(&s[1][m]));
	}
	for (size_t l = 0; l < 2; l++) {
		if (!ok[l][0] || !ok[l][1])
			bench_figure_skip(by_memory[l], "%s", ok[l][0] ? why[l][1] : why[l][0]);
		else
			bench_figure_set(by_memory[l], bench_stats_of(&s[l][0]),
					 bench_stats_of(&s[l][1]));
	}
	for (size_t l = 0; l < 2; l++)
		for (size_t m = 0; m < 2; m++)
			bench_samples_free(&s[l][m]);
}
