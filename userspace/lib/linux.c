// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * linux.c - Linux programs as guests, host side: tell a static Linux
 * executable from a snapvm guest, validate it (the personality loads only
 * what is checked here), make the personality's snapshot (its ELF is
 * embedded in the library, linux_personality.c), and serve its host calls
 * (layout/linux.h): the program's bytes, argv/envp, stdin, stdout/stderr,
 * time, sleep and randomness. See docs/linux.md.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <linux/openat2.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "layout/i686.h"
#include "layout/linux.h"
#include "userspace/lib/internal.h"

/* The personality needs its page tables and a heap besides the program. */
#define LX_DEFAULT_MAX_MEMORY (256ULL << 20)
#define LX_MIN_MEMORY	      (8ULL << 20)
/* i686: scratch must stay above the user range (LX_USER_TOP_I686). */
#define LX_I686_MAX_SCRATCH (I686_MAX_GPA + 1 - LX_USER_TOP_I686)
#define LX_ARGS_MAX	    (128U << 10)

struct snapvm_linux {
	char *path;
	unsigned char *file; /* the program, read once */
	size_t file_size;
	uint32_t layout;
	uint64_t max_memory;
	struct lx_setup setup;
	unsigned char *args; /* struct lx_args + strings, random filled per call */
	size_t args_len;
	/* I/O: fds, or buffers for a request. */
	int in_fd, out_fd, err_fd;
	const unsigned char *in_buf;
	size_t in_len, in_pos;
	unsigned char *out_buf;
	size_t out_cap, out_len;
	bool out_overflow;
	int snapshot_at;
	bool snapshot_pending; /* first-read: the next stdin read snapshots */
	/* --root: the directory, and the files the program opened in it.
	 * A handle is gen * LX_MAX_FILES + slot, so one that a restored fd
	 * table still holds gives EBADF after a reset, not another file. */
	int root_fd;
	char cwd[LX_CWD_MAX]; /* relative paths start here, inside the root */
	int files[LX_MAX_FILES];
	/* Each file's path in the root ("/sub"): a path relative to a
	 * directory fd is resolved as that path + "/" + it, from root_fd, so
	 * that the seccomp filter can allow openat2 from root_fd only. */
	char *paths[LX_MAX_FILES];
	uint32_t files_gen;
	/* Signals from the host (snapvm_linux_raise, any thread or a signal
	 * handler): the sandbox attached, what the program leaves to us
	 * (sig_known: its last LX_HC_SIGNALS said; until then, everything goes
	 * to the personality), the raised signals it has not fetched, and an
	 * eventfd that wakes a host call blocked for it (read, sleep). */
	struct snapvm_sandbox *sb;
	uint64_t sig_wants, sig_pending;
	int sig_known;
	int sig_efd;
};

/* ---- classification ---- */

static bool has_snapvm_note(const unsigned char *f, size_t size, bool is64, uint64_t phoff,
			    unsigned phnum, unsigned phentsize)
{
	for (unsigned i = 0; i < phnum; i++) {
		uint64_t off = phoff + (uint64_t)i * phentsize, noff, nsz;

		if (off + phentsize > size)
			return false;
		if (is64) {
			const Elf64_Phdr *p = (const void *)(f + off);

			if (p->p_type != PT_NOTE)
				continue;
			noff = p->p_offset, nsz = p->p_filesz;
		} else {
			const Elf32_Phdr *p = (const void *)(f + off);

			if (p->p_type != PT_NOTE)
				continue;
			noff = p->p_offset, nsz = p->p_filesz;
		}
		if (noff > size || nsz > size - noff)
			continue;
		for (uint64_t at = noff; at + 12 <= noff + nsz;) {
			uint32_t namesz, descsz;

			memcpy(&namesz, f + at, 4);
			memcpy(&descsz, f + at + 4, 4);
			if (namesz > nsz || descsz > nsz)
				break;
			if (namesz == sizeof(SNAPVM_NOTE_NAME) && at + 12 + namesz <= noff + nsz &&
			    !memcmp(f + at + 12, SNAPVM_NOTE_NAME, namesz))
				return true;
			at += 12 + ((namesz + 3) & ~3U) + ((descsz + 3) & ~3U);
		}
	}
	return false;
}

/*
 * What the ELF header and program headers say: a snapvm guest carries
 * snapvm's note (its runtime emits one); a Linux program has PT_INTERP
 * (dynamic), PT_TLS, PT_GNU_STACK or ELFOSABI_GNU; anything else is left
 * to the guest loader, as before.
 */
static int classify(const unsigned char *f, size_t size, bool *is_linux, bool *dynamic)
{
	bool is64;
	uint64_t phoff;
	unsigned phnum, phentsize;

	*is_linux = *dynamic = false;
	if (size < EI_NIDENT || memcmp(f, ELFMAG, SELFMAG))
		return 0;
	is64 = f[EI_CLASS] == ELFCLASS64;
	if (is64 ? size < sizeof(Elf64_Ehdr) : size < sizeof(Elf32_Ehdr))
		return 0;
	if (is64) {
		const Elf64_Ehdr *e = (const void *)f;

		phoff = e->e_phoff, phnum = e->e_phnum, phentsize = e->e_phentsize;
		if (phentsize != sizeof(Elf64_Phdr))
			return 0;
	} else {
		const Elf32_Ehdr *e = (const void *)f;

		phoff = e->e_phoff, phnum = e->e_phnum, phentsize = e->e_phentsize;
		if (phentsize != sizeof(Elf32_Phdr))
			return 0;
	}
	if (phoff > size || (uint64_t)phnum * phentsize > size - phoff)
		return 0;
	if (has_snapvm_note(f, size, is64, phoff, phnum, phentsize))
		return 0;
	if (f[EI_OSABI] == ELFOSABI_GNU)
		*is_linux = true;
	for (unsigned i = 0; i < phnum; i++) {
		uint32_t type;

		memcpy(&type, f + phoff + (uint64_t)i * phentsize, 4);
		if (type == PT_INTERP)
			*is_linux = *dynamic = true;
		if (type == PT_TLS || type == PT_GNU_STACK || type == PT_GNU_RELRO)
			*is_linux = true;
	}
	return 0;
}

/* How far into the file classify() reads: the program headers and the
 * notes (0 when the header is not one it would look at). */
