/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * abort-escape.c - ABORTs with a message full of terminal escape sequences
 * and control bytes, which the launcher must not pass to the terminal raw.
 */
#include "guests/include/rt.h"

int main(void)
{
	rt_abort(3, "red \x1b[31mALERT\x1b[0m bell\a tab\t del\x7f high\xc3\xa9 end");
}
