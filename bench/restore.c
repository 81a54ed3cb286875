/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* restore.c - placeholder. */
#include "bench/bench.h"

void bench_restore(void)
{
}
