// SPDX-License-Identifier: GPL-2.0
/*
 * launcher_test.c - runs the `snapvm` launcher (build/snapvm) on the test
 * guests (build/guests/<layout>/NAME.elf) and on ELF files crafted here, for
 * both layouts and both memory backends, and checks exit statuses, stdout
 * and the messages on stderr. Runs inside the test VM (tests/vm/run).
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
#include "guests/test/direct-write.h"
#include "layout/abi.h"
#include "layout/amd64.h"
#include "layout/i686.h"
#include "uapi/snapvm.h"
#include "userspace/lib/snapfile.h"
#include "userspace/lib/snapvm.h"

/* Per test (the harness's own limit): a few runs each. */
#define TEST_TIMEOUT_S	    180
#define LAUNCHER_TEST(name) TEST_F_TIMEOUT(launcher, name, TEST_TIMEOUT_S)

FIXTURE(launcher)
{
	char guests[PATH_MAX]; /* build/guests/<layout> */
	char tmp[PATH_MAX];    /* crafted ELF files */
	char memory_flag[32];
	char skip[256];
	struct run r;
};

VMM_VARIANTS(launcher);

FIXTURE_SETUP(launcher)
{
	const char *build = vmm_build_dir();
	char path[PATH_MAX + 64];

	ASSERT_NE(NULL, build);
	snprintf(path, sizeof(path), "%s/snapvm", build);
	ASSERT_EQ(0, access(path, X_OK))
	TH_LOG("%s: %s (run make programs)", path, strerror(errno));
	snprintf(self->guests, sizeof(self->guests), "%s/guests/%s", build, variant->layout);
	snprintf(path, sizeof(path), "%s/hello.elf", self->guests);
	ASSERT_EQ(0, access(path, R_OK)) TH_LOG("%s: %s (run make guests)", path, strerror(errno));
	snprintf(self->memory_flag, sizeof(self->memory_flag), "--memory=%s", variant->memory);
	ASSERT_NE(NULL, vmm_make_tmpdir(self->tmp, sizeof(self->tmp), "launcher"))
	TH_LOG("mkdtemp %s: %s", self->tmp, strerror(errno));

	vmm_skip_reason(variant->memory_id, self->skip, sizeof(self->skip));
}

FIXTURE_TEARDOWN(launcher)
{
	if (self->tmp[0] && vmm_remove_tmpdir(self->tmp))
		TH_LOG("could not remove %s", self->tmp);
}

static const char *guest(FIXTURE_DATA(launcher) * self, const char *name)
{
	static char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s.elf", self->guests, name);
	return path;
}

static bool is_amd64(const FIXTURE_VARIANT(launcher) * variant)
{
	return variant->layout_id == SNAPVM_LAYOUT_AMD64;
}

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

/* FNV-1a 64, as the guests' runtime computes it. */
static uint64_t fnv1a64(uint64_t hash, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len--) {
		hash ^= *p++;
		hash *= 0x100000001b3ULL;
	}
	return hash;
}

#define FNV1A64_INIT 0xcbf29ce484222325ULL

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

/* --- crafted and inspected ELF files -------------------------------------- */

struct elf_file {
	unsigned char *data;
	size_t size;
	bool is64;
};

struct segment {
	uint32_t type, flags;
	uint64_t offset, vaddr, filesz, memsz;
};

static int elf_read(struct elf_file *f, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st))
		return -1;
	f->size = st.st_size;
	f->data = malloc(f->size);
	if (!f->data || read(fd, f->data, f->size) != (ssize_t)f->size) {
		close(fd);
		return -1;
	}
	close(fd);
	f->is64 = f->size > EI_CLASS && f->data[EI_CLASS] == ELFCLASS64;
	return 0;
}

static unsigned elf_phnum(const struct elf_file *f)
{
	return f->is64 ? ((Elf64_Ehdr *)f->data)->e_phnum : ((Elf32_Ehdr *)f->data)->e_phnum;
}

