// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * linux_files.c - --root's files for a Linux program: every path is
 * resolved inside the root (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS),
 * read-only, through handles that a restore invalidates (LX_HC_FILE,
 * LX_HC_FILES_RESET); the working directory below the root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "userspace/lib/linux_host.h"

/* ---- --root's files ---- */

void lx_files_reset(struct snapvm_linux *lx)
{
	for (int i = 0; i < LX_MAX_FILES; i++) {
		if (lx->files[i] >= 0) {
			close(lx->files[i]);
			lx->files[i] = -1;
		}
		free(lx->paths[i]);
		lx->paths[i] = NULL;
	}
	lx->files_gen = (lx->files_gen + 1) % (INT32_MAX / LX_MAX_FILES);
}

/* The host fd of a handle, or -1. */
static int file_of(struct snapvm_linux *lx, int32_t handle)
{
	if (handle < 0 || (uint32_t)handle / LX_MAX_FILES != lx->files_gen)
		return -1;
	return lx->files[handle % LX_MAX_FILES];
}

/* A host call's result may not exceed its output room: the handle goes
 * to out (an int32_t), the result is its size. path: the file's in the root. */
static int64_t file_add(struct snapvm_linux *lx, int fd, const char *path, void *out, size_t cap)
{
	int32_t h;

	for (int i = 0; i < LX_MAX_FILES && cap >= sizeof(h); i++)
		if (lx->files[i] < 0) {
			lx->paths[i] = strdup(path);
			if (!lx->paths[i])
				break;
			lx->files[i] = fd;
			h = (int32_t)(lx->files_gen * LX_MAX_FILES + (uint32_t)i);
			memcpy(out, &h, sizeof(h));
			return sizeof(h);
		}
	close(fd);
	return cap < sizeof(h) ? -EINVAL : -EMFILE;
}

/* Where path (relative to the directory handle dir) lies in the root: in
 * full (LX_FULL_MAX bytes), or -errno. Linux would follow ".." out of the
 * directory too, and RESOLVE_IN_ROOT still stops it at the root. */
#define LX_FULL_MAX (2 * LX_PATH_MAX)
static int full_path(struct snapvm_linux *lx, int32_t dir, const char *path, char *full)
{
	const char *base = "";
	int n;

	if (dir == LX_FILE_CWD && path[0] != '/') {
		base = lx->cwd[1] ? lx->cwd : ""; /* options->cwd below the root */
	} else if (path[0] != '/') {
		if (file_of(lx, dir) < 0)
			return -EBADF;
		base = lx->paths[dir % LX_MAX_FILES];
	}
	n = snprintf(full, LX_FULL_MAX, "%s%s%s", base, *base ? "/" : "", path);
	return n < 0 || n >= LX_FULL_MAX ? -ENAMETOOLONG : 0;
}

/* Resolve the program's path inside the root, never outside it: "..",
 * absolute symlinks and /proc's magic links cannot leave. An fd (O_PATH
 * unless flags say otherwise); full receives the path in the root. */
