// SPDX-License-Identifier: GPL-2.0
/*
 * call_test.c - `snapvm call` on snapshot files of the buffer-calls guest
 * (guests/test/buffer-calls.h): a call that works, through a file and
 * stdin, then each way a call goes wrong and the exit status it must give
 * (snapvm(1): 64 usage, 65 data, 66 no input, 70 the guest function's error
 * or the guest's end, 74 input, 124 timeout), and bad input to each of its
 * flags. Runs inside the test VM (tests/vm/run).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/kselftest/vmm_test.h"
#include "tests/kselftest/launcher_helpers.h"
#include "guests/test/buffer-calls.h"
#include "layout/abi.h"
#include "userspace/lib/snapvm.h"

#define TEST_TIMEOUT_S	180
#define CALL_TEST(name) TEST_F_TIMEOUT(call, name, TEST_TIMEOUT_S)

/* A timed-out call must end about when asked, not at RUN_DEADLINE_S. */
#define CALL_TIMEOUT   "0.5"
#define CALL_TIMEOUT_S 0.5

FIXTURE(call)
{
	char tmp[PATH_MAX];
	char snap[PATH_MAX + 32]; /* the buffer-calls snapshot file */
	char from[PATH_MAX + 64]; /* --from=snap */
	char memory_flag[32];
	char skip[256];
	struct run r;
};

VMM_VARIANTS(call);

/* A file of len bytes, byte i = i * 7 + 1 (so no two neighbours match). */
static void write_pattern(const char *path, size_t len)
{
	FILE *f = fopen(path, "w");

	for (size_t i = 0; f && i < len; i++)
		fputc((int)(unsigned char)(i * 7 + 1), f);
	if (f)
		fclose(f);
}

static bool is_pattern(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] != (unsigned char)(i * 7 + 1))
			return false;
	return true;
}

FIXTURE_SETUP(call)
{
	char elf[PATH_MAX + 64], out_flag[PATH_MAX + 64];

	ASSERT_NE(NULL, vmm_build_dir());
	snprintf(self->memory_flag, sizeof(self->memory_flag), "--memory=%s", variant->memory);
	ASSERT_NE(NULL, vmm_make_tmpdir(self->tmp, sizeof(self->tmp), "call"))
	TH_LOG("mkdtemp %s: %s", self->tmp, strerror(errno));
	snprintf(self->snap, sizeof(self->snap), "%s/bc.snap", self->tmp);
	snprintf(self->from, sizeof(self->from), "--from=%s", self->snap);
	vmm_skip_reason(variant->memory_id, self->skip, sizeof(self->skip));
	if (self->skip[0])
		return; /* REQUIRE_BACKEND fails the test */
	snprintf(elf, sizeof(elf), "%s/guests/%s/buffer-calls.elf", vmm_build_dir(),
		 variant->layout);
	ASSERT_EQ(0, access(elf, R_OK)) TH_LOG("%s: %s (run make guests)", elf, strerror(errno));
	snprintf(out_flag, sizeof(out_flag), "--snapshot-out=%s", self->snap);
	RUN(&self->r, "run", self->memory_flag, out_flag, elf);
	ASSERT_EQ(0, self->r.status) TH_LOG("snapshot of %s:\n%s", elf, self->r.err);
}

FIXTURE_TEARDOWN(call)
{
	if (self->tmp[0] && vmm_remove_tmpdir(self->tmp))
		TH_LOG("could not remove %s", self->tmp);
}

static const char *tmp_path(FIXTURE_DATA(call) * self, const char *name)
{
	static char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", self->tmp, name);
	return path;
}

/* --- calls that work ------------------------------------------------------ */

