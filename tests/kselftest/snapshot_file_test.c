// SPDX-License-Identifier: GPL-2.0
/*
 * snapshot_file_test.c - snapshot files through libsnapvm and the launcher,
 * for both layouts and both memory backends: a file round-trips (the same
 * memory and registers), and the launcher saves, runs and refuses
 * corrupt, truncated and foreign files. Runs in the test VM.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/kselftest/vmm_test.h"
#include "tests/kselftest/snapshot_fixture.h"
#include "guests/test/call-loop.h"
#include "layout/abi.h"
#include "userspace/lib/snapfile.h"
#include "userspace/lib/snapvm.h"

/* ---- files ---- */

TEST_F_TIMEOUT(snapshot, file_round_trip, 120)
{
	struct snapvm_snapshot_options options = {.memory = variant->memory_id};
	struct snapvm_snapshot *loaded;
	struct snapvm_sandbox *sb;
	char path[PATH_MAX + 32];
	uint64_t v = 0, gpa, size, gpa2, size2;
	const void *a, *b;

	REQUIRE_BACKEND();
	snprintf(path, sizeof(path), "%s/call-loop.snap", self->tmp);
	ASSERT_EQ(0, snapvm_snapshot_save(self->taken, path, &self->err))
	TH_LOG("%s", self->err.message);
	ASSERT_EQ(0, snapvm_snapshot_load(path, &options, &loaded, &self->err))
	TH_LOG("%s", self->err.message);
	EXPECT_EQ(variant->layout_id, snapvm_snapshot_layout(loaded));
	EXPECT_EQ(SCRATCH_SIZE, snapvm_snapshot_scratch_size(loaded));
	a = snapvm_snapshot_memory(self->taken, &gpa, &size);
	b = snapvm_snapshot_memory(loaded, &gpa2, &size2);
	EXPECT_EQ(gpa, gpa2);
	ASSERT_EQ(size, size2);
	EXPECT_EQ(0, memcmp(a, b, size));

	CREATE(loaded, &sb);
	snapvm_snapshot_put(loaded);
	CALL(sb, CALL_SNAPSHOT_VALUE, 0, &v);
	EXPECT_EQ(1ULL, v);
	CALL(sb, CALL_PEEK_SCRATCH, 0, &v);
	EXPECT_EQ((uint64_t)CALL_LOOP_MARK, v);
	CALL(sb, CALL_GENERATION, 0, &v);
	EXPECT_EQ(1ULL, v);
	CALL(sb, CALL_WRITE_SCRATCH, 3, &v);
	RESTORE(sb);
	CALL(sb, CALL_COUNTER, 0, &v);
	EXPECT_EQ(1ULL, v);
	snapvm_sandbox_destroy(sb);

	/* A mismatching layout or scratch size is refused. */
	options.layout =
	    variant->layout_id == SNAPVM_LAYOUT_I686 ? SNAPVM_LAYOUT_AMD64 : SNAPVM_LAYOUT_I686;
	EXPECT_EQ(EX_DATAERR, snapvm_snapshot_load(path, &options, &loaded, &self->err));
	EXPECT_EQ(NULL, loaded);
}

/* Run build/snapvm with args; stdout and stderr into files of the tmp dir,
 * read back into out and err. Returns the exit status. */
