// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * file_test.c - reading input files once (userspace/lib/file.c): regular files
 * are read whole, anything else is refused at once with EX_DATAERR, a
 * missing file is EX_NOINPUT, one over the size limit is refused from its
 * size, and a file truncated or rewritten between the loaders' reads (each
 * such moment forced in turn) never raises a signal: the load is refused
 * with EX_DATAERR, or gets the whole file.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "layout/amd64.h"
#include "userspace/lib/internal.h"
#include "userspace/lib/snapfile.h"

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

/*
 * The loaders read a file with pread for the size fstat gave: the only
 * moments its being cut short or rewritten can matter are between those
 * calls. A loader thread runs under a seccomp filter that stops each of its
 * pread64 calls (SCMP_ACT_NOTIFY) until this thread, having changed the file
 * at exactly the call the interleaving names, lets it go on (CONTINUE): every
 * interleaving happens, each time, in order.
 */
enum loader { READ_FILE, SNAPFILE_OPEN };

struct interleaving {
	const char *name;
	enum loader loader;
	unsigned int at_read; /* the file changes just before this pread (1: the first) */
	off_t cut_to;	      /* to this size, in place (same inode) */
	int then_write;	      /* 0: nothing, 1: the whole file back, 2: another file's bytes */
	int status;	      /* the load's */
	const char *message;  /* in the load's error */
};

struct loading {
	enum loader loader;
	const char *path;
	int notify_fd, done_fd, status;
	struct snapvm_error err;
	void *buf;
	size_t size;
	struct snapfile file;
};

/* pread64 stops for the listener, anything else goes on (raw BPF:
 * libseccomp keeps one listener per process, and each load needs its own). */
static int notify_on_pread(void)
{
	struct sock_filter code[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pread64, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			    &prog);
}

static void *load_under_filter(void *arg)
{
	struct loading *l = arg;

	/* This thread's filter only: the test's own reads go on unseen. */
	l->status = -1;
	l->notify_fd = notify_on_pread();
	if (l->notify_fd >= 0 && write(l->done_fd, "s", 1) == 1)
		l->status = l->loader == READ_FILE
				? snapvm_read_file(l->path, 0, &l->buf, &l->size, &l->err)
				: snapfile_open(l->path, 0, &l->file, &l->err);
	if (write(l->done_fd, "d", 1) != 1)
		abort();
	return NULL;
}

static void run_interleaving(struct __test_metadata *_metadata, const char *path,
			     const unsigned char *whole, const unsigned char *other, size_t size,
			     const struct interleaving *il)
{
	struct loading l = {.loader = il->loader, .path = path, .notify_fd = -1};
	unsigned int reads = 0;
	bool acted = false;
	pthread_t thread;
	int done[2], fd;
	char what;

	ASSERT_EQ(0, pipe(done));
	l.done_fd = done[1];
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)size, pwrite(fd, whole, size, 0));
	ASSERT_EQ(0, pthread_create(&thread, NULL, load_under_filter, &l));
	ASSERT_EQ(1, read(done[0], &what, 1));
	ASSERT_EQ('s', what) TH_LOG("%s: no seccomp listener: %s", il->name, strerror(errno));
	for (;;) {
		struct pollfd pfd[2] = {{.fd = l.notify_fd, .events = POLLIN},
					{.fd = done[0], .events = POLLIN}};
		struct seccomp_notif req = {0};
		struct seccomp_notif_resp resp = {0};

		/* 10 s: far past a load here (milliseconds), within the harness's 30. */
		ASSERT_LT(0, poll(pfd, 2, 10000)) TH_LOG("%s: the load hangs", il->name);
		if (pfd[1].revents)
			break;
		if (ioctl(l.notify_fd, SECCOMP_IOCTL_NOTIF_RECV, &req))
			continue; /* the loader's thread went away meanwhile */
		ASSERT_EQ(__NR_pread64, req.data.nr);
		if (++reads == il->at_read) {
			ASSERT_EQ(0, ftruncate(fd, il->cut_to));
			if (il->then_write)
				ASSERT_EQ((ssize_t)size,
					  pwrite(fd, il->then_write == 1 ? whole : other, size, 0));
			acted = true;
		}
		resp.id = req.id;
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ASSERT_EQ(0, ioctl(l.notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp));
	}
	ASSERT_EQ(1, read(done[0], &what, 1));
	ASSERT_EQ('d', what);
	pthread_join(thread, NULL);
	/* The interleaving happened: the file changed between fstat and that read. */
	EXPECT_TRUE(acted)
	TH_LOG("%s: the loader made %u reads, fewer than %u", il->name, reads, il->at_read);
	EXPECT_EQ(il->status, l.status) TH_LOG("%s: %s", il->name, l.err.message);
	if (il->message)
		EXPECT_NE(NULL, strstr(l.err.message, il->message))
	TH_LOG("%s: \"%s\" is not about \"%s\"", il->name, l.err.message, il->message);
	if (l.status == 0 && il->loader == READ_FILE) {
		EXPECT_EQ(size, l.size);
		EXPECT_EQ(0, l.size == size ? memcmp(whole, l.buf, size) : 1)
		TH_LOG("%s: not the file's bytes", il->name);
	}
	if (l.status == 0 && il->loader == SNAPFILE_OPEN) {
		EXPECT_EQ(size, l.file.size);
		EXPECT_EQ(0, l.file.size == size ? memcmp(whole, l.file.data, size) : 1)
		TH_LOG("%s: not the file's bytes", il->name);
		snapfile_close(&l.file);
	}
	free(l.buf);
	close(l.notify_fd);
	close(fd);
	close(done[0]);
	close(done[1]);
}

