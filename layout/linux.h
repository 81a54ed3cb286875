/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * linux.h - the protocol between the Linux personality (guests/linux/, a
 * ring-0 guest kernel that runs an unmodified static Linux program in ring
 * 3) and its host side (userspace/linux.c). The personality reaches the
 * host through HOST_CALL (layout/abi.h) with the function numbers below;
 * everything else it answers alone. Pure C on <stdint.h>: fixed sizes.
 */
#ifndef SNAPVM_LAYOUT_LINUX_H
#define SNAPVM_LAYOUT_LINUX_H

#include <stdint.h>

/* The personality's image starts (at its link address, 0x100000) with a
 * short jump over this string, so a snapshot file tells what it holds. */
#define LX_MAGIC      "snapvm-linux-personality-1"
#define LX_MAGIC_GPA  0x100002ULL
#define LX_IMAGE_BASE 0x100000ULL

/* HOST_CALL function numbers ("LX" << 16 | n). */
#define LX_HC_SETUP  0x4c580001 /* out: struct lx_setup */
#define LX_HC_IMAGE  0x4c580002 /* in: u64 file offset; out: the program's bytes */
#define LX_HC_ARGS   0x4c580003 /* out: struct lx_args + strings */
#define LX_HC_READ   0x4c580004 /* in: struct lx_io; out: bytes read */
#define LX_HC_WRITE  0x4c580005 /* in: struct lx_io + bytes; result: 0 (all written) or -errno */
#define LX_HC_STDERR 0x4c580006 /* in: text for the launcher's stderr (traces, faults) */
#define LX_HC_TIME   0x4c580007 /* in: u32 clock id; out: struct lx_time */
#define LX_HC_RANDOM 0x4c580008 /* out: random bytes (getrandom) */
#define LX_HC_FSTAT  0x4c580009 /* in: struct lx_io; out: struct lx_stat of stdin/out/err */
#define LX_HC_IOCTL  0x4c58000a /* in: struct lx_io (reserved = request); out: its bytes */
#define LX_HC_SLEEP  0x4c58000b /* in: struct lx_time; result 0 or -EINTR */
#define LX_HC_FILE   0x4c58000c /* in: struct lx_file [+ path]; out: per op (--root) */
/* Close every file of --root (after a restore, at exit): a request never
 * sees the host files an earlier one opened. */
#define LX_HC_FILES_RESET 0x4c58000d
/* Signals from the host (snapvm_linux_raise): in: struct lx_sigstate (what
 * the program handles, ignores or blocks); out: u64 signals raised since
 * the last call (bit n-1: signal n), which the host then forgets. */
#define LX_HC_SIGNALS 0x4c58000e

/* The interrupt vector the host injects (KVM_INTERRUPT) when it raised a
 * signal the program must see while it computes in ring 3: its IDT gate
 * (DPL 0) enters the personality, which then asks LX_HC_SIGNALS. */
#define LX_SIGNAL_VECTOR 0x81

/* Signals whose default action is to do nothing (SIGCHLD, SIGCONT, SIGURG,
 * SIGWINCH) or to stop (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU: no job control
 * here, so nothing either); every other default terminates. */
#define LX_SIGBIT(n) (1ULL << ((n)-1))
#define LX_SIG_DEFAULT_NOTHING                                                                     \
	(LX_SIGBIT(17) | LX_SIGBIT(18) | LX_SIGBIT(23) | LX_SIGBIT(28) | LX_SIGBIT(19) |           \
	 LX_SIGBIT(20) | LX_SIGBIT(21) | LX_SIGBIT(22))

/* struct lx_sigstate.flags */
#define LX_SIGSTATE_RESTORED (1U << 0) /* first call after a restore */

struct lx_sigstate {
	uint64_t wants; /* signals with a handler or SIG_IGN, or blocked: the
			 * host leaves them to the personality */
	uint32_t flags;
	uint32_t reserved;
};

/* The guest's own clock: the host's clocks now and the rate of the TSC the
 * guest reads (struct lx_clock), asked at boot and after every restore, so
 * that clock_gettime, gettimeofday and time make no VM exit. */
#define LX_HC_CLOCK 0x4c58000f

/* LX_HC_READ's result when the host wants a snapshot before this read
 * (--snapshot-at=first-read): the personality takes it (SNAPSHOT) and then
 * reads again. */
#define LX_READ_SNAPSHOT (-1000)

/* struct lx_setup.flags */
#define LX_SETUP_TRACE		(1U << 0) /* --trace-syscalls */
#define LX_SETUP_SNAPSHOT_ENTRY (1U << 1) /* SNAPSHOT before the first instruction */
#define LX_SETUP_TTY_SHIFT	8	  /* bit 8 + fd: fd 0/1/2 is a terminal */

#define LX_MAX_SEGMENTS 16
#define LX_CWD_MAX	1024 /* with its NUL: a working directory the guest can have */
#define LX_NODENAME_MAX 65   /* with its NUL: struct utsname's field */

