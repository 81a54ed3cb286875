/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * snapvm.h - the ioctl ABI of snapvm.ko, the one contract between the kernel
 * module and userspace (libsnapvm, the kselftests).
 *
 * /dev/snapvm hands out *regions*: pinned, zeroed, accounted memory that is
 * mapped into the VMM with exactly the protections the region declares. A
 * region can be *sealed*: from then on nobody can write it again, so many
 * sandboxes may map one snapshot region at once.
 */
#ifndef _UAPI_LINUX_SNAPVM_H
#define _UAPI_LINUX_SNAPVM_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * Bumped on every incompatible change; userspace refuses a module whose
 * SNAPVM_GET_API_VERSION differs from the version it was built with.
 */
#define SNAPVM_API_VERSION 2

/* Not taken in Documentation/userspace-api/ioctl/ioctl-number.rst (6.1). */
#define SNAPVM_IOCTL_MAGIC 0xBD

/* Region protections: the widest rights any mapping of the region may have. */
#define SNAPVM_PROT_READ (1U << 0)
#define SNAPVM_PROT_WRITE (1U << 1)
#define SNAPVM_PROT_EXEC (1U << 2)
#define SNAPVM_PROT_ALL (SNAPVM_PROT_READ | SNAPVM_PROT_WRITE | SNAPVM_PROT_EXEC)

/*
 * struct snapvm_region_create.flags. LAZY: pages are allocated, zeroed,
 * charged and pinned at first touch (a fault, pwrite or RESTORE) instead of
 * at create, and held from then on like any other region page.
 */
#define SNAPVM_CREATE_LAZY (1U << 0)
#define SNAPVM_CREATE_FLAGS_ALL SNAPVM_CREATE_LAZY

/* struct snapvm_region_info.flags */
#define SNAPVM_REGION_SEALED (1U << 0)
#define SNAPVM_REGION_READONLY_FD (1U << 1)	/* asked through a SNAPVM_REGION_DUP_READONLY fd */
#define SNAPVM_REGION_LAZY (1U << 2)	/* created with SNAPVM_CREATE_LAZY, or a clone */
#define SNAPVM_REGION_CLONED (1U << 3)	/* made by SNAPVM_REGION_CLONE */

/* struct snapvm_region_restore.flags: none defined yet. */
#define SNAPVM_RESTORE_FLAGS_ALL 0U

/* SNAPVM_REGION_SEAL's argument: none defined yet, every bit is EINVAL. */
#define SNAPVM_SEAL_FLAGS_ALL 0U

/* SNAPVM_GET_FEATURES: the optional features this module has. */
#define SNAPVM_FEATURE_DUP_READONLY (1U << 0)	/* SNAPVM_REGION_DUP_READONLY */
#define SNAPVM_FEATURE_LAZY (1U << 1)	/* SNAPVM_CREATE_LAZY, INFO's resident_pages */
#define SNAPVM_FEATURE_CLONE (1U << 2)	/* SNAPVM_REGION_CLONE */

/* SNAPVM_REGION_RESTORE.src_fd value meaning "zero the pages". */
#define SNAPVM_RESTORE_ZERO (-1)

/* Regions are made of, and addressed in, pages of this size. */
#define SNAPVM_PAGE_SIZE 4096ULL

struct snapvm_region_create {
	__u64 size;	/* bytes: non-zero multiple of SNAPVM_PAGE_SIZE */
	__u32 prot;	/* SNAPVM_PROT_*; must include READ */
	__u32 flags;	/* must be 0 */
	__u64 reserved[2];	/* must be 0 */
};

struct snapvm_region_info {
	__u64 size;
	__u32 prot;	/* as created; WRITE is gone once sealed */
	__u32 flags;	/* SNAPVM_REGION_* */
	__u64 reserved[2];	/* written as 0 */
	/*
	 * Pages this region holds now: size / 4096 unless lazy. A clone's
	 * pages still shared with its source are not counted. (Added after
	 * the first v2 modules; the 32-byte INFO of those is still answered.)
	 */
	__u64 resident_pages;
};

struct snapvm_region_clone {
	__u32 prot;	/* SNAPVM_PROT_*; must include READ */
	__u32 flags;	/* must be 0 */
	__u64 reserved[2];	/* must be 0 */
};

struct snapvm_region_restore {
	__s32 src_fd;	/* sealed region of the same size, or SNAPVM_RESTORE_ZERO */
	__u32 flags;	/* must be 0 */
	__u64 bitmap;	/* user pointer: KVM dirty-log format, bit i = page first_page + i */
	__u64 first_page;	/* first page the bitmap describes */
	__u64 npages;	/* number of bits in the bitmap */
	__u64 reserved[2];	/* must be 0 */
};

/* On /dev/snapvm. Returns SNAPVM_API_VERSION (like KVM_GET_API_VERSION). */
#define SNAPVM_GET_API_VERSION _IO(SNAPVM_IOCTL_MAGIC, 0x00)
/* On /dev/snapvm. Returns a new O_CLOEXEC region fd. */
#define SNAPVM_CREATE_REGION _IOW(SNAPVM_IOCTL_MAGIC, 0x01, struct snapvm_region_create)
/* On /dev/snapvm. Returns the SNAPVM_FEATURE_* bits of this module. */
#define SNAPVM_GET_FEATURES _IO(SNAPVM_IOCTL_MAGIC, 0x02)

/* On a region fd. */
#define SNAPVM_REGION_INFO _IOR(SNAPVM_IOCTL_MAGIC, 0x10, struct snapvm_region_info)
/*
 * The argument is a flags word, 0 today. Drops WRITE for good; EBUSY while
 * a shared writable mapping or a page reference that could write exists.
 */
#define SNAPVM_REGION_SEAL _IO(SNAPVM_IOCTL_MAGIC, 0x11)
/* Returns the number of pages copied or zeroed. */
#define SNAPVM_REGION_RESTORE _IOW(SNAPVM_IOCTL_MAGIC, 0x12, struct snapvm_region_restore)
/*
 * Returns a new O_CLOEXEC fd for the same region that can only read: pread,
 * INFO, mmap (shared read-only, or private copy-on-write) and DUP_READONLY.
 * SEAL, RESTORE and pwrite on it fail with EPERM. How a sealed snapshot is
 * handed to another process.
 */
#define SNAPVM_REGION_DUP_READONLY _IO(SNAPVM_IOCTL_MAGIC, 0x13)
/*
 * On a sealed region fd (a read-only one too). Returns a new O_CLOEXEC
 * region fd of the same size: a lazy private clone. A page it never wrote
 * reads as the source's; its first write (a fault, pwrite or RESTORE) gives
 * it a page of its own, copied from the source, charged and pinned. The
 * clone holds a reference on the source. How copy-on-write scratch is
 * backed: many sandboxes share one sealed scratch image.
 */
#define SNAPVM_REGION_CLONE _IOW(SNAPVM_IOCTL_MAGIC, 0x14, struct snapvm_region_clone)

#endif /* _UAPI_LINUX_SNAPVM_H */
