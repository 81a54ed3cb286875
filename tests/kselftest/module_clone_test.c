// SPDX-License-Identifier: GPL-2.0
/*
 * module_clone_test.c - snapvm.ko's private clones of sealed regions: a clone
 * reads as its source until it writes, each write giving the clone (and every
 * mapping of it, and KVM) a page of its own; bad arguments; SEAL and RESTORE
 * on clones; lazy regions and clones as nobody. Runs as root inside the test
 * VM (tests/vm/run).
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

#define RWX (SNAPVM_PROT_READ | SNAPVM_PROT_WRITE | SNAPVM_PROT_EXEC)

/* ---- clones ---- */

TEST_F(lazy, clone_reads_as_its_source_until_it_writes)
{
	int src = sealed_source(self->dev, 8, RW), c1, c2;
	uint64_t src_hash = hash_region(src, 8 * PAGE);
	unsigned char *m1, *m2, *m3, *view, *priv;
	struct snapvm_region_info info;
	long pinned;

	ASSERT_GE(src, 0);
	pinned = pinned_pages();
	c1 = region_clone(src, RW);
	c2 = region_clone(src, RW);
	ASSERT_GE(c1, 0) TH_LOG("CLONE: %s", strerror(errno));
	ASSERT_GE(c2, 0);
	EXPECT_TRUE(fcntl(c1, F_GETFD) & FD_CLOEXEC);
	info = region_info(c1);
	EXPECT_EQ(8 * PAGE, info.size);
	EXPECT_EQ(RW, info.prot);
	EXPECT_EQ((uint32_t)(SNAPVM_REGION_LAZY | SNAPVM_REGION_CLONED), info.flags);
	EXPECT_EQ(0U, info.resident_pages);
	EXPECT_EQ(src_hash, hash_region(c1, 8 * PAGE));
	EXPECT_EQ(pinned, pinned_pages());

	m1 = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, c1, 0);
	m2 = mmap(NULL, 8 * PAGE, PROT_READ, MAP_SHARED, c1, 0);
	m3 = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, c2, 0);
	view = mmap(NULL, 8 * PAGE, PROT_READ, MAP_SHARED, src, 0);
	ASSERT_NE(MAP_FAILED, m1);
	ASSERT_NE(MAP_FAILED, m2);
	ASSERT_NE(MAP_FAILED, m3);
	ASSERT_NE(MAP_FAILED, view);
	/* Every page read through every mapping: the source's, no cost. */
	for (int i = 0; i < 8; i++) {
		EXPECT_EQ(fill_byte(i), m1[i * PAGE + 1]);
		EXPECT_EQ(fill_byte(i), m2[i * PAGE + 2]);
		EXPECT_EQ(fill_byte(i), m3[i * PAGE + 3]);
	}
	EXPECT_EQ(0, resident(c1));
	EXPECT_EQ(pinned, pinned_pages());

	/* The write: c1's own page, seen by both of its mappings and pread. */
	m1[2 * PAGE + 10] = '!';
	EXPECT_EQ('!', m1[2 * PAGE + 10]);
	EXPECT_EQ('!', m2[2 * PAGE + 10]) TH_LOG("the other mapping kept the source's page");
	EXPECT_EQ('!', byte_at(c1, 2 * PAGE + 10));
	EXPECT_EQ(fill_byte(2), m1[2 * PAGE + 11]) TH_LOG("the page is a copy");
	EXPECT_EQ(1, resident(c1));
	EXPECT_EQ(pinned + 1, pinned_pages());
	/* The source and the other clone did not change. */
	EXPECT_EQ(fill_byte(2), view[2 * PAGE + 10]);
	EXPECT_EQ(fill_byte(2), m3[2 * PAGE + 10]);
	EXPECT_EQ(src_hash, hash_region(src, 8 * PAGE));
	EXPECT_EQ(src_hash, hash_region(c2, 8 * PAGE));
	EXPECT_EQ(0, resident(c2));
	/* A second write to the page: no new page. */
	m1[2 * PAGE + 12] = '?';
	EXPECT_EQ('?', m2[2 * PAGE + 12]);
	EXPECT_EQ(1, resident(c1));
	/* pwrite is a first write too, seen by the mappings. */
	ASSERT_EQ(1, pwrite(c1, "p", 1, 5 * PAGE));
	EXPECT_EQ('p', m1[5 * PAGE]);
	EXPECT_EQ('p', m2[5 * PAGE]);
	EXPECT_EQ(fill_byte(5), m1[5 * PAGE + 1]);
	EXPECT_EQ(2, resident(c1));
	/* c2 writes the same page: its own page, c1's unchanged. */
	m3[2 * PAGE + 10] = '#';
	EXPECT_EQ('!', m2[2 * PAGE + 10]);
	EXPECT_EQ('#', byte_at(c2, 2 * PAGE + 10));
	EXPECT_EQ(1, resident(c2));
	EXPECT_EQ(pinned + 3, pinned_pages());
	EXPECT_EQ(src_hash, hash_region(src, 8 * PAGE));

	/* A private mapping of the clone reads its current content; its
	 * writes stay its own. */
	priv = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, c1, 0);
	ASSERT_NE(MAP_FAILED, priv);
	EXPECT_EQ('!', priv[2 * PAGE + 10]);
	EXPECT_EQ(fill_byte(3), priv[3 * PAGE]);
	priv[3 * PAGE] = 'q';
	priv[2 * PAGE] = 'q';
	EXPECT_EQ(fill_byte(3), m1[3 * PAGE]);
	EXPECT_EQ(fill_byte(2), m1[2 * PAGE]);
	EXPECT_EQ(2, resident(c1));
	munmap(priv, 8 * PAGE);

	/* Read-only first, then widened by mprotect: the entries mapping the
	 * source's pages stay read-only, and the write still makes a page. */
	priv = mmap(NULL, 8 * PAGE, PROT_READ, MAP_SHARED, c1, 0);
	ASSERT_NE(MAP_FAILED, priv);
	EXPECT_EQ(fill_byte(6), priv[6 * PAGE]);
	ASSERT_EQ(0, mprotect(priv, 8 * PAGE, PROT_READ | PROT_WRITE));
	priv[6 * PAGE] = 'm';
	EXPECT_EQ('m', m2[6 * PAGE]);
	EXPECT_EQ(fill_byte(6), view[6 * PAGE]);
	EXPECT_EQ(3, resident(c1));
	munmap(priv, 8 * PAGE);

	munmap(m1, 8 * PAGE);
	munmap(m2, 8 * PAGE);
	munmap(m3, 8 * PAGE);
	munmap(view, 8 * PAGE);
	close(c1);
	EXPECT_EQ(pinned + 1, pinned_pages());
	close(c2);
	EXPECT_EQ(pinned, pinned_pages());
	close(src);
}

