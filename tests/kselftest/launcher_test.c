// SPDX-License-Identifier: GPL-2.0
/*
 * launcher_test.c - runs the `snapvm` launcher (build/snapvm) on the test
 * guests (build/guests/<layout>/NAME.elf) and on ELF files crafted here, for
 * both layouts and both memory backends, and checks exit statuses, stdout
 * and the messages on stderr. Runs inside the test VM (tests/vm/run).
 *
 * Guests that behave and guests that misbehave; bad ELF files and other
 * inputs in launcher_input_test.c, usage in launcher_usage_test.c; the
 * fixture in launcher_fixture.h.
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

/* --- guests that behave --------------------------------------------------- */

LAUNCHER_TEST(hello_prints_and_exits_0)
{
	char expected[256];

	REQUIRE_BACKEND();
	RUN(&self->r, "run", self->memory_flag, guest(self, "hello"));
	EXPECT_STATUS(&self->r, 0);
	snprintf(expected, sizeof(expected),
		 "hello from the snapvm %s guest (console port)\n"
		 "hello from the snapvm %s guest (WRITE hypercall)\n",
		 variant->layout, variant->layout);
	EXPECT_STREQ(expected, self->r.out) TH_LOG("stderr:\n%s", self->r.err);
}

LAUNCHER_TEST(layout_flag_matching_the_elf_runs)
{
	char flag[32];

	REQUIRE_BACKEND();
	snprintf(flag, sizeof(flag), "--layout=%s", variant->layout);
	RUN(&self->r, "run", flag, self->memory_flag, guest(self, "hello"));
	EXPECT_STATUS(&self->r, 0);
}

LAUNCHER_TEST(entry_state_matches_the_contract)
{
	REQUIRE_BACKEND();
	RUN(&self->r, "run", self->memory_flag, "--scratch-size=1M", guest(self, "entry-state"));
	EXPECT_STATUS(&self->r, 0);
	EXPECT_CONTAINS(self->r.out, "entry-state: ok", "stdout", &self->r);
	/* The boot info carries the scratch size asked for. */
	EXPECT_CONTAINS(self->r.out, "scratch_size=0x100000 ", "stdout", &self->r);
}

/* The checksum direct-write prints: all its pages after its writes. */
static uint64_t direct_write_checksum(void)
{
	uint64_t hash = FNV1A64_INIT;
	uint32_t page[SNAPVM_GUEST_PAGE_SIZE / 4];

	for (uint32_t p = 0; p < DIRECT_WRITE_PAGES; p++) {
		for (uint32_t w = 0; w < SNAPVM_GUEST_PAGE_SIZE / 4; w++)
			page[w] = direct_write_word(p, w);
		hash = fnv1a64(hash, page, sizeof(page));
	}
	return hash;
}

LAUNCHER_TEST(direct_write_checksum_comes_back)
{
	char line[256];
	struct elf_file f = {0};
	unsigned long long copies = 0;
	struct segment rw;
	const char *at;

	REQUIRE_BACKEND();
	RUN(&self->r, "run", self->memory_flag, guest(self, "direct-write"));
	EXPECT_STATUS(&self->r, 0);
	snprintf(line, sizeof(line), DIRECT_WRITE_CHECKSUM_LINE, (unsigned)DIRECT_WRITE_PAGES,
		 (unsigned long long)direct_write_checksum());
	EXPECT_CONTAINS(self->r.out, line, "stdout", &self->r);
	if (!is_amd64(variant))
		return;

	/* amd64: the guest read the snapshot's own pages of its RW segment
	 * after writing them: they still hold the ELF file's bytes. */
	ASSERT_EQ(0, elf_read(&f, guest(self, "direct-write")));
	ASSERT_LE(0, elf_find_load(&f, PF_R | PF_W));
	rw = elf_segment(&f, elf_find_load(&f, PF_R | PF_W));
	snprintf(line, sizeof(line), DIRECT_WRITE_SNAPSHOT_LINE,
		 (unsigned long long)segment_checksum(&f, &rw));
	EXPECT_CONTAINS(self->r.out, line, "stdout", &self->r);
	/* ... and every written page was copied on write by the guest. */
	at = strstr(self->r.out, "copy-on-write copies=");
	ASSERT_NE(NULL, at) TH_LOG("stdout:\n%s", self->r.out);
	sscanf(at, "copy-on-write copies=%llu", &copies);
	EXPECT_LE((unsigned long long)DIRECT_WRITE_PAGES, copies);
	free(f.data);
}

