/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * syscalls.c - the Linux personality's system calls: one table (LX_SYSCALLS
 * below, the only list of what is supported; docs/linux.md is checked
 * against it) with each call's amd64 and i386 number, and the calls.
 * Only I/O, time, sleep, randomness and exit leave the guest (host calls);
 * everything else is answered here. A number not in the table: ENOSYS.
 */
#include "guests/linux/lx.h"

typedef long sys_fn(const uintptr_t *a);

#include "guests/linux/syscalls.h"

#define DECLARE(name, n64, n32, fn, fmt) static sys_fn fn;
LX_SYSCALLS(DECLARE)
/* Several entries share a handler: declaring twice is fine in C. */

struct sysent {
	const char *name;
	sys_fn *fn;
	const char *fmt;
};

#if LX_AMD64
#define ENTRY(name, n64, n32, fn, fmt) [(n64) < 0 ? 1023 : (n64)] = {#name, fn, fmt},
#else
#define ENTRY(name, n64, n32, fn, fmt) [(n32) < 0 ? 1023 : (n32)] = {#name, fn, fmt},
#endif
/* Every "-1" lands on the unused slot 1023, which lookups never reach. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static const struct sysent table[1024] = {LX_SYSCALLS(ENTRY)};
#pragma GCC diagnostic pop

/* ---- the process's small state ---- */

#define NFDS 64
enum { FD_NONE, FD_STDIN, FD_STDOUT, FD_STDERR, FD_FILE };
static uint8_t fd_kind[NFDS] = {FD_STDIN, FD_STDOUT, FD_STDERR};
static uint8_t fd_cloexec[NFDS];
static int32_t fd_handle[NFDS]; /* FD_FILE: the host's handle (LX_HC_FILE) */
static char comm[16] = "busybox";
static uintptr_t sigactions[65][4]; /* handler, flags, restorer, mask */
static uint64_t sigmask;
static uintptr_t altstack[3];
static uint32_t cur_umask = 022;

static long sys_enosys(const uintptr_t *a)
{
	return -ENOSYS;
}

static long sys_zero(const uintptr_t *a)
{
	return 0;
}

/* Whatever the path: nothing the program sees can be written. */
static long sys_erofs(const uintptr_t *a)
{
	return -EROFS;
}

static long sys_getpid(const uintptr_t *a)
{
	return 1;
}

static int fd_ok(uintptr_t fd)
{
	return fd < NFDS && fd_kind[fd] != FD_NONE;
}

/* ---- --root's files: the host opens and reads them ---- */

/* One request's struct and path; the personality is single-threaded. */
static struct {
	struct lx_file f;
	char path[LX_PATH_MAX];
} freq;

static long file_call(int32_t handle, uint32_t op, uint32_t flags, int64_t offset, size_t path_len,
		      void *out, size_t cap)
{
	freq.f.fd = handle;
	freq.f.op = op;
	freq.f.flags = flags;
	freq.f.reserved = 0;
	freq.f.offset = offset;
	return lx_hostcall(LX_HC_FILE, &freq, sizeof(freq.f) + path_len, out, cap);
}

static int is_file(uintptr_t fd)
{
	return fd < NFDS && fd_kind[fd] == FD_FILE;
}

/* Copy the program's path (bounded by PATH_MAX) into freq.path; the handle
 * it is relative to in *dir: an absolute path ignores dirfd, as in Linux. */
static long get_path(uintptr_t dirfd, uintptr_t upath, int32_t *dir)
{
	long len = lx_user_strlen(upath, LX_PATH_MAX);

	if (len < 0)
		return len;
	if (lx_copy_from_user(freq.path, upath, (size_t)len))
		return -EFAULT;
	if ((len && freq.path[0] == '/') || (int)dirfd == LX_FILE_CWD)
		*dir = LX_FILE_CWD;
	else if (is_file(dirfd))
		*dir = fd_handle[dirfd];
	else if (!len)
		*dir = LX_FILE_CWD; /* AT_EMPTY_PATH of a standard fd: the caller's */
	else
		return dirfd < NFDS && fd_kind[dirfd] != FD_NONE ? -ENOTDIR : -EBADF;
	return len;
}

static void file_close(uintptr_t fd)
{
	if (is_file(fd))
		file_call(fd_handle[fd], LX_FILE_CLOSE, 0, 0, 0, NULL, 0);
	fd_kind[fd] = FD_NONE;
	fd_cloexec[fd] = 0;
}

/* ---- I/O on fds 0-2 (and their duplicates) ---- */

static long file_read(uintptr_t fd, uintptr_t buf, size_t len, int64_t offset)
{
	if (!len)
		return 0;
	if ((intptr_t)len < 0)
		return -EINVAL;
	if (len > SNAPVM_HOST_CALL_MAX)
		len = SNAPVM_HOST_CALL_MAX;
	if (!lx_user_ok(buf, len, 1))
		return -EFAULT;
	return file_call(fd_handle[fd], LX_FILE_READ, 0, offset, 0, (void *)buf, len);
}

static long sys_read(const uintptr_t *a)
{
	if (!fd_ok(a[0]))
		return -EBADF;
	if (is_file(a[0]))
		return file_read(a[0], a[1], a[2], -1);
	if (fd_kind[a[0]] != FD_STDIN)
		return -EBADF; /* stdout/stderr are write-only here */
	return lx_read_stdin(a[1], a[2]);
}

