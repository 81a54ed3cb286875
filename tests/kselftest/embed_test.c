// SPDX-License-Identifier: GPL-2.0
/*
 * embed_test.c - the embedding API under real KVM, both layouts and both
 * memory backends: guest functions with byte buffers (the digest example's
 * SHA-256 against sha256sum(1)), output and input limits, host functions
 * (registered, unregistered, bad guest pointers, re-entry refused),
 * interrupts from another thread, four threads sharing a snapshot, and
 * `snapvm call`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/kselftest/vmm_test.h"
#include "examples/digest/digest.h"
#include "guests/test/host-calls.h"
#include "layout/abi.h"
#include "userspace/lib/snapvm.h"

#define CALL_MS	     60000
#define SCRATCH_SIZE (2ULL << 20)
#define THREADS	     4
#define REQUESTS     200

FIXTURE(embed)
{
	char skip[256];
	char build[PATH_MAX / 2];
	struct snapvm_error err;
	struct snapvm_outcome outcome;
	struct snapvm_snapshot_options options;
};

VMM_VARIANTS(embed);

FIXTURE_SETUP(embed)
{
	ASSERT_NE(NULL, vmm_build_dir());
	snprintf(self->build, sizeof(self->build), "%s", vmm_build_dir());
	vmm_skip_reason(variant->memory_id, self->skip, sizeof(self->skip));
	self->options = (struct snapvm_snapshot_options){
	    .layout = variant->layout_id,
	    .memory = variant->memory_id,
	    .scratch_size = SCRATCH_SIZE,
	};
}

FIXTURE_TEARDOWN(embed)
{
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The guest ELF at path, run to its SNAPSHOT: that snapshot. */
static struct snapvm_snapshot *at_snapshot(struct __test_metadata *_metadata,
					   FIXTURE_DATA(embed) * self, const char *path)
{
	struct snapvm_snapshot *elf = NULL, *taken = NULL;
	struct snapvm_sandbox *taker = NULL;

	EXPECT_EQ(0, snapvm_snapshot_from_elf(path, &self->options, &elf, &self->err))
	TH_LOG("%s", self->err.message);
	if (elf && !snapvm_sandbox_create(elf, NULL, &taker, &self->err) &&
	    !snapvm_sandbox_run(taker, CALL_MS, &self->outcome, &self->err) &&
	    self->outcome.stop == SNAPVM_STOP_SNAPSHOT)
		EXPECT_EQ(0, snapvm_sandbox_take_snapshot(taker, &taken, &self->err));
	snapvm_sandbox_destroy(taker);
	snapvm_snapshot_put(elf);
	EXPECT_NE(NULL, taken) TH_LOG("%s %s", self->err.message, self->outcome.message);
	return taken;
}

static struct snapvm_snapshot *digest(struct __test_metadata *_metadata, FIXTURE_DATA(embed) * self,
				      const char *layout)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/examples/digest/%s/digest.elf", self->build, layout);
	return at_snapshot(_metadata, self, path);
}

static struct snapvm_snapshot *host_calls(struct __test_metadata *_metadata,
					  FIXTURE_DATA(embed) * self, const char *layout)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/guests/%s/host-calls.elf", self->build, layout);
	return at_snapshot(_metadata, self, path);
}

/* sha256sum(1) of buf: the independent implementation. */
static int sha256sum(const void *buf, size_t len, unsigned char digest_out[32])
{
	char path[] = "/tmp/snapvm-embed-XXXXXX", cmd[128], hex[65];
	int fd = mkstemp(path);
	FILE *p;
	int ok;

	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		return -1;
	close(fd);
	snprintf(cmd, sizeof(cmd), "sha256sum %s", path);
	p = popen(cmd, "r");
	ok = p && fscanf(p, "%64s", hex) == 1;
	if (p)
		pclose(p);
	unlink(path);
	for (int i = 0; ok && i < 32; i++)
		ok = sscanf(hex + 2 * i, "%2hhx", &digest_out[i]) == 1;
	return ok ? 0 : -1;
}