static void *elf_phdr(const struct elf_file *f, unsigned i)
{
	if (f->is64) {
		Elf64_Ehdr *eh = (Elf64_Ehdr *)f->data;

		return f->data + eh->e_phoff + i * eh->e_phentsize;
	} else {
		Elf32_Ehdr *eh = (Elf32_Ehdr *)f->data;

		return f->data + eh->e_phoff + i * eh->e_phentsize;
	}
}

static struct segment elf_segment(const struct elf_file *f, unsigned i)
{
	if (f->is64) {
		Elf64_Phdr *ph = elf_phdr(f, i);

		return (struct segment){ph->p_type,  ph->p_flags,  ph->p_offset,
					ph->p_vaddr, ph->p_filesz, ph->p_memsz};
	} else {
		Elf32_Phdr *ph = elf_phdr(f, i);

		return (struct segment){ph->p_type,  ph->p_flags,  ph->p_offset,
					ph->p_vaddr, ph->p_filesz, ph->p_memsz};
	}
}

static void elf_set_segment(struct elf_file *f, unsigned i, const struct segment *s)
{
	if (f->is64) {
		Elf64_Phdr *ph = elf_phdr(f, i);

		ph->p_flags = s->flags;
		ph->p_vaddr = ph->p_paddr = s->vaddr;
		ph->p_filesz = s->filesz;
		ph->p_memsz = s->memsz;
	} else {
		Elf32_Phdr *ph = elf_phdr(f, i);

		ph->p_flags = s->flags;
		ph->p_vaddr = ph->p_paddr = (uint32_t)s->vaddr;
		ph->p_filesz = (uint32_t)s->filesz;
		ph->p_memsz = (uint32_t)s->memsz;
	}
}

/* Index of the first non-empty PT_LOAD with exactly these rights, or -1. */
static int elf_find_load(const struct elf_file *f, uint32_t flags)
{
	for (unsigned i = 0; i < elf_phnum(f); i++) {
		struct segment s = elf_segment(f, i);

		if (s.type == PT_LOAD && s.memsz && (s.flags & (PF_R | PF_W | PF_X)) == flags)
			return (int)i;
	}
	return -1;
}

/* FNV-1a 64 over a segment's bytes as loaded: file bytes, then zeros. */
static uint64_t segment_checksum(const struct elf_file *f, const struct segment *s)
{
	static const uint8_t zeros[4096];
	uint64_t hash = fnv1a64(FNV1A64_INIT, f->data + s->offset, s->filesz);

	for (uint64_t left = s->memsz - s->filesz; left;) {
		uint64_t n = left < sizeof(zeros) ? left : sizeof(zeros);

		hash = fnv1a64(hash, zeros, n);
		left -= n;
	}
	return hash;
}