static long do_write(uintptr_t fd, uintptr_t buf, size_t len)
{
	if (!fd_ok(fd))
		return -EBADF;
	if (fd_kind[fd] == FD_STDIN)
		return -EBADF;
	if ((intptr_t)len < 0)
		return -EINVAL;
	return lx_output(fd_kind[fd] == FD_STDOUT ? 1 : 2, buf, len);
}

static long sys_write(const uintptr_t *a)
{
	return do_write(a[0], a[1], a[2]);
}

/* struct iovec of the program's word size. */
static long do_iov(uintptr_t fd, uintptr_t iov, uintptr_t cnt, int write)
{
	long total = 0;

	if (cnt > 1024)
		return -EINVAL;
	for (uintptr_t i = 0; i < cnt; i++) {
		uintptr_t v[2];
		long n;

		if (lx_copy_from_user(v, iov + i * sizeof(v), sizeof(v)))
			return total ? total : -EFAULT;
		if (!v[1])
			continue;
		n = write ? do_write(fd, v[0], v[1]) : sys_read((uintptr_t[]){fd, v[0], v[1]});
		if (n < 0)
			return total ? total : n;
		total += n;
		if ((uintptr_t)n < v[1])
			break;
	}
	return total;
}

#define POLLIN	 0x001
#define POLLOUT	 0x004
#define POLLNVAL 0x020

/* No fd here ever waits on another party but the host: every open one is
 * ready (a read then blocks in the host, as a read without poll would). */
static long sys_poll(const uintptr_t *a)
{
	struct {
		int32_t fd;
		int16_t events, revents;
	} p;
	long ready = 0;

	if (a[1] > 1024)
		return -EINVAL;
	for (uintptr_t i = 0; i < a[1]; i++) {
		if (lx_copy_from_user(&p, a[0] + i * sizeof(p), sizeof(p)))
			return -EFAULT;
		if (p.fd < 0)
			p.revents = 0;
		else if (!fd_ok((uintptr_t)p.fd))
			p.revents = POLLNVAL;
		else
			p.revents = (int16_t)(p.events & (POLLIN | POLLOUT));
		ready += !!p.revents;
		if (lx_copy_to_user(a[0] + i * sizeof(p), &p, sizeof(p)))
			return -EFAULT;
	}
	return ready;
}

static long sys_readv(const uintptr_t *a)
{
	return do_iov(a[0], a[1], a[2], 0);
}

static long sys_writev(const uintptr_t *a)
{
	return do_iov(a[0], a[1], a[2], 1);
}

static long sys_pread64(const uintptr_t *a)
{
	/* i386 passes the 64-bit offset in two registers. */
	int64_t off = LX_AMD64 ? (int64_t)a[3] : (int64_t)((uint64_t)a[4] << 32 | (uint32_t)a[3]);

	if (!fd_ok(a[0]))
		return -EBADF;
	if (!is_file(a[0]))
		return -ESPIPE;
	if (off < 0)
		return -EINVAL;
	return file_read(a[0], a[1], a[2], off);
}

static long do_seek(uintptr_t fd, int64_t off, uintptr_t whence, int64_t *pos)
{
	long n;

	if (!fd_ok(fd))
		return -EBADF;
	if (!is_file(fd))
		return -ESPIPE;
	if (whence > 4)
		return -EINVAL;
	n = file_call(fd_handle[fd], LX_FILE_SEEK, (uint32_t)whence, off, 0, pos, sizeof(*pos));
	return n < 0 ? n : 0;
}

static long sys_lseek(const uintptr_t *a)
{
	int64_t pos;
	long ret = do_seek(a[0], (int64_t)(intptr_t)a[1], a[2], &pos);

	if (ret)
		return ret;
	if (pos != (int64_t)(long)pos)
		return -EOVERFLOW;
	return (long)pos;
}

static long sys_llseek(const uintptr_t *a)
{
	int64_t pos;
	long ret = do_seek(a[0], (int64_t)((uint64_t)a[1] << 32 | (uint32_t)a[2]), a[4], &pos);

	return ret ? ret : lx_copy_to_user(a[3], &pos, sizeof(pos));
}

static long sys_close(const uintptr_t *a)
{
	if (!fd_ok(a[0]))
		return -EBADF;
	if (fd_kind[a[0]] == FD_STDOUT || fd_kind[a[0]] == FD_STDERR)
		lx_flush();
	file_close(a[0]);
	return 0;
}

static long dup_to(uintptr_t old, uintptr_t new, int cloexec)
{
	int32_t h = 0;
	long n;

	if (!fd_ok(old) || new >= NFDS)
		return -EBADF;
	/* Each descriptor of a file has its own host handle (a dup on the
	 * host: they share the file position, as in Linux). */
	if (is_file(old)) {
		n = file_call(fd_handle[old], LX_FILE_DUP, 0, 0, 0, &h, sizeof(h));
		if (n < 0)
			return n;
	}
	if (fd_ok(new))
		file_close(new);
	fd_kind[new] = fd_kind[old];
	fd_handle[new] = h;
	fd_cloexec[new] = (uint8_t)cloexec;
	return (long)new;
}

static long lowest_free(uintptr_t from)
{
	for (uintptr_t fd = from; fd < NFDS; fd++)
		if (fd_kind[fd] == FD_NONE)
			return (long)fd;
	return -EMFILE;
}

static long sys_dup(const uintptr_t *a)
{
	long fd;

	if (!fd_ok(a[0]))
		return -EBADF;
	fd = lowest_free(0);
	return fd < 0 ? fd : dup_to(a[0], (uintptr_t)fd, 0);
}