TEST_F(lazy, clone_rejects_bad_arguments)
{
	int unsealed = region_create(self->dev, 2 * PAGE, RW);
	int src = sealed_source(self->dev, 2, RW);
	int xsrc = sealed_source(self->dev, 2, RWX);
	struct snapvm_region_clone args = {.prot = RW};
	int ro, c;

	ASSERT_GE(unsealed, 0);
	ASSERT_GE(src, 0);
	ASSERT_GE(xsrc, 0);
	EXPECT_EQ(EINVAL, clone_errno(unsealed, args)) TH_LOG("an unsealed source");
	args.prot = SNAPVM_PROT_WRITE;
	EXPECT_EQ(EINVAL, clone_errno(src, args)) TH_LOG("prot without READ");
	args.prot = RW | (1U << 3);
	EXPECT_EQ(EINVAL, clone_errno(src, args)) TH_LOG("unknown prot bit");
	args.prot = RWX;
	EXPECT_EQ(EINVAL, clone_errno(src, args)) TH_LOG("EXEC the source lacks");
	EXPECT_EQ(0, clone_errno(xsrc, args)) TH_LOG("EXEC the source has");
	args.prot = RW;
	args.flags = 1;
	EXPECT_EQ(EINVAL, clone_errno(src, args));
	args.flags = 1U << 31;
	EXPECT_EQ(EINVAL, clone_errno(src, args));
	args.flags = 0;
	args.reserved[0] = 1;
	EXPECT_EQ(EINVAL, clone_errno(src, args));
	args.reserved[0] = 0;
	args.reserved[1] = 1;
	EXPECT_EQ(EINVAL, clone_errno(src, args));
	args.reserved[1] = 0;
	EXPECT_EQ(EFAULT, err_of(ioctl(src, SNAPVM_REGION_CLONE, NULL)));
	EXPECT_EQ(0, clone_errno(src, args));
	/* A read-only fd of the sealed source is enough; READ alone is fine. */
	ro = ioctl(src, SNAPVM_REGION_DUP_READONLY, 0);
	ASSERT_GE(ro, 0);
	c = region_clone(ro, RW);
	ASSERT_GE(c, 0);
	EXPECT_EQ((uint32_t)(SNAPVM_REGION_LAZY | SNAPVM_REGION_CLONED), region_info(c).flags);
	EXPECT_EQ(1, pwrite(c, "w", 1, 0));
	close(c);
	c = region_clone(ro, SNAPVM_PROT_READ);
	ASSERT_GE(c, 0);
	EXPECT_EQ(EPERM, err_of(pwrite(c, "w", 1, 0)));
	EXPECT_EQ(EACCES, mmap_errno(c, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 0));
	EXPECT_EQ(EACCES, mmap_errno(c, PAGE, PROT_READ | PROT_EXEC, MAP_SHARED, 0));
	EXPECT_EQ(fill_byte(1), page_byte(c, 1));
	close(c);
	/* A clone without EXEC cannot be mapped executable, even of an EXEC source. */
	c = region_clone(xsrc, RW);
	ASSERT_GE(c, 0);
	EXPECT_EQ(EACCES, mmap_errno(c, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, 0));
	close(c);
	close(ro);
	close(unsealed);
	close(src);
	close(xsrc);
}