static void fill(unsigned char *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		buf[i] = (unsigned char)(seed >> 16);
	}
}

TEST_F_TIMEOUT(embed, sha256_of_inputs_up_to_a_full_io_area, 300)
{
	struct snapvm_snapshot *snap;
	struct snapvm_sandbox *sb;
	unsigned char *input, got[64], want[32];
	size_t sizes[] = {0, 1, 4096, 60 << 10, 0 /* the full area */}, out_len;

	REQUIRE_BACKEND();
	snap = digest(_metadata, self, variant->layout);
	ASSERT_NE(NULL, snap);
	ASSERT_EQ(SNAPVM_DEFAULT_IO_SIZE, snapvm_snapshot_io_size(snap));
	sizes[4] = snapvm_snapshot_io_size(snap);
	input = malloc(sizes[4]);
	ASSERT_EQ(0, snapvm_sandbox_create(snap, NULL, &sb, &self->err));
	for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		fill(input, sizes[i], i);
		ASSERT_EQ(0, sha256sum(input, sizes[i], want));
		if (i)
			ASSERT_EQ(0, snapvm_sandbox_restore(sb, &self->err));
		ASSERT_EQ(0, snapvm_sandbox_call_buffer(sb, DIGEST_SHA256, input, sizes[i], got,
							sizeof(got), &out_len, CALL_MS,
							&self->outcome, &self->err))
		TH_LOG("%s", self->err.message);
		ASSERT_EQ(SNAPVM_STOP_CALL_WAIT, (int)self->outcome.stop)
		TH_LOG("%s", self->outcome.message);
		ASSERT_EQ(32U, out_len);
		EXPECT_EQ(0, memcmp(got, want, 32)) TH_LOG("SHA-256 of %zu bytes", sizes[i]);
	}
	/* Function 3 counts SHA-256 calls since the snapshot: 1 before a
	 * restore, 0 after. */
	ASSERT_EQ(0, snapvm_sandbox_call_buffer(sb, DIGEST_COUNT, NULL, 0, got, sizeof(got),
						&out_len, CALL_MS, &self->outcome, &self->err));
	EXPECT_EQ(8U, out_len);
	EXPECT_EQ(1, got[0]);
	ASSERT_EQ(0, snapvm_sandbox_restore(sb, &self->err));
	ASSERT_EQ(0, snapvm_sandbox_call_buffer(sb, DIGEST_COUNT, NULL, 0, got, sizeof(got),
						&out_len, CALL_MS, &self->outcome, &self->err));
	EXPECT_EQ(0, got[0]);
	free(input);
	snapvm_sandbox_destroy(sb);
	snapvm_snapshot_put(snap);
}