static long sys_dup2(const uintptr_t *a)
{
	if (!fd_ok(a[0]))
		return -EBADF;
	return a[0] == a[1] ? (long)a[0] : dup_to(a[0], a[1], 0);
}

static long sys_dup3(const uintptr_t *a)
{
	if (a[0] == a[1] || (a[2] & ~0x80000U))
		return -EINVAL;
	return dup_to(a[0], a[1], !!(a[2] & 0x80000));
}

#define F_DUPFD		0
#define F_GETFD		1
#define F_SETFD		2
#define F_GETFL		3
#define F_SETFL		4
#define F_DUPFD_CLOEXEC 1030

static long sys_fcntl(const uintptr_t *a)
{
	long fd;

	if (!fd_ok(a[0]))
		return -EBADF;
	switch (a[1]) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		if (a[2] >= NFDS)
			return -EINVAL;
		fd = lowest_free(a[2]);
		return fd < 0 ? fd : dup_to(a[0], (uintptr_t)fd, a[1] == F_DUPFD_CLOEXEC);
	case F_GETFD:
		return fd_cloexec[a[0]];
	case F_SETFD:
		fd_cloexec[a[0]] = a[2] & 1;
		return 0;
	case F_GETFL:
		return fd_kind[a[0]] == FD_STDIN || is_file(a[0]) ? 0 /* O_RDONLY */
								  : 1 /* O_WRONLY */;
	case F_SETFL:
		return 0;
	default:
		return -EINVAL;
	}
}

#define TCGETS	   0x5401
#define TIOCGWINSZ 0x5413
#define TIOCGPGRP  0x540f

static long sys_ioctl(const uintptr_t *a)
{
	struct lx_io io;
	char buf[64];
	long n;

	if (!fd_ok(a[0]))
		return -EBADF;
	if (is_file(a[0]) || (a[1] != TCGETS && a[1] != TIOCGWINSZ && a[1] != TIOCGPGRP))
		return -ENOTTY;
	io.fd = fd_kind[a[0]] - FD_STDIN;
	io.reserved = (uint32_t)a[1];
	n = lx_hostcall(LX_HC_IOCTL, &io, sizeof(io), buf, sizeof(buf));
	if (n < 0)
		return n;
	return lx_copy_to_user(a[2], buf, (size_t)n);
}

/* ---- stat ---- */

static long put_stat(uintptr_t dst, const struct lx_stat *st)
{
#if LX_AMD64
	struct {
		uint64_t dev, ino, nlink;
		uint32_t mode, uid, gid, pad0;
		uint64_t rdev;
		int64_t size, blksize, blocks;
		uint64_t times[6];
		int64_t reserved[3];
	} k = {st->dev,
	       st->ino,
	       st->nlink,
	       st->mode,
	       st->uid,
	       st->gid,
	       0,
	       st->rdev,
	       (int64_t)st->size,
	       (int64_t)st->blksize,
	       (int64_t)st->blocks,
	       {(uint64_t)st->atime.sec, (uint64_t)st->atime.nsec, (uint64_t)st->mtime.sec,
		(uint64_t)st->mtime.nsec, (uint64_t)st->ctime.sec, (uint64_t)st->ctime.nsec},
	       {0}};
#else
	struct {
		uint64_t dev;
		uint32_t pad0, ino32, mode, nlink, uid, gid;
		uint64_t rdev;
		uint32_t pad3;
		int64_t size;
		uint32_t blksize;
		uint64_t blocks;
		uint32_t times[6];
		uint64_t ino;
	} k = {st->dev,
	       0,
	       (uint32_t)st->ino,
	       st->mode,
	       (uint32_t)st->nlink,
	       st->uid,
	       st->gid,
	       st->rdev,
	       0,
	       (int64_t)st->size,
	       (uint32_t)st->blksize,
	       st->blocks,
	       {(uint32_t)st->atime.sec, (uint32_t)st->atime.nsec, (uint32_t)st->mtime.sec,
		(uint32_t)st->mtime.nsec, (uint32_t)st->ctime.sec, (uint32_t)st->ctime.nsec},
	       st->ino};
#endif
	return lx_copy_to_user(dst, &k, sizeof(k));
}

static long fd_stat(uintptr_t fd, struct lx_stat *st)
{
	struct lx_io io;
	long n;

	if (!fd_ok(fd))
		return -EBADF;
	if (is_file(fd))
		n = file_call(fd_handle[fd], LX_FILE_STAT, LX_AT_EMPTY_PATH, 0, 0, st, sizeof(*st));
	else {
		io.fd = fd_kind[fd] - FD_STDIN;
		io.reserved = 0;
		n = lx_hostcall(LX_HC_FSTAT, &io, sizeof(io), st, sizeof(*st));
	}
	return n < 0 ? n : 0;
}

static long sys_fstat(const uintptr_t *a)
{
	struct lx_stat st;
	long ret = fd_stat(a[0], &st);

	return ret ? ret : put_stat(a[1], &st);
}

/* stat of dirfd + path: fd_stat for AT_EMPTY_PATH's empty path, else the
 * host resolves the path inside --root (no --root: ENOENT). */
