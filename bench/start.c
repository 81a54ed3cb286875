/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* start.c - placeholder. */
#include "bench/bench.h"

void bench_start(void)
{
}