TEST_F_TIMEOUT(embed, too_big_input_and_output_overflow_are_refused, 300)
{
	struct snapvm_snapshot *snap;
	struct snapvm_sandbox *sb;
	unsigned char *input, out[64];
	size_t io, out_len = 99;

	REQUIRE_BACKEND();
	snap = host_calls(_metadata, self, variant->layout);
	ASSERT_NE(NULL, snap);
	io = snapvm_snapshot_io_size(snap);
	input = calloc(1, io + 1);
	ASSERT_EQ(0, snapvm_sandbox_create(snap, NULL, &sb, &self->err));
	/* One byte over the area: refused before the guest runs. */
	EXPECT_EQ(EX_USAGE,
		  snapvm_sandbox_call_buffer(sb, HC_ECHO, input, io + 1, out, sizeof(out), &out_len,
					     CALL_MS, &self->outcome, &self->err));
	EXPECT_NE(NULL, strstr(self->err.message, "does not fit")) TH_LOG("%s", self->err.message);
	/* 65 bytes echoed into room for 64: refused, nothing copied. */
	memset(out, 0xee, sizeof(out));
	EXPECT_EQ(EX_DATAERR, snapvm_sandbox_call_buffer(sb, HC_ECHO, input, 65, out, 64, &out_len,
							 CALL_MS, &self->outcome, &self->err));
	EXPECT_NE(NULL, strstr(self->err.message, "guest returned 65 bytes, room for 64"))
	TH_LOG("%s", self->err.message);
	EXPECT_EQ(0xee, out[0]);
	/* More than the whole area, whatever the caller's room. */
	{
		uint32_t claim = (uint32_t)io + 4096;
		unsigned char *big = malloc(io + 8192);
		char want[96];

		memcpy(input, &claim, 4);
		EXPECT_EQ(EX_DATAERR, snapvm_sandbox_call_buffer(sb, HC_CLAIM, input, 4, big,
								 io + 8192, &out_len, CALL_MS,
								 &self->outcome, &self->err));
		snprintf(want, sizeof(want), "guest returned %u bytes, room for %zu", claim, io);
		EXPECT_NE(NULL, strstr(self->err.message, want)) TH_LOG("%s", self->err.message);
		free(big);
	}
	/* The echo itself works. */
	memcpy(input, "snapvm", 6);
	ASSERT_EQ(0, snapvm_sandbox_call_buffer(sb, HC_ECHO, input, 6, out, sizeof(out), &out_len,
						CALL_MS, &self->outcome, &self->err));
	EXPECT_EQ(6U, out_len);
	EXPECT_EQ(0, memcmp(out, "snapvm", 6));
	free(input);
	snapvm_sandbox_destroy(sb);
	snapvm_snapshot_put(snap);
}

struct reentry {
	int run, call, call_buffer, restore;
	int calls;
};

/* Host function 1: the input reversed. */
static int64_t reverse(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
		       void *out, size_t out_cap)
{
	const unsigned char *src = in;
	unsigned char *dst = out;
	struct reentry *r = ctx;

	if (r)
		r->calls++;
	if (in_len > out_cap)
		return -ENOSPC;
	for (size_t i = 0; i < in_len; i++)
		dst[i] = src[in_len - 1 - i];
	return (int64_t)in_len;
}

/* Host function 2: tries to re-enter its own sandbox. */
static int64_t reenter(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
		       void *out, size_t out_cap)
{
	struct reentry *r = ctx;
	struct snapvm_outcome outcome;
	struct snapvm_error err;
	uint64_t result;
	size_t len;

	r->run = snapvm_sandbox_run(sb, 1000, &outcome, &err);
	r->call = snapvm_sandbox_call(sb, 1, 0, 1000, &result, &outcome, &err);
	r->call_buffer =
	    snapvm_sandbox_call_buffer(sb, 1, in, 0, out, out_cap, &len, 1000, &outcome, &err);
	r->restore = snapvm_sandbox_restore(sb, &err);
	return 0;
}

static int64_t host_call(struct __test_metadata *_metadata, FIXTURE_DATA(embed) * self,
			 struct snapvm_sandbox *sb, uint64_t function, uint32_t number,
			 const char *payload, unsigned char *out, size_t *out_len)
{
	unsigned char in[256];
	size_t len = strlen(payload);

	memcpy(in, &number, 4);
	memcpy(in + 4, payload, len);
	EXPECT_EQ(0, snapvm_sandbox_call_buffer(sb, function, in, 4 + len, out, 256, out_len,
						CALL_MS, &self->outcome, &self->err))
	TH_LOG("%s", self->err.message);
	EXPECT_EQ(SNAPVM_STOP_CALL_WAIT, (int)self->outcome.stop)
	TH_LOG("%s", self->outcome.message);
	return self->outcome.code;
}

