// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * cgroup.c - linux.cgroupsPath, placed as runc places it: cgroup v2 (one
 * hierarchy at /sys/fs/cgroup) or v1 (the path under each mounted
 * controller), the systemd form "slice:prefix:name" converted to
 * slice/prefix-name.scope; created, then joined through cgroup.procs, so
 * containerd's stats and OOM events see the VMM. Pause uses cgroup.freeze.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "userspace/runc/runc.h"

#define CGROUP_ROOT	    "/sys/fs/cgroup"
#define CGROUP2_SUPER_MAGIC 0x63677270

static bool cgroup_v2(void)
{
	struct statfs st;

	return !statfs(CGROUP_ROOT, &st) && st.f_type == CGROUP2_SUPER_MAGIC;
}

/* "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice", as systemd nests. */
static int expand_slice(const char *slice, char *out, size_t size)
{
	size_t n = strlen(slice), len = 0;

	out[0] = '\0';
	if (!n || !strcmp(slice, "-.slice"))
		return 0;
	if (n < 7 || strcmp(slice + n - 6, ".slice") || strchr(slice, '/'))
		return -1;
	for (size_t i = 0; i + 6 <= n; i++) {
		if (slice[i] != '-' && i + 6 != n)
			continue;
		len += (size_t)snprintf(out + len, size - len, "/%.*s.slice", (int)i, slice);
		if (len >= size)
			return -1;
	}
	return 0;
}

/* cgroupsPath -> a path below the hierarchy's root ("/x/y"). */
static int to_path(const char *path, char *out, size_t size)
{
	const char *c1 = strchr(path, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	char slice[256];

	if (!c2 || strchr(c2 + 1, ':')) {
		if (strstr(path, ".."))
			return -1;
		snprintf(out, size, "%s%s", path[0] == '/' ? "" : "/", path);
		return 0;
	}
	snprintf(slice, sizeof(slice), "%.*s", (int)(c1 - path), path);
	if (expand_slice(slice[0] ? slice : "system.slice", out, size) || strstr(c1, "..") ||
	    strchr(c1, '/'))
		return -1;
	snprintf(out + strlen(out), size - strlen(out), "/%.*s%s%s.scope", (int)(c2 - c1 - 1),
		 c1 + 1, c2 - c1 > 1 ? "-" : "", c2 + 1);
	return 0;
}

static int mkdir_p(char *dir)
{
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(dir, 0755) && errno != EEXIST ? -1 : 0;
}

static int write_file(const char *dir, const char *name, const char *text)
{
	char path[4200];
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
	close(fd);
	return ret;
}

static int join(char *dir, pid_t pid, char *why, size_t why_size)
{
	char text[32];

	snprintf(text, sizeof(text), "%d", (int)pid);
	if (mkdir_p(dir) || write_file(dir, "cgroup.procs", text)) {
		snprintf(why, why_size, "%s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int cgroup_join(const char *path, pid_t pid, char *dir, size_t size, char *why, size_t why_size)
{
	char rel[2048];
	struct dirent *e;
	DIR *d;
	int ret = 0;

	dir[0] = '\0';
	if (!path || !*path)
		return 0;
	if (to_path(path, rel, sizeof(rel))) {
		snprintf(why, why_size, "not a cgroup path (no '..'; systemd: slice:prefix:name)");
		return -1;
	}
	if (cgroup_v2()) {
		snprintf(dir, size, CGROUP_ROOT "%s", rel);
		return join(dir, pid, why, why_size);
	}
	/* v1: the same path under every controller mounted here. */
	d = opendir(CGROUP_ROOT);
	if (!d) {
		snprintf(why, why_size, CGROUP_ROOT ": %s", strerror(errno));
		return -1;
	}
	while (!ret && (e = readdir(d))) {
		char cdir[4096], procs[4200];

		if (e->d_name[0] == '.')
			continue;
		snprintf(procs, sizeof(procs), CGROUP_ROOT "/%s/cgroup.procs", e->d_name);
		if (access(procs, F_OK))
			continue; /* not a hierarchy (or a symlink to a co-mount) */
		snprintf(cdir, sizeof(cdir), CGROUP_ROOT "/%s%s", e->d_name, rel);
		ret = join(cdir, pid, why, why_size);
		if (!ret && (!dir[0] || !strcmp(e->d_name, "freezer")))
			snprintf(dir, size, "%s", cdir);
	}
	closedir(d);
	return ret;
}

int cgroup_freeze(const char *dir, bool frozen)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/cgroup.freeze", dir);
	if (!dir[0] || access(path, W_OK))
		return -1;
	return write_file(dir, "cgroup.freeze", frozen ? "1" : "0");
}

int cgroup_set_memory(const char *dir, uint64_t limit)
{
	char text[32];

	snprintf(text, sizeof(text), "%llu", (unsigned long long)limit);
	if (!write_file(dir, "memory.max", text))
		return 0;
	return write_file(dir, "memory.limit_in_bytes", text);
}
