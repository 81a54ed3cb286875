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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void crc64_init(void)
{
	const uint64_t poly = 0xc96c5795d7870f42ULL; /* ECMA-182, reflected */

	for (unsigned int i = 0; i < 256; i++) {
		uint64_t crc = i;

		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ ((crc & 1) ? poly : 0);
		crc64_table[i] = crc;
	}
}

uint64_t snapfile_crc64(uint64_t crc, const void *buf, size_t len)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const unsigned char *p = buf;

	pthread_once(&once, crc64_init);
	crc = ~crc;
	while (len--)
		crc = crc64_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
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
		ret = write_all(fd, c->snapshot, c->snapshot_size);
	if (!ret)
		ret = write_all(fd, c->scratch, c->scratch_size);
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
	data = malloc(size);
	if (!data) {
		ret = snapvm_fail(err, EX_OSERR, "%s: out of memory for its %llu bytes", path,
				  (unsigned long long)size);
		goto out;
	}
	/* The checked header and the sections read after it: the checksum
	 * and every pointer handed out cover this private copy only. */
	memcpy(data, page.bytes, sizeof(page.bytes));
	ret = snapvm_input_read(fd, path, data + SNAPFILE_HEADER_SIZE, size - SNAPFILE_HEADER_SIZE,
				SNAPFILE_HEADER_SIZE, err);
	if (!ret)
		ret = snapfile_parse(path, data, size, max_memory, &file->contents, err);
	if (ret)
		goto out;
	file->data = data;
	file->size = size;
	data = NULL;
out:
	free(data);
	close(fd);
	return ret;
}

void snapfile_close(struct snapfile *file)
{
	free(file->data);
	memset(file, 0, sizeof(*file));
}