static uint64_t classify_extent(const unsigned char *f, size_t size)
{
	bool is64 = size >= EI_NIDENT && f[EI_CLASS] == ELFCLASS64;
	uint64_t phoff, end;
	unsigned phnum, phentsize;

	if (size < (is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr)) || memcmp(f, ELFMAG, SELFMAG))
		return 0;
	if (is64) {
		const Elf64_Ehdr *e = (const void *)f;

		phoff = e->e_phoff, phnum = e->e_phnum, phentsize = e->e_phentsize;
	} else {
		const Elf32_Ehdr *e = (const void *)f;

		phoff = e->e_phoff, phnum = e->e_phnum, phentsize = e->e_phentsize;
	}
	end = phoff + (uint64_t)phnum * phentsize;
	if (end > size)
		return end;
	for (unsigned i = 0; i < phnum; i++) {
		const unsigned char *ph = f + phoff + (uint64_t)i * phentsize;
		uint64_t noff, nsz;
		uint32_t type;

		memcpy(&type, ph, 4);
		if (type != PT_NOTE || phentsize < (is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
			continue;
		if (is64)
			noff = ((const Elf64_Phdr *)(const void *)ph)->p_offset,
			nsz = ((const Elf64_Phdr *)(const void *)ph)->p_filesz;
		else
			noff = ((const Elf32_Phdr *)(const void *)ph)->p_offset,
			nsz = ((const Elf32_Phdr *)(const void *)ph)->p_filesz;
		if (noff + nsz > end && noff + nsz >= noff)
			end = noff + nsz;
	}
	return end;
}

/* Only the headers and notes are read (a first page normally holds them):
 * the launcher asks this of every program it runs, and reading a whole
 * 2 MB busybox for it cost more than a native start of busybox. */
int snapvm_linux_classify(const char *path, bool *is_linux, struct snapvm_error *err)
{
	unsigned char head[16384];
	uint64_t size, len;
	void *buf;
	size_t whole;
	bool dynamic;
	int fd, ret = snapvm_input_open(path, 0, &fd, &size, err);

	*is_linux = false;
	if (ret)
		return ret;
	len = size < sizeof(head) ? size : sizeof(head);
	ret = snapvm_input_read(fd, path, head, len, 0, err);
	close(fd);
	if (ret)
		return ret;
	if (classify_extent(head, len) <= len) {
		classify(head, len, is_linux, &dynamic);
		return 0;
	}
	ret = snapvm_read_file(path, 0, &buf, &whole, err);
	if (ret)
		return ret;
	classify(buf, whole, is_linux, &dynamic);
	free(buf);
	return 0;
}

/* ---- validation: the lx_setup the personality follows ---- */

struct seg {
	uint32_t type, flags;
	uint64_t offset, vaddr, filesz, memsz;
};

static int read_phdrs(struct snapvm_linux *lx, struct seg *segs, unsigned *nsegs, uint64_t *entry,
		      uint64_t *phoff, unsigned *phnum, unsigned *phent, uint16_t *etype,
		      struct snapvm_error *err)
{
	const unsigned char *f = lx->file;
	size_t size = lx->file_size;
	bool is64 = f[EI_CLASS] == ELFCLASS64;
	uint16_t machine;

	if (f[EI_DATA] != ELFDATA2LSB)
		return snapvm_fail(err, EX_DATAERR, "%s: not a little-endian ELF file", lx->path);
	if (is64) {
		const Elf64_Ehdr *e = (const void *)f;

		*entry = e->e_entry, *phoff = e->e_phoff, *phnum = e->e_phnum;
		*phent = e->e_phentsize, *etype = e->e_type, machine = e->e_machine;
	} else {
		const Elf32_Ehdr *e = (const void *)f;

		*entry = e->e_entry, *phoff = e->e_phoff, *phnum = e->e_phnum;
		*phent = e->e_phentsize, *etype = e->e_type, machine = e->e_machine;
	}
	if (is64 ? machine != EM_X86_64 : machine != EM_386)
		return snapvm_fail(err, EX_DATAERR, "%s: ELF%s for machine %u: want %s", lx->path,
				   is64 ? "64" : "32", machine, is64 ? "x86-64" : "i386");
	if (*etype != ET_EXEC && *etype != ET_DYN)
		return snapvm_fail(err, EX_DATAERR, "%s: ELF type %u is not an executable",
				   lx->path, *etype);
	if (*phnum == 0 || *phnum > 64)
		return snapvm_fail(err, EX_DATAERR, "%s: %u program headers", lx->path, *phnum);
	*nsegs = 0;
	for (unsigned i = 0; i < *phnum; i++) {
		uint64_t off = *phoff + (uint64_t)i * *phent;
		struct seg *s = &segs[(*nsegs)++];

		if (off + *phent > size)
			return snapvm_fail(err, EX_DATAERR, "%s: truncated program headers",
					   lx->path);
		if (is64) {
			const Elf64_Phdr *p = (const void *)(f + off);

			*s = (struct seg){p->p_type,  p->p_flags,  p->p_offset,
					  p->p_vaddr, p->p_filesz, p->p_memsz};
		} else {
			const Elf32_Phdr *p = (const void *)(f + off);

			*s = (struct seg){p->p_type,  p->p_flags,  p->p_offset,
					  p->p_vaddr, p->p_filesz, p->p_memsz};
		}
	}
	return 0;
}

static uint32_t prot_of(uint32_t flags)
{
	return (flags & PF_R ? LX_PROT_READ : 0) | (flags & PF_W ? LX_PROT_WRITE : 0) |
	       (flags & PF_X ? LX_PROT_EXEC : 0);
}

static int build_setup(struct snapvm_linux *lx, struct snapvm_error *err)
{
	struct seg segs[64];
	unsigned nsegs = 0, phnum = 0, phent = 0;
	uint64_t entry = 0, phoff = 0, bias = 0, lo = UINT64_MAX, hi = 0;
	uint64_t user_top =
	    lx->layout == SNAPVM_LAYOUT_AMD64 ? LX_USER_TOP_AMD64 : LX_USER_TOP_I686;
	uint16_t etype = 0;
	struct lx_setup *s = &lx->setup;
	int ret = read_phdrs(lx, segs, &nsegs, &entry, &phoff, &phnum, &phent, &etype, err);

	if (ret)
		return ret;
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < nsegs; i++) {
		struct seg *g = &segs[i];

		if (g->type != PT_LOAD)
			continue;
		if (g->filesz > g->memsz || g->offset > lx->file_size ||
		    g->filesz > lx->file_size - g->offset)
			return snapvm_fail(err, EX_DATAERR,
					   "%s: segment %u (vaddr 0x%llx): file bytes beyond the "
					   "file or its memory size",
					   lx->path, i, (unsigned long long)g->vaddr);
		if ((g->flags & PF_W) && (g->flags & PF_X))
			return snapvm_fail(
			    err, EX_DATAERR,
			    "%s: segment %u (vaddr 0x%llx) is writable and executable "
			    "(W+X): refused",
			    lx->path, i, (unsigned long long)g->vaddr);
		if (g->vaddr + g->memsz < g->vaddr)
			return snapvm_fail(err, EX_DATAERR, "%s: segment %u wraps around", lx->path,
					   i);
		if (g->vaddr < lo)
			lo = g->vaddr;
		if (g->vaddr + g->memsz > hi)
			hi = g->vaddr + g->memsz;
		if (s->ncopies == LX_MAX_SEGMENTS)
			return snapvm_fail(err, EX_DATAERR, "%s: more than %d loadable segments",
					   lx->path, LX_MAX_SEGMENTS);
		s->copies[s->ncopies++] =
		    (struct lx_copy){.vaddr = g->vaddr, .filesz = g->filesz, .offset = g->offset};
	}
	if (!s->ncopies)
		return snapvm_fail(err, EX_DATAERR, "%s: no loadable segment", lx->path);
	/* Static PIE: loaded where Linux would put it, roughly. */
	if (etype == ET_DYN) {
		bias = (lx->layout == SNAPVM_LAYOUT_AMD64 ? 0x555555554000ULL : 0x56555000ULL) -
		       snapvm_page_align_down(lo);
		entry += bias;
	}
	lo = snapvm_page_align_down(lo + bias);
	hi = snapvm_page_align_up(hi + bias);
	if (lo < LX_USER_MIN || hi > user_top - LX_STACK_SIZE - (2ULL << 20))
		return snapvm_fail(err, EX_DATAERR,
				   "%s: segments at 0x%llx-0x%llx are outside the user range "
				   "0x%llx-0x%llx of the %s layout",
				   lx->path, (unsigned long long)lo, (unsigned long long)hi,
				   (unsigned long long)LX_USER_MIN,
				   (unsigned long long)(user_top - LX_STACK_SIZE - (2ULL << 20)),
				   snapvm_layout_name(lx->layout));
	if (entry < lo || entry >= hi)
		return snapvm_fail(err, EX_DATAERR, "%s: entry point 0x%llx outside its segments",
				   lx->path, (unsigned long long)entry);
	/* Maps: each segment's pages, overlapping pages merged (rights OR). */
	for (unsigned i = 0; i < s->ncopies; i++) {
		struct lx_copy *c = &s->copies[i];
		uint64_t start, end;
		uint32_t prot = 0;

		c->vaddr += bias;
		for (unsigned k = 0; k < nsegs; k++)
			if (segs[k].type == PT_LOAD && segs[k].vaddr + bias == c->vaddr &&
			    segs[k].offset == c->offset) {
				prot = prot_of(segs[k].flags);
				start = snapvm_page_align_down(c->vaddr);
				end = snapvm_page_align_up(c->vaddr + segs[k].memsz);
				goto found;
			}
		continue;
	found:
		for (unsigned m = 0; m < s->nmaps; m++) {
			struct lx_map *o = &s->maps[m];

			if (start < o->end && o->start < end) {
				/* Overlap: grow the earlier map over both. */
				if (start < o->start)
					o->start = start;
				if (end > o->end)
					o->end = end;
				o->prot |= prot;
				if ((o->prot & LX_PROT_WRITE) && (o->prot & LX_PROT_EXEC))
					return snapvm_fail(err, EX_DATAERR,
							   "%s: segments share a page writable "
							   "and executable (W+X): refused",
							   lx->path);
				goto merged;
			}
		}
		s->maps[s->nmaps++] = (struct lx_map){.start = start, .end = end, .prot = prot};
	merged:;
	}
	/* The maps must stay disjoint after merging, and sorted. */
	for (unsigned a = 0; a < s->nmaps; a++)
		for (unsigned b = a + 1; b < s->nmaps; b++) {
			if (s->maps[b].start < s->maps[a].start) {
				struct lx_map t = s->maps[a];

				s->maps[a] = s->maps[b];
				s->maps[b] = t;
			}
		}
	for (unsigned a = 1; a < s->nmaps; a++)
		if (s->maps[a].start < s->maps[a - 1].end)
			return snapvm_fail(err, EX_DATAERR, "%s: overlapping segments", lx->path);
	/* AT_PHDR: where a loaded segment holds the program headers. */
	for (unsigned i = 0; i < nsegs; i++)
		if (segs[i].type == PT_LOAD && phoff >= segs[i].offset &&
		    phoff + (uint64_t)phnum * phent <= segs[i].offset + segs[i].filesz) {
			s->phdr = segs[i].vaddr + bias + (phoff - segs[i].offset);
			s->phnum = phnum;
			s->phent = phent;
			break;
		}
	s->version = 1;
	s->entry = entry;
	s->brk_start = hi;
	return 0;
}