static const char *write_file(FIXTURE_DATA(launcher) * self, const char *name, const void *data,
			      size_t size)
{
	static char path[PATH_MAX + 64];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", self->tmp, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	close(fd);
	return path;
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

/* --- usage ---------------------------------------------------------------- */

/* "the largest that fits is 1G (1073741824 bytes)": the byte count. */
static unsigned long long largest_fit(const char *msg)
{
	const char *at = strstr(msg, "largest");

	at = at ? strchr(at, '(') : NULL;
	return at ? strtoull(at + 1, NULL, 10) : 0;
}

LAUNCHER_TEST(too_big_scratch_is_usage_with_the_largest_fit)
{
	unsigned long long largest;
	char flag[64];

	REQUIRE_BACKEND();
	/* Larger than the whole guest-physical space of the layout. */
	snprintf(flag, sizeof(flag), "--scratch-size=%lluK",
		 (unsigned long long)((is_amd64(variant) ? AMD64_MAX_GPA : I686_MAX_GPA) + 1) /
		     1024);
	RUN(&self->r, "run", self->memory_flag, flag, guest(self, "hello"));
	EXPECT_STATUS(&self->r, EX_USAGE);
	largest = largest_fit(self->r.err);
	ASSERT_NE(0ULL, largest) TH_LOG("no \"largest ... (N bytes)\" in:\n%s", self->r.err);
	EXPECT_EQ(0ULL, largest % SNAPVM_GUEST_PAGE_SIZE);
	EXPECT_EQ(0UL, self->r.out_len);

	/* One page more than the largest is refused the same way ... */
	snprintf(flag, sizeof(flag), "--scratch-size=%llu", largest + SNAPVM_GUEST_PAGE_SIZE);
	RUN(&self->r, "run", self->memory_flag, flag, guest(self, "hello"));
	EXPECT_STATUS(&self->r, EX_USAGE);
	/* ... and the largest itself runs. memfd scratch is allocated as the
	 * guest touches it; the module pins all of it (4 GiB, 64 GiB): only
	 * the memfd variant tries, past the default 4 GiB --max-memory. */
	if (variant->memory_id == SNAPVM_MEMORY_MEMFD) {
		snprintf(flag, sizeof(flag), "--scratch-size=%llu", largest);
		RUN(&self->r, "run", self->memory_flag, "--max-memory=128G", flag,
		    guest(self, "hello"));
		EXPECT_STATUS(&self->r, 0);
		EXPECT_CONTAINS(self->r.out, "(WRITE hypercall)", "stdout", &self->r);
	}
}

LAUNCHER_TEST(too_small_scratch_is_usage)
{
	char flag[64];

	REQUIRE_BACKEND();
	snprintf(flag, sizeof(flag), "--scratch-size=%llu",
		 (unsigned long long)(is_amd64(variant) ? AMD64_MIN_SCRATCH_SIZE
							: I686_MIN_SCRATCH_SIZE) -
		     SNAPVM_GUEST_PAGE_SIZE);
	RUN(&self->r, "run", self->memory_flag, flag, guest(self, "hello"));
	EXPECT_STATUS(&self->r, EX_USAGE);
	EXPECT_CONTAINS(self->r.err, "smallest", "stderr", &self->r);
	/* Not a multiple of the page size. */
	RUN(&self->r, "run", self->memory_flag, "--scratch-size=1000001", guest(self, "hello"));
	EXPECT_STATUS(&self->r, EX_USAGE);
}

TEST(malformed_size_is_usage)
{
	static const char *const sizes[] = {
	    "--scratch-size=12Q",	   "--scratch-size=",
	    "--scratch-size=-1M",	   "--scratch-size=1MM",
	    "--scratch-size=0x100",	   "--scratch-size=18446744073709551616",
	    "--scratch-size=17179869184G",
	};
	char hello[PATH_MAX + 64];
	struct run *r = malloc(sizeof(*r));

	ASSERT_NE(NULL, r);
	snprintf(hello, sizeof(hello), "%s/guests/amd64/hello.elf", vmm_build_dir());
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		RUN(r, "run", sizes[i], hello);
		EXPECT_STATUS(r, EX_USAGE);
		EXPECT_NE(0UL, r->err_len);
		EXPECT_EQ(0UL, r->out_len);
	}
	free(r);
}

TEST(bad_usage_is_64)
{
	static const char *const bad[][3] = {
	    {NULL},
	    {"run", NULL},
	    {"frobnicate", NULL},
	    {"run", "--no-such-flag", NULL},
	    {"run", "--layout=sparc", NULL},
	    {"run", "--memory=floppy", NULL},
	    {"run", "--timeout=soon", NULL},
	};
	struct run *r = malloc(sizeof(*r));

	ASSERT_NE(NULL, r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *args[5] = {0};
		char hello[PATH_MAX + 64];
		unsigned n = 0;

		snprintf(hello, sizeof(hello), "%s/guests/amd64/hello.elf", vmm_build_dir());
		for (unsigned j = 0; j < 3 && bad[i][j]; j++)
			args[n++] = bad[i][j];
		/* Flags get a guest, so only the flag is wrong. */
		if (n >= 2)
			args[n++] = hello;
		ASSERT_EQ(0, run_snapvm(r, args));
		EXPECT_STATUS(r, EX_USAGE);
		EXPECT_NE(0UL, r->err_len) TH_LOG("case %zu: no message", i);
		EXPECT_EQ(0UL, r->out_len) TH_LOG("case %zu printed on stdout:\n%s", i, r->out);
	}
	free(r);
}