static long path_stat(uintptr_t dirfd, uintptr_t path, uintptr_t flags, struct lx_stat *st)
{
	int32_t dir;
	long len, n;

	if (flags & ~(uintptr_t)(LX_AT_SYMLINK_NOFOLLOW | LX_AT_EMPTY_PATH |
				 0x800 /* NO_AUTOMOUNT */ | 0x6000 /* AT_STATX_SYNC_TYPE */))
		return -EINVAL;
	len = get_path(dirfd, path, &dir);
	if (len < 0)
		return len;
	if (!len && (flags & LX_AT_EMPTY_PATH)) {
		if ((int)dirfd != LX_FILE_CWD)
			return fd_stat(dirfd, st);
		n = file_call(LX_FILE_CWD, LX_FILE_STAT, LX_AT_EMPTY_PATH, 0, 0, st, sizeof(*st));
		return n < 0 ? n : 0;
	}
	if (!len)
		return -ENOENT;
	n = file_call(dir, LX_FILE_STAT, (uint32_t)(flags & LX_AT_SYMLINK_NOFOLLOW), 0, (size_t)len,
		      st, sizeof(*st));
	return n < 0 ? n : 0;
}

static long sys_stat(const uintptr_t *a)
{
	struct lx_stat st;
	long ret = path_stat((uintptr_t)LX_FILE_CWD, a[0], 0, &st);

	return ret ? ret : put_stat(a[1], &st);
}

static long sys_lstat(const uintptr_t *a)
{
	struct lx_stat st;
	long ret = path_stat((uintptr_t)LX_FILE_CWD, a[0], LX_AT_SYMLINK_NOFOLLOW, &st);

	return ret ? ret : put_stat(a[1], &st);
}

static long sys_fstatat(const uintptr_t *a)
{
	struct lx_stat st;
	long ret = path_stat(a[0], a[1], a[3], &st);

	return ret ? ret : put_stat(a[2], &st);
}

static long sys_statx(const uintptr_t *a)
{
	struct lx_stat st;
	struct {
		uint32_t mask, blksize;
		uint64_t attributes;
		uint32_t nlink, uid, gid;
		uint16_t mode, pad;
		uint64_t ino, size, blocks, attributes_mask;
		struct {
			int64_t sec;
			uint32_t nsec;
			int32_t pad;
		} atime, btime, ctime, mtime;
		uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
		uint64_t spare[14];
	} x;
	long ret = path_stat(a[0], a[1], a[2], &st);

	if (ret)
		return ret;
	memset(&x, 0, sizeof(x));
	x.mask = 0x7ff; /* STATX_BASIC_STATS */
	x.blksize = (uint32_t)st.blksize;
	x.nlink = (uint32_t)st.nlink;
	x.uid = st.uid;
	x.gid = st.gid;
	x.mode = (uint16_t)st.mode;
	x.ino = st.ino;
	x.size = st.size;
	x.blocks = st.blocks;
	x.atime.sec = st.atime.sec;
	x.atime.nsec = (uint32_t)st.atime.nsec;
	x.mtime.sec = st.mtime.sec;
	x.mtime.nsec = (uint32_t)st.mtime.nsec;
	x.ctime.sec = st.ctime.sec;
	x.ctime.nsec = (uint32_t)st.ctime.nsec;
	x.rdev_major = (uint32_t)((st.rdev >> 8) & 0xfff);
	x.rdev_minor = (uint32_t)((st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00));
	x.dev_major = (uint32_t)((st.dev >> 8) & 0xfff);
	x.dev_minor = (uint32_t)((st.dev & 0xff) | ((st.dev >> 12) & 0xfff00));
	return lx_copy_to_user(a[4], &x, sizeof(x));
}

#define O_CLOEXEC 0x80000

static long do_open(uintptr_t dirfd, uintptr_t path, uintptr_t flags)
{
	int32_t dir;
	long len = get_path(dirfd, path, &dir), n, fd;
	int32_t h;

	if (len < 0)
		return len;
	if (!len)
		return -ENOENT;
	fd = lowest_free(0);
	if (fd < 0)
		return fd;
	/* The host refuses write and create flags (EROFS). */
	n = file_call(dir, LX_FILE_OPEN, (uint32_t)flags, 0, (size_t)len, &h, sizeof(h));
	if (n < 0)
		return n;
	fd_kind[fd] = FD_FILE;
	fd_handle[fd] = h;
	fd_cloexec[fd] = !!(flags & O_CLOEXEC);
	return fd;
}

static long sys_open(const uintptr_t *a)
{
	return do_open((uintptr_t)LX_FILE_CWD, a[0], a[1]);
}

static long sys_openat(const uintptr_t *a)
{
	return do_open(a[0], a[1], a[2]);
}

static long do_access(uintptr_t dirfd, uintptr_t path, uintptr_t mode)
{
	int32_t dir;
	long len;

	if (mode & ~7UL)
		return -EINVAL;
	len = get_path(dirfd, path, &dir);
	if (len < 0)
		return len;
	if (!len)
		return -ENOENT;
	return file_call(dir, LX_FILE_ACCESS, (uint32_t)mode, 0, (size_t)len, NULL, 0);
}

static long sys_access(const uintptr_t *a)
{
	return do_access((uintptr_t)LX_FILE_CWD, a[0], a[1]);
}

static long sys_faccessat(const uintptr_t *a)
{
	return do_access(a[0], a[1], a[2]);
}

static long do_readlink(uintptr_t dirfd, uintptr_t path, uintptr_t buf, uintptr_t size)
{
	int32_t dir;
	long len;

	if ((intptr_t)size <= 0)
		return -EINVAL;
	len = get_path(dirfd, path, &dir);
	if (len < 0)
		return len;
	if (!len)
		return -ENOENT;
	if (size > LX_PATH_MAX)
		size = LX_PATH_MAX;
	if (!lx_user_ok(buf, size, 1))
		return -EFAULT;
	return file_call(dir, LX_FILE_READLINK, 0, 0, (size_t)len, (void *)buf, size);
}

