// SPDX-License-Identifier: GPL-2.0
/*
 * linux_clock_prog.c - a static Linux program for linux_clock_test (built
 * -static for amd64 and -m32 -static for i386): `prog [--read] N` reads
 * stdin first with --read (where a first-read snapshot stops; a number
 * there replaces N), then asks CLOCK_MONOTONIC N times and exits 1 if it ever went backwards,
 * checks that the other clocks agree with CLOCK_REALTIME, and prints
 * CLOCK_REALTIME in nanoseconds last.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long ns(clockid_t id)
{
	struct timespec t;

	if (clock_gettime(id, &t))
		return -1;
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
	struct timespec prev, t;
	struct timeval tv;
	long n, i;
	char in[32] = "";

	if (argc > 1 && !strcmp(argv[1], "--read")) {
		if (read(0, in, sizeof(in) - 1) < 0)
			return 2;
		argv++, argc--;
	}
	n = in[0] >= '0' && in[0] <= '9' ? atol(in) : argc > 1 ? atol(argv[1]) : 0;
	clock_gettime(CLOCK_MONOTONIC, &prev);
	for (i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec < prev.tv_sec ||
		    (t.tv_sec == prev.tv_sec && t.tv_nsec < prev.tv_nsec)) {
			printf("CLOCK_MONOTONIC went backwards at call %ld\n", i);
			return 1;
		}
		prev = t;
	}
	/* The coarse and other realtime answers within a second of it. */
	gettimeofday(&tv, NULL);
	if (llabs(ns(CLOCK_REALTIME_COARSE) - ns(CLOCK_REALTIME)) > 1000000000LL ||
	    llabs(tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL - ns(CLOCK_REALTIME)) >
		1000000000LL ||
	    llabs((long long)time(NULL) * 1000000000LL - ns(CLOCK_REALTIME)) > 2000000000LL ||
	    ns(CLOCK_BOOTTIME) < ns(CLOCK_MONOTONIC) - 1000000LL) {
		printf("the clocks disagree\n");
		return 1;
	}
	printf("%lld\n", ns(CLOCK_REALTIME));
	return 0;
}