static int resolve_as(struct snapvm_linux *lx, int32_t dir, const char *path, int flags, char *full)
{
	struct open_how how = {.flags = (uint64_t)flags | O_CLOEXEC,
			       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	long fd;
	int ret;

	if (lx->root_fd < 0)
		return -ENOENT;
	ret = full_path(lx, dir, path, full);
	if (ret)
		return ret;
	fd = syscall(SYS_openat2, lx->root_fd, full, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

static int resolve(struct snapvm_linux *lx, int32_t dir, const char *path, bool nofollow)
{
	char full[LX_FULL_MAX];

	return resolve_as(lx, dir, path, O_PATH | (nofollow ? O_NOFOLLOW : 0), full);
}

void lx_stat_of(const struct stat *st, struct lx_stat *s)
{
	*s = (struct lx_stat){.dev = st->st_dev,
			      .ino = st->st_ino,
			      .nlink = st->st_nlink,
			      .rdev = st->st_rdev,
			      .size = (uint64_t)st->st_size,
			      .blksize = (uint64_t)st->st_blksize,
			      .blocks = (uint64_t)st->st_blocks,
			      .mode = st->st_mode,
			      .uid = st->st_uid,
			      .gid = st->st_gid,
			      .atime = {st->st_atim.tv_sec, st->st_atim.tv_nsec},
			      .mtime = {st->st_mtim.tv_sec, st->st_mtim.tv_nsec},
			      .ctime = {st->st_ctim.tv_sec, st->st_ctim.tv_nsec}};
}

#define LX_O_ACCMODE 03
#define LX_O_CREAT   0100
#define LX_O_TRUNC   01000
#define LX_O_APPEND  02000
#define LX_O_TMPFILE 020000000

/* Open for reading: only regular files and directories (a FIFO or a
 * device in the root would block or act on the host). */
static int64_t file_open(struct snapvm_linux *lx, int32_t dir, const char *path, uint32_t flags,
			 void *out, size_t cap)
{
	int nofollow = flags & O_NOFOLLOW ? O_NOFOLLOW : 0;
	char full[LX_FULL_MAX], again[LX_FULL_MAX];
	struct stat st, st2;
	int fd, rfd;

	if (lx->root_fd < 0)
		return -ENOENT; /* without --root no path exists, to write or not */
	if ((flags & LX_O_ACCMODE) ||
	    (flags & (LX_O_CREAT | LX_O_TRUNC | LX_O_APPEND | LX_O_TMPFILE)))
		return -EROFS;
	fd = resolve_as(lx, dir, path, O_PATH | nofollow, full);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st)) {
		rfd = -errno;
	} else if (S_ISLNK(st.st_mode)) {
		rfd = -ELOOP; /* O_NOFOLLOW on a symlink */
	} else if ((flags & O_DIRECTORY) && !S_ISDIR(st.st_mode)) {
		rfd = -ENOTDIR;
	} else if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		rfd = -EACCES;
	} else {
		/* Open it for reading by the same path from the root (the
		 * filter allows openat2 from there only, no /proc/self/fd), and
		 * keep it only if it is still the file just checked: the
		 * program cannot change the root, a host process could. */
		rfd = resolve_as(lx, LX_FILE_CWD, full, O_RDONLY | O_NOCTTY | O_NONBLOCK | nofollow,
				 again);
		if (rfd >= 0 &&
		    (fstat(rfd, &st2) || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino)) {
			close(rfd);
			rfd = -EAGAIN;
		}
	}
	close(fd);
	return rfd < 0 ? rfd : file_add(lx, rfd, full, out, cap);
}