CALL_TEST(echo_through_a_file_and_stdin)
{
	char input[2 * PATH_MAX];

	REQUIRE_BACKEND();
	write_pattern(tmp_path(self, "in"), 5000);
	snprintf(input, sizeof(input), "--input=%s", tmp_path(self, "in"));
	RUN(&self->r, "call", self->memory_flag, self->from, input, "1");
	EXPECT_STATUS(&self->r, 0);
	EXPECT_EQ(5000UL, self->r.out_len);
	EXPECT_TRUE(is_pattern(self->r.out, self->r.out_len));
	EXPECT_EQ(0UL, self->r.err_len) TH_LOG("stderr:\n%s", self->r.err);

	/* --input=- reads stdin; --no-seccomp changes nothing the call sees;
	 * FUNCTION may be hexadecimal. */
	{
		const char *const args[] = {"call",	 self->memory_flag, self->from,
					    "--input=-", "--no-seccomp",    "0x1",
					    NULL};

		ASSERT_EQ(0, run_snapvm_full(&self->r, args, DEVICES_ALL, tmp_path(self, "in")));
	}
	EXPECT_STATUS(&self->r, 0);
	EXPECT_EQ(5000UL, self->r.out_len);
	EXPECT_TRUE(is_pattern(self->r.out, self->r.out_len));

	/* No --input: an empty input, an empty output. */
	RUN(&self->r, "call", self->memory_flag, self->from, "1");
	EXPECT_STATUS(&self->r, 0);
	EXPECT_EQ(0UL, self->r.out_len);
}

/* --- the guest's side going wrong ------------------------------------------ */

CALL_TEST(function_error_is_70)
{
	char needs[64];

	REQUIRE_BACKEND();
	RUN(&self->r, "call", self->memory_flag, self->from, "2");
	EXPECT_STATUS(&self->r, SNAPVM_STATUS_GUEST_FAULT);
	snprintf(needs, sizeof(needs), "function 2 failed with -%d", BUFFER_FAIL_ERROR);
	EXPECT_CONTAINS(self->r.err, needs, "stderr", &self->r);
	EXPECT_CONTAINS(self->r.err, self->snap, "stderr", &self->r);
	EXPECT_EQ(0UL, self->r.out_len);
	/* A function the guest does not serve: its -ENOSYS. */
	RUN(&self->r, "call", self->memory_flag, self->from, "99");
	EXPECT_STATUS(&self->r, SNAPVM_STATUS_GUEST_FAULT);
	snprintf(needs, sizeof(needs), "function 99 failed with -%d", SNAPVM_ENOSYS);
	EXPECT_CONTAINS(self->r.err, needs, "stderr", &self->r);
}

CALL_TEST(output_beyond_the_area_is_65)
{
	REQUIRE_BACKEND();
	RUN(&self->r, "call", self->memory_flag, self->from, "3");
	EXPECT_STATUS(&self->r, EX_DATAERR);
	EXPECT_CONTAINS(self->r.err, "room for", "stderr", &self->r);
	EXPECT_EQ(0UL, self->r.out_len) TH_LOG("written anyway:\n%s", self->r.out);
}

CALL_TEST(timeout_is_124)
{
	REQUIRE_BACKEND();
	RUN(&self->r, "call", self->memory_flag, self->from, "--timeout=" CALL_TIMEOUT, "4");
	EXPECT_STATUS(&self->r, SNAPVM_STATUS_TIMEOUT);
	EXPECT_CONTAINS(self->r.err, "timeout after " CALL_TIMEOUT " s", "stderr", &self->r);
	EXPECT_GE(self->r.seconds, CALL_TIMEOUT_S);
	/* Generous for nested TCG, far under RUN_DEADLINE_S. */
	EXPECT_LT(self->r.seconds, CALL_TIMEOUT_S + 20);
	EXPECT_EQ(0UL, self->r.out_len);
}

