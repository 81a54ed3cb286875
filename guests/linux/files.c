/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * files.c - the Linux personality's system calls on fds and files: the fd
 * table, --root's files (the host opens and reads them), I/O on fds 0-2,
 * stat, open, access, readlink, getdents64.
 */
#include "guests/linux/sys.h"

/* ---- the process's small state ---- */

enum { FD_NONE, FD_STDIN, FD_STDOUT, FD_STDERR, FD_FILE };
static uint8_t fd_kind[NFDS] = {FD_STDIN, FD_STDOUT, FD_STDERR};
static uint8_t fd_cloexec[NFDS];
static int32_t fd_handle[NFDS]; /* FD_FILE: the host's handle (LX_HC_FILE) */

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
	if (!lx_range_ok(buf, len))
		return -EFAULT;
	if (len > SNAPVM_HOST_CALL_MAX)
		len = SNAPVM_HOST_CALL_MAX;
	if (!lx_user_ok(buf, len, 1))
		return -EFAULT;
	return file_call(fd_handle[fd], LX_FILE_READ, 0, offset, 0, (void *)buf, len);
}

long lx_sys_read(const uintptr_t *a)
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
	/* A huge length fails lx_output's range check: EFAULT, as Linux's
	 * access_ok (an i386 program's 0xffffffff too, on either kernel). */
	return lx_output(fd_kind[fd] == FD_STDOUT ? 1 : 2, buf, len);
}

long lx_sys_write(const uintptr_t *a)
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
		n = write ? do_write(fd, v[0], v[1]) : lx_sys_read((uintptr_t[]){fd, v[0], v[1]});
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
long lx_sys_poll(const uintptr_t *a)
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

long lx_sys_readv(const uintptr_t *a)
{
	return do_iov(a[0], a[1], a[2], 0);
}

long lx_sys_writev(const uintptr_t *a)
{
	return do_iov(a[0], a[1], a[2], 1);
}

long lx_sys_pread64(const uintptr_t *a)
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

long lx_sys_lseek(const uintptr_t *a)
{
	int64_t pos;
	long ret = do_seek(a[0], (int64_t)(intptr_t)a[1], a[2], &pos);

	if (ret)
		return ret;
	if (pos != (int64_t)(long)pos)
		return -EOVERFLOW;
	return (long)pos;
}

long lx_sys_llseek(const uintptr_t *a)
{
	int64_t pos;
	long ret = do_seek(a[0], (int64_t)((uint64_t)a[1] << 32 | (uint32_t)a[2]), a[4], &pos);

	return ret ? ret : lx_copy_to_user(a[3], &pos, sizeof(pos));
}

long lx_sys_close(const uintptr_t *a)
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

long lx_sys_dup(const uintptr_t *a)
{
	long fd;

	if (!fd_ok(a[0]))
		return -EBADF;
	fd = lowest_free(0);
	return fd < 0 ? fd : dup_to(a[0], (uintptr_t)fd, 0);
}

long lx_sys_dup2(const uintptr_t *a)
{
	if (!fd_ok(a[0]))
		return -EBADF;
	return a[0] == a[1] ? (long)a[0] : dup_to(a[0], a[1], 0);
}

long lx_sys_dup3(const uintptr_t *a)
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

long lx_sys_fcntl(const uintptr_t *a)
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

long lx_sys_ioctl(const uintptr_t *a)
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

long lx_sys_fstat(const uintptr_t *a)
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

long lx_sys_stat(const uintptr_t *a)
{
	struct lx_stat st;
	long ret = path_stat((uintptr_t)LX_FILE_CWD, a[0], 0, &st);

	return ret ? ret : put_stat(a[1], &st);
}

long lx_sys_lstat(const uintptr_t *a)
{
	struct lx_stat st;
	long ret = path_stat((uintptr_t)LX_FILE_CWD, a[0], LX_AT_SYMLINK_NOFOLLOW, &st);

	return ret ? ret : put_stat(a[1], &st);
}

long lx_sys_fstatat(const uintptr_t *a)
{
	struct lx_stat st;
	long ret = path_stat(a[0], a[1], a[3], &st);

	return ret ? ret : put_stat(a[2], &st);
}

long lx_sys_statx(const uintptr_t *a)
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

long lx_sys_open(const uintptr_t *a)
{
	return do_open((uintptr_t)LX_FILE_CWD, a[0], a[1]);
}

long lx_sys_openat(const uintptr_t *a)
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

long lx_sys_access(const uintptr_t *a)
{
	return do_access((uintptr_t)LX_FILE_CWD, a[0], a[1]);
}

long lx_sys_faccessat(const uintptr_t *a)
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

long lx_sys_readlink(const uintptr_t *a)
{
	return do_readlink((uintptr_t)LX_FILE_CWD, a[0], a[1], a[2]);
}

long lx_sys_readlinkat(const uintptr_t *a)
{
	return do_readlink(a[0], a[1], a[2], a[3]);
}

long lx_sys_getdents64(const uintptr_t *a)
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