int64_t lx_hc_file(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len, void *out,
		   size_t cap)
{
	struct snapvm_linux *lx = ctx;
	struct lx_file f;
	char path[LX_PATH_MAX];
	size_t path_len;
	struct lx_stat s;
	struct stat st;
	int64_t ret;
	off_t pos;
	ssize_t n;
	int fd;

	if (in_len < sizeof(f) || in_len - sizeof(f) >= sizeof(path))
		return in_len < sizeof(f) ? -EINVAL : -ENAMETOOLONG;
	memcpy(&f, in, sizeof(f));
	path_len = in_len - sizeof(f);
	memcpy(path, (const char *)in + sizeof(f), path_len);
	path[path_len] = 0;
	if (memchr(path, 0, path_len))
		return -EINVAL;
	switch (f.op) {
	case LX_FILE_OPEN:
		if (!path_len)
			return -ENOENT;
		return file_open(lx, f.fd, path, f.flags, out, cap);
	case LX_FILE_STAT:
		if (cap < sizeof(s))
			return -EINVAL;
		/* The working directory below the root: "." from it. */
		if (!path_len && (f.flags & LX_AT_EMPTY_PATH) &&
		    (f.fd != LX_FILE_CWD || !lx->cwd[1])) {
			fd = f.fd == LX_FILE_CWD ? lx->root_fd : file_of(lx, f.fd);
			if (fd < 0)
				return f.fd == LX_FILE_CWD ? -ENOENT : -EBADF;
			if (fstat(fd, &st))
				return -errno;
		} else {
			fd = resolve(lx, f.fd, path_len ? path : ".",
				     f.flags & LX_AT_SYMLINK_NOFOLLOW);
			if (fd < 0)
				return fd;
			ret = fstat(fd, &st) ? -errno : 0;
			close(fd);
			if (ret)
				return ret;
		}
		lx_stat_of(&st, &s);
		memcpy(out, &s, sizeof(s));
		return sizeof(s);
	case LX_FILE_ACCESS:
		if (f.flags & ~7U)
			return -EINVAL;
		fd = resolve(lx, f.fd, path, false);
		if (fd < 0)
			return fd;
		ret =
		    syscall(SYS_faccessat2, fd, "", (int)(f.flags & 5), AT_EMPTY_PATH) ? -errno : 0;
		close(fd);
		return !ret && (f.flags & W_OK) ? -EROFS : ret;
	case LX_FILE_READLINK:
		fd = resolve(lx, f.fd, path, true);
		if (fd < 0)
			return fd;
		n = readlinkat(fd, "", out, cap);
		ret = n < 0 ? (errno == ENOENT ? -EINVAL : -errno) : n;
		close(fd);
		return ret;
	case LX_FILE_READ:
		fd = file_of(lx, f.fd);
		if (fd < 0)
			return -EBADF;
		n = f.offset < 0 ? read(fd, out, cap) : pread(fd, out, cap, f.offset);
		return n < 0 ? -errno : n;
	case LX_FILE_SEEK:
		fd = file_of(lx, f.fd);
		if (fd < 0)
			return -EBADF;
		if (cap < sizeof(int64_t) || f.flags > SEEK_END)
			return -EINVAL;
		pos = lseek(fd, f.offset, (int)f.flags);
		if (pos < 0)
			return -errno;
		ret = pos;
		memcpy(out, &ret, sizeof(ret));
		return sizeof(ret);
	case LX_FILE_GETDENTS:
		fd = file_of(lx, f.fd);
		if (fd < 0)
			return -EBADF;
		n = syscall(SYS_getdents64, fd, out, cap);
		return n < 0 ? -errno : n;
	case LX_FILE_CLOSE:
		fd = file_of(lx, f.fd);
		if (fd < 0)
			return -EBADF;
		close(fd);
		lx->files[f.fd % LX_MAX_FILES] = -1;
		free(lx->paths[f.fd % LX_MAX_FILES]);
		lx->paths[f.fd % LX_MAX_FILES] = NULL;
		return 0;
	case LX_FILE_DUP:
		fd = file_of(lx, f.fd);
		if (fd < 0)
			return -EBADF;
		fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		return fd < 0 ? -errno : file_add(lx, fd, lx->paths[f.fd % LX_MAX_FILES], out, cap);
	}
	return -EINVAL;
}

int64_t lx_hc_files_reset(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			  void *out, size_t cap)
{
	lx_files_reset(ctx);
	return 0;
}

/* options->cwd, cleaned lexically ("//", ".", ".." never above "/"), and
 * hostname; the cwd must be a directory in the root when there is one. */
int lx_set_cwd(struct snapvm_linux *lx, const struct snapvm_linux_options *o,
	       struct snapvm_error *err)
{
	const char *p = o->cwd ? o->cwd : "/";
	size_t len = 0;
	struct stat st;
	int fd;

	if (p[0] != '/')
		return snapvm_fail(err, EX_USAGE, "working directory %s is not absolute", p);
	if (strlen(p) >= sizeof(lx->cwd))
		return snapvm_fail(err, EX_USAGE, "working directory longer than %d bytes",
				   LX_CWD_MAX - 1);
	if (o->hostname && strlen(o->hostname) >= LX_NODENAME_MAX)
		return snapvm_fail(err, EX_USAGE, "hostname %.80s is longer than %d bytes",
				   o->hostname, LX_NODENAME_MAX - 1);
	while (*p) {
		size_t n;

		p += strspn(p, "/");
		n = strcspn(p, "/");
		if (n == 2 && !strncmp(p, "..", 2)) {
			while (len && lx->cwd[len] != '/')
				len--;
		} else if (n && !(n == 1 && *p == '.')) {
			lx->cwd[len++] = '/';
			memcpy(lx->cwd + len, p, n);
			len += n;
		}
		lx->cwd[len] = '\0';
		p += n;
	}
	if (!len)
		strcpy(lx->cwd, "/");
	if (lx->root_fd < 0 || !lx->cwd[1])
		return 0;
	fd = resolve(lx, LX_FILE_CWD, ".", false);
	if (fd < 0 || fstat(fd, &st) || !S_ISDIR(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return snapvm_fail(err, EX_NOINPUT, "working directory %s: %s in the root", lx->cwd,
				   fd < 0 ? strerror((int)-fd) : "not a directory");
	}
	close(fd);
	return 0;
}
