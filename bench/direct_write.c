/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* direct_write.c - placeholder. */
#include "bench/bench.h"

void bench_direct_write(void)
{
}
