// SPDX-License-Identifier: GPL-2.0
/*
 * launcher_input_test.c - the launcher refuses bad ELF files (truncated, W+X,
 * overlapping or out-of-layout segments, the wrong machine, a contradicting
 * --layout) and inputs that are no regular files, with status 65 or 66 and
 * a message naming the file; both layouts and memory backends.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kvm.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/kselftest/vmm_test.h"
#include "tests/kselftest/launcher_helpers.h"
#include "tests/kselftest/launcher_fixture.h"
#include "guests/test/direct-write.h"
#include "layout/abi.h"
#include "layout/amd64.h"
#include "layout/i686.h"
#include "uapi/snapvm.h"
#include "userspace/lib/snapfile.h"
#include "userspace/lib/snapvm.h"

/* --- bad ELF files -------------------------------------------------------- */

/* Run the crafted file; expect 65 and a message naming it. */
static void expect_bad_elf(struct __test_metadata *_metadata, FIXTURE_DATA(launcher) * self,
			   const char *path, const char *reason)
{
	RUN(&self->r, "run", self->memory_flag, path);
	EXPECT_STATUS(&self->r, EX_DATAERR);
	EXPECT_CONTAINS(self->r.err, path, "stderr", &self->r);
	if (reason)
		EXPECT_CONTAINS(self->r.err, reason, "stderr", &self->r);
	EXPECT_EQ(0UL, self->r.out_len) TH_LOG("a bad ELF printed guest output:\n%s", self->r.out);
}

LAUNCHER_TEST(truncated_elf_is_refused)
{
	struct elf_file f = {0};
	struct segment text;
	int i;

	REQUIRE_BACKEND();
	ASSERT_EQ(0, elf_read(&f, guest(self, "hello")));
	i = elf_find_load(&f, PF_R | PF_X);
	ASSERT_LE(0, i);
	text = elf_segment(&f, i);
	/* Inside the text segment's file data. */
	expect_bad_elf(
	    _metadata, self,
	    write_file(self, "truncated-text.elf", f.data, text.offset + text.filesz / 2),
	    "truncated");
	/* Inside the ELF header. */
	expect_bad_elf(_metadata, self, write_file(self, "truncated-header.elf", f.data, 20), NULL);
	free(f.data);
}

LAUNCHER_TEST(wx_segment_is_refused_in_amd64)
{
	struct elf_file f = {0};
	struct segment text;
	const char *path;
	int i;

	REQUIRE_BACKEND();
	ASSERT_EQ(0, elf_read(&f, guest(self, "hello")));
	i = elf_find_load(&f, PF_R | PF_X);
	ASSERT_LE(0, i);
	text = elf_segment(&f, i);
	text.flags |= PF_W;
	elf_set_segment(&f, i, &text);
	path = write_file(self, "wx.elf", f.data, f.size);
	if (is_amd64(variant)) {
		expect_bad_elf(_metadata, self, path, "W+X");
	} else {
		/* i686 maps the whole snapshot RWX anyway: W+X is fine. */
		RUN(&self->r, "run", self->memory_flag, path);
		EXPECT_STATUS(&self->r, 0);
	}
	free(f.data);
}

LAUNCHER_TEST(overlapping_segments_are_refused)
{
	struct elf_file f = {0};
	struct segment text, rodata;
	int t, r;

	REQUIRE_BACKEND();
	ASSERT_EQ(0, elf_read(&f, guest(self, "hello")));
	t = elf_find_load(&f, PF_R | PF_X);
	r = elf_find_load(&f, PF_R);
	ASSERT_LE(0, t);
	ASSERT_LE(0, r);
	text = elf_segment(&f, t);
	rodata = elf_segment(&f, r);
	rodata.vaddr = text.vaddr; /* same page offset: file offsets stay congruent */
	elf_set_segment(&f, r, &rodata);
	expect_bad_elf(_metadata, self, write_file(self, "overlap.elf", f.data, f.size), "overlap");
	free(f.data);
}

LAUNCHER_TEST(wrong_machine_is_refused)
{
	struct elf_file f = {0};

	REQUIRE_BACKEND();
	ASSERT_EQ(0, elf_read(&f, guest(self, "hello")));
	if (f.is64)
		((Elf64_Ehdr *)f.data)->e_machine = EM_AARCH64;
	else
		((Elf32_Ehdr *)f.data)->e_machine = EM_ARM;
	expect_bad_elf(_metadata, self, write_file(self, "wrong-machine.elf", f.data, f.size),
		       NULL);
	free(f.data);
}

LAUNCHER_TEST(segment_outside_the_layout_is_refused)
{
	struct elf_file f = {0};
	struct segment rodata;
	int r;

	REQUIRE_BACKEND();
	ASSERT_EQ(0, elf_read(&f, guest(self, "hello")));
	r = elf_find_load(&f, PF_R);
	ASSERT_LE(0, r);
	rodata = elf_segment(&f, r);
	/* Above MAX_GPA. */
	rodata.vaddr = is_amd64(variant) ? AMD64_MAX_GPA + 1 : I686_MAX_GPA + 1;
	elf_set_segment(&f, r, &rodata);
	expect_bad_elf(_metadata, self, write_file(self, "above-max-gpa.elf", f.data, f.size),
		       "outside");
	if (is_amd64(variant)) {
		/* In page 0, the null guard below the snapshot. */
		rodata.vaddr = 0;
		elf_set_segment(&f, r, &rodata);
		expect_bad_elf(_metadata, self, write_file(self, "page-0.elf", f.data, f.size),
			       "outside");
	}
	free(f.data);
}

