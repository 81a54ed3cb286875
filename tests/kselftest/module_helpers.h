/* SPDX-License-Identifier: GPL-2.0 */
/*
 * module_helpers.h - what the kselftests of snapvm.ko share: region calls that
 * return errno, /proc and /sys readers, CAP_IPC_LOCK, child checks. Include
 * after kselftest_harness.h.
 */
#ifndef SNAPVM_TESTS_MODULE_HELPERS_H
#define SNAPVM_TESTS_MODULE_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uapi/snapvm.h"

#define PAGE		  SNAPVM_PAGE_SIZE
#define RW		  (SNAPVM_PROT_READ | SNAPVM_PROT_WRITE)
#define PINNED_PAGES_PATH "/sys/class/misc/snapvm/pinned_pages"
#define PARAM_DIR	  "/sys/module/snapvm/parameters/"

/* 0 when @ret says success, else the errno the call left. */
static inline int err_of(long ret)
{
	return ret < 0 ? errno : 0;
}

static inline int snapvm_open(void)
{
	return open("/dev/snapvm", O_RDWR | O_CLOEXEC);
}

static inline int region_create(int dev, uint64_t size, uint32_t prot)
{
	struct snapvm_region_create args = {.size = size, .prot = prot};

	return ioctl(dev, SNAPVM_CREATE_REGION, &args);
}

/* errno of a CREATE_REGION with @args (0 if it worked; the region is closed). */
static inline int create_errno(int dev, struct snapvm_region_create args)
{
	int fd = ioctl(dev, SNAPVM_CREATE_REGION, &args);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static inline int region_seal(int fd)
{
	return ioctl(fd, SNAPVM_REGION_SEAL, 0);
}

static inline struct snapvm_region_info region_info(int fd)
{
	struct snapvm_region_info info;

	memset(&info, 0xa5, sizeof(info));
	if (ioctl(fd, SNAPVM_REGION_INFO, &info))
		memset(&info, 0xff, sizeof(info));
	return info;
}

static inline long region_restore(int dst, int src_fd, const uint64_t *bitmap, uint64_t first_page,
				  uint64_t npages)
{
	struct snapvm_region_restore args = {
	    .src_fd = src_fd,
	    .bitmap = (uintptr_t)bitmap,
	    .first_page = first_page,
	    .npages = npages,
	};

	return ioctl(dst, SNAPVM_REGION_RESTORE, &args);
}

/* errno of an mmap (0 if it worked; the mapping is removed again). */
static inline int mmap_errno(int fd, size_t len, int prot, int flags, off_t offset)
{
	void *p = mmap(NULL, len, prot, flags, fd, offset);

	if (p == MAP_FAILED)
		return errno;
	munmap(p, len);
	return 0;
}

/* Fills page @i of a region with the byte @fill(i). */
static inline int region_fill(int fd, size_t npages, int (*fill)(size_t))
{
	char page[PAGE];

	for (size_t i = 0; i < npages; i++) {
		memset(page, fill(i), sizeof(page));
		if (pwrite(fd, page, sizeof(page), i * PAGE) != (ssize_t)sizeof(page))
			return -1;
	}
	return 0;
}

/* The byte at @offset of a region, or -1. */
static inline int byte_at(int fd, off_t offset)
{
	unsigned char c;

	return pread(fd, &c, 1, offset) == 1 ? c : -1;
}

/* The byte page @i holds if it is uniform, else -1 (-2 on a read error). */
static inline int page_byte(int fd, size_t i)
{
	unsigned char page[PAGE];

	if (pread(fd, page, sizeof(page), i * PAGE) != (ssize_t)sizeof(page))
		return -2;
	for (size_t j = 1; j < sizeof(page); j++)
		if (page[j] != page[0])
			return -1;
	return page[0];
}

static inline long read_long_file(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

static inline int write_long_file(const char *path, long value)
{
	char buf[32];
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int len = snprintf(buf, sizeof(buf), "%ld\n", value);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, buf, len);
	close(fd);
	return n == len ? 0 : -1;
}

static inline long pinned_pages(void)
{
	return read_long_file(PINNED_PAGES_PATH);
}

static inline long param_read(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	return read_long_file(path);
}

static inline int param_write(const char *name, long value)
{
	char path[128];

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	return write_long_file(path, value);
}

/* A field of /proc/self/status in kB (VmLck), or -1. */
static inline long status_kb(const char *field)
{
	char line[256];
	size_t len = strlen(field);
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':')
			kb = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return kb;
}

/* A path next to the repository root this binary was built in. */
static inline void repo_path(char *out, size_t size, const char *rel)
{
	char exe[PATH_MAX] = "";
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		n = 0;
	exe[n] = '\0';
	/* build/tests/kselftest/module_test -> the root is three levels up. */
	if (snprintf(out, size, "%s/../../../%s", dirname(exe), rel) >= (int)size)
		out[0] = '\0';
}

