// SPDX-License-Identifier: GPL-2.0
/*
 * module_v2_race_test.c - snapvm.ko's guarantees under pressure: SEAL racing
 * mmap, mprotect, mremap, munmap, fork, pwrite, RESTORE and a write-capable
 * page reference (held open at a known point with userfaultfd), after which
 * nothing may change; a failed SEAL leaving no trace. Runs as root inside
 * the test VM (tests/vm/run).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <grp.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

#include "kselftest_harness.h"
#include "tests/kselftest/module_helpers.h"
#include "tests/kselftest/module_v2.h"

/* ---- SEAL under races ---- */

struct race {
	int fd;
	size_t size;
	atomic_bool stop;
	atomic_long ops;
};

static void *race_map_write(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->stop)) {
		char *map = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);

		if (map != MAP_FAILED) {
			map[atomic_fetch_add(&r->ops, 1) % r->size] ^= 1;
			munmap(map, r->size);
		}
		map = mmap(NULL, r->size, PROT_READ, MAP_SHARED, r->fd, 0);
		if (map != MAP_FAILED) {
			/* Widening after SEAL must fail; before, it may work. */
			if (!mprotect(map, r->size, PROT_READ | PROT_WRITE))
				map[0] ^= 1;
			munmap(map, r->size);
		}
	}
	return NULL;
}

static void *race_private_mremap(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->stop)) {
		char *map = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, r->fd, 0), *moved;

		if (map == MAP_FAILED)
			continue;
		map[1] = 1; /* a private copy */
		moved = mremap(map, PAGE, 2 * PAGE, MREMAP_MAYMOVE);
		munmap(moved == MAP_FAILED ? map : moved, moved == MAP_FAILED ? PAGE : 2 * PAGE);
		atomic_fetch_add(&r->ops, 1);
	}
	return NULL;
}

static void *race_pwrite_restore(void *arg)
{
	struct race *r = arg;
	uint64_t bitmap = 0x3;

	while (!atomic_load(&r->stop)) {
		char byte = (char)atomic_fetch_add(&r->ops, 1);

		if (pwrite(r->fd, &byte, 1, PAGE + byte % 16) != 1 && errno != EPERM)
			break;
		region_restore(r->fd, SNAPVM_RESTORE_ZERO, &bitmap, 0, 2);
	}
	return NULL;
}

static void *race_fork(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->stop)) {
		char *map = mmap(NULL, r->size, PROT_READ, MAP_SHARED, r->fd, 0);
		pid_t pid;

		if (map == MAP_FAILED)
			continue;
		pid = fork();
		if (pid == 0)
			_exit(map[PAGE] & 1);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		munmap(map, r->size);
		atomic_fetch_add(&r->ops, 1);
	}
	return NULL;
}

/*
 * Rounds of: a writable region attacked by threads that map it (shared
 * writable, then read-only widened with mprotect), write it, map it
 * privately and mremap that, pwrite and RESTORE it, fork with it mapped,
 * while SEAL is tried until it succeeds. From then on nothing may change it.
 */
TEST_F_TIMEOUT(v2, seal_races_mappings_writes_restores_and_forks, 900)
{
	void *(*attackers[])(void *) = {race_map_write, race_private_mremap, race_pwrite_restore,
					race_fork};
	long total = 0;
	int rounds = 0;

	for (; total < ITERATIONS && rounds < 200; rounds++) {
		struct race r = {.size = 4 * PAGE};
		pthread_t threads[4];
		uint64_t sealed_hash;
		int tries = 0;

		r.fd = region_create(self->dev, r.size, RW);
		ASSERT_GE(r.fd, 0);
		for (int t = 0; t < 4; t++)
			ASSERT_EQ(0, pthread_create(&threads[t], NULL, attackers[t], &r));
		while (region_seal(r.fd) != 0) {
			ASSERT_EQ(EBUSY, errno);
			tries++;
			usleep(500);
		}
		sealed_hash = hash_region(r.fd, r.size);
		/* Let the attackers go on against the sealed region a while. */
		usleep(20 * 1000);
		atomic_store(&r.stop, true);
		for (int t = 0; t < 4; t++)
			pthread_join(threads[t], NULL);
		EXPECT_EQ(sealed_hash, hash_region(r.fd, r.size))
		TH_LOG("round %d: the sealed region changed", rounds);
		EXPECT_EQ(SNAPVM_REGION_SEALED, region_info(r.fd).flags);
		total += atomic_load(&r.ops) + tries;
		close(r.fd);
	}
	TH_LOG("%d rounds, %ld operations", rounds, total);
	EXPECT_LE(ITERATIONS, total);
}