LAUNCHER_TEST(layout_flag_contradicting_the_elf_is_refused)
{
	REQUIRE_BACKEND();
	RUN(&self->r, "run", is_amd64(variant) ? "--layout=i686" : "--layout=amd64",
	    self->memory_flag, guest(self, "hello"));
	EXPECT_STATUS(&self->r, EX_DATAERR);
	EXPECT_CONTAINS(self->r.err, guest(self, "hello"), "stderr", &self->r);
	EXPECT_EQ(0UL, self->r.out_len);
}

/* --- input files that are not regular files ------------------------------ */

/* How long a refusal of a non-regular input may take: it must not wait for
 * a FIFO's writer nor read a device without end. */
#define REFUSE_AT_ONCE_S 5

LAUNCHER_TEST(non_regular_inputs_are_refused_at_once)
{
	char fifo[PATH_MAX + 16], from_fifo[PATH_MAX + 32], from_dir[PATH_MAX + 16];
	const struct {
		const char *arg, *path, *type;
	} cases[] = {
	    {fifo, fifo, "FIFO"},
	    {from_fifo, fifo, "FIFO"},
	    {self->tmp, self->tmp, "directory"},
	    {from_dir, self->tmp, "directory"},
	    {"/dev/zero", "/dev/zero", "character device"},
	    {"--from=/dev/zero", "/dev/zero", "character device"},
	};

	snprintf(fifo, sizeof(fifo), "%s/guest.fifo", self->tmp);
	snprintf(from_fifo, sizeof(from_fifo), "--from=%s", fifo);
	snprintf(from_dir, sizeof(from_dir), "--from=%s", self->tmp);
	ASSERT_EQ(0, mkfifo(fifo, 0600)) TH_LOG("mkfifo %s: %s", fifo, strerror(errno));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		RUN(&self->r, "run", self->memory_flag, cases[i].arg);
		EXPECT_STATUS(&self->r, EX_DATAERR);
		EXPECT_LT(self->r.seconds, REFUSE_AT_ONCE_S)
		TH_LOG("snapvm run %s took %.1f s", cases[i].arg, self->r.seconds);
		EXPECT_CONTAINS(self->r.err, cases[i].path, "stderr", &self->r);
		EXPECT_CONTAINS(self->r.err, cases[i].type, "stderr", &self->r);
		EXPECT_EQ(0UL, self->r.out_len);
	}
}

/* A snapshot file whose snapshot + scratch exceed --max-memory is refused
 * from its header. The file is valid but for its vCPU state, which is never
 * looked at: the header alone must decide. */
LAUNCHER_TEST(snapshot_file_over_max_memory_is_refused)
{
	uint64_t scratch_size = is_amd64(variant) ? AMD64_MIN_SCRATCH_SIZE : I686_MIN_SCRATCH_SIZE;
	unsigned char vcpu[64] = {0}, *snapshot, *scratch;
	struct snapfile_contents c = {
	    .layout = variant->layout_id,
	    .vcpu_state = vcpu,
	    .vcpu_state_size = sizeof(vcpu),
	    .snapshot_gpa = is_amd64(variant) ? AMD64_SNAPSHOT_BASE_GPA : I686_SNAPSHOT_BASE_GPA,
	    .snapshot_size = SNAPVM_GUEST_PAGE_SIZE,
	    .scratch_size = scratch_size,
	};
	char path[PATH_MAX + 16], from[PATH_MAX + 32], needs[128];
	struct snapvm_error err = {0};

	snapshot = calloc(1, SNAPVM_GUEST_PAGE_SIZE);
	scratch = calloc(1, scratch_size);
	ASSERT_NE(NULL, snapshot);
	ASSERT_NE(NULL, scratch);
	c.snapshot = snapshot;
	c.scratch = scratch;
	snprintf(path, sizeof(path), "%s/big.snap", self->tmp);
	ASSERT_EQ(0, snapfile_save(path, &c, &err)) TH_LOG("%s", err.message);
	free(snapshot);
	free(scratch);
	snprintf(from, sizeof(from), "--from=%s", path);
	RUN(&self->r, "run", self->memory_flag, "--max-memory=64K", from);
	EXPECT_STATUS(&self->r, EX_DATAERR);
	EXPECT_CONTAINS(self->r.err, path, "stderr", &self->r);
	snprintf(needs, sizeof(needs), "needs %llu bytes of guest memory",
		 (unsigned long long)(SNAPVM_GUEST_PAGE_SIZE + scratch_size));
	EXPECT_CONTAINS(self->r.err, needs, "stderr", &self->r);
	EXPECT_CONTAINS(self->r.err, "--max-memory=65536", "stderr", &self->r);
	EXPECT_EQ(0UL, self->r.out_len);
}

TEST_HARNESS_MAIN