/* Drops CAP_IPC_LOCK from the effective and permitted sets, for good. */
static inline int drop_cap_ipc_lock(void)
{
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &header, data))
		return -1;
	data[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
	data[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
	return syscall(SYS_capset, &header, data);
}

/*
 * Children report the first thing that went wrong as a "# " line (TAP
 * diagnostics) and exit 1; the parent checks for exit status 0.
 */
#define CHILD_CHECK(cond, ...)                                                                     \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "# child: " __VA_ARGS__);                                  \
			fprintf(stderr, " (%s; errno %d %s)\n", #cond, errno, strerror(errno));    \
			_exit(1);                                                                  \
		}                                                                                  \
	} while (0)

static inline int wait_status(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A file of the test's cgroup directory: write @value, or read a "key value" line. */
static inline int cg_write(const char *dir, const char *file, const char *value)
{
	char path[PATH_MAX + NAME_MAX + 2];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = write(fd, value, strlen(value)) == (ssize_t)strlen(value);
	close(fd);
	return ok ? 0 : -1;
}

static inline long cg_read(const char *dir, const char *file, const char *key)
{
	char path[PATH_MAX + NAME_MAX + 2], line[256];
	size_t len = key ? strlen(key) : 0;
	long value = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!key || (!strncmp(line, key, len) && line[len] == ' ')) {
			value = strtol(line + len, NULL, 10);
			break;
		}
	fclose(f);
	return value;
}

/* A bare KVM guest in real mode, code at GPA 0x1000 (tests of KVM on regions). */
struct guest {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	int run_size;
};

static inline int guest_create(struct guest *g)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = {.rip = 0x1000, .rflags = 2};

	g->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (g->kvm < 0)
		return -1;
	g->vm = ioctl(g->kvm, KVM_CREATE_VM, 0);
	if (g->vm < 0)
		return -1;
	g->vcpu = ioctl(g->vm, KVM_CREATE_VCPU, 0);
	if (g->vcpu < 0)
		return -1;
	g->run_size = ioctl(g->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	g->run = mmap(NULL, g->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, g->vcpu, 0);
	if (g->run == MAP_FAILED)
		return -1;
	/* Real mode, flat at 0: code at 0x1000. */
	if (ioctl(g->vcpu, KVM_GET_SREGS, &sregs))
		return -1;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(g->vcpu, KVM_SET_SREGS, &sregs))
		return -1;
	return ioctl(g->vcpu, KVM_SET_REGS, &regs);
}

static inline void guest_destroy(struct guest *g)
{
	if (g->run && g->run != MAP_FAILED)
		munmap(g->run, g->run_size);
	if (g->vcpu > 0)
		close(g->vcpu);
	if (g->vm > 0)
		close(g->vm);
	if (g->kvm > 0)
		close(g->kvm);
}

static inline int guest_slot(struct guest *g, uint32_t slot, uint64_t gpa, void *hva, uint64_t size,
			     uint32_t flags)
{
	struct kvm_userspace_memory_region region = {
	    .slot = slot,
	    .flags = flags,
	    .guest_phys_addr = gpa,
	    .memory_size = size,
	    .userspace_addr = (uintptr_t)hva,
	};

	return ioctl(g->vm, KVM_SET_USER_MEMORY_REGION, &region);
}

/* Runs to the next exit; returns the exit reason, or -1 with errno. */
static inline int guest_run(struct guest *g)
{
	if (ioctl(g->vcpu, KVM_RUN, 0))
		return -1;
	return (int)g->run->exit_reason;
}

static inline uint32_t guest_out_value(struct guest *g)
{
	uint32_t v;

	memcpy(&v, (char *)g->run + g->run->io.data_offset, sizeof(v));
	return v;
}

/* The uid tests become to lose CAP_IPC_LOCK and every other privilege. */
#define NOBODY 65534

/*
 * A fixture with /dev/snapvm open whose teardown fails the test when it
 * left pages pinned: every test of the module checks for leaks this way.
 */
#define PINNED_FIXTURE(name)                                                                       \
	FIXTURE(name)                                                                              \
	{                                                                                          \
		int dev;                                                                           \
		long pinned_at_start;                                                              \
	};                                                                                         \
	FIXTURE_SETUP(name)                                                                        \
	{                                                                                          \
		self->dev = snapvm_open();                                                         \
		ASSERT_GE(self->dev, 0) TH_LOG("open /dev/snapvm: %s", strerror(errno));           \
		self->pinned_at_start = pinned_pages();                                            \
		ASSERT_GE(self->pinned_at_start, 0);                                               \
	}                                                                                          \
	FIXTURE_TEARDOWN(name)                                                                     \
	{                                                                                          \
		EXPECT_EQ(self->pinned_at_start, pinned_pages()) TH_LOG("pages leaked");           \
		close(self->dev);                                                                  \
	}

/* FNV-1a of a region's first @size bytes (0 when a read falls short). */
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

#endif /* SNAPVM_TESTS_MODULE_HELPERS_H */
