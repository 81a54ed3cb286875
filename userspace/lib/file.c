// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * file.c - reading an input file (a guest ELF, a snapshot file) once, into
 * private memory: regular files only, opened without blocking, read with
 * pread for the size fstat gave, so that nobody can change, grow or shrink
 * what the loaders validate and use. And writing an output file (a snapshot
 * file, a core dump) atomically inside a directory opened beforehand, where
 * the seccomp filter and Landlock let it (see seccomp.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "userspace/lib/internal.h"

const char *snapvm_file_type(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO:
		return "a FIFO";
	case S_IFDIR:
		return "a directory";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFSOCK:
		return "a socket";
	default:
		return "not a regular file";
	}
}

int snapvm_input_open(const char *path, uint64_t max_size, int *fd_out, uint64_t *size,
		      struct snapvm_error *err)
{
	struct stat st;
	int fd, ret;

	*fd_out = -1;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return snapvm_fail_errno(err, EX_NOINPUT, errno, "cannot open %s", path);
	if (fstat(fd, &st)) {
		ret = snapvm_fail_errno(err, EX_IOERR, errno, "cannot stat %s", path);
		goto fail;
	}
	/* A FIFO, a device or a directory would block, never end, or change
	 * under us: only a regular file has a size to read once. */
	if (!S_ISREG(st.st_mode)) {
		ret = snapvm_fail(err, EX_DATAERR, "%s: %s, not a regular file", path,
				  snapvm_file_type(st.st_mode));
		goto fail;
	}
	if (max_size && (uint64_t)st.st_size > max_size) {
		ret =
		    snapvm_fail(err, EX_DATAERR,
				"%s: %llu bytes, more than the %llu bytes snapvm reads from "
				"such a file",
				path, (unsigned long long)st.st_size, (unsigned long long)max_size);
		goto fail;
	}
	*fd_out = fd;
	*size = (uint64_t)st.st_size;
	return 0;
fail:
	close(fd);
	return ret;
}

int snapvm_input_read(int fd, const char *path, void *buf, uint64_t len, uint64_t offset,
		      struct snapvm_error *err)
{
	unsigned char *p = buf;
	uint64_t done = 0;

	while (done < len) {
		uint64_t want = len - done > (1 << 30) ? (1 << 30) : len - done;
		ssize_t n = pread(fd, p + done, want, (off_t)(offset + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return snapvm_fail_errno(err, EX_IOERR, errno, "cannot read %s", path);
		/* Shorter than fstat said: someone truncated it meanwhile. */
		if (n == 0)
			return snapvm_fail(err, EX_DATAERR,
					   "%s: truncated while reading: only %llu of the %llu "
					   "bytes at offset %llu",
					   path, (unsigned long long)done, (unsigned long long)len,
					   (unsigned long long)offset);
		done += (uint64_t)n;
	}
	return 0;
}

int snapvm_read_file(const char *path, uint64_t max_size, void **buf, size_t *size,
		     struct snapvm_error *err)
{
	uint64_t file_size;
	void *data;
	int fd, ret;

	*buf = NULL;
	*size = 0;
	ret = snapvm_input_open(path, max_size, &fd, &file_size, err);
	if (ret)
		return ret;
	if (file_size > SIZE_MAX) {
		close(fd);
		return snapvm_fail(err, EX_DATAERR, "%s: %llu bytes do not fit in memory", path,
				   (unsigned long long)file_size);
	}
	data = malloc(file_size ? file_size : 1);
	if (!data) {
		close(fd);
		return snapvm_fail(err, EX_OSERR, "%s: out of memory for its %llu bytes", path,
				   (unsigned long long)file_size);
	}
	/* What fstat said, even if the file grows meanwhile. */
	ret = snapvm_input_read(fd, path, data, file_size, 0, err);
	close(fd);
	if (ret) {
		free(data);
		return ret;
	}
	*buf = data;
	*size = file_size;
	return 0;
}

int snapvm_output_name_check(const char *name)
{
	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return EINVAL;
	if (strlen(name) + sizeof(SNAPVM_OUTPUT_TMP_SUFFIX) - 1 > NAME_MAX)
		return ENAMETOOLONG;
	return 0;
}

int snapvm_output_begin(int dirfd, const char *name, char tmp[NAME_MAX + 1], int *fd)
{
	static const char letters[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	size_t len = strlen(name) + sizeof(SNAPVM_OUTPUT_TMP_SUFFIX) - 7;
	int ret = snapvm_output_name_check(name);

	*fd = -1;
	if (ret)
		return ret;
	for (int attempt = 0; attempt < 100; attempt++) {
		unsigned char random[6];

		if (getrandom(random, sizeof(random), 0) != sizeof(random))
			return errno ? errno : EIO;
		snprintf(tmp, NAME_MAX + 1, "%s" SNAPVM_OUTPUT_TMP_SUFFIX, name);
		for (size_t i = 0; i < sizeof(random); i++)
			tmp[len + i] = letters[random[i] % (sizeof(letters) - 1)];
		/* Relative to dirfd, new, never following a link: the only open
		 * the seccomp filter lets through (Landlock: only beneath dirfd). */
		*fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (*fd >= 0)
			return 0;
		if (errno != EEXIST)
			return errno;
	}
	return EEXIST;
}

int snapvm_output_commit(int dirfd, const char *tmp, const char *name, int fd, int errnum)
{
	/* Durable before it replaces anything: a crash leaves old or new. */
	if (!errnum && fsync(fd))
		errnum = errno;
	if (close(fd) && !errnum)
		errnum = errno;
	if (!errnum && renameat(dirfd, tmp, dirfd, name))
		errnum = errno;
	if (errnum) {
		unlinkat(dirfd, tmp, 0);
		return errnum;
	}
	fsync(dirfd); /* the rename itself survives a crash */
	return 0;
}

int snapvm_output_dir_open(const char *path, int *dirfd, const char **name,
			   struct snapvm_error *err)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];

	*dirfd = -1;
	*name = slash ? slash + 1 : path;
	if (snapvm_output_name_check(*name) == EINVAL)
		return snapvm_fail(err, EX_USAGE, "%s: not a file name", path);
	if (snapvm_output_name_check(*name))
		return snapvm_fail_errno(err, EX_CANTCREAT, ENAMETOOLONG, "cannot create %s", path);
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) >= sizeof(dir))
		return snapvm_fail_errno(err, EX_CANTCREAT, ENAMETOOLONG, "cannot create %s", path);
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	*dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*dirfd < 0)
		return snapvm_fail_errno(err, EX_CANTCREAT, errno,
					 "cannot create %s: cannot open its directory %s", path,
					 dir);
	return 0;
}
