/* SPDX-License-Identifier: GPL-2.0 */
/*
 * module_lazy.h - what the kselftests of lazy regions and clones share: the
 * lazy fixture (its teardown finds pages leaked), creating lazy regions,
 * clones and sealed sources, resident pages, a region's hash. Include after
 * kselftest_harness.h and module_helpers.h.
 */
#ifndef SNAPVM_TESTS_MODULE_LAZY_H
#define SNAPVM_TESTS_MODULE_LAZY_H

#include <stdbool.h>

/* The lazy fixture: /dev/snapvm open, no page left pinned at its end. */
PINNED_FIXTURE(lazy)

static inline int lazy_create(int dev, uint64_t size, uint32_t prot)
{
	struct snapvm_region_create args = {
	    .size = size, .prot = prot, .flags = SNAPVM_CREATE_LAZY};

	return ioctl(dev, SNAPVM_CREATE_REGION, &args);
}

static inline int region_clone(int fd, uint32_t prot)
{
	struct snapvm_region_clone args = {.prot = prot};

	return ioctl(fd, SNAPVM_REGION_CLONE, &args);
}

/* errno of a CLONE with @args (0 if it worked; the clone is closed). */
static inline int clone_errno(int fd, struct snapvm_region_clone args)
{
	int c = ioctl(fd, SNAPVM_REGION_CLONE, &args);

	if (c < 0)
		return errno;
	close(c);
	return 0;
}

static inline long resident(int fd)
{
	return (long)region_info(fd).resident_pages;
}

static inline int fill_byte(size_t i)
{
	return 'a' + (int)(i % 26);
}

/* A sealed region of @npages, page i all fill_byte(i). */
static inline int sealed_source(int dev, size_t npages, uint32_t prot)
{
	int fd = region_create(dev, npages * PAGE, prot);

	if (fd < 0)
		return -1;
	if (region_fill(fd, npages, fill_byte) || region_seal(fd)) {
		close(fd);
		return -1;
	}
	return fd;
}

#endif /* SNAPVM_TESTS_MODULE_LAZY_H */