TEST_F_TIMEOUT(embed, host_functions, 300)
{
	struct reentry r = {0};
	struct snapvm_snapshot *snap;
	struct snapvm_sandbox *sb;
	unsigned char out[256];
	size_t out_len;

	REQUIRE_BACKEND();
	snap = host_calls(_metadata, self, variant->layout);
	ASSERT_NE(NULL, snap);
	ASSERT_EQ(0, snapvm_sandbox_create(snap, NULL, &sb, &self->err));
	ASSERT_EQ(0, snapvm_sandbox_set_host_function(sb, 1, reverse, &r, &self->err));
	ASSERT_EQ(0, snapvm_sandbox_set_host_function(sb, 2, reenter, &r, &self->err));
	/* Registered: its bytes are the guest's output, their count its result. */
	EXPECT_EQ(5, host_call(_metadata, self, sb, HC_HOST, 1, "hello", out, &out_len));
	EXPECT_EQ(5U, out_len);
	EXPECT_EQ(0, memcmp(out, "olleh", 5));
	EXPECT_EQ(1, r.calls);
	/* Nobody registered 3: -ENOSYS, not a fault. */
	EXPECT_EQ(-SNAPVM_ENOSYS, host_call(_metadata, self, sb, HC_HOST, 3, "x", out, &out_len));
	/* Bad pointers and sizes: -EFAULT, -EINVAL; the host function never ran. */
	EXPECT_EQ(-SNAPVM_EFAULT,
		  host_call(_metadata, self, sb, HC_HOST_BAD_IN, 0, "", out, &out_len));
	EXPECT_EQ(-SNAPVM_EFAULT,
		  host_call(_metadata, self, sb, HC_HOST_BAD_OUT, 0, "abc", out, &out_len));
	EXPECT_EQ(-SNAPVM_EINVAL,
		  host_call(_metadata, self, sb, HC_HOST_TOO_BIG, 0, "", out, &out_len));
	EXPECT_EQ(1, r.calls);
	/* Removed: -ENOSYS again. */
	ASSERT_EQ(0, snapvm_sandbox_set_host_function(sb, 1, NULL, NULL, &self->err));
	EXPECT_EQ(-SNAPVM_ENOSYS, host_call(_metadata, self, sb, HC_HOST, 1, "x", out, &out_len));
	/* Re-entry is refused, and the sandbox goes on. */
	EXPECT_EQ(0, host_call(_metadata, self, sb, HC_HOST, 2, "", out, &out_len));
	EXPECT_EQ(EX_USAGE, r.run);
	EXPECT_EQ(EX_USAGE, r.call);
	EXPECT_EQ(EX_USAGE, r.call_buffer);
	EXPECT_EQ(EX_USAGE, r.restore);
	ASSERT_EQ(0, snapvm_sandbox_restore(sb, &self->err));
	EXPECT_EQ(-SNAPVM_ENOSYS, host_call(_metadata, self, sb, HC_HOST, 1, "x", out, &out_len));
	snapvm_sandbox_destroy(sb);
	snapvm_snapshot_put(snap);
}

/*
 * The guest calls host function 1 (say_started), which tells the
 * interrupting thread on a pipe, then spins: the interrupt is sent while the
 * call runs, never before it began.
 */
#define INTERRUPT_STARTED_FN 1

struct interrupter {
	struct snapvm_sandbox *sb;
	int started[2];
	double at;
};

static int64_t say_started(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			   void *out, size_t out_cap)
{
	struct interrupter *it = ctx;

	return write(it->started[1], "s", 1) == 1 ? 0 : -SNAPVM_EINVAL;
}

static void *interrupt_once_started(void *arg)
{
	struct interrupter *it = arg;
	char byte;

	if (read(it->started[0], &byte, 1) != 1)
		return NULL; /* the call ended without starting: it.at stays 0 */
	it->at = now_s();
	snapvm_sandbox_interrupt(it->sb);
	return NULL;
}