/* ---- creation ---- */

static int set_args(struct snapvm_linux *lx, const char *const *argv, const char *const *envp,
		    struct snapvm_error *err)
{
	size_t len = sizeof(struct lx_args);
	uint32_t argc = 0, envc = 0;
	unsigned char *p;

	for (; argv && argv[argc]; argc++)
		len += strlen(argv[argc]) + 1;
	for (; envp && envp[envc]; envc++)
		len += strlen(envp[envc]) + 1;
	if (len - sizeof(struct lx_args) > LX_ARGS_MAX)
		return snapvm_fail(err, EX_USAGE, "arguments and environment exceed %u bytes",
				   LX_ARGS_MAX);
	p = malloc(len);
	if (!p)
		return snapvm_fail(err, EX_OSERR, "out of memory for the arguments");
	free(lx->args);
	lx->args = p;
	lx->args_len = len;
	((struct lx_args *)p)->argc = argc;
	((struct lx_args *)p)->envc = envc;
	((struct lx_args *)p)->strings_len = (uint32_t)(len - sizeof(struct lx_args));
	p += sizeof(struct lx_args);
	for (uint32_t i = 0; i < argc; i++)
		p = (unsigned char *)stpcpy((char *)p, argv[i]) + 1;
	for (uint32_t i = 0; i < envc; i++)
		p = (unsigned char *)stpcpy((char *)p, envp[i]) + 1;
	return 0;
}

/* ---- --root's files ---- */

static void files_reset(struct snapvm_linux *lx)
{
	for (int i = 0; i < LX_MAX_FILES; i++) {
		if (lx->files[i] >= 0) {
			close(lx->files[i]);
			lx->files[i] = -1;
		}
		free(lx->paths[i]);
		lx->paths[i] = NULL;
	}
	lx->files_gen = (lx->files_gen + 1) % (INT32_MAX / LX_MAX_FILES);
}

/* The host fd of a handle, or -1. */
static int file_of(struct snapvm_linux *lx, int32_t handle)
{
	if (handle < 0 || (uint32_t)handle / LX_MAX_FILES != lx->files_gen)
		return -1;
	return lx->files[handle % LX_MAX_FILES];
}

/* A host call's result may not exceed its output room: the handle goes
 * to out (an int32_t), the result is its size. path: the file's in the root. */