/* The clone holds its source: closed first, every fd of it, the source's
 * pages stay (and count) until the clone goes. */
TEST_F(lazy, clone_outlives_the_source_fd)
{
	int src = sealed_source(self->dev, 4, RW), c;
	unsigned char *map;

	ASSERT_GE(src, 0);
	c = region_clone(src, RW);
	ASSERT_GE(c, 0);
	close(src);
	EXPECT_EQ(self->pinned_at_start + 4, pinned_pages());
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(fill_byte(i), page_byte(c, i));
	map = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, c, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(fill_byte(1), map[PAGE]);
	map[PAGE] = 'z';
	EXPECT_EQ(self->pinned_at_start + 5, pinned_pages());
	close(c);
	/* The mapping holds the clone, and through it the source. */
	EXPECT_EQ('z', map[PAGE]);
	EXPECT_EQ(fill_byte(3), map[3 * PAGE]);
	EXPECT_EQ(self->pinned_at_start + 5, pinned_pages());
	munmap(map, 4 * PAGE);
	EXPECT_EQ(self->pinned_at_start, pinned_pages());
}

/* SEAL works on a clone: its own pages are checked, its shared ones were
 * never writable; then it changes no more, and can be cloned again. */
TEST_F(lazy, seal_of_a_clone)
{
	int src = sealed_source(self->dev, 4, RW), c, cc;
	unsigned char *map;
	uint64_t bitmap = 0xf, h;
	long pinned;

	ASSERT_GE(src, 0);
	pinned = pinned_pages();
	c = region_clone(src, RW);
	ASSERT_GE(c, 0);
	map = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, c, 0);
	ASSERT_NE(MAP_FAILED, map);
	map[0] = 'c';
	EXPECT_EQ(fill_byte(2), map[2 * PAGE]);
	EXPECT_EQ(EBUSY, err_of(region_seal(c))) TH_LOG("a shared writable mapping exists");
	munmap(map, 4 * PAGE);
	EXPECT_EQ(0, region_seal(c));
	EXPECT_EQ((uint32_t)(SNAPVM_REGION_LAZY | SNAPVM_REGION_CLONED | SNAPVM_REGION_SEALED),
		  region_info(c).flags);
	EXPECT_EQ((uint32_t)SNAPVM_PROT_READ, region_info(c).prot);
	h = hash_region(c, 4 * PAGE);
	EXPECT_EQ(EPERM, err_of(pwrite(c, "x", 1, PAGE)));
	EXPECT_EQ(EPERM, err_of(region_restore(c, SNAPVM_RESTORE_ZERO, &bitmap, 0, 4)));
	EXPECT_EQ(EACCES, mmap_errno(c, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 0));
	map = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, c, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ('c', map[0]);
	EXPECT_EQ(fill_byte(3), map[3 * PAGE]);
	EXPECT_EQ(-1, mprotect(map, 4 * PAGE, PROT_READ | PROT_WRITE));
	munmap(map, 4 * PAGE);
	EXPECT_EQ(1, resident(c));
	EXPECT_EQ(h, hash_region(c, 4 * PAGE));

	/* A clone of the sealed clone reads as it, and writes its own. */
	cc = region_clone(c, RW);
	ASSERT_GE(cc, 0) TH_LOG("clone of a sealed clone: %s", strerror(errno));
	EXPECT_EQ(h, hash_region(cc, 4 * PAGE));
	ASSERT_EQ(1, pwrite(cc, "d", 1, 0));
	ASSERT_EQ(1, pwrite(cc, "e", 1, 3 * PAGE));
	EXPECT_EQ(fill_byte(0), byte_at(cc, 1));
	EXPECT_EQ('d', byte_at(cc, 0));
	EXPECT_EQ('e', byte_at(cc, 3 * PAGE));
	EXPECT_EQ(fill_byte(3), byte_at(cc, 3 * PAGE + 1));
	EXPECT_EQ(h, hash_region(c, 4 * PAGE));
	EXPECT_EQ(2, resident(cc));
	/* Restored from its source (the sealed clone): shared pages skipped. */
	EXPECT_EQ(2, region_restore(cc, c, &bitmap, 0, 4));
	EXPECT_EQ(h, hash_region(cc, 4 * PAGE));
	/* Restored from the source of its source: page 0 differs there. */
	EXPECT_EQ(2, region_restore(cc, src, &bitmap, 0, 4))
	TH_LOG("its own pages 0 and 3; pages 1 and 2 already read as src's");
	EXPECT_EQ(fill_byte(0), byte_at(cc, 0));
	EXPECT_EQ(pinned + 3, pinned_pages());
	close(c);
	close(src);
	EXPECT_EQ(pinned + 3, pinned_pages()) TH_LOG("the chain is held by the last clone");
	close(cc);
	EXPECT_EQ(pinned - 4, pinned_pages());
}

