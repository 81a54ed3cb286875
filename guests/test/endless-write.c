/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * endless-write.c - WRITEs 4 KiB at a time, forever: its output fills any
 * pipe, so only the run's deadline can stop it.
 */
#include "guests/include/rt.h"

static char line[4096];

int main(void)
{
	for (unsigned int i = 0; i < sizeof(line); i++)
		line[i] = i % 64 == 63 ? '\n' : 'a' + i % 26;
	for (;;)
		if (rt_write(line, sizeof(line)) < 0)
			return 1;
}
