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

#define NOBODY 65534

FIXTURE(lazy)
{
	int dev;
	long pinned_at_start;
};

FIXTURE_SETUP(lazy)
{
	self->dev = snapvm_open();
	ASSERT_GE(self->dev, 0) TH_LOG("open /dev/snapvm: %s", strerror(errno));
	self->pinned_at_start = pinned_pages();
	ASSERT_GE(self->pinned_at_start, 0);
}

FIXTURE_TEARDOWN(lazy)
{
	EXPECT_EQ(self->pinned_at_start, pinned_pages()) TH_LOG("pages leaked");
	close(self->dev);
}

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

static inline uint64_t hash_region(int fd, size_t size)
{
	unsigned char buf[4096];
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t off = 0; off < size; off += sizeof(buf)) {
		if (pread(fd, buf, sizeof(buf), (off_t)off) != (ssize_t)sizeof(buf))
			return 0;
		for (size_t i = 0; i < sizeof(buf); i++)
			h = (h ^ buf[i]) * 0x100000001b3ULL;
	}
	return h;
}
#endif /* SNAPVM_TESTS_MODULE_LAZY_H */
