// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * state.c - a container's state directory ROOT/ID: state.json (written
 * atomically, read-modify-write under an flock of the directory), the
 * exec.fifo the VMM waits on until start, and the status derived from the
 * VMM's pid, its start time (so a reused pid is not taken for it) and the
 * fifo.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "userspace/runc/runc.h"

const char *runc_root = RUNC_DEFAULT_ROOT;

int state_check_id(const char *id)
{
	size_t n = strlen(id);

	if (!n || n > RUNC_ID_MAX || !strcmp(id, ".") || !strcmp(id, ".."))
		return fail("invalid container ID '%.64s': want 1 to %d characters, not . or ..",
			    id, RUNC_ID_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '+' || c == '-' || c == '.'))
			return fail("invalid container ID '%.64s': only letters, digits and _+-. "
				    "are allowed",
				    id);
	}
	return 0;
}

void state_path(struct state *s, const char *id)
{
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->dir, sizeof(s->dir), "%s/%s", runc_root, id);
}

static void copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

int state_load(struct state *s, const char *id)
{
	char path[4200];
	json_error_t jerr;
	json_t *j, *v;

	memset(s, 0, sizeof(*s));
	if (state_check_id(id))
		return 1;
	state_path(s, id);
	snprintf(path, sizeof(path), "%s/state.json", s->dir);
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		if (access(s->dir, F_OK))
			return fail("container %s does not exist", id);
		return fail("container %s: %s: %s", id, path, jerr.text);
	}
	v = json_object_get(j, "pid");
	s->pid = json_is_integer(v) ? (pid_t)json_integer_value(v) : 0;
	v = json_object_get(j, "started");
	s->started = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
	copy(s->bundle, sizeof(s->bundle), json_string_value(json_object_get(j, "bundle")));
	copy(s->rootfs, sizeof(s->rootfs), json_string_value(json_object_get(j, "rootfs")));
	copy(s->created, sizeof(s->created), json_string_value(json_object_get(j, "created")));
	copy(s->cgroup, sizeof(s->cgroup), json_string_value(json_object_get(j, "cgroup")));
	s->paused = json_is_true(json_object_get(j, "paused"));
	s->frozen = json_is_true(json_object_get(j, "frozen"));
	v = json_object_get(j, "annotations");
	s->annotations = json_is_object(v) ? json_incref(v) : json_object();
	json_decref(j);
	return 0;
}

int state_save(const struct state *s)
{
	char path[4200], tmp[4250];
	json_t *j;
	int ret;

	j = json_pack("{s:s,s:I,s:I,s:s,s:s,s:s,s:s,s:b,s:b,s:O}", "id", s->id, "pid",
		      (json_int_t)s->pid, "started", (json_int_t)s->started, "bundle", s->bundle,
		      "rootfs", s->rootfs, "created", s->created, "cgroup", s->cgroup, "paused",
		      s->paused, "frozen", s->frozen, "annotations",
		      s->annotations ? (json_t *)s->annotations : json_object());
	if (!j)
		return fail("container %s: cannot build state.json", s->id);
	snprintf(path, sizeof(path), "%s/state.json", s->dir);
	snprintf(tmp, sizeof(tmp), "%s/.state.json.tmp", s->dir);
	ret = json_dump_file(j, tmp, JSON_COMPACT);
	json_decref(j);
	if (ret || rename(tmp, path)) {
		unlink(tmp);
		return fail("container %s: cannot write %s: %s", s->id, path, strerror(errno));
	}
	return 0;
}

void state_free(struct state *s)
{
	json_decref(s->annotations);
	s->annotations = NULL;
}

int state_lock(const struct state *s)
{
	int fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		fail(errno == ENOENT ? "container %s does not exist" : "container %s: %m", s->id);
		return -1;
	}
	if (flock(fd, LOCK_EX)) {
		fail("container %s: flock %s: %m", s->id, s->dir);
		close(fd);
		return -1;
	}
	return fd;
}

uint64_t proc_start_time(pid_t pid, char *state)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd;

	*state = '?';
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1,
			 " %c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
			 "%*s %*s %*s %llu",
			 state, &start) != 2)
		return 0;
	return start;
}

enum status state_status(const struct state *s)
{
	char path[4200], st;

	if (!s->pid)
		return STATUS_CREATING;
	/* Gone, a zombie (exited, not yet reaped by the shim), or another
	 * process that got the pid since. */
	if (proc_start_time(s->pid, &st) != s->started || st == 'Z' || st == 'X')
		return STATUS_STOPPED;
	if (s->paused)
		return STATUS_PAUSED;
	snprintf(path, sizeof(path), "%s/exec.fifo", s->dir);
	return access(path, F_OK) ? STATUS_RUNNING : STATUS_CREATED;
}

const char *status_name(enum status st)
{
	static const char *const names[] = {"creating", "created", "running", "paused", "stopped"};

	return names[st];
}

void state_remove(const struct state *s)
{
	int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;
	DIR *d;

	if (dfd < 0)
		return;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    unlinkat(dfd, e->d_name, 0) && errno == EISDIR)
			unlinkat(dfd, e->d_name, AT_REMOVEDIR);
	closedir(d);
	rmdir(s->dir);
}