static int64_t file_add(struct snapvm_linux *lx, int fd, const char *path, void *out, size_t cap)
{
	int32_t h;

	for (int i = 0; i < LX_MAX_FILES && cap >= sizeof(h); i++)
		if (lx->files[i] < 0) {
			lx->paths[i] = strdup(path);
			if (!lx->paths[i])
				break;
			lx->files[i] = fd;
			h = (int32_t)(lx->files_gen * LX_MAX_FILES + (uint32_t)i);
			memcpy(out, &h, sizeof(h));
			return sizeof(h);
		}
	close(fd);
	return cap < sizeof(h) ? -EINVAL : -EMFILE;
}

/* Where path (relative to the directory handle dir) lies in the root: in
 * full (LX_FULL_MAX bytes), or -errno. Linux would follow ".." out of the
 * directory too, and RESOLVE_IN_ROOT still stops it at the root. */
#define LX_FULL_MAX (2 * LX_PATH_MAX)
static int full_path(struct snapvm_linux *lx, int32_t dir, const char *path, char *full)
{
	const char *base = "";
	int n;

	if (dir == LX_FILE_CWD && path[0] != '/') {
		base = lx->cwd[1] ? lx->cwd : ""; /* options->cwd below the root */
	} else if (path[0] != '/') {
		if (file_of(lx, dir) < 0)
			return -EBADF;
		base = lx->paths[dir % LX_MAX_FILES];
	}
	n = snprintf(full, LX_FULL_MAX, "%s%s%s", base, *base ? "/" : "", path);
	return n < 0 || n >= LX_FULL_MAX ? -ENAMETOOLONG : 0;
}

/* Resolve the program's path inside the root, never outside it: "..",
 * absolute symlinks and /proc's magic links cannot leave. An fd (O_PATH
 * unless flags say otherwise); full receives the path in the root. */
static int resolve_as(struct snapvm_linux *lx, int32_t dir, const char *path, int flags, char *full)
{
	struct open_how how = {.flags = (uint64_t)flags | O_CLOEXEC,
			       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	long fd;
	int ret;

	if (lx->root_fd < 0)
		return -ENOENT;
	ret = full_path(lx, dir, path, full);
	if (ret)
		return ret;
	fd = syscall(SYS_openat2, lx->root_fd, full, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

static int resolve(struct snapvm_linux *lx, int32_t dir, const char *path, bool nofollow)
{
	char full[LX_FULL_MAX];

	return resolve_as(lx, dir, path, O_PATH | (nofollow ? O_NOFOLLOW : 0), full);
}

static void stat_of(const struct stat *st, struct lx_stat *s)
{
	*s = (struct lx_stat){.dev = st->st_dev,
			      .ino = st->st_ino,
			      .nlink = st->st_nlink,
			      .rdev = st->st_rdev,
			      .size = (uint64_t)st->st_size,
			      .blksize = (uint64_t)st->st_blksize,
			      .blocks = (uint64_t)st->st_blocks,
			      .mode = st->st_mode,
			      .uid = st->st_uid,
			      .gid = st->st_gid,
			      .atime = {st->st_atim.tv_sec, st->st_atim.tv_nsec},
			      .mtime = {st->st_mtim.tv_sec, st->st_mtim.tv_nsec},
			      .ctime = {st->st_ctim.tv_sec, st->st_ctim.tv_nsec}};
}

#define LX_O_ACCMODE 03
#define LX_O_CREAT   0100
#define LX_O_TRUNC   01000
#define LX_O_APPEND  02000
#define LX_O_TMPFILE 020000000

/* Open for reading: only regular files and directories (a FIFO or a
 * device in the root would block or act on the host). */
static int64_t file_open(struct snapvm_linux *lx, int32_t dir, const char *path, uint32_t flags,
			 void *out, size_t cap)
{
	int nofollow = flags & O_NOFOLLOW ? O_NOFOLLOW : 0;
	char full[LX_FULL_MAX], again[LX_FULL_MAX];
	struct stat st, st2;
	int fd, rfd;

	if (lx->root_fd < 0)
		return -ENOENT; /* without --root no path exists, to write or not */
	if ((flags & LX_O_ACCMODE) ||
	    (flags & (LX_O_CREAT | LX_O_TRUNC | LX_O_APPEND | LX_O_TMPFILE)))
		return -EROFS;
	fd = resolve_as(lx, dir, path, O_PATH | nofollow, full);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st)) {
		rfd = -errno;
	} else if (S_ISLNK(st.st_mode)) {
		rfd = -ELOOP; /* O_NOFOLLOW on a symlink */
	} else if ((flags & O_DIRECTORY) && !S_ISDIR(st.st_mode)) {
		rfd = -ENOTDIR;
	} else if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		rfd = -EACCES;
	} else {
		/* Open it for reading by the same path from the root (the
		 * filter allows openat2 from there only, no /proc/self/fd), and
		 * keep it only if it is still the file just checked: the
		 * program cannot change the root, a host process could. */
		rfd = resolve_as(lx, LX_FILE_CWD, full, O_RDONLY | O_NOCTTY | O_NONBLOCK | nofollow,
				 again);
		if (rfd >= 0 &&
		    (fstat(rfd, &st2) || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino)) {
			close(rfd);
			rfd = -EAGAIN;
		}
	}
	close(fd);
	return rfd < 0 ? rfd : file_add(lx, rfd, full, out, cap);
}