static int echo(struct __test_metadata *_metadata, FIXTURE_DATA(embed) * self,
		struct snapvm_sandbox *sb)
{
	unsigned char out[8];
	size_t out_len;

	return snapvm_sandbox_call_buffer(sb, HC_ECHO, "e", 1, out, sizeof(out), &out_len, CALL_MS,
					  &self->outcome, &self->err);
}

TEST_F_TIMEOUT(embed, interrupt_from_another_thread, 300)
{
	const unsigned char spin[4] = {INTERRUPT_STARTED_FN};
	struct snapvm_snapshot *snap;
	struct interrupter it = {0};
	unsigned char out[64];
	size_t out_len;
	pthread_t thread;
	double stopped;

	REQUIRE_BACKEND();
	snap = host_calls(_metadata, self, variant->layout);
	ASSERT_NE(NULL, snap);
	ASSERT_EQ(0, snapvm_sandbox_create(snap, NULL, &it.sb, &self->err));
	ASSERT_EQ(0, pipe(it.started));
	ASSERT_EQ(0, snapvm_sandbox_set_host_function(it.sb, INTERRUPT_STARTED_FN, say_started, &it,
						      &self->err));
	ASSERT_EQ(0, pthread_create(&thread, NULL, interrupt_once_started, &it));
	ASSERT_EQ(0, snapvm_sandbox_call_buffer(it.sb, HC_HOST_THEN_SPIN, spin, sizeof(spin), out,
						sizeof(out), &out_len, CALL_MS, &self->outcome,
						&self->err));
	stopped = now_s();
	close(it.started[1]); /* an interrupter still waiting gives up */
	pthread_join(thread, NULL);
	close(it.started[0]);
	ASSERT_NE(0, it.at) TH_LOG("the guest never called the host function");
	EXPECT_EQ(SNAPVM_STOP_INTERRUPTED, (int)self->outcome.stop)
	TH_LOG("%s", self->outcome.message);
	/*
	 * A kick lands in microseconds; 10 s leaves room for TCG on a loaded
	 * 2-core host and still tells a lost interrupt, which would run on to
	 * the call's CALL_MS deadline (a timeout, not an interrupt).
	 */
	EXPECT_GT(10.0, stopped - it.at)
	TH_LOG("stopped %.3f s after the interrupt", stopped - it.at);
	/* Interrupted midway: poisoned until a restore. */
	EXPECT_EQ(SNAPVM_STATUS_POISONED, echo(_metadata, self, it.sb));
	EXPECT_NE(NULL, strstr(self->err.message, "interrupted")) TH_LOG("%s", self->err.message);
	ASSERT_EQ(0, snapvm_sandbox_restore(it.sb, &self->err));
	ASSERT_EQ(0, echo(_metadata, self, it.sb)) TH_LOG("%s", self->err.message);
	EXPECT_EQ(SNAPVM_STOP_CALL_WAIT, (int)self->outcome.stop);
	/* Between runs: the next run stops before the guest runs. */
	snapvm_sandbox_interrupt(it.sb);
	ASSERT_EQ(0, echo(_metadata, self, it.sb)) TH_LOG("%s", self->err.message);
	EXPECT_EQ(SNAPVM_STOP_INTERRUPTED, (int)self->outcome.stop);
	ASSERT_EQ(0, snapvm_sandbox_restore(it.sb, &self->err));
	ASSERT_EQ(0, echo(_metadata, self, it.sb)) TH_LOG("%s", self->err.message);
	EXPECT_EQ(SNAPVM_STOP_CALL_WAIT, (int)self->outcome.stop);
	snapvm_sandbox_destroy(it.sb);
	snapvm_snapshot_put(snap);
}

struct worker {
	struct snapvm_snapshot *snap;
	unsigned int id;
	unsigned char input[4][1024];
	unsigned char want[4][32];
	int failures;
	char why[3000];
};

