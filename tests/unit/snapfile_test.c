// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * snapfile_test.c - the snapshot file format on the host: a save/open round
 * trip, each kind of corrupt, truncated or foreign file refused with
 * EX_DATAERR, and an interrupted save leaving the earlier file intact.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "layout/amd64.h"
#include "layout/i686.h"
#include "userspace/lib/snapfile.h"

FIXTURE(snapfile)
{
	char dir[64];
	char path[128];
	unsigned char *snapshot, *scratch, vcpu[300];
	struct snapfile_contents contents;
};

FIXTURE_VARIANT(snapfile)
{
	uint32_t layout;
	uint64_t gpa, scratch_size;
};

FIXTURE_VARIANT_ADD(snapfile, amd64){
    .layout = SNAPVM_LAYOUT_AMD64,
    .gpa = AMD64_SNAPSHOT_BASE_GPA,
    .scratch_size = AMD64_MIN_SCRATCH_SIZE,
};

FIXTURE_VARIANT_ADD(snapfile, i686){
    .layout = SNAPVM_LAYOUT_I686,
    .gpa = I686_SNAPSHOT_BASE_GPA,
    .scratch_size = I686_MIN_SCRATCH_SIZE,
};

FIXTURE_SETUP(snapfile)
{
	const uint64_t snapshot_size = 3 * SNAPVM_GUEST_PAGE_SIZE;

	strcpy(self->dir, "/tmp/snapfile_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/guest.snap", self->dir);
	self->snapshot = malloc(snapshot_size);
	self->scratch = malloc(variant->scratch_size);
	ASSERT_NE(NULL, self->snapshot);
	ASSERT_NE(NULL, self->scratch);
	for (uint64_t i = 0; i < snapshot_size; i++)
		self->snapshot[i] = (unsigned char)(i * 7 + 1);
	for (uint64_t i = 0; i < variant->scratch_size; i++)
		self->scratch[i] = (unsigned char)(i * 13 + 5);
	for (unsigned int i = 0; i < sizeof(self->vcpu); i++)
		self->vcpu[i] = (unsigned char)i;
	self->contents = (struct snapfile_contents){
	    .layout = variant->layout,
	    .vcpu_state = self->vcpu,
	    .vcpu_state_size = sizeof(self->vcpu),
	    .snapshot_gpa = variant->gpa,
	    .snapshot = self->snapshot,
	    .snapshot_size = snapshot_size,
	    .scratch = self->scratch,
	    .scratch_size = variant->scratch_size,
	};
}

FIXTURE_TEARDOWN(snapfile)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	if (system(cmd))
		TH_LOG("could not remove %s", self->dir);
	free(self->snapshot);
	free(self->scratch);
}

/* Overwrite len bytes at offset of the file. */
static int poke(const char *path, off_t offset, const void *bytes, size_t len)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pwrite(fd, bytes, len, offset);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

