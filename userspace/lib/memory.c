// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * memory.c - guest memory regions from two backends with one behaviour: the
 * snapvm.ko module's regions (pinned, sealed by the kernel) and memfd with
 * F_SEAL_* as the fallback where the module is absent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "uapi/snapvm.h"
#include "userspace/lib/internal.h"

#define SNAPVM_DEVICE "/dev/snapvm"

/* A memfd can never change size; sealing for good adds the write seal. */
static const int memfd_size_seals = F_SEAL_SHRINK | F_SEAL_GROW;
static const int memfd_final_seals = F_SEAL_WRITE | F_SEAL_SEAL;

/* The device kept open by snapvm_module_preopen: regions made under the
 * seccomp filter (a snapshot taken) need it, and no openat is allowed then.
 * Otherwise each use opens and closes it, so that nothing holds the module. */
static int module_kept = -1;

static int open_module(struct snapvm_error *err)
{
	int kept = __atomic_load_n(&module_kept, __ATOMIC_ACQUIRE);
	int fd, version;

	if (kept >= 0)
		return kept;
	fd = open(SNAPVM_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -snapvm_fail_errno(err, EX_UNAVAILABLE, errno,
					  "--memory=kmod: cannot open " SNAPVM_DEVICE
					  " (is snapvm.ko loaded?)");
	version = ioctl(fd, SNAPVM_GET_API_VERSION);
	if (version != SNAPVM_API_VERSION) {
		int errnum = errno;

		close(fd);
		if (version < 0)
			return -snapvm_fail_errno(err, EX_UNAVAILABLE, errnum,
						  SNAPVM_DEVICE ": SNAPVM_GET_API_VERSION");
		return -snapvm_fail(err, EX_UNAVAILABLE,
				    SNAPVM_DEVICE " speaks API version %d, this snapvm needs %d",
				    version, SNAPVM_API_VERSION);
	}
	return fd;
}

static void close_module(int fd)
{
	if (fd != __atomic_load_n(&module_kept, __ATOMIC_ACQUIRE))
		close(fd);
}

void snapvm_module_preopen(void)
{
	struct snapvm_error ignored;
	int fd, none = -1;

	if (__atomic_load_n(&module_kept, __ATOMIC_ACQUIRE) >= 0 || access(SNAPVM_DEVICE, F_OK))
		return;
	fd = open_module(&ignored);
	if (fd >= 0 && !__atomic_compare_exchange_n(&module_kept, &none, fd, false,
						    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		close(fd); /* another thread kept one first */
}

int snapvm_memory_resolve(enum snapvm_memory wanted, enum snapvm_memory *memory,
			  struct snapvm_error *err)
{
	int fd;

	if (wanted == SNAPVM_MEMORY_MEMFD) {
		*memory = SNAPVM_MEMORY_MEMFD;
		return 0;
	}
	if (wanted == SNAPVM_MEMORY_AUTO && access(SNAPVM_DEVICE, F_OK) != 0) {
		*memory = SNAPVM_MEMORY_MEMFD;
		return 0;
	}
	fd = open_module(err);
	if (fd < 0)
		return -fd;
	close_module(fd);
	*memory = SNAPVM_MEMORY_KMOD;
	return 0;
}

/* The module's SNAPVM_FEATURE_* bits, asked once through dev (0 before ABI
 * v2's SNAPVM_GET_FEATURES answers); without dev (-1) the bits known so far,
 * or MODULE_FEATURES_UNKNOWN. */
#define MODULE_FEATURES_UNKNOWN (~0U)
static unsigned int module_features(int dev)
{
	static int features = -1;
	int f = __atomic_load_n(&features, __ATOMIC_RELAXED);

	if (f < 0 && dev < 0)
		return MODULE_FEATURES_UNKNOWN;
	if (f < 0) {
		f = ioctl(dev, SNAPVM_GET_FEATURES);
		if (f < 0)
			f = 0;
		__atomic_store_n(&features, f, __ATOMIC_RELAXED);
	}
	return (unsigned int)f;
}

static int create_kmod(uint64_t size, const char *what, bool lazy, struct snapvm_error *err)
{
	/* Scratch and snapshot both start writable; sealing drops WRITE. The
	 * host never executes guest memory, and KVM ignores the host's EXEC. */
	struct snapvm_region_create create = {
	    .size = size,
	    .prot = SNAPVM_PROT_READ | SNAPVM_PROT_WRITE,
	};
	int dev = open_module(err);
	int fd;

	if (dev < 0)
		return dev;
	/* Lazy: pinned and charged at first touch, so a sandbox costs the
	 * pages its guest uses, not its whole scratch. */
	if (lazy && (module_features(dev) & SNAPVM_FEATURE_LAZY))
		create.flags |= SNAPVM_CREATE_LAZY;
	fd = ioctl(dev, SNAPVM_CREATE_REGION, &create);
	if (fd < 0) {
		int errnum = errno;

		close_module(dev);
		if (errnum == ENOTTY)
			return -snapvm_fail(err, EX_UNAVAILABLE,
					    SNAPVM_DEVICE
					    " has no SNAPVM_CREATE_REGION (an "
					    "unfinished module?); try --memory=memfd");
		if (errnum == ENOMEM || errnum == EAGAIN)
			return -snapvm_fail_errno(err, EX_OSERR, errnum,
						  "cannot pin %llu bytes for the %s region (check "
						  "RLIMIT_MEMLOCK and snapvm.ko's max_total_mb)",
						  (unsigned long long)size, what);
		return -snapvm_fail_errno(err, EX_OSERR, errnum,
					  "SNAPVM_CREATE_REGION for the %s region (%llu bytes)",
					  what, (unsigned long long)size);
	}
	close_module(dev);
	return fd;
}

static int create_memfd(uint64_t size, const char *what, struct snapvm_error *err)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "snapvm-%s", what);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -snapvm_fail_errno(err, EX_OSERR, errno, "memfd_create for the %s region",
					  what);
	if (ftruncate(fd, (off_t)size) != 0 || fcntl(fd, F_ADD_SEALS, memfd_size_seals) != 0) {
		int errnum = errno;

		close(fd);
		return -snapvm_fail_errno(err, EX_OSERR, errnum, "sizing the %s memfd (%llu bytes)",
					  what, (unsigned long long)size);
	}
	return fd;
}

int snapvm_region_create(enum snapvm_memory memory, uint64_t size, const char *what, bool lazy,
			 struct snapvm_region *region, struct snapvm_error *err)
{
	int fd;

	if (size == 0 || size % SNAPVM_PAGE != 0 || size > (uint64_t)INT64_MAX)
		return snapvm_fail(err, EX_SOFTWARE, "bad size %llu for the %s region",
				   (unsigned long long)size, what);
	if (memory == SNAPVM_MEMORY_KMOD)
		fd = create_kmod(size, what, lazy, err);
	else
		fd = create_memfd(size, what, err);
	if (fd < 0)
		return -fd;
	*region = (struct snapvm_region){.fd = fd, .size = size, .memory = memory};
	return 0;
}

bool snapvm_region_can_clone(const struct snapvm_region *sealed)
{
	struct snapvm_error ignored;
	unsigned int features;
	int dev;

	if (sealed->memory != SNAPVM_MEMORY_KMOD || !sealed->sealed)
		return false;
	/* A sealed kmod region was made by the module the features came from. */
	features = module_features(-1);
	if (features == MODULE_FEATURES_UNKNOWN) {
		dev = open_module(&ignored);
		if (dev < 0)
			return false;
		features = module_features(dev);
		close_module(dev);
	}
	return features & SNAPVM_FEATURE_CLONE;
}

int snapvm_region_clone(const struct snapvm_region *sealed, const char *what,
			struct snapvm_region *clone, struct snapvm_error *err)
{
	struct snapvm_region_clone args = {.prot = SNAPVM_PROT_READ | SNAPVM_PROT_WRITE};
	int fd = ioctl(sealed->fd, SNAPVM_REGION_CLONE, &args);

	if (fd < 0)
		return snapvm_fail_errno(err, errno == ENOMEM ? EX_OSERR : EX_SOFTWARE, errno,
					 "SNAPVM_REGION_CLONE for the %s region (%llu bytes)", what,
					 (unsigned long long)sealed->size);
	*clone =
	    (struct snapvm_region){.fd = fd, .size = sealed->size, .memory = SNAPVM_MEMORY_KMOD};
	return 0;
}

int snapvm_region_write(struct snapvm_region *region, uint64_t offset, const void *buf,
			uint64_t len, struct snapvm_error *err)
{
	const unsigned char *p = buf;

	if (offset > region->size || len > region->size - offset)
		return snapvm_fail(err, EX_SOFTWARE, "write beyond the end of a region");
	while (len) {
		ssize_t n =
		    pwrite(region->fd, p, len > (1U << 30) ? (1U << 30) : len, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return snapvm_fail_errno(
			    err, EX_OSERR, n < 0 ? errno : EIO, "writing %s region at offset %llu",
			    snapvm_memory_name(region->memory), (unsigned long long)offset);
		p += n;
		offset += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

int snapvm_region_seal(struct snapvm_region *region, struct snapvm_error *err)
{
	int ret;

	if (region->memory == SNAPVM_MEMORY_KMOD)
		ret = ioctl(region->fd, SNAPVM_REGION_SEAL, 0); /* no flags */
	else
		ret = fcntl(region->fd, F_ADD_SEALS, memfd_final_seals);
	if (ret != 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "sealing the %s snapshot region",
					 snapvm_memory_name(region->memory));
	region->sealed = true;
	return 0;
}

void *snapvm_region_map(struct snapvm_region *region, enum snapvm_map how, struct snapvm_error *err)
{
	int prot = PROT_READ, flags = MAP_SHARED;
	void *p;

	if (how == SNAPVM_MAP_SHARED_RW)
		prot |= PROT_WRITE;
	if (how == SNAPVM_MAP_PRIVATE_RW) {
		prot |= PROT_WRITE;
		/* Copy-on-write: the guest's writes stay in this process. The
		 * copies are charged only when made, hence MAP_NORESERVE. */
		flags = MAP_PRIVATE | MAP_NORESERVE;
	}
	p = mmap(NULL, region->size, prot, flags, region->fd, 0);
	if (p == MAP_FAILED) {
		snapvm_fail_errno(err, EX_OSERR, errno, "mmap of a %llu-byte %s region",
				  (unsigned long long)region->size,
				  snapvm_memory_name(region->memory));
		return NULL;
	}
	return p;
}

void snapvm_region_close(struct snapvm_region *region)
{
	if (region->fd >= 0)
		close(region->fd);
	region->fd = -1;
}