static void *serve_requests(void *arg)
{
	struct worker *w = arg;
	struct snapvm_sandbox *sb;
	struct snapvm_outcome outcome;
	struct snapvm_error err;
	unsigned char out[64];
	size_t len;

	if (snapvm_sandbox_create(w->snap, NULL, &sb, &err)) {
		snprintf(w->why, sizeof(w->why), "create: %s", err.message);
		w->failures++;
		return NULL;
	}
	for (int request = 0; request < REQUESTS && !w->failures; request++) {
		int k = request % 4;

		/* Each request starts from the snapshot: nothing of the last
		 * one (nor of another thread's sandbox) shows. */
		if ((request && snapvm_sandbox_restore(sb, &err)) ||
		    snapvm_sandbox_call_buffer(sb, DIGEST_COUNT, NULL, 0, out, sizeof(out), &len,
					       CALL_MS, &outcome, &err) ||
		    len != 8 || out[0] != 0 ||
		    snapvm_sandbox_call_buffer(sb, DIGEST_SHA256, w->input[k], sizeof(w->input[k]),
					       out, sizeof(out), &len, CALL_MS, &outcome, &err) ||
		    len != 32 || memcmp(out, w->want[k], 32)) {
			snprintf(w->why, sizeof(w->why), "thread %u request %d: %s %s (count %u)",
				 w->id, request, err.message, outcome.message, out[0]);
			w->failures++;
		}
	}
	snapvm_sandbox_destroy(sb);
	return NULL;
}

TEST_F_TIMEOUT(embed, four_threads_share_a_snapshot, 900)
{
	static struct worker workers[THREADS];
	pthread_t threads[THREADS];
	struct snapvm_snapshot *snap;

	REQUIRE_BACKEND();
	snap = digest(_metadata, self, variant->layout);
	ASSERT_NE(NULL, snap);
	for (unsigned int t = 0; t < THREADS; t++) {
		workers[t] = (struct worker){.snap = snap, .id = t};
		for (int k = 0; k < 4; k++) {
			fill(workers[t].input[k], sizeof(workers[t].input[k]), t * 16 + k);
			ASSERT_EQ(0, sha256sum(workers[t].input[k], sizeof(workers[t].input[k]),
					       workers[t].want[k]));
		}
	}
	for (unsigned int t = 0; t < THREADS; t++)
		ASSERT_EQ(0, pthread_create(&threads[t], NULL, serve_requests, &workers[t]));
	for (unsigned int t = 0; t < THREADS; t++) {
		pthread_join(threads[t], NULL);
		EXPECT_EQ(0, workers[t].failures) TH_LOG("%s", workers[t].why);
	}
	snapvm_snapshot_put(snap);
}

static void on_app_signal(int sig)
{
}

/* libsnapvm takes no signal the application handles unless told to, and
 * leaves the thread's signal mask as it found it. */