/* RESTORE of a clone from its own source copies only the pages it has of
 * its own (and keeps them); pages it still shares already are the source's. */
TEST_F(lazy, restore_of_a_clone_from_its_source_skips_shared_pages)
{
	int src = sealed_source(self->dev, 8, RW), other = sealed_source(self->dev, 8, RW), c;
	int lz = lazy_create(self->dev, 8 * PAGE, RW), lzsrc;
	uint64_t all = 0xff, h;
	long pinned;

	ASSERT_GE(src, 0);
	ASSERT_GE(other, 0);
	ASSERT_GE(lz, 0);
	ASSERT_EQ(1, pwrite(lz, "L", 1, 6 * PAGE));
	ASSERT_EQ(0, region_seal(lz));
	lzsrc = lz;
	h = hash_region(src, 8 * PAGE);
	pinned = pinned_pages();
	c = region_clone(src, RW);
	ASSERT_GE(c, 0);
	ASSERT_EQ(1, pwrite(c, "1", 1, PAGE));
	ASSERT_EQ(1, pwrite(c, "3", 1, 3 * PAGE));
	EXPECT_EQ(2, resident(c));
	EXPECT_EQ(2, region_restore(c, src, &all, 0, 8));
	EXPECT_EQ(h, hash_region(c, 8 * PAGE));
	EXPECT_EQ(2, resident(c)) TH_LOG("the working set stays");
	EXPECT_EQ(pinned + 2, pinned_pages());
	EXPECT_EQ(2, region_restore(c, src, &all, 0, 8));
	/* From another region: every page differs from the shared one's. */
	all = 0x1;
	EXPECT_EQ(1, region_restore(c, other, &all, 0, 8))
	TH_LOG("other has the same bytes, but is another page");
	EXPECT_EQ(3, resident(c));
	/* RESTORE_ZERO: a shared page with bytes needs a page of zeroes. */
	all = 0x4;
	EXPECT_EQ(1, region_restore(c, SNAPVM_RESTORE_ZERO, &all, 0, 8));
	EXPECT_EQ(0, page_byte(c, 2));
	EXPECT_EQ(4, resident(c));
	EXPECT_EQ(h, hash_region(src, 8 * PAGE));
	close(c);

	/* A clone of a sealed lazy region: its holes read as zero, and
	 * RESTORE_ZERO of them (and of the page the clone shares with it,
	 * restored from the source) needs nothing. */
	c = region_clone(lzsrc, RW);
	ASSERT_GE(c, 0);
	EXPECT_EQ('L', byte_at(c, 6 * PAGE));
	EXPECT_EQ(0, page_byte(c, 0));
	all = 0xbf;
	EXPECT_EQ(0, region_restore(c, SNAPVM_RESTORE_ZERO, &all, 0, 8));
	all = 0xff;
	EXPECT_EQ(0, region_restore(c, lzsrc, &all, 0, 8));
	EXPECT_EQ(0, resident(c));
	ASSERT_EQ(1, pwrite(c, "h", 1, 0));
	EXPECT_EQ(1, resident(c));
	EXPECT_EQ(1, resident(lzsrc)) TH_LOG("the source made no page for the clone");
	EXPECT_EQ(0, byte_at(lzsrc, 0));
	EXPECT_EQ(1, region_restore(c, lzsrc, &all, 0, 8));
	EXPECT_EQ(0, byte_at(c, 0));
	close(c);
	close(lzsrc);
	close(src);
	close(other);
}