static long sys_readlink(const uintptr_t *a)
{
	return do_readlink((uintptr_t)LX_FILE_CWD, a[0], a[1], a[2]);
}

static long sys_readlinkat(const uintptr_t *a)
{
	return do_readlink(a[0], a[1], a[2], a[3]);
}

static long sys_getdents64(const uintptr_t *a)
{
	size_t len = a[2];

	if (!fd_ok(a[0]))
		return -EBADF;
	if (!is_file(a[0]))
		return -ENOTDIR;
	if (len > SNAPVM_HOST_CALL_MAX)
		len = SNAPVM_HOST_CALL_MAX;
	if (!len || !lx_user_ok(a[1], len, 1))
		return len ? -EFAULT : -EINVAL;
	return file_call(fd_handle[a[0]], LX_FILE_GETDENTS, 0, 0, 0, (void *)a[1], len);
}

/* ---- memory ---- */

static long sys_brk(const uintptr_t *a)
{
	return lx_brk(a[0]);
}

static long sys_mmap(const uintptr_t *a)
{
	if (a[5] & (PAGE - 1))
		return -EINVAL;
	return lx_mmap(a[0], a[1], (int)a[2], (int)a[3], (long)(int)a[4], a[5]);
}

static long sys_mmap2(const uintptr_t *a)
{
	return lx_mmap(a[0], a[1], (int)a[2], (int)a[3], (long)(int)a[4], (uint64_t)a[5] * PAGE);
}

static long sys_mmap_old(const uintptr_t *a)
{
	uintptr_t v[6];

	if (lx_copy_from_user(v, a[0], sizeof(v)))
		return -EFAULT;
	return sys_mmap(v);
}

static long sys_munmap(const uintptr_t *a)
{
	return lx_munmap(a[0], a[1]);
}

static long sys_mprotect(const uintptr_t *a)
{
	return lx_mprotect(a[0], a[1], (int)a[2]);
}

static long sys_mremap(const uintptr_t *a)
{
	return lx_mremap(a[0], a[1], a[2], (int)a[3], a[4]);
}

/* ---- process ---- */

static long sys_exit(const uintptr_t *a)
{
	lx_exit((int)a[0]);
}

static long sys_wait(const uintptr_t *a)
{
	return -ECHILD;
}

static long sys_uname(const uintptr_t *a)
{
	char u[6][65];

	memset(u, 0, sizeof(u));
	memcpy(u[0], "Linux", 6);
	memcpy(u[1], "snapvm", 7);
	memcpy(u[2], "6.1.0-snapvm", 13);
	memcpy(u[3], "#1 SMP snapvm", 14);
	memcpy(u[4], LX_AMD64 ? "x86_64" : "i686", LX_AMD64 ? 7 : 5);
	memcpy(u[5], "(none)", 7);
	return lx_copy_to_user(a[0], u, sizeof(u));
}

static long sys_getcwd(const uintptr_t *a)
{
	if (a[1] < 2)
		return -ERANGE;
	return lx_copy_to_user(a[0], "/", 2) ? -EFAULT : 2;
}

static long sys_umask(const uintptr_t *a)
{
	uint32_t old = cur_umask;

	cur_umask = a[0] & 0777;
	return old;
}

#define PR_SET_NAME 15
#define PR_GET_NAME 16

static long sys_prctl(const uintptr_t *a)
{
	if (a[0] == PR_GET_NAME)
		return lx_copy_to_user(a[1], comm, sizeof(comm));
	if (a[0] == PR_SET_NAME) {
		char name[16];
		long len = lx_user_strlen(a[1], 4096);

		if (len < 0)
			return len;
		if (len > 15)
			len = 15;
		if (lx_copy_from_user(name, a[1], (size_t)len))
			return -EFAULT;
		name[len] = 0;
		memcpy(comm, name, sizeof(comm));
		return 0;
	}
	return -EINVAL;
}

#define RLIMIT_STACK  3
#define RLIMIT_NOFILE 7
#define RLIM_INF      (~0ULL)

static void rlimit_of(uintptr_t res, uint64_t v[2])
{
	v[0] = v[1] = RLIM_INF;
	if (res == RLIMIT_STACK)
		v[0] = LX_STACK_SIZE;
	if (res == RLIMIT_NOFILE)
		v[0] = v[1] = NFDS;
}

static long sys_prlimit64(const uintptr_t *a)
{
	uint64_t v[2];

	if (a[0] != 0 && a[0] != 1)
		return -ESRCH;
	if (a[1] >= 16)
		return -EINVAL;
	rlimit_of(a[1], v);
	if (a[2])
		return -EPERM;
	return a[3] ? lx_copy_to_user(a[3], v, sizeof(v)) : 0;
}

static long sys_getrlimit(const uintptr_t *a)
{
	uint64_t v[2];
	uintptr_t w[2];

	if (a[0] >= 16)
		return -EINVAL;
	rlimit_of(a[0], v);
	w[0] = v[0] > (uintptr_t)-1 ? (uintptr_t)-1 : (uintptr_t)v[0];
	w[1] = v[1] > (uintptr_t)-1 ? (uintptr_t)-1 : (uintptr_t)v[1];
	return lx_copy_to_user(a[1], w, sizeof(w));
}

