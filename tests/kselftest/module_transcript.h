/* SPDX-License-Identifier: GPL-2.0 */
/*
 * module_transcript.h - one fixed walk through snapvm.ko's whole ioctl ABI that
 * writes what each call answered into a text transcript. module_test runs it
 * natively and through the -m32 build of module_compat32.c: equal transcripts
 * mean compat_ioctl gives a 32-bit caller the same results.
 */
#ifndef SNAPVM_TESTS_MODULE_TRANSCRIPT_H
#define SNAPVM_TESTS_MODULE_TRANSCRIPT_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "uapi/snapvm.h"

struct transcript {
	char text[8192];
	size_t len;
};

static void transcript_printf(struct transcript *t, const char *fmt, ...)
{
	va_list ap;

	if (t->len >= sizeof(t->text))
		return;
	va_start(ap, fmt);
	t->len += vsnprintf(t->text + t->len, sizeof(t->text) - t->len, fmt, ap);
	va_end(ap);
	if (t->len > sizeof(t->text))
		t->len = sizeof(t->text);
}

/* Records a call's result: its value, or the errno name's number as -N. */
static long transcript_result(struct transcript *t, const char *what, long ret)
{
	transcript_printf(t, "%s = %ld\n", what, ret < 0 ? -(long)errno : ret);
	return ret;
}

/* Records whether a call returned a file descriptor (numbers differ per process). */
static int transcript_fd(struct transcript *t, const char *what, int fd)
{
	if (fd >= 0)
		transcript_printf(t, "%s = fd\n", what);
	else
		transcript_printf(t, "%s = %d\n", what, -errno);
	return fd;
}

static int transcript_create(struct transcript *t, int dev, const char *what, uint64_t size,
			     uint32_t prot, uint32_t flags, uint64_t reserved1)
{
	struct snapvm_region_create args = {
	    .size = size, .prot = prot, .flags = flags, .reserved = {0, reserved1}};

	return transcript_fd(t, what, ioctl(dev, SNAPVM_CREATE_REGION, &args));
}

static void transcript_info(struct transcript *t, int fd, const char *what)
{
	struct snapvm_region_info info;

	memset(&info, 0xa5, sizeof(info));
	if (transcript_result(t, what, ioctl(fd, SNAPVM_REGION_INFO, &info)) == 0)
		transcript_printf(
		    t, "  size=%llu prot=%u flags=%u reserved=%llu,%llu resident=%llu\n",
		    (unsigned long long)info.size, info.prot, info.flags,
		    (unsigned long long)info.reserved[0], (unsigned long long)info.reserved[1],
		    (unsigned long long)info.resident_pages);
}

static long transcript_restore(struct transcript *t, const char *what, int dst, int src_fd,
			       uint32_t flags, const void *bitmap, uint64_t first_page,
			       uint64_t npages)
{
	struct snapvm_region_restore args = {
	    .src_fd = src_fd,
	    .flags = flags,
	    .bitmap = (uintptr_t)bitmap,
	    .first_page = first_page,
	    .npages = npages,
	};

	return transcript_result(t, what, ioctl(dst, SNAPVM_REGION_RESTORE, &args));
}