TEST(missing_guest_file_is_named)
{
	struct run *r = malloc(sizeof(*r));

	ASSERT_NE(NULL, r);
	RUN(r, "run", "/nonexistent/guest.elf");
	EXPECT_STATUS(r, EX_NOINPUT);
	EXPECT_CONTAINS(r->err, "/nonexistent/guest.elf", "stderr", r);
	EXPECT_EQ(0UL, r->out_len);
	RUN(r, "run", "--from=/nonexistent/app.snap");
	EXPECT_STATUS(r, EX_NOINPUT);
	EXPECT_CONTAINS(r->err, "/nonexistent/app.snap", "stderr", r);
	free(r);
}

/* Run hello (amd64) seeing only some devices. The test VM runs the tests as
 * root: no mount namespace there is a broken VM, a failure. */
#define RUN_HIDING(r, devices, ...)                                                                \
	do {                                                                                       \
		const char *const args_[] = {__VA_ARGS__, NULL};                                   \
		ASSERT_EQ(0, run_snapvm_with((r), args_, (devices)));                              \
		ASSERT_NE(STATUS_NO_NAMESPACE, (r)->status) TH_LOG("%.200s", (r)->err);            \
	} while (0)

TEST(no_kvm_is_unavailable_69)
{
	struct run *r = malloc(sizeof(*r));
	char hello[PATH_MAX + 64];

	ASSERT_NE(NULL, r);
	snprintf(hello, sizeof(hello), "%s/guests/amd64/hello.elf", vmm_build_dir());
	RUN_HIDING(r, DEVICES_NO_KVM, "run", "--memory=memfd", hello);
	EXPECT_STATUS(r, EX_UNAVAILABLE);
	EXPECT_CONTAINS(r->err, "/dev/kvm", "stderr", r);
	EXPECT_EQ(0UL, r->out_len);
	free(r);
}

TEST(kmod_memory_without_the_module_is_unavailable_69)
{
	struct run *r = malloc(sizeof(*r));
	char hello[PATH_MAX + 64];

	ASSERT_NE(NULL, r);
	snprintf(hello, sizeof(hello), "%s/guests/amd64/hello.elf", vmm_build_dir());
	RUN_HIDING(r, DEVICES_NO_SNAPVM, "run", "--memory=kmod", hello);
	EXPECT_STATUS(r, EX_UNAVAILABLE);
	EXPECT_CONTAINS(r->err, "/dev/snapvm", "stderr", r);
	/* Without --memory, the launcher falls back to memfd. */
	RUN_HIDING(r, DEVICES_NO_SNAPVM, "run", hello);
	EXPECT_STATUS(r, 0);
	EXPECT_CONTAINS(r->out, "(WRITE hypercall)", "stdout", r);
	free(r);
}

TEST(info_shows_the_kvm_api_version)
{
	struct run *r = malloc(sizeof(*r));
	char version[64];

	ASSERT_NE(NULL, r);
	RUN(r, "info");
	EXPECT_STATUS(r, 0);
	/* The whole phrase: a bare "12" would match a capability's value. */
	snprintf(version, sizeof(version), "KVM API version %d (/dev/kvm)", KVM_API_VERSION);
	EXPECT_CONTAINS(r->out, version, "stdout", r);
	snprintf(version, sizeof(version),
		 "module API version %d (/dev/snapvm; this snapvm speaks %d)\n", SNAPVM_API_VERSION,
		 SNAPVM_API_VERSION);
	EXPECT_CONTAINS(r->out, version, "stdout", r);
	free(r);
}

TEST(help_and_version)
{
	struct run *r = malloc(sizeof(*r));

	ASSERT_NE(NULL, r);
	RUN(r, "--help");
	EXPECT_STATUS(r, 0);
	EXPECT_CONTAINS(r->out, "--scratch-size", "stdout", r);
	RUN(r, "--version");
	EXPECT_STATUS(r, 0);
	EXPECT_CONTAINS(r->out, SNAPVM_VERSION, "stdout", r);
	free(r);
}

TEST_HARNESS_MAIN
