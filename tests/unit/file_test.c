// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * file_test.c - reading input files once (userspace/file.c): regular files
 * are read whole, anything else is refused at once with EX_DATAERR, a
 * missing file is EX_NOINPUT, one over the size limit is refused from its
 * size, and a file truncated and rewritten while loaders read it never
 * raises a signal: every load succeeds or fails with EX_DATAERR.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "layout/amd64.h"
#include "userspace/internal.h"
#include "userspace/snapfile.h"

FIXTURE(file)
{
	char dir[64];
	char path[128];
};

FIXTURE_SETUP(file)
{
	strcpy(self->dir, "/tmp/file_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/input", self->dir);
}

FIXTURE_TEARDOWN(file)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (system(cmd) != 0)
		TH_LOG("could not remove %s", self->dir);
}

static int write_bytes(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, data, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

TEST_F(file, regular_file_is_read_whole)
{
	struct snapvm_error err = {0};
	char data[5000];
	size_t size;
	void *buf;

	for (unsigned int i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 31);
	ASSERT_EQ(0, write_bytes(self->path, data, sizeof(data)));
	ASSERT_EQ(0, snapvm_read_file(self->path, 0, &buf, &size, &err)) TH_LOG("%s", err.message);
	ASSERT_EQ(sizeof(data), size);
	EXPECT_EQ(0, memcmp(data, buf, size));
	free(buf);
	/* Exactly the limit is fine, one byte over is not. */
	ASSERT_EQ(0, snapvm_read_file(self->path, sizeof(data), &buf, &size, &err));
	free(buf);
	EXPECT_EQ(EX_DATAERR, snapvm_read_file(self->path, sizeof(data) - 1, &buf, &size, &err));
	EXPECT_NE(NULL, strstr(err.message, "5000 bytes")) TH_LOG("%s", err.message);
	EXPECT_NE(NULL, strstr(err.message, self->path)) TH_LOG("%s", err.message);
	EXPECT_EQ(NULL, buf);
	/* Empty is a file too; what it holds is for the parsers to judge. */
	ASSERT_EQ(0, write_bytes(self->path, data, 0));
	ASSERT_EQ(0, snapvm_read_file(self->path, 0, &buf, &size, &err)) TH_LOG("%s", err.message);
	EXPECT_EQ(0UL, size);
	free(buf);
}

TEST_F(file, non_regular_files_are_refused_at_once)
{
	const struct {
		const char *path, *type;
	} cases[] = {
	    {self->path, "FIFO"},
	    {self->dir, "directory"},
	    {"/dev/zero", "character device"},
	    {"/dev/null", "character device"},
	};
	struct snapvm_error err = {0};
	size_t size;
	void *buf;

	ASSERT_EQ(0, mkfifo(self->path, 0600));
	alarm(5); /* a hang in open or read fails the test */
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EXPECT_EQ(EX_DATAERR, snapvm_read_file(cases[i].path, 0, &buf, &size, &err))
		TH_LOG("%s was not refused", cases[i].path);
		EXPECT_NE(NULL, strstr(err.message, cases[i].path)) TH_LOG("%s", err.message);
		EXPECT_NE(NULL, strstr(err.message, cases[i].type)) TH_LOG("%s", err.message);
	}
	alarm(0);
}

TEST_F(file, missing_file_is_no_input)
{
	struct snapvm_error err = {0};
	size_t size;
	void *buf;

	EXPECT_EQ(EX_NOINPUT, snapvm_read_file(self->path, 0, &buf, &size, &err));
	EXPECT_NE(NULL, strstr(err.message, self->path)) TH_LOG("%s", err.message);
}

/* In the child: load path again and again for `seconds`; exit 0 when every
 * load gave 0 or EX_DATAERR, telling report_fd how often each happened. */
static void load_repeatedly(const char *path, double seconds, int report_fd)
{
	unsigned long ok = 0, truncated = 0, refused = 0;
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		struct snapvm_error err = {0};
		bool as_snapshot = (ok + truncated + refused) % 2;
		struct snapfile file;
		size_t size;
		void *buf;
		int ret = as_snapshot ? snapfile_open(path, 0, &file, &err)
				      : snapvm_read_file(path, 0, &buf, &size, &err);

		if (ret == 0) {
			ok++;
			if (as_snapshot)
				snapfile_close(&file);
			else
				free(buf);
		} else if (ret == EX_DATAERR) {
			if (strstr(err.message, "truncated while reading"))
				truncated++;
			else
				refused++;
		} else {
			dprintf(report_fd, "unexpected status %d: %s", ret, err.message);
			_exit(1);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec + (now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
	dprintf(report_fd, "%lu loads: %lu whole, %lu truncated while reading, %lu refused",
		ok + truncated + refused, ok, truncated, refused);
	_exit(0);
}

/*
 * The old loaders mmapped the file: truncating it under them raised SIGBUS.
 * Now a child loads a snapshot file over and over while this process cuts
 * it short and writes it back: no load may die of a signal, and each one
 * either succeeds or is refused with EX_DATAERR.
 */
TEST_F(file, truncation_while_loading_never_raises_a_signal)
{
	const uint64_t snapshot_size = 1 << 20;
	unsigned char vcpu[256] = {1};
	unsigned char *snapshot = calloc(1, snapshot_size);
	unsigned char *scratch = calloc(1, AMD64_MIN_SCRATCH_SIZE);
	struct snapfile_contents c = {
	    .layout = SNAPVM_LAYOUT_AMD64,
	    .vcpu_state = vcpu,
	    .vcpu_state_size = sizeof(vcpu),
	    .snapshot_gpa = AMD64_SNAPSHOT_BASE_GPA,
	    .snapshot = snapshot,
	    .snapshot_size = snapshot_size,
	    .scratch = scratch,
	    .scratch_size = AMD64_MIN_SCRATCH_SIZE,
	};
	struct snapvm_error err = {0};
	struct timespec start, now;
	unsigned char *whole;
	size_t size;
	unsigned int seed = 1;
	char text[512] = "";
	bool reaped = false;
	int fd, status, report[2];
	ssize_t n;
	pid_t pid;

	ASSERT_NE(NULL, snapshot);
	ASSERT_NE(NULL, scratch);
	memset(snapshot, 0x5a, snapshot_size);
	ASSERT_EQ(0, snapfile_save(self->path, &c, &err)) TH_LOG("%s", err.message);
	ASSERT_EQ(0, snapvm_read_file(self->path, 0, (void **)&whole, &size, &err));
	fd = open(self->path, O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pipe(report));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(report[0]);
		load_repeatedly(self->path, 1.5, report[1]);
	}
	close(report[1]);
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		/* In place (same inode): shorter, then whole again. */
		if (ftruncate(fd, (off_t)(rand_r(&seed) % size)) ||
		    pwrite(fd, whole, size, 0) != (ssize_t)size)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		reaped = waitpid(pid, &status, WNOHANG) == pid;
	} while (!reaped && now.tv_sec - start.tv_sec < 3);
	close(fd);
	if (!reaped)
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
	n = read(report[0], text, sizeof(text) - 1);
	text[n > 0 ? n : 0] = '\0';
	close(report[0]);
	TH_LOG("%s", text);
	EXPECT_FALSE(WIFSIGNALED(status))
	TH_LOG("the loader died of signal %d", WTERMSIG(status));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
	TH_LOG("a load ended with a status other than 0 or EX_DATAERR");
	free(whole);
	free(snapshot);
	free(scratch);
}

TEST_HARNESS_MAIN