static long sys_getrandom(const uintptr_t *a)
{
	size_t len = a[1] > SNAPVM_HOST_CALL_MAX ? SNAPVM_HOST_CALL_MAX : a[1];

	if (a[2] & ~7U)
		return -EINVAL;
	if (!len)
		return 0;
	if (!lx_user_ok(a[0], len, 1))
		return -EFAULT;
	return lx_hostcall(LX_HC_RANDOM, NULL, 0, (void *)a[0], len);
}

#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004

static long sys_arch_prctl(const uintptr_t *a)
{
#if LX_AMD64
	uint32_t msr = a[0] == ARCH_SET_FS || a[0] == ARCH_GET_FS ? 0xc0000100 : 0xc0000101;
	uint32_t lo, hi;

	switch (a[0]) {
	case ARCH_SET_FS:
	case ARCH_SET_GS:
		if (a[1] >= LX_USER_TOP)
			return -EPERM;
		__asm__ volatile("wrmsr"
				 :
				 : "c"(msr), "a"((uint32_t)a[1]), "d"((uint32_t)(a[1] >> 32)));
		return 0;
	case ARCH_GET_FS:
	case ARCH_GET_GS: {
		uint64_t v;

		__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
		v = lo | (uint64_t)hi << 32;
		return lx_copy_to_user(a[1], &v, sizeof(v));
	}
	}
#endif
	return -EINVAL;
}

/* i386 TLS: struct user_desc into one of the GDT's TLS slots. */
struct user_desc {
	uint32_t entry, base, limit, flags;
};

static long sys_set_thread_area(const uintptr_t *a)
{
	struct user_desc d;
	uint32_t lo, hi, contents, type;
	int e;

	if (lx_copy_from_user(&d, a[0], sizeof(d)))
		return -EFAULT;
	e = (int)d.entry;
	if (e == -1) {
		for (e = GDT_TLS_MIN; e <= GDT_TLS_MAX; e++)
			if (!lx_gdt_entry(e))
				break;
		if (e > GDT_TLS_MAX)
			return -ESRCH;
		d.entry = (uint32_t)e;
		if (lx_copy_to_user(a[0], &d, sizeof(d)))
			return -EFAULT;
	}
	if (e < GDT_TLS_MIN || e > GDT_TLS_MAX)
		return -EINVAL;
	contents = (d.flags >> 1) & 3;
	/* read_exec_only and seg_not_present set, the rest clear: empty. */
	if (!d.base && !d.limit && (d.flags & 0x7f) == 0x28) {
		lx_set_tls_gdt(e, 0, 0);
		return 0;
	}
	if (contents == 3 || (d.flags & (1u << 5)))
		return -EINVAL; /* conforming code, or not present */
	type = contents << 2 | (!(d.flags & (1u << 3))) << 1 | 1;
	lo = (d.limit & 0xffff) | (d.base & 0xffff) << 16;
	hi = ((d.base >> 16) & 0xff) | type << 8 | 1u << 12 | 3u << 13 | 1u << 15 |
	     (d.limit & 0xf0000) | ((d.flags >> 6) & 1) << 20 | (d.flags & 1) << 22 |
	     ((d.flags >> 4) & 1) << 23 | (d.base & 0xff000000);
	lx_set_tls_gdt(e, lo, hi);
	return 0;
}

static long sys_get_thread_area(const uintptr_t *a)
{
	struct user_desc d;
	uint64_t g;

	if (lx_copy_from_user(&d, a[0], sizeof(d)))
		return -EFAULT;
	if ((int)d.entry < GDT_TLS_MIN || d.entry > GDT_TLS_MAX)
		return -EINVAL;
	g = lx_gdt_entry((int)d.entry);
	d.base = (uint32_t)((g >> 16) & 0xffffff) | (uint32_t)((g >> 56) << 24);
	d.limit = (uint32_t)(g & 0xffff) | (uint32_t)((g >> 32) & 0xf0000);
	d.flags = (uint32_t)(((g >> 54) & 1) | ((g >> 42) & 3) << 1 | (!((g >> 41) & 1)) << 3 |
			     ((g >> 55) & 1) << 4 | (!((g >> 47) & 1)) << 5 | ((g >> 52) & 1) << 6);
	return lx_copy_to_user(a[0], &d, sizeof(d));
}

/* ---- time ---- */

static long now(uintptr_t clk, struct lx_time *t)
{
	uint32_t c = (uint32_t)clk;

	if (clk > 11)
		return -EINVAL;
	return lx_hostcall(LX_HC_TIME, &c, sizeof(c), t, sizeof(*t)) < 0 ? -EINVAL : 0;
}

static long put_timespec(uintptr_t dst, const struct lx_time *t, int wide)
{
	if (wide) {
		int64_t v[2] = {t->sec, t->nsec};

		return lx_copy_to_user(dst, v, sizeof(v));
	} else {
		long v[2] = {(long)t->sec, (long)t->nsec};

		return lx_copy_to_user(dst, v, sizeof(v));
	}
}

static long sys_clock_gettime(const uintptr_t *a)
{
	struct lx_time t;
	long ret = now(a[0], &t);

	return ret ? ret : put_timespec(a[1], &t, 0);
}

static long sys_clock_gettime64(const uintptr_t *a)
{
	struct lx_time t;
	long ret = now(a[0], &t);

	return ret ? ret : put_timespec(a[1], &t, 1);
}