static int launch(FIXTURE_DATA(snapshot) * self, const char *const *args, char *out, char *err)
{
	char path[PATH_MAX], out_path[PATH_MAX + 16], err_path[PATH_MAX + 16];
	const char *argv[16];
	int argc = 0, ws, fd;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/snapvm", vmm_build_dir());
	snprintf(out_path, sizeof(out_path), "%s/stdout", self->tmp);
	snprintf(err_path, sizeof(err_path), "%s/stderr", self->tmp);
	argv[argc++] = path;
	while (*args && argc < 15)
		argv[argc++] = *args++;
	argv[argc] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(o, STDOUT_FILENO);
		dup2(e, STDERR_FILENO);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	waitpid(pid, &ws, 0);
	for (int i = 0; i < 2; i++) {
		char *buf = i ? err : out;
		ssize_t n;

		fd = open(i ? err_path : out_path, O_RDONLY);
		n = fd >= 0 ? read(fd, buf, OUTPUT_MAX - 1) : 0;
		buf[n > 0 ? n : 0] = '\0';
		if (fd >= 0)
			close(fd);
	}
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

#define LAUNCH(expected, ...)                                                                      \
	do {                                                                                       \
		const char *const args_[] = {__VA_ARGS__, NULL};                                   \
		int status_ = launch(self, args_, out, err);                                       \
		EXPECT_EQ((expected), status_)                                                     \
		TH_LOG("snapvm exited %d, expected %d\nstdout:\n%s\nstderr:\n%s", status_,         \
		       (expected), out, err);                                                      \
	} while (0)

static int count_lines(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* Rewrite a copy of good into bad, with fn applied to its bytes. */
static int corrupt_copy(const char *good, const char *bad, size_t keep,
			void (*fn)(unsigned char *bytes, size_t size))
{
	int in = open(good, O_RDONLY), out;
	struct stat st;
	unsigned char *bytes;
	int ret = -1;

	if (in < 0 || fstat(in, &st))
		return -1;
	bytes = malloc(st.st_size);
	if (bytes && read(in, bytes, st.st_size) == st.st_size) {
		if (fn)
			fn(bytes, st.st_size);
		out = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (out >= 0) {
			size_t n = keep < (size_t)st.st_size ? keep : (size_t)st.st_size;

			ret = write(out, bytes, n) == (ssize_t)n ? 0 : -1;
			close(out);
		}
	}
	free(bytes);
	close(in);
	return ret;
}

static void flip_memory_byte(unsigned char *bytes, size_t size)
{
	bytes[size - 100] ^= 0x40; /* in the scratch image */
}

static void bad_magic(unsigned char *bytes, size_t size)
{
	bytes[0] = 'X';
}

static void other_version(unsigned char *bytes, size_t size)
{
	((struct snapfile_header *)bytes)->version = SNAPFILE_VERSION + 1;
}

static void other_layout(unsigned char *bytes, size_t size)
{
	struct snapfile_header *h = (struct snapfile_header *)bytes;

	h->layout = h->layout == SNAPVM_LAYOUT_I686 ? SNAPVM_LAYOUT_AMD64 : SNAPVM_LAYOUT_I686;
}

TEST_F_TIMEOUT(snapshot, launcher_snapshot_files, 300)
{
	static struct {
		const char *name;
		size_t keep;
		void (*fn)(unsigned char *, size_t);
	} bad[] = {
	    {"empty", 0, NULL},
	    {"truncated-header", 100, NULL},
	    {"truncated", 4096 * 3 + 5, NULL},
	    {"flipped-byte", SIZE_MAX, flip_memory_byte},
	    {"bad-magic", SIZE_MAX, bad_magic},
	    {"other-version", SIZE_MAX, other_version},
	    {"other-layout", SIZE_MAX, other_layout},
	};
	static char out[OUTPUT_MAX], err[OUTPUT_MAX];
	char memory[32], file[PATH_MAX + 32], flag[PATH_MAX + 64], badfile[PATH_MAX + 256];
	char elf[PATH_MAX + 64], from[PATH_MAX + 96];
	struct stat st;

	REQUIRE_BACKEND();
	snprintf(memory, sizeof(memory), "--memory=%s", variant->memory);
	snprintf(file, sizeof(file), "%s/state.snap", self->tmp);
	snprintf(flag, sizeof(flag), "--snapshot-out=%s", file);
	snprintf(elf, sizeof(elf), "%s", guest_path(self, "snapshot-state"));
	snprintf(from, sizeof(from), "--from=%s", file);

	/* Stops at SNAPSHOT, saves, exits 0: no output after the SNAPSHOT. */
	LAUNCH(0, "run", memory, "--scratch-size=1M", flag, elf);
	EXPECT_EQ(0, count_lines(out, "SNAPSHOT="));
	ASSERT_EQ(0, stat(file, &st)) TH_LOG("%s not written", file);

	/* Runs it N times, restoring between, exit status of the last run. */
	LAUNCH(11, "run", memory, from);
	EXPECT_EQ(1, count_lines(out, "SNAPSHOT=1 "));
	LAUNCH(11, "run", memory, from, "--repeat=3");
	EXPECT_EQ(3, count_lines(out, "SNAPSHOT=1 bss="));
	EXPECT_EQ(3, count_lines(out, "mutated"));
	EXPECT_EQ(3, count_lines(out, "msr=0x5a5a1000 fcw=0x27f"));
	/* An ELF run goes past SNAPSHOT (0), and --repeat restores it too. */
	LAUNCH(10, "run", memory, "--scratch-size=1M", "--repeat=2", elf);
	EXPECT_EQ(2, count_lines(out, "SNAPSHOT=0 "));

	/* Every kind of bad file: 65, nothing run. */
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(badfile, sizeof(badfile), "--from=%s/%s.snap", self->tmp, bad[i].name);
		ASSERT_EQ(0, corrupt_copy(file, badfile + 7, bad[i].keep, bad[i].fn));
		LAUNCH(EX_DATAERR, "run", memory, badfile);
		EXPECT_EQ(0, out[0]) TH_LOG("%s: the guest ran", bad[i].name);
		EXPECT_NE(NULL, strstr(err, badfile + 7)) TH_LOG("%s: unnamed", bad[i].name);
	}
	/* A file that is not a snapshot at all: the ELF itself. */
	snprintf(badfile, sizeof(badfile), "--from=%s", elf);
	LAUNCH(EX_DATAERR, "run", memory, badfile);
	snprintf(badfile, sizeof(badfile), "--from=%s/missing.snap", self->tmp);
	LAUNCH(EX_NOINPUT, "run", memory, badfile);

	/* A guest that never snapshots: no file, not 0. */
	snprintf(badfile, sizeof(badfile), "--snapshot-out=%s/hello.snap", self->tmp);
	LAUNCH(EX_SOFTWARE, "run", memory, badfile, guest_path(self, "hello"));
	EXPECT_NE(0, stat(badfile + 15, &st));
	/* A failed save leaves the earlier file as it was. */
	snprintf(badfile, sizeof(badfile), "--snapshot-out=%s/no-such-dir/x.snap", self->tmp);
	LAUNCH(EX_CANTCREAT, "run", memory, "--scratch-size=1M", badfile, elf);
	LAUNCH(11, "run", memory, from);

	/* Usage errors. */
	LAUNCH(EX_USAGE, "run", from, "--repeat=0");
	LAUNCH(EX_USAGE, "run", from, "--repeat=x");
	LAUNCH(EX_USAGE, "run", from, elf);
	LAUNCH(EX_USAGE, "run", flag, "--repeat=2", elf);
}

TEST_HARNESS_MAIN
