/* SPDX-License-Identifier: GPL-2.0 */
/*
 * linux_fixture.h - the fixture of the Linux-program kselftests (busybox of
 * the variant's layout, the launcher, a scratch directory), comparing a
 * run under snapvm with the same busybox run natively, and first-read or
 * entry snapshots opened in-process to serve requests. Include after
 * kselftest_harness.h.
 */
#ifndef SNAPVM_TESTS_LINUX_FIXTURE_H
#define SNAPVM_TESTS_LINUX_FIXTURE_H

#include <limits.h>
#include <sys/random.h>
#include <sysexits.h>

#include "tests/kselftest/linux_helpers.h"
#include "tests/kselftest/vmm_test.h"
#include "userspace/lib/snapvm.h"

#define TEST_TIMEOUT_S	 900
#define LINUX_TEST(name) TEST_F_TIMEOUT(lx, name, TEST_TIMEOUT_S)

FIXTURE(lx)
{
	char skip[256];
	char dir[PATH_MAX / 2];
	char busybox[PATH_MAX];
	char snapvm[PATH_MAX];
	char memory_opt[32];
};

VMM_VARIANTS(lx);

FIXTURE_SETUP(lx)
{
	vmm_skip_reason(variant->memory_id, self->skip, sizeof(self->skip));
	snprintf(self->busybox, sizeof(self->busybox), "%s/../.cache/busybox/%s/bin/busybox",
		 vmm_build_dir(), variant->layout_id == SNAPVM_LAYOUT_I686 ? "i386" : "amd64");
	snprintf(self->snapvm, sizeof(self->snapvm), "%s/snapvm", vmm_build_dir());
	snprintf(self->memory_opt, sizeof(self->memory_opt), "--memory=%s", variant->memory);
	/* Setup installs busybox: its absence is a failure, not a skip. */
	ASSERT_EQ(0, access(self->busybox, X_OK))
	TH_LOG("%s is missing: run tests/vm/setup", self->busybox);
	ASSERT_NE(NULL, vmm_make_tmpdir(self->dir, sizeof(self->dir), "lx"));
}

FIXTURE_TEARDOWN(lx)
{
	vmm_remove_tmpdir(self->dir);
}

/* snapvm run [opts] BUSYBOX args vs BUSYBOX args natively: same stdout,
 * same status. Returns true when they agree (and logs why not). */
static inline bool same_as_native(struct __test_metadata *_metadata, FIXTURE_DATA(lx) * self,
				  const char *in, const char *const *opts, const char *const *args)
{
	const char *vm[64], *nat[64];
	char vm_out[PATH_MAX], nat_out[PATH_MAX], vm_err[PATH_MAX], nat_err[PATH_MAX];
	int n = 0, m = 0, s1, s2;
	size_t l1, l2, le;
	char *o1, *o2, *e1;
	bool ok;

	vm[n++] = self->snapvm;
	vm[n++] = "run";
	vm[n++] = self->memory_opt;
	vm[n++] = "--timeout=300";
	for (; opts && *opts; opts++)
		vm[n++] = *opts;
	vm[n++] = self->busybox;
	nat[m++] = self->busybox;
	for (const char *const *a = args; *a; a++)
		vm[n++] = nat[m++] = *a;
	vm[n] = nat[m] = NULL;
	path_in(vm_out, sizeof(vm_out), self->dir, "vm.out");
	path_in(nat_out, sizeof(nat_out), self->dir, "nat.out");
	path_in(vm_err, sizeof(vm_err), self->dir, "vm.err");
	path_in(nat_err, sizeof(nat_err), self->dir, "nat.err");
	s1 = spawn(vm, in, vm_out, vm_err);
	s2 = spawn(nat, in, nat_out, nat_err);
	o1 = slurp(vm_out, &l1);
	o2 = slurp(nat_out, &l2);
	e1 = slurp(vm_err, &le);
	ok = s1 == s2 && o1 && o2 && l1 == l2 && !memcmp(o1, o2, l1);
	if (!ok)
		TH_LOG("%s %s: snapvm gave status %d and %zu bytes, native %d and %zu bytes; "
		       "snapvm's stderr: %.400s",
		       args[0], args[1] ? args[1] : "", s1, l1, s2, l2, e1 ? e1 : "");
	free(o1);
	free(o2);
	free(e1);
	return ok;
}

