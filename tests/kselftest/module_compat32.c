// SPDX-License-Identifier: GPL-2.0
/*
 * module_compat32.c - built with -m32 (static): prints the ABI transcript of
 * module_transcript.h as a 32-bit caller sees it, for module_test to compare
 * with its own.
 */
#include "tests/kselftest/module_transcript.h"

int main(void)
{
	static struct transcript transcript;

	transcript_run(&transcript);
	fwrite(transcript.text, 1, transcript.len, stdout);
	return ferror(stdout) ? 1 : 0;
}