TEST_F_TIMEOUT(embed, kick_signal_is_the_applications_choice, 300)
{
	struct sigaction app = {.sa_handler = on_app_signal};
	struct snapvm_snapshot *elf = NULL, *snap;
	struct snapvm_sandbox *sb = NULL;
	unsigned char out[64];
	char path[PATH_MAX];
	sigset_t blocked, now;
	size_t out_len;

	REQUIRE_BACKEND();
	/* The application owns the default signal before libsnapvm needs it:
	 * a run with a timeout cannot work, and says why; one without can. */
	sigemptyset(&app.sa_mask);
	ASSERT_EQ(0, sigaction(SIGRTMIN + 2, &app, NULL));
	snprintf(path, sizeof(path), "%s/examples/digest/%s/digest.elf", self->build,
		 variant->layout);
	ASSERT_EQ(0, snapvm_snapshot_from_elf(path, &self->options, &elf, &self->err));
	ASSERT_EQ(0, snapvm_sandbox_create(elf, NULL, &sb, &self->err));
	EXPECT_EQ(EX_UNAVAILABLE, snapvm_sandbox_run(sb, CALL_MS, &self->outcome, &self->err));
	EXPECT_NE(NULL, strstr(self->err.message, "snapvm_set_kick_signal"))
	TH_LOG("%s", self->err.message);
	EXPECT_EQ(0, snapvm_sandbox_run(sb, 0, &self->outcome, &self->err));
	EXPECT_EQ(SNAPVM_STOP_SNAPSHOT, (int)self->outcome.stop);
	snapvm_sandbox_destroy(sb);
	snapvm_snapshot_put(elf);
	EXPECT_EQ(EX_UNAVAILABLE, snapvm_set_kick_signal(SIGRTMIN + 2, 0, &self->err));
	/* Another one, blocked in this thread: a run unblocks it for itself
	 * only, and the timeout works. */
	ASSERT_EQ(0, snapvm_set_kick_signal(SIGRTMIN + 5, 0, &self->err));
	EXPECT_EQ(SIGRTMIN + 5, snapvm_kick_signal());
	snap = digest(_metadata, self, variant->layout);
	ASSERT_NE(NULL, snap);
	ASSERT_EQ(0, snapvm_sandbox_create(snap, NULL, &sb, &self->err));
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGRTMIN + 5);
	ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, &blocked, NULL));
	ASSERT_EQ(0, snapvm_sandbox_call_buffer(sb, DIGEST_SPIN, NULL, 0, out, sizeof(out),
						&out_len, 500, &self->outcome, &self->err))
	TH_LOG("%s", self->err.message);
	EXPECT_EQ(SNAPVM_STOP_TIMEOUT, (int)self->outcome.stop);
	ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, NULL, &now));
	EXPECT_TRUE(sigismember(&now, SIGRTMIN + 5));
	/* Told to, it takes the application's. */
	EXPECT_EQ(0, snapvm_set_kick_signal(SIGRTMIN + 2, SNAPVM_KICK_SIGNAL_REPLACE, &self->err));
	snapvm_sandbox_destroy(sb);
	snapvm_snapshot_put(snap);
}

/* `snapvm call --from=digest.snap --input=FILE 1 | xxd -p` is sha256sum. */
TEST_F_TIMEOUT(embed, launcher_call_is_sha256sum, 300)
{
	char dir[PATH_MAX], cmd[4 * PATH_MAX], a[80] = "", b[80] = "";
	FILE *p;

	REQUIRE_BACKEND();
	ASSERT_NE(NULL, vmm_make_tmpdir(dir, sizeof(dir), "call"));
	snprintf(cmd, sizeof(cmd),
		 "cd %s && head -c 50000 /dev/urandom >in && "
		 "%s/snapvm run --memory=%s --snapshot-out=digest.snap "
		 "%s/examples/digest/%s/digest.elf && "
		 "%s/snapvm call --memory=%s --from=digest.snap --input=in 1 | xxd -p -c 64 && "
		 "sha256sum <in | cut -d' ' -f1",
		 dir, self->build, variant->memory, self->build, variant->layout, self->build,
		 variant->memory);
	p = popen(cmd, "r");
	ASSERT_NE(NULL, p);
	EXPECT_EQ(1, fscanf(p, "%79s", a));
	EXPECT_EQ(1, fscanf(p, "%79s", b));
	EXPECT_EQ(0, pclose(p));
	EXPECT_EQ(64U, strlen(a));
	EXPECT_STREQ(b, a);
	/* An input over the I/O area exits 64. */
	snprintf(cmd, sizeof(cmd),
		 "cd %s && head -c 100000 /dev/zero >big && "
		 "%s/snapvm call --memory=%s --from=digest.snap --input=big 1 >/dev/null 2>&1",
		 dir, self->build, variant->memory);
	EXPECT_EQ(EX_USAGE, WEXITSTATUS(system(cmd)));
	vmm_remove_tmpdir(dir);
}

TEST_HARNESS_MAIN
