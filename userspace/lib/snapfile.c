// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * snapfile.c - saving and opening snapshot files (format: snapfile.h).
 * Opening reads the file once into private memory and verifies that copy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "layout/amd64.h"
#include "layout/i686.h"
#include "userspace/lib/internal.h"
#include "userspace/lib/snapfile.h"

#define SNAPFILE_HEADER_SIZE SNAPVM_GUEST_PAGE_SIZE
/* Far more than any KVM vCPU state (XSAVE is a few KiB); bounds a hostile
 * file's claim before anything is mapped. */
#define SNAPFILE_MAX_VCPU_STATE (1ULL << 20)

_Static_assert(sizeof(struct snapfile_header) <= SNAPFILE_HEADER_SIZE, "header fits its page");

static uint64_t crc64_table[256];
/* The CRC's state after a zero page, as a GF(2) matrix: column i is what
 * state bit i becomes. A zero byte's step, table[s & 0xff] ^ (s >> 8), is
 * linear in s (table[0] = 0), so a page of zeros is this one matrix: the
 * scratch of a snapshot is mostly zeros, and checksumming them byte by
 * byte cost seconds under emulation. */
static uint64_t crc64_zero_page[64];

static uint64_t gf2_times(const uint64_t *matrix, uint64_t vec)
{
	uint64_t sum = 0;

	for (int i = 0; vec; i++, vec >>= 1)
		if (vec & 1)
			sum ^= matrix[i];
	return sum;
}

static void crc64_init(void)
{
	const uint64_t poly = 0xc96c5795d7870f42ULL; /* ECMA-182, reflected */
	uint64_t square[64];

	for (unsigned int i = 0; i < 256; i++) {
		uint64_t crc = i;

		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ ((crc & 1) ? poly : 0);
		crc64_table[i] = crc;
	}
	/* One zero byte, then squared up to a page (2^12 bytes). */
	for (int i = 0; i < 64; i++) {
		uint64_t s = 1ULL << i;

		crc64_zero_page[i] = crc64_table[s & 0xff] ^ (s >> 8);
	}
	for (int n = 0; n < 12; n++) {
		for (int i = 0; i < 64; i++)
			square[i] = gf2_times(crc64_zero_page, crc64_zero_page[i]);
		memcpy(crc64_zero_page, square, sizeof(square));
	}
}

static bool zero_page(const unsigned char *p)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;
	uint64_t any = 0;

	for (size_t i = 0; i < SNAPVM_GUEST_PAGE_SIZE / sizeof(*w); i++)
		any |= w[i];
	return !any;
}

uint64_t snapfile_crc64(uint64_t crc, const void *buf, size_t len)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const unsigned char *p = buf;

	pthread_once(&once, crc64_init);
	crc = ~crc;
	while (len) {
		size_t n = len < SNAPVM_GUEST_PAGE_SIZE ? len : SNAPVM_GUEST_PAGE_SIZE;

		if (n == SNAPVM_GUEST_PAGE_SIZE && !((uintptr_t)p % sizeof(uint64_t)) &&
		    zero_page(p)) {
			crc = gf2_times(crc64_zero_page, crc);
		} else {
			for (size_t i = 0; i < n; i++)
				crc = crc64_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
		}
		p += n;
		len -= n;
	}
	return ~crc;
}

static uint64_t section_size(uint64_t size)
{
	return snapvm_page_align_up(size);
}

/* Checks the sizes a header claims against the layout, so that a hostile
 * file cannot make the loader map or copy outside what the layout allows. */
static int check_geometry(const char *path, const struct snapfile_header *h,
			  struct snapvm_error *err)
{
	uint64_t base, end;
	int fits;