static long sys_clock_getres(const uintptr_t *a)
{
	struct lx_time t = {0, 1};

	if (a[0] > 11)
		return -EINVAL;
	return a[1] ? put_timespec(a[1], &t, 0) : 0;
}

static long sys_clock_getres64(const uintptr_t *a)
{
	struct lx_time t = {0, 1};

	if (a[0] > 11)
		return -EINVAL;
	return a[1] ? put_timespec(a[1], &t, 1) : 0;
}

static long sys_gettimeofday(const uintptr_t *a)
{
	struct lx_time t;
	long ret;

	if (!a[0])
		return 0;
	ret = now(0, &t);
	t.nsec /= 1000;
	return ret ? ret : put_timespec(a[0], &t, 0);
}

static long sys_time(const uintptr_t *a)
{
	struct lx_time t;
	long ret = now(0, &t);
	long s = (long)t.sec;

	if (ret)
		return ret;
	if (a[0] && lx_copy_to_user(a[0], &s, sizeof(s)))
		return -EFAULT;
	return s;
}

static long sleep_for(uintptr_t req, int wide)
{
	struct lx_time t;

	if (wide) {
		int64_t v[2];

		if (lx_copy_from_user(v, req, sizeof(v)))
			return -EFAULT;
		t.sec = v[0];
		t.nsec = v[1];
	} else {
		long v[2];

		if (lx_copy_from_user(v, req, sizeof(v)))
			return -EFAULT;
		t.sec = v[0];
		t.nsec = v[1];
	}
	if (t.sec < 0 || t.nsec < 0 || t.nsec >= 1000000000)
		return -EINVAL;
	lx_flush();
	return lx_hostcall(LX_HC_SLEEP, &t, sizeof(t), NULL, 0);
}

static long sys_nanosleep(const uintptr_t *a)
{
	return sleep_for(a[0], 0);
}

static long sys_clock_nanosleep(const uintptr_t *a)
{
	if (a[1] & 1) /* TIMER_ABSTIME */
		return -EINVAL;
	return sleep_for(a[2], 0);
}

static long sys_clock_nanosleep64(const uintptr_t *a)
{
	if (a[1] & 1)
		return -EINVAL;
	return sleep_for(a[2], 1);
}

/* ---- signals ---- */

#define SIG_DFL 0
#define SIG_IGN 1
#define SIGKILL 9
#define SIGSTOP 19

static long sys_rt_sigaction(const uintptr_t *a)
{
	uintptr_t sig = a[0], act[4] = {0};
	size_t ksize = LX_AMD64 ? 32 : 20;

	if (!sig || sig > 64 || a[3] != 8 || sig == SIGKILL || sig == SIGSTOP)
		return -EINVAL;
	if (a[1] && lx_copy_from_user(act, a[1], ksize))
		return -EFAULT;
	if (a[2] && lx_copy_to_user(a[2], sigactions[sig], ksize))
		return -EFAULT;
	if (a[1])
		memcpy(sigactions[sig], act, sizeof(act));
	return 0;
}

