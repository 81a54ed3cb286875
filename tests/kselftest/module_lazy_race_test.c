// SPDX-License-Identifier: GPL-2.0
/*
 * module_lazy_race_test.c - snapvm.ko's lazy regions and clones under races,
 * made to happen with barriers: racing first touches of a lazy region, racing
 * writes to a clone's pages, SEAL against first touches. Runs as root inside
 * the test VM (tests/vm/run).
 */
#define _GNU_SOURCE
#include <linux/kvm.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <grp.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "kselftest_harness.h"
#include "tests/kselftest/module_helpers.h"
#include "tests/kselftest/module_lazy.h"

/* Can root without CAP_IPC_LOCK, with a 64 kB RLIMIT_MEMLOCK, pin 16 pages
 * now, i.e. does root's locked_vm hold nothing? (A fresh child.) */
static int can_pin_16(int dev)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct rlimit limit = {.rlim_cur = 64 * 1024, .rlim_max = 64 * 1024};
		int fd;

		if (setrlimit(RLIMIT_MEMLOCK, &limit) || drop_cap_ipc_lock())
			_exit(3);
		fd = region_create(dev, 16 * PAGE, RW);
		_exit(fd >= 0 ? 0 : errno == ENOMEM ? 2 : 3);
	}
	return wait_status(pid);
}

/* ---- races ---- */

struct toucher {
	int fd, id;
	unsigned char *map;
	size_t npages;
	pthread_barrier_t *start;
	int rounds;
};

/* Each thread touches every page of the region, in its own order, through a
 * read fault, a write fault or a pwrite. */
static void *touch_all(void *arg)
{
	struct toucher *t = arg;

	pthread_barrier_wait(t->start);
	for (size_t k = 0; k < t->npages; k++) {
		size_t i = (k * 7 + (size_t)t->id * 5) % t->npages;
		unsigned char byte = (unsigned char)(1 + t->id);

		switch ((k + (size_t)t->id) % 3) {
		case 0:
			(void)*(volatile unsigned char *)(t->map + i * PAGE);
			break;
		case 1:
			t->map[i * PAGE + 1 + t->id] = byte;
			break;
		default:
			if (pwrite(t->fd, &byte, 1, (off_t)(i * PAGE + 1 + t->id)) != 1)
				return (void *)1;
		}
	}
	return NULL;
}

/* The same pages of a lazy region first-touched by 4 threads at once, over
 * and over: each page made and charged once, all given back. */
TEST_F_TIMEOUT(lazy, racing_first_touches_of_a_lazy_region, 600)
{
	const size_t npages = 32;
	long vmpin = status_kb("VmPin");
	int rounds = 150;

	for (int r = 0; r < rounds; r++) {
		struct toucher t[4];
		pthread_barrier_t start;
		pthread_t threads[4];
		unsigned char *map;
		int fd = lazy_create(self->dev, npages * PAGE, RW);

		ASSERT_GE(fd, 0);
		map = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ASSERT_NE(MAP_FAILED, map);
		pthread_barrier_init(&start, NULL, 4);
		for (int i = 0; i < 4; i++) {
			t[i] = (struct toucher){
			    .fd = fd, .id = i, .map = map, .npages = npages, .start = &start};
			ASSERT_EQ(0, pthread_create(&threads[i], NULL, touch_all, &t[i]));
		}
		for (int i = 0; i < 4; i++) {
			void *ret;

			pthread_join(threads[i], &ret);
			EXPECT_EQ(NULL, ret);
		}
		pthread_barrier_destroy(&start);
		ASSERT_EQ((long)npages, resident(fd)) TH_LOG("round %d", r);
		ASSERT_EQ(self->pinned_at_start + (long)npages, pinned_pages());
		ASSERT_EQ(vmpin + (long)npages * 4, status_kb("VmPin"));
		/* Every write landed: none went to a page made twice. */
		for (int id = 0; id < 4; id++)
			for (size_t k = 0; k < npages; k++) {
				size_t i = (k * 7 + (size_t)id * 5) % npages;
				int want = (k + (size_t)id) % 3 ? 1 + id : 0;

				ASSERT_EQ(want, map[i * PAGE + 1 + id]) TH_LOG("round %d", r);
			}
		munmap(map, npages * PAGE);
		close(fd);
		ASSERT_EQ(self->pinned_at_start, pinned_pages());
	}
	EXPECT_EQ(vmpin, status_kb("VmPin"));
	EXPECT_EQ(0, can_pin_16(self->dev)) TH_LOG("root's locked_vm is back");
	TH_LOG("%d rounds of %zu pages x 4 threads", rounds, npages);
}

