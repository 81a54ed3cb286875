// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * size_test.c - the launcher's SIZE syntax (bytes with an optional K, M or
 * G suffix, powers of 1024), its inverse for messages, and the mapping of a
 * run's outcome to the launcher's exit status.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "kselftest_harness.h"
#include "userspace/lib/internal.h"

TEST(sizes_parse)
{
	static const struct {
		const char *text;
		uint64_t size;
	} good[] = {
	    {"0", 0},
	    {"1", 1},
	    {"4096", 4096},
	    {"4K", 4096},
	    {"4k", 4096},
	    {"16M", 16ULL << 20},
	    {"16m", 16ULL << 20},
	    {"1G", 1ULL << 30},
	    {"64G", 64ULL << 30},
	    {"007K", 7ULL << 10},
	    {"18446744073709551615", UINT64_MAX},
	    {"17179869183G", 17179869183ULL << 30},
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct snapvm_error err = {0};
		uint64_t size = 12345;

		EXPECT_EQ(0, snapvm_parse_size(good[i].text, &size, &err))
		TH_LOG("'%s': %s", good[i].text, err.message);
		EXPECT_EQ(good[i].size, size) TH_LOG("'%s'", good[i].text);
	}
}

TEST(malformed_sizes_are_usage_errors)
{
	static const char *const bad[] = {
	    "",
	    "K",
	    "12Q",
	    "-1",
	    "+1",
	    "1MM",
	    "0x100",
	    " 1",
	    "1 ",
	    "1.5M",
	    "1KB",
	    "1MiB",
	    "M1",
	    "1T",
	    "1e6",
	    "18446744073709551616", /* 2^64 */
	    "17179869184G",	    /* 2^34 G = 2^64 */
	    "99999999999999999999999",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct snapvm_error err = {0};
		uint64_t size = 12345;

		EXPECT_EQ(EX_USAGE, snapvm_parse_size(bad[i], &size, &err))
		TH_LOG("'%s' was accepted as %llu", bad[i], (unsigned long long)size);
		EXPECT_EQ(EX_USAGE, err.status);
		EXPECT_NE(NULL, strstr(err.message, bad[i])) TH_LOG("message: %s", err.message);
		EXPECT_EQ(12345ULL, size) TH_LOG("'%s' changed the output", bad[i]);
	}
	EXPECT_EQ(EX_USAGE, snapvm_parse_size(NULL, &(uint64_t){0}, NULL));
}

TEST(sizes_format_back)
{
	static const struct {
		uint64_t size;
		const char *text;
	} cases[] = {
	    {0, "0"},
	    {1000, "1000"},
	    {4096, "4K"},
	    {1536ULL << 10, "1536K"},
	    {16ULL << 20, "16M"},
	    {1ULL << 30, "1G"},
	    {(64ULL << 30) - 4096, "67108860K"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[32];
		uint64_t back;

		snapvm_format_size(cases[i].size, buf, sizeof(buf));
		EXPECT_STREQ(cases[i].text, buf);
		ASSERT_EQ(0, snapvm_parse_size(buf, &back, NULL));
		EXPECT_EQ(cases[i].size, back);
	}
}

TEST(outcomes_map_to_exit_statuses)
{
	struct snapvm_outcome o = {.stop = SNAPVM_STOP_EXIT};

	o.code = 0;
	EXPECT_EQ(0, snapvm_outcome_exit_status(&o));
	o.code = 3;
	EXPECT_EQ(3, snapvm_outcome_exit_status(&o));
	o.code = 256 + 7; /* like exit(2): the low byte */
	EXPECT_EQ(7, snapvm_outcome_exit_status(&o));
	o.code = -1;
	EXPECT_EQ(255, snapvm_outcome_exit_status(&o));
	o.stop = SNAPVM_STOP_ABORT;
	o.code = 0; /* even an ABORT(0) is a failure */
	EXPECT_EQ(70, snapvm_outcome_exit_status(&o));
	o.stop = SNAPVM_STOP_FAULT;
	EXPECT_EQ(70, snapvm_outcome_exit_status(&o));
	o.stop = SNAPVM_STOP_TIMEOUT;
	EXPECT_EQ(124, snapvm_outcome_exit_status(&o));
}

TEST_HARNESS_MAIN