#define SAME(in, ...)                                                                              \
	EXPECT_TRUE(                                                                               \
	    same_as_native(_metadata, self, in, NULL, (const char *const[]){__VA_ARGS__, NULL}))

/* A file of n bytes in the test's directory: random, or from text. */
static inline const char *make_input(FIXTURE_DATA(lx) * self, const char *name, const char *text,
				     size_t n)
{
	static char path[8][PATH_MAX];
	static int next;
	char *p = path[next++ % 8];
	FILE *f;

	path_in(p, PATH_MAX, self->dir, name);
	f = fopen(p, "wb");
	if (!f)
		return NULL;
	if (text) {
		fputs(text, f);
	} else {
		unsigned char buf[4096];

		for (size_t done = 0; done < n; done += sizeof(buf)) {
			size_t k = n - done < sizeof(buf) ? n - done : sizeof(buf);

			if (getrandom(buf, k, 0) != (ssize_t)k)
				break;
			fwrite(buf, 1, k, f);
		}
	}
	fclose(f);
	return p;
}

/* ---- snapshots serving requests ---- */

struct request_sandbox {
	struct snapvm_sandbox *sandbox;
	struct snapvm_linux *lx;
};

static inline int open_snapshot(FIXTURE_DATA(lx) * self, const FIXTURE_VARIANT(lx) * variant,
				const char *file, const char *root, struct request_sandbox *r,
				struct snapvm_error *err)
{
	static const char *const argv[] = {"busybox", NULL};
	struct snapvm_snapshot_options so = {.memory = variant->memory_id};
	struct snapvm_linux_options lo = {.argv = argv, .root = root};
	struct snapvm_snapshot *snap;
	int ret = snapvm_snapshot_load(file, &so, &snap, err);

	if (ret)
		return ret;
	if (!snapvm_snapshot_is_linux(snap)) {
		snapvm_snapshot_put(snap);
		return EX_DATAERR;
	}
	ret = snapvm_linux_create(NULL, &lo, &r->lx, err);
	if (!ret)
		ret = snapvm_sandbox_create(snap, NULL, &r->sandbox, err);
	snapvm_snapshot_put(snap);
	if (!ret)
		ret = snapvm_linux_attach(r->lx, r->sandbox, err);
	return ret;
}

static inline void close_snapshot(struct request_sandbox *r)
{
	if (r->sandbox)
		snapvm_sandbox_destroy(r->sandbox);
	snapvm_linux_destroy(r->lx);
}

/* Native busybox on the same input: its stdout. */
static inline char *native(FIXTURE_DATA(lx) * self, const char *const *args, const void *in,
			   size_t in_len, size_t *len, int *status)
{
	char inp[PATH_MAX], out[PATH_MAX], err[PATH_MAX];
	const char *argv[16];
	int n = 0;
	FILE *f;

	path_in(inp, sizeof(inp), self->dir, "native.in");
	path_in(out, sizeof(out), self->dir, "native.out");
	path_in(err, sizeof(err), self->dir, "native.err");
	f = fopen(inp, "wb");
	if (!f)
		return NULL;
	fwrite(in, 1, in_len, f);
	fclose(f);
	argv[n++] = self->busybox;
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	*status = spawn(argv, inp, out, err);
	return slurp(out, len);
}

static inline int make_snapshot_in(FIXTURE_DATA(lx) * self, const char *file, const char *at,
				   const char *root, const char *const *args)
{
	char root_opt[PATH_MAX + 8];
	char out[PATH_MAX], err[PATH_MAX], opt[64];
	const char *argv[16];
	int n = 0;

	path_in(out, sizeof(out), self->dir, "snap.out");
	path_in(err, sizeof(err), self->dir, "snap.err");
	snprintf(opt, sizeof(opt), "--snapshot-at=%s", at);
	argv[n++] = self->snapvm;
	argv[n++] = "run";
	argv[n++] = self->memory_opt;
	argv[n++] = opt;
	argv[n++] = "--snapshot-out";
	argv[n++] = file;
	if (root) {
		snprintf(root_opt, sizeof(root_opt), "--root=%s", root);
		argv[n++] = root_opt;
	}
	argv[n++] = self->busybox;
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	return spawn(argv, NULL, out, err);
}

static inline int make_snapshot(FIXTURE_DATA(lx) * self, const char *file, const char *at,
				const char *const *args)
{
	return make_snapshot_in(self, file, at, NULL, args);
}

#endif /* SNAPVM_TESTS_LINUX_FIXTURE_H */