TEST_F_TIMEOUT(v2, restore_races_restore, 600)
{
	struct race r = {.size = 64 * PAGE};
	pthread_t threads[2];
	int src;

	src = region_create(self->dev, r.size, RW);
	ASSERT_GE(src, 0);
	for (size_t p = 0; p < 64; p++)
		ASSERT_EQ(1, pwrite(src, "r", 1, (off_t)(p * PAGE)));
	ASSERT_EQ(0, region_seal(src));
	r.fd = region_create(self->dev, r.size, RW);
	ASSERT_GE(r.fd, 0);
	for (int t = 0; t < 2; t++)
		ASSERT_EQ(0, pthread_create(&threads[t], NULL, race_pwrite_restore, &r));
	for (int i = 0; i < ITERATIONS; i++) {
		uint64_t bitmap[1] = {~0ULL};

		ASSERT_EQ(64, region_restore(r.fd, src, bitmap, 0, 64));
	}
	atomic_store(&r.stop, true);
	for (int t = 0; t < 2; t++)
		pthread_join(threads[t], NULL);
	close(r.fd);
	close(src);
}

/* One process closes its last fd while another maps and unmaps the region:
 * the pages go exactly when the last of both does. */
TEST_F_TIMEOUT(v2, close_while_another_process_maps, 600)
{
	for (int i = 0; i < ITERATIONS / 10; i++) {
		int fd = region_create(self->dev, 2 * PAGE, RW);
		pid_t pid;

		ASSERT_GE(fd, 0);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			for (int j = 0; j < 20; j++) {
				char *map =
				    mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

				CHILD_CHECK(map != MAP_FAILED, "mmap");
				map[j] = 1;
				munmap(map, 2 * PAGE);
			}
			_exit(0);
		}
		close(fd);
		ASSERT_EQ(0, wait_status(pid));
	}
}

/*
 * A buffer whose first touch stops the toucher until this test lets it go
 * (userfaultfd, missing pages): a kernel copy from it waits at a known point.
 */
struct held {
	int uffd;
	char *buf;
	size_t size;
};

static int held_buffer(struct held *h, size_t size)
{
	struct uffdio_api api = {.api = UFFD_API};
	struct uffdio_register reg;

	h->size = size;
	h->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (h->uffd < 0 || ioctl(h->uffd, UFFDIO_API, &api))
		return -1;
	h->buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h->buf == MAP_FAILED)
		return -1;
	reg = (struct uffdio_register){.range = {.start = (uintptr_t)h->buf, .len = size},
				       .mode = UFFDIO_REGISTER_MODE_MISSING};
	return ioctl(h->uffd, UFFDIO_REGISTER, &reg);
}