/* ---- KVM ---- */

/* Guest code (16-bit real mode) at GPA 0x1000 of the source. */
static const uint8_t guest_code[] = {
    0x66, 0xa1, 0x00, 0x20,				  /* mov 0x2000, %eax */
    0x66, 0xe7, 0x10,					  /* out %eax, $0x10 */
    0x66, 0xa1, 0x00, 0x40,				  /* mov 0x4000, %eax */
    0x66, 0xe7, 0x10,					  /* out %eax, $0x10 */
    0x66, 0xa1, 0x00, 0x30,				  /* mov 0x3000, %eax */
    0x66, 0xe7, 0x10,					  /* out %eax, $0x10 */
    0x66, 0xc7, 0x06, 0x00, 0x30, 0x0d, 0xf0, 0xfe, 0xca, /* movl $0xcafef00d, 0x3000 */
    0x66, 0xa1, 0x00, 0x30,				  /* mov 0x3000, %eax */
    0x66, 0xe7, 0x10,					  /* out %eax, $0x10 */
    0x66, 0xa1, 0x00, 0x40,				  /* mov 0x4000, %eax */
    0x66, 0xe7, 0x10,					  /* out %eax, $0x10 */
    0xf4,						  /* hlt */
};

/*
 * A clone as guest memory: the guest reads the source's pages through it;
 * its write to a page it read before gives the clone its own page, which the
 * host's mappings and pread see while the source stays; a pwrite to a page
 * the guest has mapped (the source's, read-only) reaches the guest too.
 */