/* PROT_* as Linux numbers them. */
#define LX_PROT_READ  1
#define LX_PROT_WRITE 2
#define LX_PROT_EXEC  4

/* A mapping: whole pages, disjoint from the others, sorted; rights are
 * the union of the segments that share a page. */
struct lx_map {
	uint64_t start, end;
	uint32_t prot; /* LX_PROT_* */
	uint32_t reserved;
};

/* File bytes to copy: filesz bytes from offset to vaddr (inside a map). */
struct lx_copy {
	uint64_t vaddr; /* with the load bias applied */
	uint64_t filesz;
	uint64_t offset;
};

/* What the host validated about the program (userspace/linux.c refuses
 * anything the personality could not load: W+X, outside the user range). */
struct lx_setup {
	uint32_t version; /* 1 */
	uint32_t flags;
	uint64_t entry;
	uint64_t phdr; /* AT_PHDR: GVA of the program headers, 0 when not loaded */
	uint32_t phnum, phent;
	uint64_t brk_start; /* page after the highest segment */
	uint64_t max_pages; /* memory the program may have (--max-memory) */
	uint64_t reserved;  /* 0 (AT_HWCAP comes from the guest's own CPUID) */
	uint32_t nmaps, ncopies;
	struct lx_map maps[LX_MAX_SEGMENTS];
	struct lx_copy copies[LX_MAX_SEGMENTS];
	/* snapvm_linux_options.cwd and .hostname (snapvm-runc's process.cwd and
	 * hostname): getcwd's and uname's answers; "" = "/" and "snapvm". */
	char cwd[LX_CWD_MAX];
	char nodename[LX_NODENAME_MAX];
	char pad[7]; /* to a multiple of 8: the same size on i386 and amd64 */
};
_Static_assert(sizeof(struct lx_setup) % 8 == 0, "lx_setup differs between i386 and amd64");

/* LX_HC_ARGS' output: argc strings, then envc strings, each NUL-ended. */
struct lx_args {
	uint32_t argc, envc;
	uint32_t strings_len;
	uint32_t reserved;
	uint8_t random[16]; /* AT_RANDOM */
};

struct lx_io {
	int32_t fd;
	uint32_t reserved;
};

struct lx_time {
	int64_t sec, nsec;
};

/* LX_HC_CLOCK's output. tsc_khz 0: no TSC rate to trust (LX_HC_TIME then
 * answers every call). */
struct lx_clock {
	uint64_t tsc_khz;
	int64_t realtime_ns, monotonic_ns, boottime_ns;
};

struct lx_stat {
	uint64_t dev, ino, nlink, rdev, size, blksize, blocks;
	uint32_t mode, uid, gid, reserved;
	struct lx_time atime, mtime, ctime;
};

/* LX_HC_FILE: one operation on --root's files. Paths follow the struct
 * (in_len - sizeof(struct lx_file) bytes, no NUL) and are resolved by the
 * host inside the root; fd is a host handle (the result of OPEN or DUP) or
 * LX_FILE_CWD (the root, which is also the program's working directory). */
#define LX_FILE_CWD	       (-100)
#define LX_FILE_OPEN	       1 /* flags: Linux O_*; result: handle */
#define LX_FILE_STAT	       2 /* flags: LX_AT_*; out: struct lx_stat */
#define LX_FILE_ACCESS	       3 /* flags: R_OK|W_OK|X_OK; result 0 or -errno */
#define LX_FILE_READLINK       4 /* out: the link's text; result: its length */
#define LX_FILE_READ	       5 /* offset -1: at the file position, else pread; out: bytes */
#define LX_FILE_SEEK	       6 /* offset, flags = whence; out: int64_t new position */
#define LX_FILE_GETDENTS       7 /* out: struct linux_dirent64 records (same on both ABIs) */
#define LX_FILE_CLOSE	       8
#define LX_FILE_DUP	       9 /* result: a new handle sharing the file position */
#define LX_AT_SYMLINK_NOFOLLOW 0x100
#define LX_AT_EMPTY_PATH       0x1000
#define LX_PATH_MAX	       4096 /* with its NUL, as Linux's PATH_MAX */
#define LX_MAX_FILES	       64   /* host files open at once */

struct lx_file {
	int32_t fd;
	uint32_t op; /* LX_FILE_* */
	uint32_t flags;
	uint32_t reserved;
	int64_t offset;
};

/* User address space, per layout: [LX_USER_MIN, lx_user_top). The
 * personality's image, its scratch and page tables lie outside. */
#define LX_USER_MIN	  0x400000ULL
#define LX_USER_TOP_AMD64 0x7ffffffff000ULL
#define LX_USER_TOP_I686  0xc0000000ULL
#define LX_STACK_SIZE	  (8ULL << 20) /* reserved below the top, like RLIMIT_STACK */

#endif /* SNAPVM_LAYOUT_LINUX_H */