	if (h->vcpu_state_size == 0 || h->vcpu_state_size > SNAPFILE_MAX_VCPU_STATE)
		return snapvm_fail(err, EX_DATAERR, "%s: vCPU state size %llu is not plausible",
				   path, (unsigned long long)h->vcpu_state_size);
	if (h->snapshot_size == 0 || h->snapshot_size % SNAPVM_GUEST_PAGE_SIZE ||
	    h->scratch_size % SNAPVM_GUEST_PAGE_SIZE)
		return snapvm_fail(err, EX_DATAERR,
				   "%s: region sizes (snapshot %llu, scratch %llu) are not whole "
				   "pages",
				   path, (unsigned long long)h->snapshot_size,
				   (unsigned long long)h->scratch_size);
	switch (h->layout) {
	case SNAPVM_LAYOUT_AMD64:
		base = AMD64_SNAPSHOT_BASE_GPA;
		if (h->snapshot_size > AMD64_MAX_GPA)
			goto too_big;
		end = base + h->snapshot_size;
		fits = amd64_scratch_fits(h->scratch_size, end);
		break;
	case SNAPVM_LAYOUT_I686:
		base = I686_SNAPSHOT_BASE_GPA;
		if (h->snapshot_size > I686_MAX_GPA)
			goto too_big;
		end = base + h->snapshot_size;
		fits = i686_scratch_fits(h->scratch_size, end);
		break;
	default:
		return snapvm_fail(err, EX_DATAERR, "%s: unknown layout %u", path, h->layout);
	}
	if (h->snapshot_gpa != base)
		return snapvm_fail(err, EX_DATAERR,
				   "%s: snapshot at GPA 0x%llx, the %s layout puts it at 0x%llx",
				   path, (unsigned long long)h->snapshot_gpa,
				   snapvm_layout_name(h->layout), (unsigned long long)base);
	if (!fits)
		return snapvm_fail(err, EX_DATAERR,
				   "%s: a %llu-byte scratch does not fit the %s layout above a "
				   "%llu-byte snapshot",
				   path, (unsigned long long)h->scratch_size,
				   snapvm_layout_name(h->layout),
				   (unsigned long long)h->snapshot_size);
	if (h->file_size != SNAPFILE_HEADER_SIZE + section_size(h->vcpu_state_size) +
				h->snapshot_size + h->scratch_size)
		return snapvm_fail(
		    err, EX_DATAERR, "%s: header says %llu bytes, its sections add up to %llu",
		    path, (unsigned long long)h->file_size,
		    (unsigned long long)(SNAPFILE_HEADER_SIZE + section_size(h->vcpu_state_size) +
					 h->snapshot_size + h->scratch_size));
	return 0;
too_big:
	return snapvm_fail(err, EX_DATAERR, "%s: a %llu-byte snapshot exceeds the %s layout", path,
			   (unsigned long long)h->snapshot_size, snapvm_layout_name(h->layout));
}

/* CRC of the header page (its checksum field read as zero), then the rest. */
static uint64_t checksum(const void *header_page, const unsigned char *after_header,
			 uint64_t after_size)
{
	unsigned char page[SNAPFILE_HEADER_SIZE];
	uint64_t crc;

	memcpy(page, header_page, sizeof(page));
	memset(page + offsetof(struct snapfile_header, checksum), 0, sizeof(uint64_t));
	crc = snapfile_crc64(0, page, sizeof(page));
	return snapfile_crc64(crc, after_header, after_size);
}