/* The page of the first touch, once it happened; 0 if none within timeout_ms. */
static uintptr_t held_touched(struct held *h, int timeout_ms)
{
	struct pollfd pfd = {.fd = h->uffd, .events = POLLIN};
	struct uffd_msg msg;

	if (poll(&pfd, 1, timeout_ms) != 1 || read(h->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		return 0;
	return (uintptr_t)msg.arg.pagefault.address & ~(uintptr_t)(PAGE - 1);
}

/* Fills the buffer with byte: the toucher goes on. */
static int held_release(struct held *h, int byte)
{
	char *src = mmap(NULL, h->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct uffdio_copy copy = {.dst = (uintptr_t)h->buf, .len = h->size};
	int ret;

	if (src == MAP_FAILED)
		return -1;
	memset(src, byte, h->size);
	copy.src = (uintptr_t)src;
	ret = ioctl(h->uffd, UFFDIO_COPY, &copy);
	munmap(src, h->size);
	return ret;
}

static void held_free(struct held *h)
{
	munmap(h->buf, h->size);
	close(h->uffd);
}

struct held_write {
	char *to;
	struct held *from;
	ssize_t done;
	int err;
};

/* process_vm_writev pins the pages it writes (pin_user_pages_remote,
 * FOLL_WRITE), then copies into them from `from`, whose first touch holds
 * it: the region's pages stay pinned, the write pending. */
static void *write_through_pins(void *arg)
{
	struct held_write *w = arg;
	struct iovec local = {.iov_base = w->from->buf, .iov_len = w->from->size};
	struct iovec remote = {.iov_base = w->to, .iov_len = w->from->size};

	w->done = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	w->err = errno;
	return NULL;
}

/*
 * A write-capable page reference held across SEAL, at a known point: the
 * region's pages pinned by a write that waits on its source (above), their
 * mapping gone. SEAL must refuse (EBUSY) while it is held: a SEAL that said 0
 * would see the write land after it. Once the write has landed (before any
 * SEAL succeeded) it is there, and SEAL works.
 */
TEST_F_TIMEOUT(v2, nothing_lands_after_seal_through_a_held_page_reference, 120)
{
	const size_t size = 8 * PAGE; /* process_vm_writev pins up to 16 at once */
	struct held from;
	struct held_write w = {.from = &from};
	uint64_t at_seal = 0;
	pthread_t writer;
	bool sealed;
	int region;

	region = region_create(self->dev, size, RW);
	ASSERT_GE(region, 0);
	ASSERT_EQ(0, held_buffer(&from, size)) TH_LOG("userfaultfd: %s", strerror(errno));
	w.to = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, region, 0);
	ASSERT_NE(MAP_FAILED, w.to);
	ASSERT_EQ(0, pthread_create(&writer, NULL, write_through_pins, &w));
	/* 60 s: the writer only has to start, even on a loaded TCG guest. */
	ASSERT_EQ((uintptr_t)from.buf, held_touched(&from, 60000))
	TH_LOG("the write never reached its source");
	/* Pinned now, and the mapping goes: only the pins are left. */
	munmap(w.to, size);
	sealed = region_seal(region) == 0;
	EXPECT_FALSE(sealed) TH_LOG("SEAL succeeded while a write-capable reference was held");
	if (sealed)
		at_seal = hash_region(region, size);
	else
		EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(sealed ? SNAPVM_REGION_SEALED : 0U, region_info(region).flags);
	EXPECT_EQ(0, byte_at(region, 0)) TH_LOG("the write landed while held");

	ASSERT_EQ(0, held_release(&from, 0x5a)) TH_LOG("UFFDIO_COPY: %s", strerror(errno));
	pthread_join(writer, NULL);
	EXPECT_EQ((ssize_t)size, w.done) TH_LOG("process_vm_writev: %s", strerror(w.err));
	if (sealed)
		EXPECT_EQ(at_seal, hash_region(region, size))
	TH_LOG("the write landed after SEAL returned 0");
	/* It landed before any SEAL: there it is, and with the pins gone SEAL works. */
	EXPECT_EQ(0x5a, byte_at(region, 0));
	EXPECT_EQ(0x5a, byte_at(region, size - 1));
	EXPECT_EQ(0, region_seal(region));
	EXPECT_EQ(SNAPVM_REGION_SEALED, region_info(region).flags);
	held_free(&from);
	close(region);
}

/*
 * A SEAL that fails (a page stays pinned) leaves no trace: a shared
 * mapping made while it ran was not refused and can still be made writable,
 * and a mapping made before lost nothing.
 *
 * SEAL cannot be held from user space (it waits on no user memory), but
 * with a page pinned it sleeps between its scans, holding the region's sem
 * for a few milliseconds: a mapper thread is released once SEAL is seen
 * asleep there (/proc/self/task/TID/wchan), and its mmap is proven to run
 * during SEAL when it is seen waiting in ->mmap, or (->mmap not waiting)
 * when SEAL is still asleep there after the mmap returned. Rounds go on
 * until that happened; it must, within 100.
 */
struct late_map {
	int fd, go[2], err;
	char *map;
	atomic_int tid;
	atomic_bool done;
};

static void *map_when_told(void *arg)
{
	struct late_map *m = arg;
	char byte;

	atomic_store(&m->tid, (int)syscall(SYS_gettid));
	if (read(m->go[0], &byte, 1) != 1) {
		m->err = EPIPE;
		m->map = MAP_FAILED;
	} else {
		m->map = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, m->fd, 0);
		m->err = m->map == MAP_FAILED ? errno : 0;
	}
	atomic_store(&m->done, true);
	return NULL;
}

struct sealer {
	int fd, ret, err;
	atomic_int tid;
	atomic_bool done;
};

static void *seal_it(void *arg)
{
	struct sealer *s = arg;

	atomic_store(&s->tid, (int)syscall(SYS_gettid));
	s->ret = region_seal(s->fd);
	s->err = errno;
	atomic_store(&s->done, true);
	return NULL;
}

/* Whether thread tid of this process sleeps in a kernel function whose name
 * starts with prefix (its wchan: the first caller outside the scheduler). */
static bool sleeps_in(int tid, const char *prefix)
{
	char path[64], name[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/wchan", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, name, sizeof(name) - 1);
	close(fd);
	name[n > 0 ? n : 0] = '\0';
	return strncmp(name, prefix, strlen(prefix)) == 0;
}

TEST_F_TIMEOUT(v2, failed_seal_leaves_no_trace, 300)
{
	bool during = false, waited = false;
	struct iovec iov;
	int pipefd[2], fd, round;
	char *early, *pin;

	fd = region_create(self->dev, 2 * PAGE, RW);
	ASSERT_GE(fd, 0);
	/* Private: a shared one that may write would fail SEAL at once,
	 * before it scans (and sleeps). Byte 1 is its own copy. */
	early = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, early);
	early[1] = 'p';
	ASSERT_EQ(1, pwrite(fd, "q", 1, PAGE));
	ASSERT_EQ('q', early[PAGE]);
	/* A pipe holds a reference to the second page: SEAL will fail. */
	pin = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PAGE);
	ASSERT_NE(MAP_FAILED, pin);
	ASSERT_EQ(0, pipe(pipefd));
	iov = (struct iovec){.iov_base = pin, .iov_len = PAGE};
	ASSERT_EQ((ssize_t)PAGE, vmsplice(pipefd[1], &iov, 1, 0));
	munmap(pin, PAGE);

	for (round = 0; round < 100 && !during; round++) {
		struct late_map m = {.fd = fd};
		struct sealer sl = {.fd = fd};
		pthread_t mapper, sealing;
		bool seal_seen = false, blocked = false;

		ASSERT_EQ(0, pipe(m.go));
		ASSERT_EQ(0, pthread_create(&mapper, NULL, map_when_told, &m));
		while (!atomic_load(&m.tid))
			sched_yield();
		ASSERT_EQ(0, pthread_create(&sealing, NULL, seal_it, &sl));
		while (!atomic_load(&sl.tid))
			sched_yield();
		while (!atomic_load(&sl.done) && !seal_seen)
			seal_seen = sleeps_in(sl.tid, "snapvm_region_ioctl");
		ASSERT_EQ(1, write(m.go[1], "m", 1));
		while (!atomic_load(&m.done))
			blocked |= sleeps_in(m.tid, "snapvm_region_mmap");
		during = blocked || (seal_seen && !atomic_load(&sl.done) &&
				     sleeps_in(sl.tid, "snapvm_region_ioctl"));
		waited |= blocked;
		pthread_join(mapper, NULL);
		pthread_join(sealing, NULL);
		EXPECT_EQ(-1, sl.ret);
		EXPECT_EQ(EBUSY, sl.err);
		EXPECT_EQ(0, m.err)
		TH_LOG("round %d: a mapping made during a failing SEAL was refused", round);
		EXPECT_EQ(0U, region_info(fd).flags);
		/* It may still become writable: the region is not sealed. */
		if (m.map != MAP_FAILED) {
			int widened = mprotect(m.map, PAGE, PROT_READ | PROT_WRITE);

			EXPECT_EQ(0, widened);
			if (!widened) {
				m.map[0] = (char)('a' + round % 26);
				EXPECT_EQ('a' + round % 26, byte_at(fd, 0));
			}
			munmap(m.map, PAGE);
		}
		close(m.go[0]);
		close(m.go[1]);
	}
	ASSERT_TRUE(during) TH_LOG("in %d rounds no mmap ran while SEAL did", round);
	TH_LOG("round %d: an mmap ran during SEAL (%s)", round,
	       waited ? "it waited in ->mmap" : "SEAL slept before and after it");
	/* The mapping made before lost nothing: its own copy of page 0, and
	 * the region's page 1 (unmapped by SEAL, faulted back in). */
	EXPECT_EQ('p', early[1]);
	EXPECT_EQ(0, byte_at(fd, 1));
	EXPECT_EQ('q', early[PAGE]);
	munmap(early, 2 * PAGE);
	close(pipefd[0]);
	close(pipefd[1]);
	/* With the pin gone, SEAL works. */
	EXPECT_EQ(0, region_seal(fd));
	close(fd);
}

TEST_HARNESS_MAIN