/*
 * The same guest through libsnapvm, to look at memory from the host: the
 * sealed snapshot's bytes do not change while the guest writes, on i686 the
 * writes show in the sandbox's view of the snapshot, on amd64 they do not
 * (they went to copies in scratch).
 */
LAUNCHER_TEST(direct_write_leaves_the_snapshot_unchanged)
{
	struct snapvm_snapshot_options opts = {.memory = variant->memory_id};
	struct snapvm_sandbox_options sopts = SNAPVM_SANDBOX_OPTIONS_DEFAULT;
	struct snapvm_snapshot *snap = NULL;
	struct snapvm_sandbox *sandbox = NULL;
	struct snapvm_outcome outcome;
	struct snapvm_error err = {0};
	struct elf_file f = {0};
	struct segment rw;
	const uint8_t *mem;
	uint64_t gpa, size;
	uint8_t *before, *view;
	char out[4096] = "", line[256];
	ssize_t n;
	int fd;

	REQUIRE_BACKEND();
	ASSERT_EQ(0, elf_read(&f, guest(self, "direct-write")));
	ASSERT_LE(0, elf_find_load(&f, PF_R | PF_W));
	rw = elf_segment(&f, elf_find_load(&f, PF_R | PF_W));

	ASSERT_EQ(0, snapvm_snapshot_from_elf(guest(self, "direct-write"), &opts, &snap, &err))
	TH_LOG("%s", err.message);
	mem = snapvm_snapshot_memory(snap, &gpa, &size);
	ASSERT_NE(NULL, mem);
	ASSERT_LE(gpa, rw.vaddr);
	ASSERT_LE(rw.vaddr + rw.memsz - gpa, size);
	/* The snapshot holds the segment as the ELF file says. */
	EXPECT_EQ(segment_checksum(&f, &rw),
		  fnv1a64(FNV1A64_INIT, mem + (rw.vaddr - gpa), rw.memsz));
	before = malloc(size);
	view = malloc(rw.memsz);
	ASSERT_NE(NULL, before);
	ASSERT_NE(NULL, view);
	memcpy(before, mem, size);

	fd = memfd_create("guest-output", MFD_CLOEXEC);
	ASSERT_LE(0, fd);
	sopts.output_fd = fd;
	ASSERT_EQ(0, snapvm_sandbox_create(snap, &sopts, &sandbox, &err)) TH_LOG("%s", err.message);
	ASSERT_EQ(0, snapvm_sandbox_run(sandbox, RUN_DEADLINE_S * 1000ULL, &outcome, &err))
	TH_LOG("%s", err.message);
	n = pread(fd, out, sizeof(out) - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	EXPECT_EQ(SNAPVM_STOP_EXIT, (int)outcome.stop)
	TH_LOG("stop %d: %s; output:\n%s", outcome.stop, outcome.message, out);
	EXPECT_EQ(0, outcome.code);
	snprintf(line, sizeof(line), DIRECT_WRITE_CHECKSUM_LINE, (unsigned)DIRECT_WRITE_PAGES,
		 (unsigned long long)direct_write_checksum());
	EXPECT_NE(NULL, strstr(out, line)) TH_LOG("output lacks \"%s\":\n%s", line, out);

	EXPECT_EQ(0, memcmp(before, mem, size)) TH_LOG("the sealed snapshot changed");
	ASSERT_EQ(0, snapvm_sandbox_read_gpa(sandbox, rw.vaddr, view, rw.memsz, &err))
	TH_LOG("%s", err.message);
	if (is_amd64(variant)) {
		EXPECT_EQ(0, memcmp(view, mem + (rw.vaddr - gpa), rw.memsz))
		TH_LOG("amd64: the snapshot's GPAs show the guest's writes");
	} else {
		uint64_t hash = FNV1A64_INIT;

		/* The guest's pages come first in its RW segment. */
		hash = fnv1a64(hash, view, DIRECT_WRITE_PAGES * SNAPVM_GUEST_PAGE_SIZE);
		EXPECT_EQ(direct_write_checksum(), hash)
		TH_LOG("i686: the view does not hold the guest's writes");
	}

	snapvm_sandbox_destroy(sandbox);
	snapvm_snapshot_put(snap);
	close(fd);
	free(before);
	free(view);
	free(f.data);
}

LAUNCHER_TEST(gdt_accessed_runs_to_exit_0)
{
	REQUIRE_BACKEND();
	RUN(&self->r, "run", self->memory_flag, guest(self, "gdt-accessed"));
	EXPECT_STATUS(&self->r, 0);
	EXPECT_CONTAINS(self->r.out, "segment reloads set the data Accessed bit again", "stdout",
			&self->r);
}

/* --- guests that misbehave ------------------------------------------------ */

LAUNCHER_TEST(triple_fault_exits_70)
{
	REQUIRE_BACKEND();
	RUN(&self->r, "run", self->memory_flag, guest(self, "triple-fault"));
	EXPECT_STATUS(&self->r, SNAPVM_STATUS_GUEST_FAULT);
	EXPECT_CONTAINS(self->r.out, "triple-fault: loading an empty IDT", "stdout", &self->r);
	EXPECT_CONTAINS(self->r.err, "triple fault", "stderr", &self->r);
}

LAUNCHER_TEST(endless_loop_times_out_with_124)
{
	REQUIRE_BACKEND();
	RUN(&self->r, "run", self->memory_flag, "--timeout=1", guest(self, "endless-loop"));
	EXPECT_STATUS(&self->r, SNAPVM_STATUS_TIMEOUT);
	/* The output before the loop is kept. */
	EXPECT_CONTAINS(self->r.out, "endless-loop: spinning", "stdout", &self->r);
	if (!strcasestr(self->r.err, "timeout"))
		EXPECT_CONTAINS(self->r.err, "timed out", "stderr", &self->r);
	EXPECT_GT(20.0, self->r.seconds) TH_LOG("--timeout=1 took %.1f s", self->r.seconds);
}

/* Options may follow GUEST.elf, as with other GNU tools. */
LAUNCHER_TEST(options_after_the_guest_apply)
{
	REQUIRE_BACKEND();
	RUN(&self->r, "run", guest(self, "endless-loop"), self->memory_flag, "--timeout=1");
	EXPECT_STATUS(&self->r, SNAPVM_STATUS_TIMEOUT);
}

LAUNCHER_TEST(unknown_hypercall_exits_70)
{
	REQUIRE_BACKEND();
	RUN(&self->r, "run", self->memory_flag, guest(self, "unknown-hypercall"));
	EXPECT_STATUS(&self->r, SNAPVM_STATUS_GUEST_FAULT);
	EXPECT_EQ(NULL, strstr(self->r.out, "returned"))
	TH_LOG("the guest ran on:\n%s", self->r.out);
	EXPECT_CONTAINS(self->r.err, "hypercall", "stderr", &self->r);
	if (!strcasestr(self->r.err, "0xdead"))
		EXPECT_CONTAINS(self->r.err, "57005", "stderr", &self->r);
	EXPECT_CONTAINS(self->r.err, "RIP", "stderr", &self->r);
}

/* The guest printed exactly stdout_text, then ABORTed: exit 70, its message
 * and code on stderr. */
#define EXPECT_GUEST_ABORT(name, stdout_text, message, code_text)                                  \
	do {                                                                                       \
		RUN(&self->r, "run", self->memory_flag, guest(self, (name)));                      \
		EXPECT_STATUS(&self->r, SNAPVM_STATUS_GUEST_FAULT);                                \
		EXPECT_STREQ((stdout_text), self->r.out) TH_LOG("stderr:\n%s", self->r.err);       \
		EXPECT_CONTAINS(self->r.err, (message), "stderr", &self->r);                       \
		EXPECT_CONTAINS(self->r.err, (code_text), "stderr", &self->r);                     \
	} while (0)

/* Bad WRITE arguments return -EFAULT (or -EINVAL) and print nothing; ABORT's message
 * reaches stderr and the launcher exits 70. */
LAUNCHER_TEST(bad_hypercall_arguments_are_refused)
{
	REQUIRE_BACKEND();
	EXPECT_GUEST_ABORT("hypercall-args", "hypercall-args: bad WRITEs refused\n",
			   "deliberate abort, message for stderr", "code 7");
}

/* ABORT reads its message through the guest's own page tables: a message
 * near the end of scratch reaches stderr, also when (i686) a 4 MiB page
 * around it reaches past the end of scratch. */
LAUNCHER_TEST(abort_message_under_a_huge_page_reaches_stderr)
{
	REQUIRE_BACKEND();
	EXPECT_GUEST_ABORT("abort-huge-page", "abort-huge-page: message placed\n",
			   "the message at the end of scratch", "code 9");
}

LAUNCHER_TEST(write_to_text_exits_70)
{
	char cr2[64];
	unsigned long long addr = 0;
	const char *at;

	REQUIRE_BACKEND();
	if (!is_amd64(variant))
		SKIP(return, "i686 text is writable by design (paging off, RWX snapshot view)");
	RUN(&self->r, "run", self->memory_flag, guest(self, "write-to-text"));
	EXPECT_STATUS(&self->r, SNAPVM_STATUS_GUEST_FAULT);
	at = strstr(self->r.out, "read-only text at 0x");
	ASSERT_NE(NULL, at) TH_LOG("stdout:\n%s", self->r.out);
	sscanf(at, "read-only text at 0x%llx", &addr);
	EXPECT_EQ(NULL, strstr(self->r.out, "succeeded"));
	/* The runtime's ABORT names CR2 (the text address), RIP, error code. */
	snprintf(cr2, sizeof(cr2), "CR2=0x%llx ", addr);
	EXPECT_CONTAINS(self->r.err, cr2, "stderr", &self->r);
	EXPECT_CONTAINS(self->r.err, "RIP=0x", "stderr", &self->r);
	EXPECT_CONTAINS(self->r.err, "error=0x3 ", "stderr", &self->r);
}

LAUNCHER_TEST(beyond_max_gpa_exits_70)
{
	char gpa[64];

	REQUIRE_BACKEND();
	RUN(&self->r, "run", self->memory_flag, guest(self, "beyond-max-gpa"));
	EXPECT_STATUS(&self->r, SNAPVM_STATUS_GUEST_FAULT);
	EXPECT_CONTAINS(self->r.out, "beyond-max-gpa: reading GPA", "stdout", &self->r);
	EXPECT_EQ(NULL, strstr(self->r.out, "the read returned"));
	snprintf(gpa, sizeof(gpa), "0x%llx",
		 is_amd64(variant) ? AMD64_MAX_GPA + 1 : 0xff000000ULL /* guests/test */);
	/* A stray MMIO exit names the GPA; on a CPU with only 36 physical
	 * address bits the amd64 PTE has a reserved bit set instead, and the
	 * guest's #PF handler reports that. */
	if (!is_amd64(variant) || !strstr(self->r.err, "reserved bit"))
		EXPECT_CONTAINS(self->r.err, gpa, "stderr", &self->r);
	EXPECT_CONTAINS(self->r.err, "RIP", "stderr", &self->r);
}

LAUNCHER_TEST(exception_is_reported_by_the_runtime)
{
	char rip[64];
	unsigned long long addr = 0;
	const char *at;

	REQUIRE_BACKEND();
	RUN(&self->r, "run", self->memory_flag, guest(self, "invalid-opcode"));
	EXPECT_STATUS(&self->r, SNAPVM_STATUS_GUEST_FAULT);
	at = strstr(self->r.out, "ud2 at 0x");
	ASSERT_NE(NULL, at) TH_LOG("stdout:\n%s", self->r.out);
	sscanf(at, "ud2 at 0x%llx", &addr);
	EXPECT_EQ(NULL, strstr(self->r.out, "returned"));
	/* The guest's IDT turned #UD into an ABORT naming vector and IP. */
	EXPECT_CONTAINS(self->r.err, "#UD", "stderr", &self->r);
	snprintf(rip, sizeof(rip), "%s=0x%llx", is_amd64(variant) ? "RIP" : "EIP", addr);
	EXPECT_CONTAINS(self->r.err, rip, "stderr", &self->r);
}

TEST_HARNESS_MAIN