struct writer {
	int fd, id;
	unsigned char *map, *ro;
	size_t npages;
	pthread_barrier_t *start;
	atomic_int *bad;
};

/* Writes byte 1 + id at offset 16 + id of every page, through its mapping or
 * pwrite, and reads it back through another mapping and pread. */
static void *write_clone(void *arg)
{
	struct writer *w = arg;
	unsigned char byte = (unsigned char)(1 + w->id), got;

	pthread_barrier_wait(w->start);
	for (size_t k = 0; k < w->npages; k++) {
		size_t i = (k * 5 + (size_t)w->id * 3) % w->npages;
		size_t off = i * PAGE + 16 + w->id;

		if ((k + (size_t)w->id) % 2)
			w->map[off] = byte;
		else if (pwrite(w->fd, &byte, 1, (off_t)off) != 1)
			atomic_fetch_add(w->bad, 1);
		if (w->ro[off] != byte || pread(w->fd, &got, 1, (off_t)off) != 1 || got != byte)
			atomic_fetch_add(w->bad, 1);
	}
	return NULL;
}

/* Clones of one source written by 4 threads at once, page by page, over
 * and over: no write lost, the source unchanged, each page made once. */
TEST_F_TIMEOUT(lazy, racing_writes_to_clone_pages, 600)
{
	const size_t npages = 32;
	int src = sealed_source(self->dev, npages, RW), rounds = 150;
	uint64_t h = hash_region(src, npages * PAGE);
	long pinned = pinned_pages();

	ASSERT_GE(src, 0);
	for (int r = 0; r < rounds; r++) {
		struct writer w[4];
		pthread_barrier_t start;
		pthread_t threads[4];
		atomic_int bad = 0;
		unsigned char *map, *ro;
		int c = region_clone(src, RW);

		ASSERT_GE(c, 0);
		map = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, c, 0);
		ro = mmap(NULL, npages * PAGE, PROT_READ, MAP_SHARED, c, 0);
		ASSERT_NE(MAP_FAILED, map);
		ASSERT_NE(MAP_FAILED, ro);
		/* The read-only mapping starts out on the source's pages. */
		for (size_t i = 0; i < npages; i++)
			ASSERT_EQ(fill_byte(i), ro[i * PAGE]);
		pthread_barrier_init(&start, NULL, 4);
		for (int i = 0; i < 4; i++) {
			w[i] = (struct writer){.fd = c,
					       .id = i,
					       .map = map,
					       .ro = ro,
					       .npages = npages,
					       .start = &start,
					       .bad = &bad};
			ASSERT_EQ(0, pthread_create(&threads[i], NULL, write_clone, &w[i]));
		}
		for (int i = 0; i < 4; i++)
			pthread_join(threads[i], NULL);
		pthread_barrier_destroy(&start);
		EXPECT_EQ(0, atomic_load(&bad)) TH_LOG("round %d: a write went missing", r);
		for (size_t i = 0; i < npages; i++) {
			for (int id = 0; id < 4; id++) {
				unsigned char got = ro[i * PAGE + 16 + id];

				ASSERT_EQ(1 + id, got) TH_LOG("round %d page %zu", r, i);
			}
			ASSERT_EQ(fill_byte(i), ro[i * PAGE]);
			ASSERT_EQ(fill_byte(i), map[i * PAGE + PAGE - 1]);
		}
		ASSERT_EQ((long)npages, resident(c));
		ASSERT_EQ(pinned + (long)npages, pinned_pages());
		munmap(map, npages * PAGE);
		munmap(ro, npages * PAGE);
		close(c);
		ASSERT_EQ(pinned, pinned_pages());
	}
	EXPECT_EQ(h, hash_region(src, npages * PAGE));
	close(src);
	EXPECT_EQ(0, can_pin_16(self->dev)) TH_LOG("root's locked_vm is back");
}

