// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * elf_test.c - the guest ELF loader on crafted files: good ELF64 and ELF32
 * guests load (segments in place, .bss zero); truncated, W+X (amd64),
 * overlapping, wrong-machine, out-of-layout and otherwise bad files are
 * refused with EX_DATAERR and a message naming the file and the reason.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "layout/amd64.h"
#include "layout/i686.h"
#include "userspace/lib/internal.h"

#define RX  (PF_R | PF_X)
#define RW  (PF_R | PF_W)
#define RWX (PF_R | PF_W | PF_X)

struct seg {
	uint32_t type, flags;
	uint64_t vaddr, memsz, filesz;
};

struct craft {
	bool is64;
	uint16_t machine, type;
	uint8_t data; /* EI_DATA */
	uint64_t entry;
	unsigned int nsegs;
	struct seg segs[8];
};

/* A good three-segment amd64 guest at 1 MiB. */
static struct craft amd64_guest(void)
{
	return (struct craft){
	    .is64 = true,
	    .machine = EM_X86_64,
	    .type = ET_EXEC,
	    .data = ELFDATA2LSB,
	    .entry = 0x100010,
	    .nsegs = 3,
	    .segs = {{PT_LOAD, RX, 0x100000, 0x1234, 0x1234},
		     {PT_LOAD, PF_R, 0x102000, 0x100, 0x100},
		     {PT_LOAD, RW, 0x103000, 0x3000, 0x180}},
	};
}

static struct craft i686_guest(void)
{
	return (struct craft){
	    .is64 = false,
	    .machine = EM_386,
	    .type = ET_EXEC,
	    .data = ELFDATA2LSB,
	    .entry = 0x100000,
	    .nsegs = 2,
	    .segs = {{PT_LOAD, RX, 0x100000, 0x800, 0x800}, {PT_LOAD, RW, 0x101000, 0x2000, 0x10}},
	};
}

/* Segment i's file bytes live at 0x1000 * (i + 1) + (vaddr & 0xfff), filled
 * with the byte i + 1. Returns the file's size. */
static size_t serialize(const struct craft *c, unsigned char **out)
{
	size_t size = 0x1000 * (c->nsegs + 2);
	unsigned char *f = calloc(1, size);
	unsigned char *ident = f;

	memcpy(ident, ELFMAG, SELFMAG);
	ident[EI_CLASS] = c->is64 ? ELFCLASS64 : ELFCLASS32;
	ident[EI_DATA] = c->data;
	ident[EI_VERSION] = EV_CURRENT;
	for (unsigned int i = 0; i < c->nsegs; i++) {
		const struct seg *s = &c->segs[i];
		uint64_t offset = 0x1000 * (i + 1) + (s->vaddr & 0xfff);

		if (s->filesz && offset + s->filesz <= size)
			memset(f + offset, (int)(i + 1), s->filesz);
		if (c->is64) {
			Elf64_Phdr *ph = (Elf64_Phdr *)(f + sizeof(Elf64_Ehdr)) + i;

			*ph = (Elf64_Phdr){.p_type = s->type,
					   .p_flags = s->flags,
					   .p_offset = offset,
					   .p_vaddr = s->vaddr,
					   .p_paddr = s->vaddr,
					   .p_filesz = s->filesz,
					   .p_memsz = s->memsz,
					   .p_align = 0x1000};
		} else {
			Elf32_Phdr *ph = (Elf32_Phdr *)(f + sizeof(Elf32_Ehdr)) + i;

			*ph = (Elf32_Phdr){.p_type = s->type,
					   .p_flags = s->flags,
					   .p_offset = (uint32_t)offset,
					   .p_vaddr = (uint32_t)s->vaddr,
					   .p_paddr = (uint32_t)s->vaddr,
					   .p_filesz = (uint32_t)s->filesz,
					   .p_memsz = (uint32_t)s->memsz,
					   .p_align = 0x1000};
		}
	}
	if (c->is64) {
		Elf64_Ehdr *eh = (Elf64_Ehdr *)f;

		eh->e_type = c->type;
		eh->e_machine = c->machine;
		eh->e_version = EV_CURRENT;
		eh->e_entry = c->entry;
		eh->e_phoff = sizeof(Elf64_Ehdr);
		eh->e_ehsize = sizeof(Elf64_Ehdr);
		eh->e_phentsize = sizeof(Elf64_Phdr);
		eh->e_phnum = (uint16_t)c->nsegs;
	} else {
		Elf32_Ehdr *eh = (Elf32_Ehdr *)f;

		eh->e_type = c->type;
		eh->e_machine = c->machine;
		eh->e_version = EV_CURRENT;
		eh->e_entry = (uint32_t)c->entry;
		eh->e_phoff = sizeof(Elf32_Ehdr);
		eh->e_ehsize = sizeof(Elf32_Ehdr);
		eh->e_phentsize = sizeof(Elf32_Phdr);
		eh->e_phnum = (uint16_t)c->nsegs;
	}
	*out = f;
	return size;
}