static int64_t hc_file(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
		       void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;
	struct lx_file f;
	char path[LX_PATH_MAX];
	size_t path_len;
	struct lx_stat s;
	struct stat st;
	int64_t ret;
	off_t pos;
	ssize_t n;
	int fd;

	if (in_len < sizeof(f) || in_len - sizeof(f) >= sizeof(path))
		return in_len < sizeof(f) ? -EINVAL : -ENAMETOOLONG;
	memcpy(&f, in, sizeof(f));
	path_len = in_len - sizeof(f);
	memcpy(path, (const char *)in + sizeof(f), path_len);
	path[path_len] = 0;
	if (memchr(path, 0, path_len))
		return -EINVAL;
	switch (f.op) {
	case LX_FILE_OPEN:
		if (!path_len)
			return -ENOENT;
		return file_open(lx, f.fd, path, f.flags, out, cap);
	case LX_FILE_STAT:
		if (cap < sizeof(s))
			return -EINVAL;
		/* The working directory below the root: "." from it. */
		if (!path_len && (f.flags & LX_AT_EMPTY_PATH) &&
		    (f.fd != LX_FILE_CWD || !lx->cwd[1])) {
			fd = f.fd == LX_FILE_CWD ? lx->root_fd : file_of(lx, f.fd);
			if (fd < 0)
				return f.fd == LX_FILE_CWD ? -ENOENT : -EBADF;
			if (fstat(fd, &st))
				return -errno;
		} else {
			fd = resolve(lx, f.fd, path_len ? path : ".",
				     f.flags & LX_AT_SYMLINK_NOFOLLOW);
			if (fd < 0)
				return fd;
			ret = fstat(fd, &st) ? -errno : 0;
			close(fd);
			if (ret)
				return ret;
		}
		stat_of(&st, &s);
		memcpy(out, &s, sizeof(s));
		return sizeof(s);
	case LX_FILE_ACCESS:
		if (f.flags & ~7U)
			return -EINVAL;
		fd = resolve(lx, f.fd, path, false);
		if (fd < 0)
			return fd;
		ret =
		    syscall(SYS_faccessat2, fd, "", (int)(f.flags & 5), AT_EMPTY_PATH) ? -errno : 0;
		close(fd);
		return !ret && (f.flags & W_OK) ? -EROFS : ret;
	case LX_FILE_READLINK:
		fd = resolve(lx, f.fd, path, true);
		if (fd < 0)
			return fd;
		n = readlinkat(fd, "", out, cap);
		ret = n < 0 ? (errno == ENOENT ? -EINVAL : -errno) : n;
		close(fd);
		return ret;
	case LX_FILE_READ:
		fd = file_of(lx, f.fd);
		if (fd < 0)
			return -EBADF;
		n = f.offset < 0 ? read(fd, out, cap) : pread(fd, out, cap, f.offset);
		return n < 0 ? -errno : n;
	case LX_FILE_SEEK:
		fd = file_of(lx, f.fd);
		if (fd < 0)
			return -EBADF;
		if (cap < sizeof(int64_t) || f.flags > SEEK_END)
			return -EINVAL;
		pos = lseek(fd, f.offset, (int)f.flags);
		if (pos < 0)
			return -errno;
		ret = pos;
		memcpy(out, &ret, sizeof(ret));
		return sizeof(ret);
	case LX_FILE_GETDENTS:
		fd = file_of(lx, f.fd);
		if (fd < 0)
			return -EBADF;
		n = syscall(SYS_getdents64, fd, out, cap);
		return n < 0 ? -errno : n;
	case LX_FILE_CLOSE:
		fd = file_of(lx, f.fd);
		if (fd < 0)
			return -EBADF;
		close(fd);
		lx->files[f.fd % LX_MAX_FILES] = -1;
		free(lx->paths[f.fd % LX_MAX_FILES]);
		lx->paths[f.fd % LX_MAX_FILES] = NULL;
		return 0;
	case LX_FILE_DUP:
		fd = file_of(lx, f.fd);
		if (fd < 0)
			return -EBADF;
		fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		return fd < 0 ? -errno : file_add(lx, fd, lx->paths[f.fd % LX_MAX_FILES], out, cap);
	}
	return -EINVAL;
}

static int64_t hc_files_reset(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			      void *out, size_t cap)
{
	files_reset(ctx);
	return 0;
}

/* options->cwd, cleaned lexically ("//", ".", ".." never above "/"), and
 * hostname; the cwd must be a directory in the root when there is one. */
static int set_cwd(struct snapvm_linux *lx, const struct snapvm_linux_options *o,
		   struct snapvm_error *err)
{
	const char *p = o->cwd ? o->cwd : "/";
	size_t len = 0;
	struct stat st;
	int fd;

	if (p[0] != '/')
		return snapvm_fail(err, EX_USAGE, "working directory %s is not absolute", p);
	if (strlen(p) >= sizeof(lx->cwd))
		return snapvm_fail(err, EX_USAGE, "working directory longer than %d bytes",
				   LX_CWD_MAX - 1);
	if (o->hostname && strlen(o->hostname) >= LX_NODENAME_MAX)
		return snapvm_fail(err, EX_USAGE, "hostname %.80s is longer than %d bytes",
				   o->hostname, LX_NODENAME_MAX - 1);
	while (*p) {
		size_t n;

		p += strspn(p, "/");
		n = strcspn(p, "/");
		if (n == 2 && !strncmp(p, "..", 2)) {
			while (len && lx->cwd[len] != '/')
				len--;
		} else if (n && !(n == 1 && *p == '.')) {
			lx->cwd[len++] = '/';
			memcpy(lx->cwd + len, p, n);
			len += n;
		}
		lx->cwd[len] = '\0';
		p += n;
	}
	if (!len)
		strcpy(lx->cwd, "/");
	if (lx->root_fd < 0 || !lx->cwd[1])
		return 0;
	fd = resolve(lx, LX_FILE_CWD, ".", false);
	if (fd < 0 || fstat(fd, &st) || !S_ISDIR(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return snapvm_fail(err, EX_NOINPUT, "working directory %s: %s in the root", lx->cwd,
				   fd < 0 ? strerror((int)-fd) : "not a directory");
	}
	close(fd);
	return 0;
}

int snapvm_linux_create(const char *program, const struct snapvm_linux_options *o,
			struct snapvm_linux **out, struct snapvm_error *err)
{
	struct snapvm_linux *lx = calloc(1, sizeof(*lx));
	bool is_linux, dynamic;
	int ret;