/* Lazy regions and clones; b is not sealed yet, a is. */
static void transcript_lazy(struct transcript *t, int dev, int a, int b, const uint64_t *bitmap)
{
	const uint32_t rw = SNAPVM_PROT_READ | SNAPVM_PROT_WRITE;
	struct snapvm_region_clone args = {.prot = rw};
	unsigned char old_info[40];
	int cl, lz;

	cl = transcript_fd(t, "CLONE a", ioctl(a, SNAPVM_REGION_CLONE, &args));
	if (cl >= 0) {
		transcript_printf(t, "clone cloexec = %d\n", !!(fcntl(cl, F_GETFD) & FD_CLOEXEC));
		transcript_info(t, cl, "INFO clone");
		transcript_result(t, "pwrite clone", pwrite(cl, "c", 1, 5 * SNAPVM_PAGE_SIZE));
		transcript_info(t, cl, "INFO clone written");
		transcript_restore(t, "RESTORE clone from a", cl, a, 0, bitmap, 0, 16);
		close(cl);
	}
	transcript_result(t, "CLONE b unsealed", ioctl(b, SNAPVM_REGION_CLONE, &args));
	transcript_result(t, "CLONE NULL", ioctl(a, SNAPVM_REGION_CLONE, NULL));
	args.flags = 1;
	transcript_result(t, "CLONE a flags", ioctl(a, SNAPVM_REGION_CLONE, &args));
	args.flags = 0;
	args.reserved[1] = 1;
	transcript_result(t, "CLONE a reserved", ioctl(a, SNAPVM_REGION_CLONE, &args));

	lz = transcript_create(t, dev, "create lazy", 16 * SNAPVM_PAGE_SIZE, rw, SNAPVM_CREATE_LAZY,
			       0);
	if (lz < 0)
		return;
	transcript_info(t, lz, "INFO lazy");
	transcript_result(t, "pwrite lazy", pwrite(lz, "l", 1, 2 * SNAPVM_PAGE_SIZE));
	transcript_restore(t, "RESTORE lazy zero", lz, SNAPVM_RESTORE_ZERO, 0, bitmap, 0, 16);
	transcript_info(t, lz, "INFO lazy touched");
	/* The 32-byte INFO of the first v2 modules: nothing past 32 bytes. */
	memset(old_info, 0xa5, sizeof(old_info));
	transcript_result(t, "INFO 32 bytes",
			  ioctl(lz, _IOC(_IOC_READ, SNAPVM_IOCTL_MAGIC, 0x10, 32), old_info));
	transcript_printf(t, "  byte 24 = %u, byte 32 = %u\n", old_info[24], old_info[32]);
	close(lz);
}