FIXTURE(elf)
{
	char dir[64];
	char path[128];
	struct snapvm_elf_image image;
	struct snapvm_error err;
};

FIXTURE_SETUP(elf)
{
	strcpy(self->dir, "/tmp/elf_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	memset(&self->err, 0, sizeof(self->err));
	memset(&self->image, 0, sizeof(self->image));
}

FIXTURE_TEARDOWN(elf)
{
	char cmd[128];

	snapvm_elf_close(&self->image);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (system(cmd) != 0)
		TH_LOG("could not remove %s", self->dir);
}

/* Write the first len bytes (all when len is 0) of the crafted file; its
 * bytes stay in *data (*size of them) when data is not NULL. */
static const char *write_craft(FIXTURE_DATA(elf) * self, const char *name, const struct craft *c,
			       size_t len, unsigned char **data, size_t *size)
{
	unsigned char *bytes;
	size_t n = serialize(c, &bytes);
	FILE *f;

	n = len ? len : n;
	snprintf(self->path, sizeof(self->path), "%s/%s", self->dir, name);
	f = fopen(self->path, "w");
	if (f) {
		fwrite(bytes, 1, n, f);
		fclose(f);
	}
	if (data) {
		*data = bytes;
		*size = n;
	} else {
		free(bytes);
	}
	return self->path;
}

/*
 * snapvm_elf_open on the crafted file; every crafted case also checks that
 * snapvm_elf_parse on the same bytes in memory (what the fuzzer calls)
 * decides the same: status, message, and the image it accepts.
 */
static int load_checked(struct __test_metadata *_metadata, FIXTURE_DATA(elf) * self,
			const char *name, const struct craft *c, size_t len, uint32_t layout)
{
	struct snapvm_elf_image parsed;
	struct snapvm_error perr = {0};
	unsigned char *data;
	size_t size;
	int ret, pret;

	snapvm_elf_close(&self->image);
	memset(&self->err, 0, sizeof(self->err));
	write_craft(self, name, c, len, &data, &size);
	ret = snapvm_elf_open(self->path, layout, &self->image, &self->err);
	pret = snapvm_elf_parse(self->path, data, size, layout, &parsed, &perr);
	EXPECT_EQ(ret, pret) TH_LOG("%s: open says %d, parse on the buffer %d", name, ret, pret);
	if (ret)
		EXPECT_STREQ(self->err.message, perr.message);
	if (!ret && !pret) {
		EXPECT_EQ(self->image.layout, parsed.layout);
		EXPECT_EQ(self->image.entry, parsed.entry);
		EXPECT_EQ(self->image.end, parsed.end);
		ASSERT_EQ(self->image.nsegments, parsed.nsegments);
		EXPECT_EQ(0, memcmp(self->image.segments, parsed.segments,
				    parsed.nsegments * sizeof(parsed.segments[0])));
		EXPECT_EQ(self->image.file_size, parsed.file_size);
		EXPECT_EQ(0, memcmp(self->image.file, parsed.file, parsed.file_size));
		snapvm_elf_close(&parsed);
	}
	free(data);
	return ret;
}

#define load(self, name, c, len, layout) load_checked(_metadata, self, name, c, len, layout)

/* The message names the reason (when one is given). */
static bool mentions(const char *message, const char *reason)
{
	return !reason || strstr(message, reason);
}

/* Refused with EX_DATAERR, naming the file and (when given) the reason. */
#define EXPECT_REFUSED(self, name, craft, len, layout, reason)                                     \
	do {                                                                                       \
		EXPECT_EQ(EX_DATAERR, load(self, name, craft, len, layout))                        \
		TH_LOG("%s was accepted", name);                                                   \
		EXPECT_EQ(EX_DATAERR, (self)->err.status);                                         \
		EXPECT_NE(NULL, strstr((self)->err.message, (self)->path))                         \
		TH_LOG("message lacks the path: %s", (self)->err.message);                         \
		EXPECT_TRUE(mentions((self)->err.message, reason))                                 \
		TH_LOG("message lacks \"%s\": %s", (reason) ? (const char *)(reason) : "",         \
		       (self)->err.message);                                                       \
	} while (0)

TEST_F(elf, good_amd64_guest_loads)
{
	struct craft c = amd64_guest();
	unsigned char *buf;
	uint64_t size;

	ASSERT_EQ(0, load(self, "good64.elf", &c, 0, SNAPVM_LAYOUT_AUTO))
	TH_LOG("%s", self->err.message);
	EXPECT_EQ((uint32_t)SNAPVM_LAYOUT_AMD64, self->image.layout);
	EXPECT_EQ(0x100010ULL, self->image.entry);
	EXPECT_EQ(3U, self->image.nsegments);
	EXPECT_EQ(0x106000ULL, self->image.end);
	EXPECT_EQ((uint32_t)RX, self->image.segments[0].flags);
	/* Loaded in place from the layout's base; .bss zero. */
	size = self->image.end - AMD64_SNAPSHOT_BASE_GPA;
	buf = malloc(size);
	ASSERT_NE(NULL, buf);
	memset(buf, 0, size); /* what the arch builders hand in: zeroed */
	snapvm_elf_copy(&self->image, buf, AMD64_SNAPSHOT_BASE_GPA, size);
	EXPECT_EQ(0, buf[0x100000 - 0x1000 - 1]);
	EXPECT_EQ(1, buf[0x100000 - 0x1000]);
	EXPECT_EQ(1, buf[0x100000 + 0x1233 - 0x1000]);
	EXPECT_EQ(0, buf[0x100000 + 0x1234 - 0x1000]);
	EXPECT_EQ(2, buf[0x102000 - 0x1000]);
	EXPECT_EQ(3, buf[0x103000 + 0x17f - 0x1000]);
	EXPECT_EQ(0, buf[0x103000 + 0x180 - 0x1000]); /* .bss */
	EXPECT_EQ(0, buf[size - 1]);
	free(buf);
	/* An explicit matching layout is fine too. */
	EXPECT_EQ(0, load(self, "good64.elf", &c, 0, SNAPVM_LAYOUT_AMD64));
}

TEST_F(elf, good_i686_guest_loads_even_with_wx)
{
	struct craft c = i686_guest();

	ASSERT_EQ(0, load(self, "good32.elf", &c, 0, SNAPVM_LAYOUT_AUTO))
	TH_LOG("%s", self->err.message);
	EXPECT_EQ((uint32_t)SNAPVM_LAYOUT_I686, self->image.layout);
	EXPECT_EQ(0x103000ULL, self->image.end);
	/* Paging is off in i686: no rights to be exact about. */
	c.segs[0].flags = RWX;
	EXPECT_EQ(0, load(self, "wx32.elf", &c, 0, SNAPVM_LAYOUT_I686))
	TH_LOG("%s", self->err.message);
	/* Low memory belongs to the guest. */
	c.segs[0].vaddr = 0;
	c.entry = 0x10;
	EXPECT_EQ(0, load(self, "low32.elf", &c, 0, SNAPVM_LAYOUT_AUTO))
	TH_LOG("%s", self->err.message);
}

TEST_F(elf, unsorted_disjoint_segments_are_sorted)
{
	struct craft c = amd64_guest();
	struct seg tmp = c.segs[0];

	c.segs[0] = c.segs[2];
	c.segs[2] = tmp;
	ASSERT_EQ(0, load(self, "unsorted.elf", &c, 0, SNAPVM_LAYOUT_AUTO))
	TH_LOG("%s", self->err.message);
	EXPECT_EQ(0x100000ULL, self->image.segments[0].vaddr);
	EXPECT_EQ(0x103000ULL, self->image.segments[2].vaddr);
	EXPECT_EQ(2U, self->image.segments[0].index);
}

TEST_F(elf, truncated_files_are_refused)
{
	struct craft c = amd64_guest();
	struct craft c32 = i686_guest();

	EXPECT_REFUSED(self, "empty.elf", &c, 1, SNAPVM_LAYOUT_AUTO, NULL);
	EXPECT_REFUSED(self, "header.elf", &c, 20, SNAPVM_LAYOUT_AUTO, NULL);
	EXPECT_REFUSED(self, "header2.elf", &c, 40, SNAPVM_LAYOUT_AUTO, "truncated");
	EXPECT_REFUSED(self, "phdrs.elf", &c, sizeof(Elf64_Ehdr) + 70, SNAPVM_LAYOUT_AUTO,
		       "truncated");
	/* Inside the first segment's data. */
	EXPECT_REFUSED(self, "text.elf", &c, 0x1000 + 0x100, SNAPVM_LAYOUT_AUTO, "truncated");
	EXPECT_NE(NULL, strstr(self->err.message, "segment 0")) TH_LOG("%s", self->err.message);
	EXPECT_REFUSED(self, "text32.elf", &c32, 0x1000 + 0x100, SNAPVM_LAYOUT_AUTO, "truncated");
}

TEST_F(elf, wx_is_refused_in_amd64)
{
	struct craft c = amd64_guest();

	c.segs[2].flags = RWX;
	EXPECT_REFUSED(self, "wx.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "W+X");
	EXPECT_NE(NULL, strstr(self->err.message, "segment 2")) TH_LOG("%s", self->err.message);
	c = amd64_guest();
	c.segs[0].flags = PF_W | PF_X; /* no R either */
	EXPECT_REFUSED(self, "wx2.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "W+X");
}

TEST_F(elf, overlapping_segments_are_refused)
{
	struct craft c = amd64_guest();
	struct craft c32 = i686_guest();

	c.segs[1].vaddr = 0x101000; /* inside text (0x100000 + 0x1234) */
	EXPECT_REFUSED(self, "overlap.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "overlaps");
	c = amd64_guest();
	c.segs[2].vaddr = c.segs[1].vaddr; /* identical start */
	EXPECT_REFUSED(self, "same.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "overlaps");
	c32.segs[1].vaddr = 0x1007ff; /* one byte */
	EXPECT_REFUSED(self, "overlap32.elf", &c32, 0, SNAPVM_LAYOUT_AUTO, "overlaps");
}

TEST_F(elf, amd64_pages_cannot_mix_rights)
{
	struct craft c = amd64_guest();
	struct craft c32 = i686_guest();

	/* rodata right after text, in text's last page: the page would be
	 * either executable or NX, never both. */
	c.segs[1].vaddr = 0x101800;
	EXPECT_REFUSED(self, "mixed.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "shares page 0x101000");
	/* Same rights may share. */
	c.segs[1].flags = RX;
	EXPECT_EQ(0, load(self, "same-rights.elf", &c, 0, SNAPVM_LAYOUT_AUTO))
	TH_LOG("%s", self->err.message);
	/* i686 has no page rights. */
	c32.segs[1].vaddr = 0x100800;
	EXPECT_EQ(0, load(self, "mixed32.elf", &c32, 0, SNAPVM_LAYOUT_AUTO))
	TH_LOG("%s", self->err.message);
}

TEST_F(elf, non_x86_files_are_refused)
{
	struct craft c = amd64_guest();

	c.machine = EM_AARCH64;
	EXPECT_REFUSED(self, "arm64.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "not an x86 guest");
	c = i686_guest();
	c.machine = EM_ARM;
	EXPECT_REFUSED(self, "arm.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "not an x86 guest");
	/* x86-64 code in an ELF32 file (x32) and i386 in ELF64. */
	c.machine = EM_X86_64;
	EXPECT_REFUSED(self, "x32.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "disagree");
	c = amd64_guest();
	c.machine = EM_386;
	EXPECT_REFUSED(self, "i386-64.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "disagree");
	c = amd64_guest();
	c.data = ELFDATA2MSB;
	EXPECT_REFUSED(self, "big-endian.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "little-endian");
}

TEST_F(elf, not_elf_at_all)
{
	snprintf(self->path, sizeof(self->path), "%s/text.elf", self->dir);
	FILE *f = fopen(self->path, "w");

	ASSERT_NE(NULL, f);
	fputs("#!/bin/sh\necho this is no guest\n", f);
	fclose(f);
	EXPECT_EQ(EX_DATAERR,
		  snapvm_elf_open(self->path, SNAPVM_LAYOUT_AUTO, &self->image, &self->err));
	EXPECT_NE(NULL, strstr(self->err.message, "not an ELF")) TH_LOG("%s", self->err.message);
	EXPECT_NE(NULL, strstr(self->err.message, self->path));

	EXPECT_EQ(EX_NOINPUT, snapvm_elf_open("/nonexistent/guest.elf", SNAPVM_LAYOUT_AUTO,
					      &self->image, &self->err));
	EXPECT_NE(NULL, strstr(self->err.message, "/nonexistent/guest.elf"));
}

/* A FIFO, a directory, a device: 65 at once, never a hang in open or read
 * (alarm turns one into a failure); the message names the file and type. */
TEST_F(elf, non_regular_files_are_refused_at_once)
{
	char fifo[160];
	const struct {
		const char *path, *type;
	} cases[] = {
	    {fifo, "FIFO"},
	    {self->dir, "directory"},
	    {"/dev/zero", "character device"},
	};

	snprintf(fifo, sizeof(fifo), "%s/guest.fifo", self->dir);
	ASSERT_EQ(0, mkfifo(fifo, 0600));
	alarm(5);
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snapvm_elf_close(&self->image);
		EXPECT_EQ(EX_DATAERR, snapvm_elf_open(cases[i].path, SNAPVM_LAYOUT_AUTO,
						      &self->image, &self->err))
		TH_LOG("%s was not refused", cases[i].path);
		EXPECT_NE(NULL, strstr(self->err.message, cases[i].path))
		TH_LOG("%s", self->err.message);
		EXPECT_NE(NULL, strstr(self->err.message, cases[i].type))
		TH_LOG("%s", self->err.message);
	}
	alarm(0);
}

/* Larger than any guest: refused from its size, before any allocation
 * (the file is sparse, so the test costs nothing). */
TEST_F(elf, oversized_file_is_refused_by_its_size)
{
	int fd;

	snprintf(self->path, sizeof(self->path), "%s/huge.elf", self->dir);
	fd = open(self->path, O_WRONLY | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, SNAPVM_ELF_MAX_FILE_SIZE + 1));
	close(fd);
	EXPECT_EQ(EX_DATAERR,
		  snapvm_elf_open(self->path, SNAPVM_LAYOUT_AUTO, &self->image, &self->err));
	EXPECT_NE(NULL, strstr(self->err.message, self->path)) TH_LOG("%s", self->err.message);
	EXPECT_NE(NULL, strstr(self->err.message, "4563402753 bytes"))
	TH_LOG("%s", self->err.message);
}

TEST_F(elf, segments_outside_the_layout_are_refused)
{
	struct craft c = amd64_guest();
	struct craft c32 = i686_guest();

	c.segs[0].vaddr = 0; /* page 0: the amd64 null guard */
	c.entry = 0x10;
	EXPECT_REFUSED(self, "page0.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "outside the amd64 layout");
	c = amd64_guest();
	c.segs[2].vaddr = AMD64_MAX_GPA + 1;
	EXPECT_REFUSED(self, "high.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "outside");
	/* Inside MAX_GPA but where even the smallest scratch must go. */
	c.segs[2].vaddr = AMD64_MAX_GPA + 1 - AMD64_MIN_SCRATCH_SIZE;
	c.segs[2].memsz = 0x1000;
	EXPECT_REFUSED(self, "scratch.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "outside");
	c.segs[2].vaddr -= 0x1000; /* ends exactly where scratch may start */
	EXPECT_EQ(0, load(self, "edge.elf", &c, 0, SNAPVM_LAYOUT_AUTO))
	TH_LOG("%s", self->err.message);

	c32.segs[1].vaddr = 0xfedf0000;
	c32.segs[1].memsz = 0x20000; /* into the APIC page */
	EXPECT_REFUSED(self, "apic32.elf", &c32, 0, SNAPVM_LAYOUT_AUTO, "outside the i686 layout");
	/* vaddr + memsz wrapping around. */
	c = amd64_guest();
	c.segs[2].memsz = UINT64_MAX - 0x1000;
	EXPECT_REFUSED(self, "wrap.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "overflows");
}

TEST_F(elf, other_bad_headers_are_refused)
{
	struct craft c = amd64_guest();

	c.segs[2].filesz = c.segs[2].memsz + 1;
	EXPECT_REFUSED(self, "filesz.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "exceeds p_memsz");
	c = amd64_guest();
	c.entry = 0x102000; /* in rodata */
	EXPECT_REFUSED(self, "entry.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "entry point 0x102000");
	c.entry = 0x200000; /* nowhere */
	EXPECT_REFUSED(self, "entry2.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "entry point");
	c = amd64_guest();
	c.type = ET_DYN;
	EXPECT_REFUSED(self, "pie.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "ET_EXEC");
	c = amd64_guest();
	for (unsigned int i = 0; i < c.nsegs; i++)
		c.segs[i].type = PT_NOTE;
	EXPECT_REFUSED(self, "noload.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "no loadable");
	c = amd64_guest();
	c.segs[c.nsegs++] = (struct seg){PT_INTERP, PF_R, 0x104000, 0x10, 0x10};
	EXPECT_REFUSED(self, "interp.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "dynamically linked");
	c = amd64_guest();
	c.segs[1].flags = 0;
	EXPECT_REFUSED(self, "norights.elf", &c, 0, SNAPVM_LAYOUT_AUTO, "no access rights");
}

TEST_F(elf, layout_flag_must_match)
{
	struct craft c = amd64_guest();
	struct craft c32 = i686_guest();

	EXPECT_REFUSED(self, "amd64-as-i686.elf", &c, 0, SNAPVM_LAYOUT_I686,
		       "--layout=i686 contradicts");
	EXPECT_REFUSED(self, "i686-as-amd64.elf", &c32, 0, SNAPVM_LAYOUT_AMD64,
		       "--layout=amd64 contradicts");
}

TEST_HARNESS_MAIN