	*out = NULL;
	if (!lx)
		return snapvm_fail(err, EX_OSERR, "out of memory");
	lx->in_fd = 0;
	lx->out_fd = 1;
	lx->err_fd = 2;
	lx->root_fd = -1;
	for (int i = 0; i < LX_MAX_FILES; i++)
		lx->files[i] = -1;
	/* A fresh program starts with every signal at SIG_DFL; a snapshot's
	 * tells its own when it resumes. */
	lx->sig_known = program != NULL;
	lx->sig_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (lx->sig_efd < 0) {
		ret = snapvm_fail(err, EX_OSERR, "eventfd: %s", strerror(errno));
		free(lx);
		return ret;
	}
	if (o->root) {
		lx->root_fd = open(o->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (lx->root_fd < 0) {
			ret = snapvm_fail(
			    err, errno == ENOENT || errno == ENOTDIR ? EX_NOINPUT : EX_OSERR,
			    "--root=%s: %s", o->root, strerror(errno));
			close(lx->sig_efd);
			free(lx);
			return ret;
		}
	}
	ret = set_cwd(lx, o, err);
	if (ret) {
		snapvm_linux_destroy(lx);
		return ret;
	}
	lx->snapshot_at = o->snapshot_at;
	lx->snapshot_pending = o->snapshot_at == SNAPVM_LINUX_SNAPSHOT_FIRST_READ;
	lx->max_memory = o->max_memory ? o->max_memory : LX_DEFAULT_MAX_MEMORY;
	if (lx->max_memory < LX_MIN_MEMORY) {
		snapvm_linux_destroy(lx);
		return snapvm_fail(err, EX_USAGE,
				   "--max-memory: a Linux program needs at least %llu MiB",
				   LX_MIN_MEMORY >> 20);
	}
	ret = set_args(lx, o->argv, o->envp, err);
	if (!ret && program) {
		lx->path = strdup(program);
		ret =
		    snapvm_read_file(program, 1ULL << 30, (void **)&lx->file, &lx->file_size, err);
		if (!ret) {
			classify(lx->file, lx->file_size, &is_linux, &dynamic);
			if (dynamic)
				ret = snapvm_fail(err, EX_DATAERR,
						  "%s is dynamically linked (it has PT_INTERP): "
						  "only static Linux programs run in snapvm",
						  program);
			else if (lx->file_size < EI_NIDENT || memcmp(lx->file, ELFMAG, SELFMAG))
				ret = snapvm_fail(err, EX_DATAERR, "%s: not an ELF file", program);
			else if (lx->file[EI_CLASS] != ELFCLASS64 &&
				 lx->file[EI_CLASS] != ELFCLASS32)
				ret = snapvm_fail(err, EX_DATAERR, "%s: bad ELF class", program);
		}
		if (!ret) {
			lx->layout = lx->file[EI_CLASS] == ELFCLASS64 ? SNAPVM_LAYOUT_AMD64
								      : SNAPVM_LAYOUT_I686;
			if ((lx->file[EI_CLASS] == ELFCLASS64 &&
			     lx->file_size < sizeof(Elf64_Ehdr)) ||
			    lx->file_size < sizeof(Elf32_Ehdr))
				ret = snapvm_fail(err, EX_DATAERR, "%s: truncated ELF header",
						  program);
		}
		if (!ret)
			ret = build_setup(lx, err);
		if (!ret) {
			lx->setup.flags =
			    (o->trace_syscalls ? LX_SETUP_TRACE : 0) |
			    (o->snapshot_at == SNAPVM_LINUX_SNAPSHOT_ENTRY ? LX_SETUP_SNAPSHOT_ENTRY
									   : 0);
			for (int fd = 0; fd < 3; fd++)
				if (isatty(fd))
					lx->setup.flags |= 1U << (LX_SETUP_TTY_SHIFT + fd);
			lx->setup.max_pages = lx->max_memory / SNAPVM_GUEST_PAGE_SIZE;
			snprintf(lx->setup.cwd, sizeof(lx->setup.cwd), "%s", lx->cwd);
			snprintf(lx->setup.nodename, sizeof(lx->setup.nodename), "%s",
				 o->hostname ? o->hostname : "");
		}
	}
	if (ret) {
		snapvm_linux_destroy(lx);
		return ret;
	}
	*out = lx;
	return 0;
}

void snapvm_linux_destroy(struct snapvm_linux *lx)
{
	if (!lx)
		return;
	files_reset(lx);
	if (lx->root_fd >= 0)
		close(lx->root_fd);
	if (lx->sig_efd >= 0)
		close(lx->sig_efd);
	free(lx->path);
	free(lx->file);
	free(lx->args);
	free(lx);
}

int snapvm_linux_root_fd(const struct snapvm_linux *lx)
{
	return lx->root_fd;
}

uint32_t snapvm_linux_layout(const struct snapvm_linux *lx)
{
	return lx->layout;
}

int snapvm_linux_snapshot(struct snapvm_linux *lx, enum snapvm_memory memory,
			  struct snapvm_snapshot **snapshot, struct snapvm_error *err)
{
	struct snapvm_snapshot_options options = {.layout = lx->layout, .memory = memory};
	size_t size;
	const unsigned char *elf = snapvm_linux_personality(lx->layout, &size);
	char path[64];
	int fd, ret;