struct seal_race {
	int fd, src;
	size_t npages;
	atomic_bool stop;
	atomic_long ops;
};

/* Makes pages every way there is: write faults, pwrite, RESTORE, a
 * read-only mapping widened, while SEAL is tried. */
static void *seal_attacker(void *arg)
{
	struct seal_race *r = arg;
	size_t size = r->npages * PAGE;

	while (!atomic_load(&r->stop)) {
		long n = atomic_fetch_add(&r->ops, 1);
		size_t page = (size_t)n * 7 % r->npages;
		uint64_t bitmap = 1ULL << ((size_t)n * 3 % r->npages);
		unsigned char *map;
		char byte = (char)n;

		switch (n % 4) {
		case 0:
			map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
			if (map != MAP_FAILED) {
				map[page * PAGE + 9] = (unsigned char)n;
				munmap(map, size);
			}
			break;
		case 1:
			if (pwrite(r->fd, &byte, 1, (off_t)(page * PAGE + 11)) != 1 &&
			    errno != EPERM)
				return (void *)1;
			break;
		case 2:
			region_restore(r->fd, n % 8 ? r->src : SNAPVM_RESTORE_ZERO, &bitmap, 0,
				       r->npages);
			break;
		default:
			map = mmap(NULL, size, PROT_READ, MAP_SHARED, r->fd, 0);
			if (map != MAP_FAILED) {
				(void)*(volatile unsigned char *)(map + page * PAGE);
				if (!mprotect(map, size, PROT_READ | PROT_WRITE))
					map[page * PAGE + 13] = (unsigned char)n;
				munmap(map, size);
			}
		}
	}
	return NULL;
}

/*
 * Lazy regions and clones attacked by threads making their pages while SEAL
 * is tried until it works; from then on nothing may change them, nor may
 * any page be made (resident_pages stays).
 */
TEST_F_TIMEOUT(lazy, seal_races_first_touches_of_lazy_regions_and_clones, 600)
{
	const size_t npages = 16;
	int src = sealed_source(self->dev, npages, RW), rounds = 60;
	long total = 0;

	ASSERT_GE(src, 0);
	for (int round = 0; round < rounds; round++) {
		struct seal_race r = {.src = src, .npages = npages};
		pthread_t threads[3];
		uint64_t h;
		long made;

		r.fd =
		    round % 2 ? region_clone(src, RW) : lazy_create(self->dev, npages * PAGE, RW);
		ASSERT_GE(r.fd, 0);
		for (int t = 0; t < 3; t++)
			ASSERT_EQ(0, pthread_create(&threads[t], NULL, seal_attacker, &r));
		usleep((round % 5) * 1000);
		while (region_seal(r.fd) != 0)
			ASSERT_EQ(EBUSY, errno);
		h = hash_region(r.fd, npages * PAGE);
		made = resident(r.fd);
		usleep(20 * 1000);
		atomic_store(&r.stop, true);
		for (int t = 0; t < 3; t++) {
			void *ret;

			pthread_join(threads[t], &ret);
			EXPECT_EQ(NULL, ret);
		}
		EXPECT_EQ(h, hash_region(r.fd, npages * PAGE))
		TH_LOG("round %d: the sealed region changed", round);
		EXPECT_EQ(made, resident(r.fd))
		TH_LOG("round %d: a page was made after SEAL", round);
		total += atomic_load(&r.ops);
		close(r.fd);
	}
	close(src);
	TH_LOG("%d rounds, %ld operations", rounds, total);
}

TEST_HARNESS_MAIN