TEST_F(lazy, kvm_sees_the_clone_and_the_clone_sees_kvm)
{
	const size_t size = 8 * PAGE;
	const uint32_t v2 = 0x22222222, v3 = 0x33333333, v4 = 0x44444444, p4 = 0x600dcafe;
	struct guest g = {0};
	uint32_t value;
	unsigned char *map, *ro;
	int src, c;

	src = region_create(self->dev, size, RW);
	ASSERT_GE(src, 0);
	ASSERT_EQ((ssize_t)sizeof(guest_code), pwrite(src, guest_code, sizeof(guest_code), 0x1000));
	ASSERT_EQ(4, pwrite(src, &v2, 4, 0x2000));
	ASSERT_EQ(4, pwrite(src, &v3, 4, 0x3000));
	ASSERT_EQ(4, pwrite(src, &v4, 4, 0x4000));
	ASSERT_EQ(0, region_seal(src));
	c = region_clone(src, RW);
	ASSERT_GE(c, 0);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, c, 0);
	ro = mmap(NULL, size, PROT_READ, MAP_SHARED, c, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_NE(MAP_FAILED, ro);
	/* The host maps the source's page 3 in both mappings first. */
	EXPECT_EQ(v3, *(uint32_t *)(map + 0x3000));
	EXPECT_EQ(v3, *(uint32_t *)(ro + 0x3000));

	ASSERT_EQ(0, guest_create(&g)) TH_LOG("KVM set-up: %s", strerror(errno));
	ASSERT_EQ(0, guest_slot(&g, 0, 0, map, size, 0))
	TH_LOG("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
	ASSERT_EQ(KVM_EXIT_IO, guest_run(&g)) TH_LOG("exit %u", g.run->exit_reason);
	EXPECT_EQ(v2, guest_out_value(&g));
	ASSERT_EQ(KVM_EXIT_IO, guest_run(&g));
	EXPECT_EQ(v4, guest_out_value(&g));
	ASSERT_EQ(KVM_EXIT_IO, guest_run(&g));
	EXPECT_EQ(v3, guest_out_value(&g));
	EXPECT_EQ(0, resident(c)) TH_LOG("guest reads cost nothing");
	/* The guest mapped page 4 (the source's): a pwrite replaces it. */
	ASSERT_EQ(4, pwrite(c, &p4, 4, 0x4000));
	ASSERT_EQ(KVM_EXIT_IO, guest_run(&g)) TH_LOG("exit %u", g.run->exit_reason);
	EXPECT_EQ(0xcafef00d, guest_out_value(&g)) TH_LOG("the guest reads its write back");
	ASSERT_EQ(KVM_EXIT_IO, guest_run(&g));
	EXPECT_EQ(p4, guest_out_value(&g)) TH_LOG("the guest sees the clone's new page 4");
	ASSERT_EQ(KVM_EXIT_HLT, guest_run(&g)) TH_LOG("exit %u", g.run->exit_reason);

	EXPECT_EQ(0xcafef00d, *(uint32_t *)(map + 0x3000))
	TH_LOG("the host sees the guest's write");
	EXPECT_EQ(0xcafef00d, *(uint32_t *)(ro + 0x3000)) TH_LOG("so does its other mapping");
	ASSERT_EQ(4, pread(c, &value, 4, 0x3000));
	EXPECT_EQ(0xcafef00d, value);
	ASSERT_EQ(4, pread(src, &value, 4, 0x3000));
	EXPECT_EQ(v3, value) TH_LOG("the source changed");
	EXPECT_EQ(2, resident(c)) TH_LOG("pages 3 and 4, no more");
	guest_destroy(&g);
	munmap(map, size);
	munmap(ro, size);
	close(c);
	close(src);
}

/* Lazy regions and clones as nobody: made, touched, cloned, charged to
 * nobody within a 64 kB RLIMIT_MEMLOCK, all given back at exit. */
TEST_F(lazy, lazy_and_clones_as_nobody)
{
	long pinned = pinned_pages();
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct rlimit limit = {.rlim_cur = 64 * 1024, .rlim_max = 64 * 1024};
		int src, c, lz;
		unsigned char *map;

		CHILD_CHECK(setrlimit(RLIMIT_MEMLOCK, &limit) == 0, "setrlimit");
		CHILD_CHECK(setgroups(0, NULL) == 0 && setresgid(NOBODY, NOBODY, NOBODY) == 0 &&
				setresuid(NOBODY, NOBODY, NOBODY) == 0,
			    "setresuid");
		src = sealed_source(self->dev, 4, RW);
		CHILD_CHECK(src >= 0, "a 4-page source");
		c = region_clone(src, RW);
		CHILD_CHECK(c >= 0, "clone");
		map = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, c, 0);
		CHILD_CHECK(map != MAP_FAILED, "mmap");
		for (int i = 0; i < 4; i++) {
			CHILD_CHECK(map[i * PAGE] == fill_byte(i), "reads as the source");
			map[i * PAGE] = 'n';
		}
		CHILD_CHECK(resident(c) == 4, "4 own pages");
		CHILD_CHECK(page_byte(src, 0) == fill_byte(0), "the source stays");
		lz = lazy_create(self->dev, 64 * PAGE, RW);
		CHILD_CHECK(lz >= 0, "lazy");
		for (int i = 0; i < 8; i++)
			CHILD_CHECK(pwrite(lz, "x", 1, i * PAGE) == 1, "4 + 4 + 8 pages fit");
		CHILD_CHECK(pwrite(lz, "x", 1, 8 * PAGE) == -1 && errno == ENOMEM, "17 > 16");
		CHILD_CHECK(pinned_pages() == pinned + 16, "16 pages held");
		munmap(map, 4 * PAGE);
		close(c);
		CHILD_CHECK(pwrite(lz, "x", 1, 8 * PAGE) == 1, "the clone's charge came back");
		CHILD_CHECK(resident(lz) == 9, "9 lazy pages");
		close(lz);
		close(src);
		CHILD_CHECK(pinned_pages() == pinned, "all given back");
		_exit(0);
	}
	EXPECT_EQ(0, wait_status(pid));
	EXPECT_EQ(pinned, pinned_pages());
}

TEST_HARNESS_MAIN