	if (!lx->file)
		return snapvm_fail(err, EX_USAGE, "no Linux program to make a snapshot of");
	/* The personality needs scratch for its tables and the program's
	 * memory; i686 keeps scratch above the user range. */
	options.scratch_size = snapvm_page_align_up(lx->max_memory + (16ULL << 20));
	options.scratch_size = (options.scratch_size + 0x1fffff) & ~0x1fffffULL;
	if (lx->layout == SNAPVM_LAYOUT_I686 && options.scratch_size > LX_I686_MAX_SCRATCH)
		options.scratch_size = LX_I686_MAX_SCRATCH & ~0x1fffffULL;
	options.max_memory = options.scratch_size + (64ULL << 20);
	fd = memfd_create("snapvm-linux-personality", MFD_CLOEXEC);
	if (fd < 0)
		return snapvm_fail(err, EX_OSERR, "memfd_create: %s", strerror(errno));
	if (write(fd, elf, size) != (ssize_t)size) {
		close(fd);
		return snapvm_fail(err, EX_OSERR, "writing the personality: %s", strerror(errno));
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ret = snapvm_snapshot_from_elf(path, &options, snapshot, err);
	close(fd);
	return ret;
}

bool snapvm_snapshot_is_linux(const struct snapvm_snapshot *snapshot)
{
	uint64_t gpa, size;
	const unsigned char *mem = snapvm_snapshot_memory(snapshot, &gpa, &size);

	return mem && LX_MAGIC_GPA >= gpa && LX_MAGIC_GPA - gpa + sizeof(LX_MAGIC) <= size &&
	       !memcmp(mem + (LX_MAGIC_GPA - gpa), LX_MAGIC, sizeof(LX_MAGIC));
}

/* ---- host calls ---- */

static int64_t hc_setup(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;

	if (!lx->file || cap < sizeof(lx->setup))
		return -EINVAL;
	files_reset(lx); /* a new run of the program */
	memcpy(out, &lx->setup, sizeof(lx->setup));
	return sizeof(lx->setup);
}

static int64_t hc_image(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;
	uint64_t off;
	size_t n;

	if (!lx->file || in_len != sizeof(off))
		return -EINVAL;
	memcpy(&off, in, sizeof(off));
	if (off > lx->file_size)
		return -EINVAL;
	n = lx->file_size - off < cap ? lx->file_size - off : cap;
	memcpy(out, lx->file + off, n);
	return (int64_t)n;
}

static int64_t hc_args(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
		       void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;
	struct lx_args *a = (struct lx_args *)lx->args;

	if (cap < lx->args_len)
		return -EINVAL;
	if (getrandom(a->random, sizeof(a->random), 0) != sizeof(a->random))
		return -EIO;
	memcpy(out, lx->args, lx->args_len);
	return (int64_t)lx->args_len;
}

static int64_t hc_read(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
		       void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;
	ssize_t n;

	if (lx->snapshot_pending) {
		lx->snapshot_pending = false;
		return LX_READ_SNAPSHOT;
	}
	if (lx->in_buf) {
		size_t left = lx->in_len - lx->in_pos;

		n = (ssize_t)(left < cap ? left : cap);
		memcpy(out, lx->in_buf + lx->in_pos, (size_t)n);
		lx->in_pos += (size_t)n;
		return n;
	}
	if (lx->in_fd < 0)
		return 0;
	/* Wait for input or a signal from the host (snapvm_linux_raise): a
	 * raised signal interrupts the read (EINTR; the personality restarts
	 * it per SA_RESTART), as the run's timeout does. */
	{
		struct pollfd p[2] = {{.fd = lx->in_fd, .events = POLLIN},
				      {.fd = lx->sig_efd, .events = POLLIN}};

		if (poll(p, 2, -1) < 0)
			return -errno;
		if (p[1].revents)
			return -EINTR;
	}
	n = read(lx->in_fd, out, cap);
	return n < 0 ? -errno : n;
}

/* 0 when all of it is written, else -errno (the run's timeout interrupts
 * a blocked write with EINTR). A host call's result may not exceed its
 * output room, and writes have none: 0 stands for "len bytes". */
static int64_t write_all(int fd, const unsigned char *p, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}

static int64_t hc_write(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;
	struct lx_io io;
	const unsigned char *data = (const unsigned char *)in + sizeof(io);
	size_t len;

	if (in_len < sizeof(io))
		return -EINVAL;
	memcpy(&io, in, sizeof(io));
	len = in_len - sizeof(io);
	if (io.fd == 1 && lx->out_buf) {
		size_t room = lx->out_cap - lx->out_len;

		if (len > room) {
			lx->out_overflow = true;
			len = room;
		}
		memcpy(lx->out_buf + lx->out_len, data, len);
		lx->out_len += len;
		return 0;
	}
	if (io.fd != 1 && io.fd != 2)
		return -EBADF;
	return write_all(io.fd == 1 ? lx->out_fd : lx->err_fd, data, len);
}

static int64_t hc_stderr(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			 void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;

	return write_all(lx->err_fd, in, in_len);
}

static int64_t hc_time(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
		       void *out, size_t cap)
{
	struct lx_time t;
	struct timespec ts;
	uint32_t clk;

	if (in_len != sizeof(clk) || cap < sizeof(t))
		return -EINVAL;
	memcpy(&clk, in, sizeof(clk));
	/* Linux's clock ids only (the personality checks too): a negative id
	 * names another process's CPU clock on the host. */
	if (clk > 11)
		return -EINVAL;
	/* Per-process and per-thread CPU clocks: the host's monotonic one. */
	if (clock_gettime(clk == 2 || clk == 3 ? CLOCK_MONOTONIC : (clockid_t)clk, &ts))
		return -errno;
	t.sec = ts.tv_sec;
	t.nsec = ts.tv_nsec;
	memcpy(out, &t, sizeof(t));
	return sizeof(t);
}

static int64_t hc_clock(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			void *out, size_t cap)
{
	struct lx_clock c = {0};
	struct timespec real, mono, boot;
	int khz;

	if (cap < sizeof(c))
		return -EINVAL;
	/* The rate KVM runs the guest's TSC at; without one, or without the
	 * clocks, the guest asks LX_HC_TIME for every call instead. */
	khz = ioctl(sb->vcpu.fd, KVM_GET_TSC_KHZ, 0);
	if (khz > 0 && !clock_gettime(CLOCK_REALTIME, &real) &&
	    !clock_gettime(CLOCK_MONOTONIC, &mono) && !clock_gettime(CLOCK_BOOTTIME, &boot)) {
		c.tsc_khz = (uint64_t)khz;
		c.realtime_ns = real.tv_sec * 1000000000LL + real.tv_nsec;
		c.monotonic_ns = mono.tv_sec * 1000000000LL + mono.tv_nsec;
		c.boottime_ns = boot.tv_sec * 1000000000LL + boot.tv_nsec;
	}
	memcpy(out, &c, sizeof(c));
	return sizeof(c);
}

static int64_t hc_random(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			 void *out, size_t cap)
{
	ssize_t n = getrandom(out, cap, 0);

	return n < 0 ? -errno : n;
}

static int lx_fd(struct snapvm_linux *lx, int fd)
{
	return fd == 0 ? lx->in_fd : fd == 1 ? lx->out_fd : fd == 2 ? lx->err_fd : -1;
}

static int64_t hc_fstat(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;
	struct lx_io io;
	struct lx_stat s = {0};
	struct stat st;
	int fd;

	if (in_len != sizeof(io) || cap < sizeof(s))
		return -EINVAL;
	memcpy(&io, in, sizeof(io));
	fd = lx_fd(lx, io.fd);
	if ((io.fd == 0 && lx->in_buf) || (io.fd == 1 && lx->out_buf)) {
		s.mode = S_IFIFO | 0600;
		s.blksize = 4096;
		s.nlink = 1;
	} else {
		if (fd < 0)
			return -EBADF;
		if (fstat(fd, &st))
			return -errno;
		s = (struct lx_stat){.dev = st.st_dev,
				     .ino = st.st_ino,
				     .nlink = st.st_nlink,
				     .rdev = st.st_rdev,
				     .size = (uint64_t)st.st_size,
				     .blksize = (uint64_t)st.st_blksize,
				     .blocks = (uint64_t)st.st_blocks,
				     .mode = st.st_mode,
				     .uid = st.st_uid,
				     .gid = st.st_gid,
				     .atime = {st.st_atim.tv_sec, st.st_atim.tv_nsec},
				     .mtime = {st.st_mtim.tv_sec, st.st_mtim.tv_nsec},
				     .ctime = {st.st_ctim.tv_sec, st.st_ctim.tv_nsec}};
	}
	memcpy(out, &s, sizeof(s));
	return sizeof(s);
}

static int64_t hc_ioctl(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;
	struct lx_io io;
	unsigned char buf[64] = {0};
	int fd;

	if (in_len != sizeof(io))
		return -EINVAL;
	memcpy(&io, in, sizeof(io));
	fd = lx_fd(lx, io.fd);
	if ((io.fd == 0 && lx->in_buf) || (io.fd == 1 && lx->out_buf))
		return -ENOTTY;
	if (fd < 0)
		return -EBADF;
	switch (io.reserved) {
	case TCGETS: /* the kernel's struct termios: 36 bytes */
		if (ioctl(fd, TCGETS, buf))
			return -errno;
		memcpy(out, buf, 36);
		return 36;
	case TIOCGWINSZ:
		if (ioctl(fd, TIOCGWINSZ, buf))
			return -errno;
		memcpy(out, buf, sizeof(struct winsize));
		return sizeof(struct winsize);
	case TIOCGPGRP:
		if (!isatty(fd))
			return -ENOTTY;
		memset(out, 0, 4);
		((unsigned char *)out)[0] = 1;
		return 4;
	}
	return -ENOTTY;
}

static int64_t hc_sleep(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;
	struct pollfd p = {.fd = lx->sig_efd, .events = POLLIN};
	struct lx_time t;
	struct timespec ts;
	int n;

	if (in_len != sizeof(t))
		return -EINVAL;
	memcpy(&t, in, sizeof(t));
	ts.tv_sec = t.sec;
	ts.tv_nsec = t.nsec;
	/* The run's timeout (the kick signal) or a raised signal: EINTR. */
	n = ppoll(&p, 1, &ts, NULL);
	return n < 0 ? -errno : n > 0 ? -EINTR : 0;
}

/* The program's signal state, and the signals raised for it since the
 * last call (taken: they are the personality's now). */
static int64_t hc_signals(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			  void *out, size_t cap)
{
	struct snapvm_linux *lx = ctx;
	struct lx_sigstate st;
	uint64_t pending, drain;

	if (in_len != sizeof(st) || cap < sizeof(pending))
		return -EINVAL;
	memcpy(&st, in, sizeof(st));
	__atomic_store_n(&lx->sig_wants, st.wants, __ATOMIC_SEQ_CST);
	__atomic_store_n(&lx->sig_known, 1, __ATOMIC_SEQ_CST);
	/* The eventfd first: a signal raised after the exchange keeps it set. */
	if (read(lx->sig_efd, &drain, sizeof(drain)) < 0 && errno != EAGAIN)
		return -errno;
	pending = __atomic_exchange_n(&lx->sig_pending, 0, __ATOMIC_SEQ_CST);
	memcpy(out, &pending, sizeof(pending));
	return sizeof(pending);
}

void snapvm_linux_raise(struct snapvm_linux *lx, int signo)
{
	struct snapvm_sandbox *sb = __atomic_load_n(&lx->sb, __ATOMIC_SEQ_CST);
	uint64_t bit, one = 1;
	int saved_errno = errno;

	if (signo <= 0 || signo > 64)
		return;
	bit = LX_SIGBIT(signo);
	if (signo == SIGKILL || (__atomic_load_n(&lx->sig_known, __ATOMIC_SEQ_CST) &&
				 !(__atomic_load_n(&lx->sig_wants, __ATOMIC_SEQ_CST) & bit))) {
		/* SIG_DFL, not blocked: the host acts alone. */
		if (signo != SIGKILL && (LX_SIG_DEFAULT_NOTHING & bit))
			return;
		if (sb)
			snapvm_sandbox_signal_stop(sb, signo);
		return;
	}
	__atomic_or_fetch(&lx->sig_pending, bit, __ATOMIC_SEQ_CST);
	if (write(lx->sig_efd, &one, sizeof(one)) < 0) {
		/* Full (2^64 - 2 raises): it is set, which is all we need. */
	}
	if (sb)
		snapvm_sandbox_inject(sb, LX_SIGNAL_VECTOR);
	errno = saved_errno;
}

/* Between requests: nothing raised for one reaches the next. */
static void signals_clear(struct snapvm_linux *lx, struct snapvm_sandbox *sb)
{
	uint64_t drain;

	__atomic_store_n(&lx->sig_pending, 0, __ATOMIC_SEQ_CST);
	if (read(lx->sig_efd, &drain, sizeof(drain)) < 0) {
		/* EAGAIN: nothing was raised. */
	}
	snapvm_sandbox_signals_clear(sb);
}

int snapvm_linux_attach(struct snapvm_linux *lx, struct snapvm_sandbox *sb,
			struct snapvm_error *err)
{
	static const struct {
		uint32_t number;
		snapvm_host_function fn;
	} fns[] = {
	    {LX_HC_SETUP, hc_setup},
	    {LX_HC_IMAGE, hc_image},
	    {LX_HC_ARGS, hc_args},
	    {LX_HC_READ, hc_read},
	    {LX_HC_WRITE, hc_write},
	    {LX_HC_STDERR, hc_stderr},
	    {LX_HC_TIME, hc_time},
	    {LX_HC_CLOCK, hc_clock},
	    {LX_HC_RANDOM, hc_random},
	    {LX_HC_FSTAT, hc_fstat},
	    {LX_HC_IOCTL, hc_ioctl},
	    {LX_HC_SLEEP, hc_sleep},
	    {LX_HC_FILE, hc_file},
	    {LX_HC_FILES_RESET, hc_files_reset},
	    {LX_HC_SIGNALS, hc_signals},
	};

	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		int ret = snapvm_sandbox_set_host_function(sb, fns[i].number, fns[i].fn, lx, err);