CALL_TEST(guest_exit_and_abort)
{
	char input[2 * PATH_MAX];
	FILE *f;

	REQUIRE_BACKEND();
	/* EXIT(7) instead of an answer: its code. */
	f = fopen(tmp_path(self, "seven"), "w");
	ASSERT_NE(NULL, f);
	fputc(7, f);
	fclose(f);
	snprintf(input, sizeof(input), "--input=%s", tmp_path(self, "seven"));
	RUN(&self->r, "call", self->memory_flag, self->from, input, "5");
	EXPECT_STATUS(&self->r, 7);
	EXPECT_CONTAINS(self->r.err, "exited with code 7 instead of answering", "stderr", &self->r);
	/* EXIT(0) instead of an answer: no success. */
	RUN(&self->r, "call", self->memory_flag, self->from, "5");
	EXPECT_STATUS(&self->r, SNAPVM_STATUS_GUEST_FAULT);
	EXPECT_CONTAINS(self->r.err, "exited with code 0 instead of answering", "stderr", &self->r);
	EXPECT_EQ(0UL, self->r.out_len);
	/* ABORT: 70, its message on stderr. */
	RUN(&self->r, "call", self->memory_flag, self->from, "6");
	EXPECT_STATUS(&self->r, SNAPVM_STATUS_GUEST_FAULT);
	EXPECT_CONTAINS(self->r.err, BUFFER_ABORT_MESSAGE, "stderr", &self->r);
}

/* --- the caller's side going wrong ------------------------------------------ */

CALL_TEST(input_over_the_area_is_64)
{
	char input[2 * PATH_MAX];

	REQUIRE_BACKEND();
	write_pattern(tmp_path(self, "big"), SNAPVM_DEFAULT_IO_SIZE + 1);
	snprintf(input, sizeof(input), "--input=%s", tmp_path(self, "big"));
	RUN(&self->r, "call", self->memory_flag, self->from, input, "1");
	EXPECT_STATUS(&self->r, EX_USAGE);
	EXPECT_CONTAINS(self->r.err, tmp_path(self, "big"), "stderr", &self->r);
	EXPECT_EQ(0UL, self->r.out_len);
	/* Exactly the area fits. */
	write_pattern(tmp_path(self, "full"), SNAPVM_DEFAULT_IO_SIZE);
	snprintf(input, sizeof(input), "--input=%s", tmp_path(self, "full"));
	RUN(&self->r, "call", self->memory_flag, self->from, input, "1");
	EXPECT_STATUS(&self->r, 0);
	EXPECT_EQ((size_t)SNAPVM_DEFAULT_IO_SIZE, self->r.out_len);
}

CALL_TEST(bad_input_files)
{
	char input[2 * PATH_MAX];

	REQUIRE_BACKEND();
	/* None: 66, named. */
	snprintf(input, sizeof(input), "--input=%s", tmp_path(self, "missing"));
	RUN(&self->r, "call", self->memory_flag, self->from, input, "1");
	EXPECT_STATUS(&self->r, EX_NOINPUT);
	EXPECT_CONTAINS(self->r.err, tmp_path(self, "missing"), "stderr", &self->r);
	/* A directory cannot be read: 74, named. */
	snprintf(input, sizeof(input), "--input=%s", self->tmp);
	RUN(&self->r, "call", self->memory_flag, self->from, input, "1");
	EXPECT_STATUS(&self->r, EX_IOERR);
	EXPECT_CONTAINS(self->r.err, self->tmp, "stderr", &self->r);
	EXPECT_EQ(0UL, self->r.out_len);
}

CALL_TEST(max_memory_below_the_snapshot_is_65)
{
	REQUIRE_BACKEND();
	RUN(&self->r, "call", self->memory_flag, self->from, "--max-memory=64K", "1");
	EXPECT_STATUS(&self->r, EX_DATAERR);
	EXPECT_CONTAINS(self->r.err, "--max-memory=65536", "stderr", &self->r);
	EXPECT_CONTAINS(self->r.err, self->snap, "stderr", &self->r);
	EXPECT_EQ(0UL, self->r.out_len);
}

/* --- bad snapshot files and bad flags: refused before any guest runs -------- */