/* The walk itself. Uses only the ABI, so it builds for 32 and 64 bits. */
static void transcript_run(struct transcript *t)
{
	const size_t size = 16 * SNAPVM_PAGE_SIZE;
	const uint32_t rw = SNAPVM_PROT_READ | SNAPVM_PROT_WRITE;
	uint64_t bitmap[2] = {(1u << 1) | (1u << 3) | (1u << 20), ~0ull};
	char buf[16] = "";
	int dev, a, b, c;
	char *map;

	t->len = 0;
	dev = transcript_fd(t, "open /dev/snapvm", open("/dev/snapvm", O_RDWR | O_CLOEXEC));
	if (dev < 0)
		return;
	transcript_result(t, "GET_API_VERSION", ioctl(dev, SNAPVM_GET_API_VERSION, 0));
	transcript_result(t, "GET_FEATURES", ioctl(dev, SNAPVM_GET_FEATURES, 0));
	transcript_result(t, "unknown ioctl", ioctl(dev, _IO(SNAPVM_IOCTL_MAGIC, 0x7f), 0));
	transcript_create(t, dev, "create size 0", 0, rw, 0, 0);
	transcript_create(t, dev, "create size 4097", 4097, rw, 0, 0);
	transcript_create(t, dev, "create prot 0", size, 0, 0, 0);
	transcript_create(t, dev, "create prot 8", size, SNAPVM_PROT_READ | 8, 0, 0);
	transcript_create(t, dev, "create flags 2", size, rw, 2, 0);
	transcript_create(t, dev, "create reserved", size, rw, 0, 1);
	transcript_result(t, "create NULL", ioctl(dev, SNAPVM_CREATE_REGION, NULL));

	a = transcript_create(t, dev, "create a", size, rw, 0, 0);
	b = transcript_create(t, dev, "create b", size, rw, 0, 0);
	c = transcript_create(t, dev, "create c", 2 * size, rw, 0, 0);
	if (a < 0 || b < 0 || c < 0)
		return;
	transcript_printf(t, "a cloexec = %d\n", !!(fcntl(a, F_GETFD) & FD_CLOEXEC));
	transcript_info(t, a, "INFO a");
	transcript_result(t, "INFO NULL", ioctl(a, SNAPVM_REGION_INFO, NULL));
	transcript_result(t, "pwrite a", pwrite(a, "hello", 5, 3 * SNAPVM_PAGE_SIZE + 7));
	transcript_result(t, "pread a", pread(a, buf, 5, 3 * SNAPVM_PAGE_SIZE + 7));
	transcript_printf(t, "  read '%.5s'\n", buf);

	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, a, 0);
	transcript_result(t, "mmap a shared rw", map == MAP_FAILED ? -1 : 0);
	if (map != MAP_FAILED) {
		transcript_printf(t, "  map sees '%.5s'\n", map + 3 * SNAPVM_PAGE_SIZE + 7);
		map[1 * SNAPVM_PAGE_SIZE] = 'm';
		transcript_result(t, "SEAL a while mapped", ioctl(a, SNAPVM_REGION_SEAL, 0));
		munmap(map, size);
	}
	transcript_result(t, "SEAL a", ioctl(a, SNAPVM_REGION_SEAL, 0));
	transcript_info(t, a, "INFO a sealed");
	transcript_result(t, "pwrite a sealed", pwrite(a, "x", 1, 0));
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, a, 0);
	transcript_result(t, "mmap a sealed shared rw", map == MAP_FAILED ? -1 : 0);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, a, 0);
	transcript_result(t, "mmap a sealed private rw", map == MAP_FAILED ? -1 : 0);
	if (map != MAP_FAILED) {
		map[0] = 'p';
		munmap(map, size);
	}

	transcript_restore(t, "RESTORE b from a", b, a, 0, bitmap, 0, 16);
	memset(buf, 0, sizeof(buf));
	transcript_result(t, "pread b page 1", pread(b, buf, 1, 1 * SNAPVM_PAGE_SIZE));
	transcript_result(t, "pread b page 3", pread(b, buf + 1, 5, 3 * SNAPVM_PAGE_SIZE + 7));
	transcript_result(t, "pread b page 0", pread(b, buf + 6, 1, 0));
	transcript_printf(t, "  b holds '%.1s' '%.5s' %d\n", buf, buf + 1, buf[6]);
	transcript_restore(t, "RESTORE b zero", b, SNAPVM_RESTORE_ZERO, 0, bitmap, 2, 4);
	transcript_restore(t, "RESTORE b bad bitmap", b, SNAPVM_RESTORE_ZERO, 0, (void *)8, 0, 16);
	transcript_restore(t, "RESTORE b closed src", b, 1000, 0, bitmap, 0, 16);
	transcript_restore(t, "RESTORE b src dev", b, dev, 0, bitmap, 0, 16);
	transcript_restore(t, "RESTORE b src unsealed", b, b, 0, bitmap, 0, 16);
	transcript_result(t, "SEAL c", ioctl(c, SNAPVM_REGION_SEAL, 0));
	transcript_restore(t, "RESTORE b src size", b, c, 0, bitmap, 0, 16);
	transcript_restore(t, "RESTORE b range", b, a, 0, bitmap, 1, 16);
	transcript_restore(t, "RESTORE b flags", b, a, 1, bitmap, 0, 16);
	{
		struct snapvm_region_restore args = {
		    .src_fd = a, .bitmap = (uintptr_t)bitmap, .npages = 16, .reserved = {0, 1}};
		int ro;

		transcript_result(t, "RESTORE b reserved", ioctl(b, SNAPVM_REGION_RESTORE, &args));
		transcript_result(t, "SEAL b flags", ioctl(b, SNAPVM_REGION_SEAL, 1));
		ro = transcript_fd(t, "DUP_READONLY a", ioctl(a, SNAPVM_REGION_DUP_READONLY, 0));
		if (ro >= 0) {
			transcript_printf(t, "ro cloexec = %d\n",
					  !!(fcntl(ro, F_GETFD) & FD_CLOEXEC));
			transcript_info(t, ro, "INFO ro");
			transcript_result(t, "pwrite ro", pwrite(ro, "x", 1, 0));
			transcript_result(t, "SEAL ro", ioctl(ro, SNAPVM_REGION_SEAL, 0));
			transcript_restore(t, "RESTORE ro", ro, SNAPVM_RESTORE_ZERO, 0, bitmap, 0,
					   16);
			transcript_restore(t, "RESTORE b from ro", b, ro, 0, bitmap, 0, 16);
			close(ro);
		}
	}
	transcript_lazy(t, dev, a, b, bitmap);
	transcript_result(t, "SEAL b", ioctl(b, SNAPVM_REGION_SEAL, 0));
	transcript_restore(t, "RESTORE b sealed", b, a, 0, bitmap, 0, 16);
	close(c);
	close(b);
	close(a);
	close(dev);
}

#endif /* SNAPVM_TESTS_MODULE_TRANSCRIPT_H */