static long sys_rt_sigprocmask(const uintptr_t *a)
{
	uint64_t set;

	if (a[3] != 8)
		return -EINVAL;
	if (a[2] && lx_copy_to_user(a[2], &sigmask, sizeof(sigmask)))
		return -EFAULT;
	if (!a[1])
		return 0;
	if (lx_copy_from_user(&set, a[1], sizeof(set)))
		return -EFAULT;
	switch (a[0]) {
	case 0:
		sigmask |= set;
		break;
	case 1:
		sigmask &= ~set;
		break;
	case 2:
		sigmask = set;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

static long sys_sigaltstack(const uintptr_t *a)
{
	uintptr_t ss[3];

	if (a[1] && lx_copy_to_user(a[1], altstack, sizeof(altstack)))
		return -EFAULT;
	if (a[0]) {
		if (lx_copy_from_user(ss, a[0], sizeof(ss)))
			return -EFAULT;
		memcpy(altstack, ss, sizeof(ss));
	}
	return 0;
}

static const char *const signames[] = {
    [1] = "SIGHUP",   [2] = "SIGINT",	[3] = "SIGQUIT",  [4] = "SIGILL",   [5] = "SIGTRAP",
    [6] = "SIGABRT",  [7] = "SIGBUS",	[8] = "SIGFPE",	  [9] = "SIGKILL",  [10] = "SIGUSR1",
    [11] = "SIGSEGV", [12] = "SIGUSR2", [13] = "SIGPIPE", [14] = "SIGALRM", [15] = "SIGTERM",
};

void lx_signal_exit(int sig, const struct lx_frame *f, uintptr_t addr)
{
	const char *name = sig < (int)(sizeof(signames) / sizeof(signames[0])) && signames[sig]
			       ? signames[sig]
			       : "signal";

	lx_flush();
	if (f)
		lx_eprintf("killed by %s (signal %d) at %s 0x%lx, address 0x%lx\n", name, sig,
			   LX_AMD64 ? "RIP" : "EIP", (unsigned long)f->ip, (unsigned long)addr);
	else
		lx_eprintf("killed by %s (signal %d)\n", name, sig);
	lx_exit(128 + sig);
}

/* Handlers for faults: not delivered yet; the program ends as with SIG_DFL. */
int lx_deliver_signal(struct lx_frame *f, int sig, uintptr_t addr)
{
	return 0;
}

static long sys_rt_sigreturn(const uintptr_t *a)
{
	return -ENOSYS;
}

static long sys_sigreturn(const uintptr_t *a)
{
	return -ENOSYS;
}

/* A signal to ourselves (abort() raises SIGABRT): its default action. */
static long send_self(uintptr_t sig)
{
	if (sig > 64)
		return -EINVAL;
	if (!sig || sigactions[sig][0] == SIG_IGN)
		return 0;
	if (sig == 17 || sig == 18 || sig == 23 || sig == 28) /* CHLD CONT URG WINCH */
		return 0;
	lx_signal_exit((int)sig, NULL, 0);
}

static long sys_kill(const uintptr_t *a)
{
	if ((long)a[0] != 1 && (long)a[0] != 0 && (long)a[0] != -1)
		return -ESRCH;
	return send_self(a[1]);
}

static long sys_tgkill(const uintptr_t *a)
{
	if (a[0] != 1 || a[1] != 1)
		return -ESRCH;
	return send_self(a[2]);
}

/* ---- the dispatcher ---- */

static const char *const errnames[] = {
    [EPERM] = "EPERM",	   [ENOENT] = "ENOENT",
    [ESRCH] = "ESRCH",	   [EINTR] = "EINTR",
    [EIO] = "EIO",	   [EBADF] = "EBADF",
    [ECHILD] = "ECHILD",   [EAGAIN] = "EAGAIN",
    [ENOMEM] = "ENOMEM",   [EACCES] = "EACCES",
    [EFAULT] = "EFAULT",   [EEXIST] = "EEXIST",
    [ENOTDIR] = "ENOTDIR", [EISDIR] = "EISDIR",
    [EINVAL] = "EINVAL",   [EMFILE] = "EMFILE",
    [ENOTTY] = "ENOTTY",   [ESPIPE] = "ESPIPE",
    [EROFS] = "EROFS",	   [EPIPE] = "EPIPE",
    [ERANGE] = "ERANGE",   [ENAMETOOLONG] = "ENAMETOOLONG",
    [ENOSYS] = "ENOSYS",   [EOVERFLOW] = "EOVERFLOW",
};

static void trace(uintptr_t nr, const struct sysent *e, const uintptr_t *a, long ret)
{
	char line[400];
	size_t n = 0;
	const char *fmt = e ? e->fmt : "xxxxxx";

	if (e)
		n = (size_t)lx_snprintf(line, sizeof(line), "%s(", e->name);
	else
		n = (size_t)lx_snprintf(line, sizeof(line), "syscall_%lu(", (unsigned long)nr);
	for (int i = 0; fmt[i] && n < sizeof(line) - 80; i++) {
		const char *sep = i ? ", " : "";

		switch (fmt[i]) {
		case 'd':
			n += (size_t)lx_snprintf(line + n, sizeof(line) - n, "%s%ld", sep,
						 (long)a[i]);
			break;
		case 'u':
			n += (size_t)lx_snprintf(line + n, sizeof(line) - n, "%s%lu", sep,
						 (unsigned long)a[i]);
			break;
		case 'o':
			n += (size_t)lx_snprintf(line + n, sizeof(line) - n, "%s0%lo", sep,
						 (unsigned long)a[i]);
			break;
		case 's': {
			char s[48];
			long len = lx_user_strlen(a[i], 4096);

			if (len < 0) {
				n += (size_t)lx_snprintf(line + n, sizeof(line) - n, "%s0x%lx", sep,
							 (unsigned long)a[i]);
				break;
			}
			if (len > 40)
				len = 40;
			lx_copy_from_user(s, a[i], (size_t)len);
			s[len] = 0;
			for (long k = 0; k < len; k++)
				if (s[k] < 0x20 || s[k] > 0x7e)
					s[k] = '?';
			n += (size_t)lx_snprintf(line + n, sizeof(line) - n, "%s\"%s\"", sep, s);
			break;
		}
		default:
			n += (size_t)lx_snprintf(line + n, sizeof(line) - n, "%s0x%lx", sep,
						 (unsigned long)a[i]);
		}
	}
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	if (ret < 0 && ret > -4096) {
		long e2 = -ret;
		const char *name =
		    e2 < (long)(sizeof(errnames) / sizeof(errnames[0])) && errnames[e2]
			? errnames[e2]
			: "E?";

		lx_snprintf(line + n, sizeof(line) - n, ") = -1 %s (%ld)\n", name, e2);
	} else {
		lx_snprintf(line + n, sizeof(line) - n, ") = %ld%s\n", ret,
			    ret > 9 || ret < 0 ? "" : "");
	}
	lx_eprintf("%s", line);
}

void lx_syscall(struct lx_frame *f)
{
	uintptr_t nr = LX_SYSCALL_NR(f);
#if LX_AMD64
	uintptr_t a[6] = {f->rdi, f->rsi, f->rdx, f->r10, f->r8, f->r9};
#else
	uintptr_t a[6] = {f->ebx, f->ecx, f->edx, f->esi, f->edi, f->ebp};
#endif
	const struct sysent *e = nr < 1023 && table[nr].fn ? &table[nr] : NULL;
	long ret;

	if (lx_setup.flags & LX_SETUP_TRACE) {
		/* exit never returns: its line comes first. */
		if (e && e->fn == sys_exit)
			trace(nr, e, a, 0);
	}
	ret = e ? e->fn(a) : -ENOSYS;
	if (lx_setup.flags & LX_SETUP_TRACE)
		trace(nr, e, a, ret);
	LX_RET(f) = (uintptr_t)ret;
}