static int write_all(int fd, const void *buf, uint64_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len > (1 << 30) ? (1 << 30) : len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

/* A section at offset off, its zero pages left as holes (the file is new
 * and ftruncate gives it its size): a snapshot's scratch is mostly zeros,
 * and writing, storing and reading them back cost more than the rest. */
static int write_sparse(int fd, const unsigned char *buf, uint64_t len, uint64_t off)
{
	uint64_t at = 0;

	while (at < len) {
		uint64_t run = 0;
		ssize_t n;

		while (at + run < len && (len - at - run < SNAPVM_GUEST_PAGE_SIZE ||
					  (uintptr_t)(buf + at + run) % sizeof(uint64_t) ||
					  !zero_page(buf + at + run)))
			run += len - at - run < SNAPVM_GUEST_PAGE_SIZE ? len - at - run
								       : SNAPVM_GUEST_PAGE_SIZE;
		if (!run) {
			at += SNAPVM_GUEST_PAGE_SIZE;
			continue;
		}
		while (run) {
			n = pwrite(fd, buf + at, run > (1 << 30) ? (1 << 30) : run,
				   (off_t)(off + at));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return n < 0 ? -errno : -EIO;
			at += (uint64_t)n;
			run -= (uint64_t)n;
		}
	}
	return 0;
}

int snapfile_save_at(int dirfd, const char *name, const char *path,
		     const struct snapfile_contents *c, struct snapvm_error *err)
{
	static const unsigned char zeros[SNAPFILE_HEADER_SIZE];
	union {
		struct snapfile_header h;
		unsigned char bytes[SNAPFILE_HEADER_SIZE];
	} page = {.h.version = SNAPFILE_VERSION};
	struct snapfile_header *h = &page.h;
	char tmp[NAME_MAX + 1];
	uint64_t crc, pad;
	int fd, ret;

	memcpy(h->magic, SNAPFILE_MAGIC, sizeof(h->magic));
	h->layout = c->layout;
	h->vcpu_state_size = c->vcpu_state_size;
	h->snapshot_gpa = c->snapshot_gpa;
	h->snapshot_size = c->snapshot_size;
	h->scratch_size = c->scratch_size;
	h->file_size = SNAPFILE_HEADER_SIZE + section_size(c->vcpu_state_size) + c->snapshot_size +
		       c->scratch_size;
	ret = check_geometry(path, h, err);
	if (ret)
		return ret;

	/* The checksum covers the header page, then the sections in order. */
	pad = section_size(c->vcpu_state_size) - c->vcpu_state_size;
	crc = snapfile_crc64(0, page.bytes, sizeof(page.bytes));
	crc = snapfile_crc64(crc, c->vcpu_state, c->vcpu_state_size);
	crc = snapfile_crc64(crc, zeros, pad);
	crc = snapfile_crc64(crc, c->snapshot, c->snapshot_size);
	crc = snapfile_crc64(crc, c->scratch, c->scratch_size);
	h->checksum = crc;

	ret = snapvm_output_begin(dirfd, name, tmp, &fd);
	if (ret)
		return snapvm_fail_errno(err, EX_CANTCREAT, ret, "cannot create %s", path);
	ret = write_all(fd, page.bytes, sizeof(page.bytes));
	if (!ret)
		ret = write_all(fd, c->vcpu_state, c->vcpu_state_size);
	if (!ret)
		ret = write_all(fd, zeros, pad);
	if (!ret)
		ret = write_sparse(fd, c->snapshot, c->snapshot_size,
				   SNAPFILE_HEADER_SIZE + section_size(c->vcpu_state_size));
	if (!ret)
		ret = write_sparse(fd, c->scratch, c->scratch_size, h->file_size - c->scratch_size);
	if (!ret && ftruncate(fd, (off_t)h->file_size))
		ret = -errno;
	ret = snapvm_output_commit(dirfd, tmp, name, fd, -ret);
	if (ret)
		return snapvm_fail_errno(err, EX_IOERR, ret, "cannot save snapshot %s", path);
	return 0;
}

int snapfile_save(const char *path, const struct snapfile_contents *c, struct snapvm_error *err)
{
	const char *name;
	int dirfd, ret = snapvm_output_dir_open(path, &dirfd, &name, err);

	if (ret)
		return ret == EX_USAGE ? EX_CANTCREAT : ret;
	ret = snapfile_save_at(dirfd, name, path, c, err);
	close(dirfd);
	return ret;
}

/* Everything the header page alone tells: format, geometry, the memory cap.
 * h is the caller's own copy, read once. */
static int check_header(const char *name, const struct snapfile_header *h, uint64_t max_memory,
			struct snapvm_error *err)
{
	uint64_t memory;
	int ret;

	if (memcmp(h->magic, SNAPFILE_MAGIC, sizeof(h->magic)))
		return snapvm_fail(err, EX_DATAERR, "%s: not a snapvm snapshot (bad magic)", name);
	if (h->version != SNAPFILE_VERSION)
		return snapvm_fail(err, EX_DATAERR,
				   "%s: snapshot format version %u, this snapvm reads version %u",
				   name, h->version, SNAPFILE_VERSION);
	for (unsigned int i = 0; i < sizeof(h->reserved) / sizeof(h->reserved[0]); i++) {
		if (h->reserved[i])
			return snapvm_fail(err, EX_DATAERR, "%s: reserved header field %u is set",
					   name, i);
	}
	ret = check_geometry(name, h, err);
	if (ret)
		return ret;
	/* Before anything is allocated for the sections. */
	if (max_memory && (__builtin_add_overflow(h->snapshot_size, h->scratch_size, &memory) ||
			   memory > max_memory))
		return snapvm_fail(err, EX_DATAERR,
				   "%s: needs %llu bytes of guest memory (snapshot %llu + scratch "
				   "%llu), more than --max-memory=%llu",
				   name, (unsigned long long)(h->snapshot_size + h->scratch_size),
				   (unsigned long long)h->snapshot_size,
				   (unsigned long long)h->scratch_size,
				   (unsigned long long)max_memory);
	return 0;
}

static int check_file_size(const char *name, const struct snapfile_header *h, uint64_t size,
			   struct snapvm_error *err)
{
	if (h->file_size != size)
		return snapvm_fail(err, EX_DATAERR, "%s: %s: %llu bytes, the header says %llu",
				   name, size < h->file_size ? "truncated" : "too long",
				   (unsigned long long)size, (unsigned long long)h->file_size);
	return 0;
}

int snapfile_parse(const char *name, const void *buf, size_t size, uint64_t max_memory,
		   struct snapfile_contents *out, struct snapvm_error *err)
{
	const unsigned char *base = buf;
	struct snapfile_header h;
	int ret;

	memset(out, 0, sizeof(*out));
	if (size < SNAPFILE_HEADER_SIZE)
		return snapvm_fail(
		    err, EX_DATAERR, "%s: truncated: %llu bytes, shorter than the %llu-byte header",
		    name, (unsigned long long)size, (unsigned long long)SNAPFILE_HEADER_SIZE);
	/* One copy of the header: every check and every use reads it. */
	memcpy(&h, base, sizeof(h));
	ret = check_header(name, &h, max_memory, err);
	if (!ret)
		ret = check_file_size(name, &h, size, err);
	if (ret)
		return ret;
	if (checksum(base, base + SNAPFILE_HEADER_SIZE, h.file_size - SNAPFILE_HEADER_SIZE) !=
	    h.checksum)
		return snapvm_fail(err, EX_DATAERR, "%s: checksum mismatch: the file is corrupt",
				   name);

	out->layout = h.layout;
	out->vcpu_state = base + SNAPFILE_HEADER_SIZE;
	out->vcpu_state_size = h.vcpu_state_size;
	out->snapshot_gpa = h.snapshot_gpa;
	out->snapshot = base + SNAPFILE_HEADER_SIZE + section_size(h.vcpu_state_size);
	out->snapshot_size = h.snapshot_size;
	out->scratch = (const unsigned char *)out->snapshot + h.snapshot_size;
	out->scratch_size = h.scratch_size;
	return 0;
}

/* The file's bytes after the header into data (zeroed memory): only its
 * data extents are read, the holes a save leaves for zero pages stay
 * untouched zeros; where the file system cannot tell (EINVAL), all of it. */
static int read_extents(int fd, const char *path, unsigned char *data, uint64_t size,
			struct snapvm_error *err)
{
	uint64_t off = SNAPFILE_HEADER_SIZE;

	while (off < size) {
		off_t start = lseek(fd, (off_t)off, SEEK_DATA), end;
		int ret;

		if (start < 0 && errno == ENXIO)
			return 0; /* a hole to the end */
		if (start < 0)
			return snapvm_input_read(fd, path, data + off, size - off, off, err);
		if ((uint64_t)start >= size)
			return 0;
		end = lseek(fd, start, SEEK_HOLE);
		if (end < 0 || (uint64_t)end > size)
			end = (off_t)size;
		ret = snapvm_input_read(fd, path, data + start, (uint64_t)(end - start),
					(uint64_t)start, err);
		if (ret)
			return ret;
		off = (uint64_t)end;
	}
	return 0;
}

int snapfile_open(const char *path, uint64_t max_memory, struct snapfile *file,
		  struct snapvm_error *err)
{
	union {
		struct snapfile_header h;
		unsigned char bytes[SNAPFILE_HEADER_SIZE];
	} page;
	unsigned char *data = NULL;
	uint64_t size;
	int fd, ret;

	memset(file, 0, sizeof(*file));
	ret = snapvm_input_open(path, 0, &fd, &size, err);
	if (ret)
		return ret;
	if (size < SNAPFILE_HEADER_SIZE) {
		ret = snapvm_fail(
		    err, EX_DATAERR, "%s: truncated: %llu bytes, shorter than the %llu-byte header",
		    path, (unsigned long long)size, (unsigned long long)SNAPFILE_HEADER_SIZE);
		goto out;
	}
	/* The header page once, checked before its sizes allocate anything. */
	ret = snapvm_input_read(fd, path, page.bytes, sizeof(page.bytes), 0, err);
	if (!ret)
		ret = check_header(path, &page.h, max_memory, err);
	if (!ret)
		ret = check_file_size(path, &page.h, size, err);
	if (ret)
		goto out;
	/* Anonymous memory: the holes of zero pages cost nothing until read,
	 * and then only the zero page (huge where the kernel can). */
	data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (data == MAP_FAILED) {
		data = NULL;
		ret = snapvm_fail(err, EX_OSERR, "%s: out of memory for its %llu bytes", path,
				  (unsigned long long)size);
		goto out;
	}
	/* The checked header and the sections read after it: the checksum
	 * and every pointer handed out cover this private copy only. */
	madvise(data, size, MADV_HUGEPAGE);
	memcpy(data, page.bytes, sizeof(page.bytes));
	ret = read_extents(fd, path, data, size, err);
	if (!ret)
		ret = snapfile_parse(path, data, size, max_memory, &file->contents, err);
	if (ret)
		goto out;
	file->data = data;
	file->size = size;
	data = NULL;
out:
	if (data)
		munmap(data, size);
	close(fd);
	return ret;
}

void snapfile_close(struct snapfile *file)
{
	if (file->data)
		munmap(file->data, file->size);
	memset(file, 0, sizeof(*file));
}