CALL_TEST(bad_from_files)
{
	char from[2 * PATH_MAX], elf[PATH_MAX + 64];

	REQUIRE_BACKEND();
	/* Missing --from. */
	RUN(&self->r, "call", self->memory_flag, "1");
	EXPECT_STATUS(&self->r, EX_USAGE);
	EXPECT_CONTAINS(self->r.err, "--from", "stderr", &self->r);
	/* No such file: 66. */
	snprintf(from, sizeof(from), "--from=%s", tmp_path(self, "missing.snap"));
	RUN(&self->r, "call", self->memory_flag, from, "1");
	EXPECT_STATUS(&self->r, EX_NOINPUT);
	EXPECT_CONTAINS(self->r.err, tmp_path(self, "missing.snap"), "stderr", &self->r);
	/* An ELF file is no snapshot file: 65. */
	snprintf(elf, sizeof(elf), "%s/guests/%s/buffer-calls.elf", vmm_build_dir(),
		 variant->layout);
	snprintf(from, sizeof(from), "--from=%s", elf);
	RUN(&self->r, "call", self->memory_flag, from, "1");
	EXPECT_STATUS(&self->r, EX_DATAERR);
	EXPECT_CONTAINS(self->r.err, elf, "stderr", &self->r);
	/* A directory: 65. */
	snprintf(from, sizeof(from), "--from=%s", self->tmp);
	RUN(&self->r, "call", self->memory_flag, from, "1");
	EXPECT_STATUS(&self->r, EX_DATAERR);
	EXPECT_EQ(0UL, self->r.out_len);
}

/* Each flag with a value it must refuse: 64, a message naming the value,
 * nothing on stdout. FUNCTION too. The snapshot is valid: only the flag is
 * wrong. */
CALL_TEST(bad_flags_are_64)
{
	static const struct {
		const char *flag, *function, *named;
	} cases[] = {
	    {"--timeout=soon", "1", "soon"},
	    {"--timeout=0", "1", "'0'"},
	    {"--timeout=-1", "1", "'-1'"},
	    {"--timeout=", "1", "timeout"},
	    {"--memory=floppy", "1", "floppy"},
	    {"--max-memory=12Q", "1", "12Q"},
	    {"--max-memory=0", "1", "--max-memory"},
	    {"--no-seccomp=yes", "1", "--no-seccomp=yes"},
	    {"--input", "1", "--input"},
	    {"--frobnicate", "1", "--frobnicate"},
	    {"--no-seccomp", "abc", "'abc'"},
	    {"--no-seccomp", "-1", "'-1'"},
	    {"--no-seccomp", "1x", "'1x'"},
	    {"--no-seccomp", "", "''"},
	    {"--no-seccomp", "99999999999999999999999", "99999999999999999999999"},
	};

	REQUIRE_BACKEND();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* "--input" last takes no value: the FUNCTION would become it. */
		if (!strcmp(cases[i].flag, "--input"))
			RUN(&self->r, "call", self->memory_flag, self->from, cases[i].flag);
		else
			RUN(&self->r, "call", self->memory_flag, self->from, cases[i].flag,
			    cases[i].function);
		EXPECT_STATUS(&self->r, EX_USAGE);
		EXPECT_CONTAINS(self->r.err, cases[i].named, "stderr", &self->r);
		EXPECT_EQ(0UL, self->r.out_len) TH_LOG("case %zu", i);
	}
	/* No FUNCTION, and two. */
	RUN(&self->r, "call", self->memory_flag, self->from);
	EXPECT_STATUS(&self->r, EX_USAGE);
	EXPECT_CONTAINS(self->r.err, "FUNCTION", "stderr", &self->r);
	RUN(&self->r, "call", self->memory_flag, self->from, "1", "2");
	EXPECT_STATUS(&self->r, EX_USAGE);
	EXPECT_CONTAINS(self->r.err, "FUNCTION", "stderr", &self->r);
}

TEST_HARNESS_MAIN
