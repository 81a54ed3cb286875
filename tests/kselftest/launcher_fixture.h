// SPDX-License-Identifier: GPL-2.0
/*
 * launcher_fixture.h - what the launcher_*_test.c files share: the launcher
 * fixture (its variants: both layouts, both memory backends), the guests' paths,
 * and the crafted and inspected ELF files. Include after kselftest_harness.h.
 */
#ifndef SNAPVM_TESTS_LAUNCHER_FIXTURE_H
#define SNAPVM_TESTS_LAUNCHER_FIXTURE_H

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

static inline const char *guest(FIXTURE_DATA(launcher) * self, const char *name)
{
	static char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s.elf", self->guests, name);
	return path;
}

static inline bool is_amd64(const FIXTURE_VARIANT(launcher) * variant)
{
	return variant->layout_id == SNAPVM_LAYOUT_AMD64;
}

/* FNV-1a 64, as the guests' runtime computes it. */
static inline uint64_t fnv1a64(uint64_t hash, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len--) {
		hash ^= *p++;
		hash *= 0x100000001b3ULL;
	}
	return hash;
}

#define FNV1A64_INIT 0xcbf29ce484222325ULL

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

static inline int elf_read(struct elf_file *f, const char *path)
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

static inline unsigned elf_phnum(const struct elf_file *f)
{
	return f->is64 ? ((Elf64_Ehdr *)f->data)->e_phnum : ((Elf32_Ehdr *)f->data)->e_phnum;
}

static inline void *elf_phdr(const struct elf_file *f, unsigned i)
{
	if (f->is64) {
		Elf64_Ehdr *eh = (Elf64_Ehdr *)f->data;

		return f->data + eh->e_phoff + i * eh->e_phentsize;
	} else {
		Elf32_Ehdr *eh = (Elf32_Ehdr *)f->data;

		return f->data + eh->e_phoff + i * eh->e_phentsize;
	}
}

static inline struct segment elf_segment(const struct elf_file *f, unsigned i)
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

static inline void elf_set_segment(struct elf_file *f, unsigned i, const struct segment *s)
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
static inline int elf_find_load(const struct elf_file *f, uint32_t flags)
{
	for (unsigned i = 0; i < elf_phnum(f); i++) {
		struct segment s = elf_segment(f, i);

		if (s.type == PT_LOAD && s.memsz && (s.flags & (PF_R | PF_W | PF_X)) == flags)
			return (int)i;
	}
	return -1;
}

/* FNV-1a 64 over a segment's bytes as loaded: file bytes, then zeros. */
static inline uint64_t segment_checksum(const struct elf_file *f, const struct segment *s)
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

static inline const char *write_file(FIXTURE_DATA(launcher) * self, const char *name,
				     const void *data, size_t size)
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

#endif /* SNAPVM_TESTS_LAUNCHER_FIXTURE_H */