		if (ret)
			return ret;
	}
	__atomic_store_n(&lx->sb, sb, __ATOMIC_SEQ_CST);
	return 0;
}

int snapvm_linux_set_args(struct snapvm_linux *lx, const char *const *argv, const char *const *envp,
			  struct snapvm_error *err)
{
	return set_args(lx, argv, envp, err);
}

void snapvm_linux_set_input(struct snapvm_linux *lx, int fd, const void *buf, size_t len)
{
	lx->in_fd = fd;
	lx->in_buf = buf;
	lx->in_len = len;
	lx->in_pos = 0;
}

int snapvm_linux_request(struct snapvm_sandbox *sb, struct snapvm_linux *lx, const void *in,
			 size_t in_len, void *out, size_t out_cap, size_t *out_len, int *status,
			 uint64_t timeout_ms, struct snapvm_error *err)
{
	struct snapvm_outcome outcome;
	int ret;

	signals_clear(lx, sb);
	ret = snapvm_sandbox_restore(sb, err);
	*out_len = 0;
	*status = 0;
	if (ret)
		return ret;
	snapvm_linux_set_input(lx, -1, in ? in : "", in_len);
	lx->out_buf = out;
	lx->out_cap = out_cap;
	lx->out_len = 0;
	lx->out_overflow = false;
	ret = snapvm_sandbox_run(sb, timeout_ms, &outcome, err);
	files_reset(lx); /* also after a timeout or fault */
	lx->out_buf = NULL;
	snapvm_linux_set_input(lx, 0, NULL, 0);
	if (ret)
		return ret;
	*out_len = lx->out_len;
	if (outcome.stop == SNAPVM_STOP_ABORT || outcome.stop == SNAPVM_STOP_FAULT) {
		char line[1400];
		int n = snprintf(line, sizeof(line), "snapvm: request: %s%s\n",
				 outcome.stop == SNAPVM_STOP_ABORT ? "personality aborted: " : "",
				 outcome.message);

		if (n > 0)
			write_all(lx->err_fd, (const unsigned char *)line,
				  (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	if (lx->out_overflow)
		return snapvm_fail(err, EX_DATAERR, "the program wrote more than %zu bytes",
				   out_cap);
	*status = snapvm_outcome_exit_status(&outcome);
	return 0;
}