/*
 * The old loaders mmapped the file: truncating it under them raised SIGBUS.
 * Now each load that sees its file cut short is refused with EX_DATAERR and
 * says so; one that sees it rewritten whole gets the whole; a snapshot file
 * replaced between its header and the rest is refused by its checksum. No
 * load dies of a signal (the test would).
 */
TEST_F(file, truncation_while_loading_is_a_data_error_at_every_read)
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
	unsigned char *whole, *other;
	size_t size, other_size;
	char half[64], rest[64];

	ASSERT_NE(NULL, snapshot);
	ASSERT_NE(NULL, scratch);
	memset(snapshot, 0xa5, snapshot_size);
	ASSERT_EQ(0, snapfile_save(self->path, &c, &err)) TH_LOG("%s", err.message);
	ASSERT_EQ(0, snapvm_read_file(self->path, 0, (void **)&other, &other_size, &err));
	memset(snapshot, 0x5a, snapshot_size);
	ASSERT_EQ(0, snapfile_save(self->path, &c, &err)) TH_LOG("%s", err.message);
	ASSERT_EQ(0, snapvm_read_file(self->path, 0, (void **)&whole, &size, &err));
	ASSERT_EQ(size, other_size);
	ASSERT_NE(0, memcmp(whole, other, size));
	snprintf(half, sizeof(half), "only %zu of the %zu bytes at offset 0", size / 2, size);
	/* The header is one page (snapfile.c), read before the rest. */
	snprintf(rest, sizeof(rest), "only 100 of the %llu bytes at offset %llu",
		 (unsigned long long)(size - SNAPVM_GUEST_PAGE_SIZE),
		 (unsigned long long)SNAPVM_GUEST_PAGE_SIZE);
	{
		const struct interleaving cases[] = {
		    {"emptied before the read", READ_FILE, 1, 0, 0, EX_DATAERR,
		     "truncated while reading: only 0 of"},
		    {"halved before the read", READ_FILE, 1, (off_t)size / 2, 0, EX_DATAERR, half},
		    {"cut and rewritten before the read", READ_FILE, 1, (off_t)size / 3, 1, 0,
		     NULL},
		    {"snapshot emptied before its header", SNAPFILE_OPEN, 1, 0, 0, EX_DATAERR,
		     "truncated while reading: only 0 of"},
		    {"snapshot cut between header and rest", SNAPFILE_OPEN, 2,
		     SNAPVM_GUEST_PAGE_SIZE + 100, 0, EX_DATAERR, rest},
		    {"snapshot replaced between header and rest", SNAPFILE_OPEN, 2, 0, 2,
		     EX_DATAERR, "checksum mismatch"},
		    {"snapshot cut and rewritten between header and rest", SNAPFILE_OPEN, 2,
		     (off_t)size / 2, 1, 0, NULL},
		};

		for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			run_interleaving(_metadata, self->path, whole, other, size, &cases[i]);
	}
	free(whole);
	free(other);
	free(snapshot);
	free(scratch);
}

TEST_HARNESS_MAIN