static int count_entries(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

TEST_F(snapfile, round_trip)
{
	struct snapvm_error err = {0};
	struct snapfile file;

	ASSERT_EQ(0, snapfile_save(self->path, &self->contents, &err)) TH_LOG("%s", err.message);
	ASSERT_EQ(0, snapfile_open(self->path, 0, &file, &err)) TH_LOG("%s", err.message);
	EXPECT_EQ(variant->layout, file.contents.layout);
	EXPECT_EQ(variant->gpa, file.contents.snapshot_gpa);
	ASSERT_EQ(sizeof(self->vcpu), file.contents.vcpu_state_size);
	EXPECT_EQ(0, memcmp(self->vcpu, file.contents.vcpu_state, sizeof(self->vcpu)));
	ASSERT_EQ(self->contents.snapshot_size, file.contents.snapshot_size);
	EXPECT_EQ(0, memcmp(self->snapshot, file.contents.snapshot, file.contents.snapshot_size));
	ASSERT_EQ(variant->scratch_size, file.contents.scratch_size);
	EXPECT_EQ(0, memcmp(self->scratch, file.contents.scratch, file.contents.scratch_size));
	snapfile_close(&file);
	EXPECT_EQ(1, count_entries(self->dir)) TH_LOG("a temporary file was left behind");
}

/* Every byte counts: one flipped bit anywhere fails the checksum. */
/* Zero pages are holes in the file (a scratch is mostly zeros) and read
 * back as zeros; the pages around them keep their bytes. */
TEST_F(snapfile, zero_pages_are_holes)
{
	uint64_t page = SNAPVM_GUEST_PAGE_SIZE, size = variant->scratch_size;
	struct snapvm_error err;
	struct snapfile file;
	struct stat st;

	memset(self->scratch, 0, size);
	memset(self->scratch + page, 0xa5, page);
	self->scratch[size - 1] = 1;
	ASSERT_EQ(0, snapfile_save(self->path, &self->contents, &err)) TH_LOG("%s", err.message);
	ASSERT_EQ(0, stat(self->path, &st));
	EXPECT_LT((uint64_t)st.st_blocks * 512, size / 2)
	TH_LOG("%lld bytes allocated for a %llu-byte scratch", (long long)st.st_blocks * 512,
	       (unsigned long long)size);
	ASSERT_EQ(0, snapfile_open(self->path, 0, &file, &err)) TH_LOG("%s", err.message);
	EXPECT_EQ(0, memcmp(self->scratch, file.contents.scratch, size));
	EXPECT_EQ(0, memcmp(self->snapshot, file.contents.snapshot, 3 * page));
	snapfile_close(&file);
}

TEST_F(snapfile, flipped_byte_is_refused)
{
	const off_t offsets[] = {
	    200,	    /* header padding */
	    4096 + 5,	    /* vCPU state */
	    2 * 4096 + 100, /* snapshot memory */
	    -1,		    /* last byte of scratch */
	};
	struct snapvm_error err = {0};
	struct snapfile file;
	struct stat st;

	for (unsigned int i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		unsigned char byte;
		off_t at;
		int fd;

		ASSERT_EQ(0, snapfile_save(self->path, &self->contents, &err));
		ASSERT_EQ(0, stat(self->path, &st));
		at = offsets[i] < 0 ? st.st_size + offsets[i] : offsets[i];
		fd = open(self->path, O_RDONLY);
		ASSERT_EQ(1, pread(fd, &byte, 1, at));
		close(fd);
		byte ^= 0x10;
		ASSERT_EQ(0, poke(self->path, at, &byte, 1));
		EXPECT_EQ(EX_DATAERR, snapfile_open(self->path, 0, &file, &err))
		TH_LOG("flipped byte at %lld was not noticed", (long long)at);
		EXPECT_NE(NULL, strstr(err.message, "checksum")) TH_LOG("%s", err.message);
		EXPECT_NE(NULL, strstr(err.message, self->path));
	}
}

TEST_F(snapfile, truncated_file_is_refused)
{
	struct snapvm_error err = {0};
	struct snapfile file;
	struct stat st;

	ASSERT_EQ(0, snapfile_save(self->path, &self->contents, &err));
	ASSERT_EQ(0, stat(self->path, &st));
	ASSERT_EQ(0, truncate(self->path, st.st_size - 4096));
	EXPECT_EQ(EX_DATAERR, snapfile_open(self->path, 0, &file, &err));
	EXPECT_NE(NULL, strstr(err.message, "truncated")) TH_LOG("%s", err.message);
	ASSERT_EQ(0, truncate(self->path, 100));
	EXPECT_EQ(EX_DATAERR, snapfile_open(self->path, 0, &file, &err));
	EXPECT_NE(NULL, strstr(err.message, "truncated")) TH_LOG("%s", err.message);
}

TEST_F(snapfile, foreign_file_is_refused)
{
	struct snapvm_error err = {0};
	struct snapfile file;
	char elf[8192] = "\x7f"
			 "ELF";
	int fd = open(self->path, O_WRONLY | O_CREAT, 0600);

	ASSERT_GE(fd, 0);
	ASSERT_EQ((ssize_t)sizeof(elf), write(fd, elf, sizeof(elf)));
	close(fd);
	EXPECT_EQ(EX_DATAERR, snapfile_open(self->path, 0, &file, &err));
	EXPECT_NE(NULL, strstr(err.message, "not a snapvm snapshot")) TH_LOG("%s", err.message);
}

TEST_F(snapfile, other_format_version_is_refused)
{
	uint32_t version = SNAPFILE_VERSION + 1;
	struct snapvm_error err = {0};
	struct snapfile file;

	ASSERT_EQ(0, snapfile_save(self->path, &self->contents, &err));
	ASSERT_EQ(0, poke(self->path, offsetof(struct snapfile_header, version), &version,
			  sizeof(version)));
	EXPECT_EQ(EX_DATAERR, snapfile_open(self->path, 0, &file, &err));
	EXPECT_NE(NULL, strstr(err.message, "version")) TH_LOG("%s", err.message);
}

/* A header whose sizes lie is refused before any size is trusted. */
TEST_F(snapfile, lying_geometry_is_refused)
{
	uint64_t huge = 1ULL << 62, gpa = 0x123000;
	struct snapvm_error err = {0};
	struct snapfile file;

	ASSERT_EQ(0, snapfile_save(self->path, &self->contents, &err));
	ASSERT_EQ(0, poke(self->path, offsetof(struct snapfile_header, scratch_size), &huge,
			  sizeof(huge)));
	EXPECT_EQ(EX_DATAERR, snapfile_open(self->path, 0, &file, &err));
	EXPECT_NE(NULL, strstr(err.message, "scratch")) TH_LOG("%s", err.message);

	ASSERT_EQ(0, snapfile_save(self->path, &self->contents, &err));
	ASSERT_EQ(
	    0, poke(self->path, offsetof(struct snapfile_header, snapshot_gpa), &gpa, sizeof(gpa)));
	EXPECT_EQ(EX_DATAERR, snapfile_open(self->path, 0, &file, &err));
	EXPECT_NE(NULL, strstr(err.message, "GPA")) TH_LOG("%s", err.message);
}

TEST_F(snapfile, missing_file_is_no_input)
{
	struct snapvm_error err = {0};
	struct snapfile file;

	EXPECT_EQ(EX_NOINPUT, snapfile_open(self->path, 0, &file, &err));
	EXPECT_NE(NULL, strstr(err.message, self->path)) TH_LOG("%s", err.message);
}

/* A save that fails half-way (here: the file size limit, as a full disk
 * would) leaves the earlier snapshot intact and no temporary file. */
TEST_F(snapfile, failed_save_keeps_earlier_file)
{
	struct snapvm_error err = {0};
	struct rlimit limit = {.rlim_cur = 16384, .rlim_max = RLIM_INFINITY};
	struct snapfile file;
	pid_t pid;
	int status;

	ASSERT_EQ(0, snapfile_save(self->path, &self->contents, &err));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		signal(SIGXFSZ, SIG_IGN); /* write fails with EFBIG instead */
		setrlimit(RLIMIT_FSIZE, &limit);
		self->scratch[0] ^= 1;
		_exit(snapfile_save(self->path, &self->contents, &err) == EX_IOERR ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	/* A child killed by a signal (SIGXFSZ, SIGBUS) has no exit status. */
	ASSERT_TRUE(WIFEXITED(status))
	TH_LOG("the saving child died of signal %d", WTERMSIG(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("the save past the size limit did not fail");
	ASSERT_EQ(0, snapfile_open(self->path, 0, &file, &err)) TH_LOG("%s", err.message);
	EXPECT_EQ(0, memcmp(self->scratch, file.contents.scratch, file.contents.scratch_size));
	snapfile_close(&file);
	EXPECT_EQ(1, count_entries(self->dir)) TH_LOG("a temporary file was left behind");
}

/* A FIFO, a directory, a device: 65 at once, never a hang in open or read
 * (alarm turns one into a failure); the message names the file and type. */
TEST_F(snapfile, non_regular_files_are_refused_at_once)
{
	char fifo[160];
	const struct {
		const char *path, *type;
	} cases[] = {
	    {fifo, "FIFO"},
	    {self->dir, "directory"},
	    {"/dev/zero", "character device"},
	};
	struct snapvm_error err = {0};
	struct snapfile file;

	snprintf(fifo, sizeof(fifo), "%s/guest.fifo", self->dir);
	ASSERT_EQ(0, mkfifo(fifo, 0600));
	alarm(5);
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EXPECT_EQ(EX_DATAERR, snapfile_open(cases[i].path, 0, &file, &err))
		TH_LOG("%s was not refused", cases[i].path);
		EXPECT_NE(NULL, strstr(err.message, cases[i].path)) TH_LOG("%s", err.message);
		EXPECT_NE(NULL, strstr(err.message, cases[i].type)) TH_LOG("%s", err.message);
	}
	alarm(0);
}

/* The cap counts snapshot + scratch: exactly that much loads, less not. */
TEST_F(snapfile, max_memory_is_snapshot_plus_scratch)
{
	uint64_t need = self->contents.snapshot_size + self->contents.scratch_size;
	struct snapvm_error err = {0};
	struct snapfile file;
	char sizes[160];

	ASSERT_EQ(0, snapfile_save(self->path, &self->contents, &err));
	ASSERT_EQ(0, snapfile_open(self->path, need, &file, &err)) TH_LOG("%s", err.message);
	snapfile_close(&file);
	EXPECT_EQ(EX_DATAERR, snapfile_open(self->path, need - 1, &file, &err));
	snprintf(sizes, sizeof(sizes),
		 "needs %llu bytes of guest memory (snapshot %llu + scratch %llu), more than "
		 "--max-memory=%llu",
		 (unsigned long long)need, (unsigned long long)self->contents.snapshot_size,
		 (unsigned long long)self->contents.scratch_size, (unsigned long long)need - 1);
	EXPECT_NE(NULL, strstr(err.message, sizes)) TH_LOG("%s", err.message);
	EXPECT_NE(NULL, strstr(err.message, self->path)) TH_LOG("%s", err.message);
}

/* A header claiming 1 GiB of scratch over the cap is refused from the
 * header alone: in a child that could not even allocate that much, and
 * before the (sparse, never written) sections could fail their checksum. */
TEST_F(snapfile, over_cap_is_refused_before_the_sections)
{
	union {
		struct snapfile_header h;
		unsigned char bytes[SNAPVM_GUEST_PAGE_SIZE];
	} page = {{.version = SNAPFILE_VERSION}};
	struct rlimit limit = {.rlim_cur = 512 << 20, .rlim_max = RLIM_INFINITY};
	uint64_t scratch = 1ULL << 30;
	pid_t pid;
	int fd, status;

	memcpy(page.h.magic, SNAPFILE_MAGIC, sizeof(page.h.magic));
	page.h.layout = variant->layout;
	page.h.vcpu_state_size = sizeof(self->vcpu);
	page.h.snapshot_gpa = variant->gpa;
	page.h.snapshot_size = SNAPVM_GUEST_PAGE_SIZE;
	page.h.scratch_size = scratch;
	page.h.file_size = 3 * SNAPVM_GUEST_PAGE_SIZE + scratch;
	fd = open(self->path, O_WRONLY | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)sizeof(page), write(fd, page.bytes, sizeof(page)));
	ASSERT_EQ(0, ftruncate(fd, (off_t)page.h.file_size));
	close(fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct snapvm_error err = {0};
		struct snapfile file;
		int ret;

		setrlimit(RLIMIT_AS, &limit);
		alarm(5);
		ret = snapfile_open(self->path, 64 << 20, &file, &err);
		if (ret != EX_DATAERR || !strstr(err.message, "--max-memory=67108864") ||
		    !strstr(err.message, "scratch 1073741824")) {
			fprintf(stderr, "# status %d: %s\n", ret, err.message);
			_exit(1);
		}
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
	TH_LOG("the over-cap file was not refused from its header (wait status 0x%x)", status);
}

/* Read the file at path into memory. */
static unsigned char *slurp(const char *path, size_t *size)
{
	struct stat st;
	unsigned char *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	buf = malloc(st.st_size ? st.st_size : 1);
	if (buf && read(fd, buf, st.st_size) != st.st_size) {
		free(buf);
		buf = NULL;
	}
	close(fd);
	*size = st.st_size;
	return buf;
}

/* snapfile_parse on the file's bytes (what the fuzzer calls) decides as
 * snapfile_open does, for a good file and each kind of bad one. */
TEST_F(snapfile, parse_on_a_buffer_agrees_with_open)
{
	const struct {
		const char *what;
		size_t offset; /* SIZE_MAX: truncate by a page instead */
		uint64_t value;
		size_t len;
	} cases[] = {
	    {"good", 0, 0, 0},
	    {"magic", 0, 0x4e534d5650414e54ULL, 8},
	    {"version", offsetof(struct snapfile_header, version), SNAPFILE_VERSION + 1, 4},
	    {"layout", offsetof(struct snapfile_header, layout), 7, 4},
	    {"scratch size", offsetof(struct snapfile_header, scratch_size), 1ULL << 62, 8},
	    {"gpa", offsetof(struct snapfile_header, snapshot_gpa), 0x123000, 8},
	    {"reserved", offsetof(struct snapfile_header, reserved), 1, 8},
	    {"header padding", 200, 0xff, 1},
	    {"vcpu state", 4096 + 5, 0xff, 1},
	    {"truncated", SIZE_MAX, 0, 0},
	};

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct snapvm_error oerr = {0}, perr = {0};
		struct snapfile_contents parsed;
		struct snapfile file;
		unsigned char *buf;
		size_t size;
		int oret, pret;

		ASSERT_EQ(0, snapfile_save(self->path, &self->contents, &oerr));
		if (cases[i].offset == SIZE_MAX) {
			struct stat st;

			ASSERT_EQ(0, stat(self->path, &st));
			ASSERT_EQ(0, truncate(self->path, st.st_size - 4096));
		} else if (cases[i].len) {
			ASSERT_EQ(0,
				  poke(self->path, cases[i].offset, &cases[i].value, cases[i].len));
		}
		buf = slurp(self->path, &size);
		ASSERT_NE(NULL, buf);
		oret = snapfile_open(self->path, 0, &file, &oerr);
		pret = snapfile_parse(self->path, buf, size, 0, &parsed, &perr);
		EXPECT_EQ(oret, pret) TH_LOG("%s: open %d, parse %d", cases[i].what, oret, pret);
		EXPECT_EQ(i == 0 ? 0 : EX_DATAERR, oret)
		TH_LOG("%s: %s", cases[i].what, oerr.message);
		if (oret) {
			EXPECT_STREQ(oerr.message, perr.message);
		} else if (!pret) {
			const struct snapfile_contents *c = &file.contents;

			EXPECT_EQ(c->layout, parsed.layout);
			EXPECT_EQ(c->snapshot_gpa, parsed.snapshot_gpa);
			EXPECT_EQ((const unsigned char *)c->vcpu_state -
				      (const unsigned char *)file.data,
				  (const unsigned char *)parsed.vcpu_state - buf);
			EXPECT_EQ((const unsigned char *)c->snapshot -
				      (const unsigned char *)file.data,
				  (const unsigned char *)parsed.snapshot - buf);
			EXPECT_EQ((const unsigned char *)c->scratch -
				      (const unsigned char *)file.data,
				  (const unsigned char *)parsed.scratch - buf);
			EXPECT_EQ(c->scratch_size, parsed.scratch_size);
			EXPECT_EQ(0, memcmp(file.data, buf, size));
			snapfile_close(&file);
		}
		free(buf);
	}
}

TEST(crc64_matches_the_xz_check_value)
{
	/* The standard check value of CRC-64/XZ for "123456789". */
	EXPECT_EQ(0x995dc9bbdf1939faULL, snapfile_crc64(0, "123456789", 9));
}

/* CRC-64/XZ one byte at a time, as the format defines it. */
static uint64_t crc64_bytewise(uint64_t crc, const unsigned char *p, size_t len)
{
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ ((crc & 1) ? 0xc96c5795d7870f42ULL : 0);
	}
	return ~crc;
}

/* Zero pages take a shortcut (one matrix per page): the same checksum as
 * byte by byte, wherever the zeros start, and in pieces. */
TEST(crc64_of_zero_pages_matches_bytewise)
{
	size_t size = 9 * 4096 + 123;
	unsigned char *buf = calloc(1, size + 8);

	ASSERT_NE(NULL, buf);
	srand(7);
	for (size_t i = 0; i < 4096 + 17; i++) /* a page and a bit of data */
		buf[i] = (unsigned char)rand();
	for (size_t i = 5 * 4096 + 100; i < 5 * 4096 + 300; i++)
		buf[i] = (unsigned char)rand();
	for (size_t start = 0; start < 9; start++) {
		uint64_t want = crc64_bytewise(0, buf + start, size - start);
		uint64_t piecewise = snapfile_crc64(0, buf + start, 4096 * 3 + 5);

		EXPECT_EQ(want, snapfile_crc64(0, buf + start, size - start));
		piecewise = snapfile_crc64(piecewise, buf + start + 4096 * 3 + 5,
					   size - start - (4096 * 3 + 5));
		EXPECT_EQ(want, piecewise);
	}
	memset(buf, 0, size);
	EXPECT_EQ(crc64_bytewise(0, buf, size), snapfile_crc64(0, buf, size));
	EXPECT_EQ(crc64_bytewise(42, buf, 8192), snapfile_crc64(42, buf, 8192));
	free(buf);
}

TEST_HARNESS_MAIN
