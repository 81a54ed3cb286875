// SPDX-License-Identifier: GPL-2.0
/*
 * linux_test.c - Linux programs as guests: Debian's busybox-static (i386 on
 * the i686 layout, amd64 on amd64; tests/vm/setup fetches both) runs under
 * `snapvm run` and must give the same stdout and exit status as the same
 * binary run natively on the test VM's kernel, on both memory backends.
 * Also: programs crafted here (faults, system-call fuzzing), snapshots at
 * the first read and at entry serving requests, and bad input.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "kselftest_harness.h"
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

/* Run argv with stdin from in (NULL: /dev/null) and stdout, stderr to
 * files; the exit status, or 128 + signal. */
static int spawn(const char *const *argv, const char *in, const char *out, const char *err)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		int i = open(in ? in : "/dev/null", O_RDONLY);
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (i < 0 || o < 0 || e < 0)
			_exit(126);
		dup2(i, 0);
		dup2(o, 1);
		dup2(e, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap + 1);
			if (!buf)
				break;
		}
		size_t got = fread(buf + n, 1, cap - n, f);

		if (!got)
			break;
		n += got;
	}
	fclose(f);
	if (buf)
		buf[n] = 0;
	*len = n;
	return buf;
}

static void path_in(char *buf, size_t size, const char *dir, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
}

/* snapvm run [opts] BUSYBOX args vs BUSYBOX args natively: same stdout,
 * same status. Returns true when they agree (and logs why not). */
static bool same_as_native(struct __test_metadata *_metadata, FIXTURE_DATA(lx) * self,
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
static const char *make_input(FIXTURE_DATA(lx) * self, const char *name, const char *text, size_t n)
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

LINUX_TEST(simple_applets)
{
	REQUIRE_BACKEND();
	SAME(NULL, "true");
	SAME(NULL, "false");
	SAME(NULL, "echo", "hello", "world");
	SAME(NULL, "printf", "%s-%d|%x\n", "a", "5", "255");
	SAME(NULL, "seq", "1", "1000");
	SAME(NULL, "expr", "3", "*", "14");
	SAME(NULL, "expr", "1", "=", "2"); /* status 1 */
	SAME(NULL, "date", "-d", "@1700000000", "-u");
}

LINUX_TEST(digests_of_stdin)
{
	const char *zero, *one, *mib;

	REQUIRE_BACKEND();
	zero = make_input(self, "0b", "", 0);
	one = make_input(self, "1b", "x", 1);
	mib = make_input(self, "1m", NULL, 1 << 20);
	ASSERT_TRUE(zero && one && mib);
	for (const char *const *in = (const char *const[]){zero, one, mib, NULL}; *in; in++) {
		SAME(*in, "sha256sum");
		SAME(*in, "md5sum");
	}
}

LINUX_TEST(text_applets)
{
	const char *lines, *mib;

	REQUIRE_BACKEND();
	lines = make_input(self, "lines", "pear 3\napple 1\nfig 2\napple 1\nkiwi 10\n", 0);
	mib = make_input(self, "1m", NULL, 1 << 20);
	ASSERT_TRUE(lines && mib);
	SAME(lines, "awk", "{ s += $2; print NR, $1 } END { print s }");
	SAME(lines, "sed", "-e", "s/a/A/g", "-e", "/fig/d");
	SAME(lines, "sort");
	SAME(lines, "sort", "-k2", "-n");
	SAME(lines, "uniq", "-c");
	SAME(lines, "wc");
	SAME(lines, "tr", "a-z", "A-Z");
	SAME(lines, "cut", "-d", " ", "-f", "2");
	SAME(lines, "head", "-n", "2");
	SAME(lines, "tail", "-n", "2");
	SAME(lines, "grep", "-n", "apple");
	SAME(lines, "grep", "nothing-matches"); /* status 1 */
	SAME(lines, "od", "-A", "x", "-t", "x1z");
	SAME(mib, "base64");
	SAME(mib, "od", "-x");
}

LINUX_TEST(shell_without_fork)
{
	REQUIRE_BACKEND();
	SAME(NULL, "sh", "-c", "echo $((6 * 7)) $((1 << 20)) $((-7 / 2))");
	SAME(NULL, "sh", "-c", "i=0; while [ $i -lt 50 ]; do i=$((i + 1)); done; echo $i");
	SAME(NULL, "sh", "-c", "f() { echo \"f:$1:$#\"; return 3; }; f a b; echo $?");
	SAME(NULL, "sh", "-c", "for w in one two three; do printf '%s\\n' $w; done; exit 7");
}

/* gzip -c in one sandbox, gzip -dc in another: the bytes come back. */
LINUX_TEST(gzip_round_trip)
{
	char gz[PATH_MAX], back[PATH_MAX], err[PATH_MAX];
	const char *mib;
	size_t l1, l2;
	char *a, *b;

	REQUIRE_BACKEND();
	mib = make_input(self, "1m", NULL, 1 << 20);
	ASSERT_NE(NULL, mib);
	SAME(mib, "gzip", "-c");
	path_in(gz, sizeof(gz), self->dir, "1m.gz");
	path_in(back, sizeof(back), self->dir, "1m.back");
	path_in(err, sizeof(err), self->dir, "gzip.err");
	ASSERT_EQ(0, spawn((const char *const[]){self->snapvm, "run", self->memory_opt,
						 self->busybox, "gzip", "-c", NULL},
			   mib, gz, err));
	ASSERT_EQ(0, spawn((const char *const[]){self->snapvm, "run", self->memory_opt,
						 self->busybox, "gzip", "-dc", NULL},
			   gz, back, err));
	a = slurp(mib, &l1);
	b = slurp(back, &l2);
	ASSERT_TRUE(a && b);
	EXPECT_EQ(l1, l2);
	EXPECT_EQ(0, memcmp(a, b, l1 < l2 ? l1 : l2));
	free(a);
	free(b);
}

/* What the launcher itself adds: --env, --trace-syscalls, --timeout, and a
 * dynamically linked program refused with 65. */
LINUX_TEST(launcher_options)
{
	char out[PATH_MAX], err[PATH_MAX];
	size_t len;
	char *text;

	REQUIRE_BACKEND();
	EXPECT_TRUE(same_as_native(_metadata, self, NULL, NULL,
				   (const char *const[]){"sh", "-c", "echo ${FOO:-empty}", NULL}));
	path_in(out, sizeof(out), self->dir, "out");
	path_in(err, sizeof(err), self->dir, "err");
	EXPECT_EQ(0, spawn((const char *const[]){self->snapvm, "run", self->memory_opt, "--env",
						 "FOO=bar baz", "--env", "X=1", self->busybox, "sh",
						 "-c", "echo $FOO $X", NULL},
			   NULL, out, err));
	text = slurp(out, &len);
	EXPECT_STREQ("bar baz 1\n", text ? text : "");
	free(text);

	EXPECT_EQ(3, spawn((const char *const[]){self->snapvm, "run", self->memory_opt,
						 "--trace-syscalls", self->busybox, "sh", "-c",
						 "echo hi; exit 3", NULL},
			   NULL, out, err));
	text = slurp(err, &len);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "write(1, "));
	EXPECT_NE(NULL, strstr(text, ") = 3\n"));
	EXPECT_NE(NULL, strstr(text, "exit_group(3"));
	EXPECT_NE(NULL, strstr(text, "rseq(")) TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, "= -1 ENOSYS (38)"));
	free(text);

	EXPECT_EQ(124, spawn((const char *const[]){self->snapvm, "run", self->memory_opt,
						   "--timeout=1", self->busybox, "sh", "-c",
						   "while :; do :; done", NULL},
			     NULL, out, err));

	/* Past --max-memory, allocations fail with ENOMEM: the shell reports
	 * it and exits; no crash (128+N), no timeout. */
	{
		int st = spawn((const char *const[]){self->snapvm, "run", self->memory_opt,
						     "--max-memory=24M", "--timeout=120",
						     self->busybox, "sh", "-c",
						     "x=aaaaaaaa; while :; do x=$x$x; done", NULL},
			       NULL, out, err);

		text = slurp(err, &len);
		EXPECT_LT(0, st) TH_LOG("%s", text ? text : "");
		EXPECT_GT(124, st) TH_LOG("%s", text ? text : "");
		free(text);
	}

	/* The test binary itself is dynamically linked. */
	EXPECT_EQ(EX_DATAERR, spawn((const char *const[]){self->snapvm, "run", self->memory_opt,
							  "/bin/true", NULL},
				    NULL, out, err));
	text = slurp(err, &len);
	EXPECT_NE(NULL, text && strstr(text, "dynamically linked"));
	free(text);
}

/* ---- programs crafted here: one PT_LOAD (R+X) at 0x400000 and a
 * PT_GNU_STACK, so snapvm takes them for Linux programs ---- */

static int write_program(const char *path, bool is64, const unsigned char *code, size_t len)
{
	unsigned char buf[4096] = {0};
	size_t hdr = is64 ? sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr)
			  : sizeof(Elf32_Ehdr) + 2 * sizeof(Elf32_Phdr);
	size_t total = hdr + len;
	FILE *f;

	if (total > sizeof(buf))
		return -1;
	memcpy(buf + hdr, code, len);
	if (is64) {
		Elf64_Ehdr *e = (void *)buf;
		Elf64_Phdr *p = (void *)(buf + sizeof(*e));

		memcpy(e->e_ident, ELFMAG, SELFMAG);
		e->e_ident[EI_CLASS] = ELFCLASS64;
		e->e_ident[EI_DATA] = ELFDATA2LSB;
		e->e_ident[EI_VERSION] = EV_CURRENT;
		e->e_type = ET_EXEC;
		e->e_machine = EM_X86_64;
		e->e_version = EV_CURRENT;
		e->e_entry = 0x400000 + hdr;
		e->e_phoff = sizeof(*e);
		e->e_ehsize = sizeof(*e);
		e->e_phentsize = sizeof(*p);
		e->e_phnum = 2;
		p[0] = (Elf64_Phdr){.p_type = PT_LOAD,
				    .p_flags = PF_R | PF_X,
				    .p_vaddr = 0x400000,
				    .p_filesz = total,
				    .p_memsz = total,
				    .p_align = 4096};
		p[1] = (Elf64_Phdr){.p_type = PT_GNU_STACK, .p_flags = PF_R | PF_W};
	} else {
		Elf32_Ehdr *e = (void *)buf;
		Elf32_Phdr *p = (void *)(buf + sizeof(*e));

		memcpy(e->e_ident, ELFMAG, SELFMAG);
		e->e_ident[EI_CLASS] = ELFCLASS32;
		e->e_ident[EI_DATA] = ELFDATA2LSB;
		e->e_ident[EI_VERSION] = EV_CURRENT;
		e->e_type = ET_EXEC;
		e->e_machine = EM_386;
		e->e_version = EV_CURRENT;
		e->e_entry = 0x400000 + (Elf32_Addr)hdr;
		e->e_phoff = sizeof(*e);
		e->e_ehsize = sizeof(*e);
		e->e_phentsize = sizeof(*p);
		e->e_phnum = 2;
		p[0] = (Elf32_Phdr){.p_type = PT_LOAD,
				    .p_flags = PF_R | PF_X,
				    .p_vaddr = 0x400000,
				    .p_filesz = (Elf32_Word)total,
				    .p_memsz = (Elf32_Word)total,
				    .p_align = 4096};
		p[1] = (Elf32_Phdr){.p_type = PT_GNU_STACK, .p_flags = PF_R | PF_W};
	}
	f = fopen(path, "wb");
	if (!f)
		return -1;
	if (fwrite(buf, 1, total, f) != total) {
		fclose(f);
		return -1;
	}
	fclose(f);
	return chmod(path, 0755);
}

/* A fault ends the program as Linux would: 128 + the signal, and a message
 * that names the signal, the instruction and the address. */
LINUX_TEST(faults_end_with_the_signal)
{
	static const struct {
		const char *name;
		unsigned char code[16];
		size_t len;
		int status;
		const char *says;
	} cases[] = {
	    /* xor %eax,%eax; mov (%eax/%rax),%eax: a null read */
	    {"null", {0x31, 0xc0, 0x8b, 0x00}, 4, 139, "SIGSEGV"},
	    /* ud2 */
	    {"ud2", {0x0f, 0x0b}, 2, 132, "SIGILL"},
	    /* xor %ecx,%ecx; div %ecx */
	    {"div0", {0x31, 0xc9, 0xf7, 0xf1}, 4, 136, "SIGFPE"},
	    /* hlt: privileged in ring 3 (#GP) */
	    {"hlt", {0xf4}, 1, 139, "SIGSEGV"},
	    /* mov $0x400000,%eax; movb $1,(%rax): a write to its own text */
	    {"text", {0xb8, 0x00, 0x00, 0x40, 0x00, 0xc6, 0x00, 0x01}, 8, 139, "address 0x400000"},
	    /* mov $0x100000,%eax; mov (%rax),%eax: the personality's image */
	    {"kernel", {0xb8, 0x00, 0x00, 0x10, 0x00, 0x8b, 0x00}, 7, 139, "address 0x100000"},
	};
	char prog[PATH_MAX], out[PATH_MAX], err[PATH_MAX];

	REQUIRE_BACKEND();
	path_in(prog, sizeof(prog), self->dir, "prog");
	path_in(out, sizeof(out), self->dir, "out");
	path_in(err, sizeof(err), self->dir, "err");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		char *text;

		ASSERT_EQ(0, write_program(prog, variant->layout_id == SNAPVM_LAYOUT_AMD64,
					   cases[i].code, cases[i].len));
		EXPECT_EQ(cases[i].status,
			  spawn((const char *const[]){self->snapvm, "run", self->memory_opt,
						      "--timeout=60", prog, NULL},
				NULL, out, err))
		TH_LOG("%s", cases[i].name);
		text = slurp(err, &len);
		EXPECT_NE(NULL, text && strstr(text, cases[i].says))
		TH_LOG("%s: %s", cases[i].name, text ? text : "");
		free(text);
	}
}

/* ---- snapshots serving requests ---- */

struct request_sandbox {
	struct snapvm_sandbox *sandbox;
	struct snapvm_linux *lx;
};

static int open_snapshot(FIXTURE_DATA(lx) * self, const FIXTURE_VARIANT(lx) * variant,
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

static void close_snapshot(struct request_sandbox *r)
{
	if (r->sandbox)
		snapvm_sandbox_destroy(r->sandbox);
	snapvm_linux_destroy(r->lx);
}

/* Native busybox on the same input: its stdout. */
static char *native(FIXTURE_DATA(lx) * self, const char *const *args, const void *in, size_t in_len,
		    size_t *len, int *status)
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

static int make_snapshot_in(FIXTURE_DATA(lx) * self, const char *file, const char *at,
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

static int make_snapshot(FIXTURE_DATA(lx) * self, const char *file, const char *at,
			 const char *const *args)
{
	return make_snapshot_in(self, file, at, NULL, args);
}

#define REQUESTS 100

/* A first-read snapshot of sha256sum serves 100 requests with different
 * inputs, each equal to a fresh native run. */
LINUX_TEST(first_read_snapshot_serves_requests)
{
	static const char *const args[] = {"sha256sum", NULL};
	struct request_sandbox r = {0};
	struct snapvm_error err;
	char file[PATH_MAX];
	static unsigned char in[64 << 10], out[4096];

	REQUIRE_BACKEND();
	path_in(file, sizeof(file), self->dir, "sha.snap");
	ASSERT_EQ(0, make_snapshot(self, file, "first-read", args));
	ASSERT_EQ(0, open_snapshot(self, variant, file, NULL, &r, &err)) TH_LOG("%s", err.message);
	for (int i = 0; i < REQUESTS; i++) {
		size_t in_len = (size_t)(i * 613) % sizeof(in), out_len, want_len;
		int status, want_status;
		char *want;

		ASSERT_EQ((ssize_t)in_len, getrandom(in, in_len, 0));
		ASSERT_EQ(0, snapvm_linux_request(r.sandbox, r.lx, in, in_len, out, sizeof(out),
						  &out_len, &status, 60000, &err))
		TH_LOG("%s", err.message);
		want = native(self, args, in, in_len, &want_len, &want_status);
		ASSERT_NE(NULL, want);
		EXPECT_EQ(want_status, status);
		EXPECT_EQ(want_len, out_len);
		EXPECT_EQ(0, memcmp(want, out, want_len < out_len ? want_len : out_len))
		TH_LOG("request %d: %.*s vs %s", i, (int)out_len, out, want);
		free(want);
	}
	close_snapshot(&r);
}

/* A shell snapshotted at its first read of its script: what one request
 * sets (variables, functions, heap) is gone at the next. */
LINUX_TEST(first_read_snapshot_leaves_nothing_behind)
{
	static const char *const args[] = {"sh", NULL};
	static const char *const scripts[][2] = {
	    {"X=secret; f() { echo f; }; big=x; i=0; while [ $i -lt 16 ]; do big=$big$big; "
	     "i=$((i + 1)); done; echo $X ${#big}\n",
	     "secret 65536\n"},
	    {"echo ${X:-unset}; type f >/dev/null 2>&1 || echo no-f\n", "unset\nno-f\n"},
	};
	struct request_sandbox r = {0};
	struct snapvm_error err;
	char file[PATH_MAX], out[4096];

	REQUIRE_BACKEND();
	path_in(file, sizeof(file), self->dir, "sh.snap");
	ASSERT_EQ(0, make_snapshot(self, file, "first-read", args));
	ASSERT_EQ(0, open_snapshot(self, variant, file, NULL, &r, &err)) TH_LOG("%s", err.message);
	for (int i = 0; i < 20; i++) {
		const char *const *s = scripts[i % 2];
		size_t out_len;
		int status;

		ASSERT_EQ(0, snapvm_linux_request(r.sandbox, r.lx, s[0], strlen(s[0]), out,
						  sizeof(out) - 1, &out_len, &status, 60000, &err))
		TH_LOG("%s", err.message);
		out[out_len] = 0;
		EXPECT_STREQ(s[1], out);
		EXPECT_EQ(0, status);
	}
	close_snapshot(&r);
}

/* An entry snapshot takes argv per request (and a new AT_RANDOM). */
LINUX_TEST(entry_snapshot_takes_argv_per_request)
{
	static const char *const none[] = {NULL};
	static const char *const sha[] = {"busybox", "sha256sum", NULL};
	static const char *const seq[] = {"busybox", "seq", "1", "37", NULL};
	struct request_sandbox r = {0};
	struct snapvm_error err;
	char file[PATH_MAX];
	static unsigned char in[8192], out[8192];

	REQUIRE_BACKEND();
	path_in(file, sizeof(file), self->dir, "entry.snap");
	ASSERT_EQ(0, make_snapshot(self, file, "entry", none));
	ASSERT_EQ(0, open_snapshot(self, variant, file, NULL, &r, &err)) TH_LOG("%s", err.message);
	for (int i = 0; i < REQUESTS; i++) {
		const char *const *argv = i % 2 ? seq : sha;
		size_t in_len = (size_t)(i * 89) % sizeof(in), out_len, want_len;
		int status, want_status;
		char *want;

		ASSERT_EQ((ssize_t)in_len, getrandom(in, in_len, 0));
		ASSERT_EQ(0, snapvm_linux_set_args(r.lx, argv, NULL, &err));
		ASSERT_EQ(0, snapvm_linux_request(r.sandbox, r.lx, in, in_len, out, sizeof(out),
						  &out_len, &status, 60000, &err))
		TH_LOG("%s", err.message);
		want = native(self, argv + 1, in, in_len, &want_len, &want_status);
		ASSERT_NE(NULL, want);
		EXPECT_EQ(want_status, status);
		EXPECT_EQ(want_len, out_len);
		EXPECT_EQ(0, memcmp(want, out, want_len < out_len ? want_len : out_len));
		free(want);
	}
	close_snapshot(&r);
}

/* The launcher's side of it: --from=F --repeat=N feeds stdin to each run. */
LINUX_TEST(launcher_from_snapshot_repeats)
{
	static const char *const args[] = {"wc", "-c", NULL};
	char file[PATH_MAX], out[PATH_MAX], err[PATH_MAX];
	const char *in;
	size_t len;
	char *text;

	REQUIRE_BACKEND();
	path_in(file, sizeof(file), self->dir, "wc.snap");
	path_in(out, sizeof(out), self->dir, "out");
	path_in(err, sizeof(err), self->dir, "err");
	in = make_input(self, "in", "12345\n", 0);
	ASSERT_EQ(0, make_snapshot(self, file, "first-read", args));
	ASSERT_EQ(0, spawn((const char *const[]){self->snapvm, "run", self->memory_opt, "--from",
						 file, "--repeat=3", NULL},
			   in, out, err));
	text = slurp(out, &len);
	EXPECT_STREQ("6\n6\n6\n", text ? text : "");
	free(text);
}

/* ---- --root ---- */

static bool write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX];
	FILE *f;
	bool ok;

	path_in(path, sizeof(path), dir, name);
	f = fopen(path, "wb");
	if (!f)
		return false;
	ok = fwrite(data, 1, len, f) == len;
	return !fclose(f) && ok;
}

/* DIR/root: files, a subdirectory, decoys of /etc/passwd and /etc/hostname
 * and symlinks that point out of it (absolute, relative, through /proc). */
static void make_root(struct __test_metadata *_metadata, FIXTURE_DATA(lx) * self, char *root,
		      size_t size)
{
	char path[PATH_MAX];
	size_t len;
	char *tz;

	path_in(root, size, self->dir, "root");
	ASSERT_EQ(0, mkdir(root, 0755));
	path_in(path, sizeof(path), root, "sub");
	ASSERT_EQ(0, mkdir(path, 0755));
	path_in(path, sizeof(path), root, "etc");
	ASSERT_EQ(0, mkdir(path, 0755));
	ASSERT_TRUE(write_file(root, "hello.txt", "hello from the root\n", 20));
	ASSERT_TRUE(write_file(root, "sub/a.txt", "a\n", 2));
	ASSERT_TRUE(write_file(root, "etc/passwd", "decoy passwd\n", 13));
	ASSERT_TRUE(write_file(root, "etc/hostname", "decoy hostname\n", 15));
	/* The host's time zone, so that date agrees with native date. */
	tz = slurp("/etc/localtime", &len);
	if (tz)
		ASSERT_TRUE(write_file(root, "etc/localtime", tz, len));
	free(tz);
	path_in(path, sizeof(path), root, "abs");
	ASSERT_EQ(0, symlink("/etc/passwd", path));
	path_in(path, sizeof(path), root, "sub/up");
	ASSERT_EQ(0, symlink("../../etc/hostname", path));
	path_in(path, sizeof(path), root, "shadow");
	ASSERT_EQ(0, symlink("/etc/shadow", path));
	path_in(path, sizeof(path), root, "proc-root");
	ASSERT_EQ(0, symlink("/proc/self/root/etc/passwd", path));
}

/* snapvm run --root=ROOT busybox ARGS: status, stdout and stderr. */
static int in_root(FIXTURE_DATA(lx) * self, const char *root, const char *const *args, char **out,
		   char **err)
{
	char root_opt[PATH_MAX + 8], o[PATH_MAX], e[PATH_MAX];
	const char *argv[32];
	int n = 0, status;
	size_t len;

	argv[n++] = self->snapvm;
	argv[n++] = "run";
	argv[n++] = self->memory_opt;
	argv[n++] = "--timeout=300";
	if (root) {
		snprintf(root_opt, sizeof(root_opt), "--root=%s", root);
		argv[n++] = root_opt;
	}
	argv[n++] = self->busybox;
	for (; *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	path_in(o, sizeof(o), self->dir, "root.out");
	path_in(e, sizeof(e), self->dir, "root.err");
	status = spawn(argv, NULL, o, e);
	*out = slurp(o, &len);
	*err = slurp(e, &len);
	return status;
}

#define IN_ROOT(root, ...) in_root(self, root, (const char *const[]){__VA_ARGS__, NULL}, &out, &err)

/* cat and ls inside --root; symlinks out of it land on the decoys inside;
 * /proc does not exist; no --root: no file at all. */
LINUX_TEST(root_reads_inside_only)
{
	char root[PATH_MAX / 2 + 16], path[PATH_MAX];
	char *out = NULL, *err = NULL, *host_passwd;
	size_t len;

	REQUIRE_BACKEND();
	make_root(_metadata, self, root, sizeof(root));
	host_passwd = slurp("/etc/passwd", &len);
	ASSERT_NE(NULL, host_passwd);

	EXPECT_EQ(0, IN_ROOT(root, "cat", "/hello.txt", "sub/a.txt"));
	EXPECT_STREQ("hello from the root\na\n", out ? out : "") TH_LOG("%s", err);
	free(out), free(err);
	EXPECT_EQ(0, IN_ROOT(root, "cat", "/abs", "/sub/up", "../../../etc/passwd"));
	EXPECT_STREQ("decoy passwd\ndecoy hostname\ndecoy passwd\n", out ? out : "")
	TH_LOG("%s", err);
	free(out), free(err);
	/* Nothing there inside the root: ENOENT, and never the host's file. */
	EXPECT_EQ(1, IN_ROOT(root, "cat", "/shadow"));
	EXPECT_STREQ("", out ? out : "x");
	free(out), free(err);
	EXPECT_EQ(1, IN_ROOT(root, "cat", "/proc-root"));
	EXPECT_EQ(NULL, out && strstr(out, host_passwd) ? out : NULL);
	free(out), free(err);
	EXPECT_EQ(1, IN_ROOT(root, "cat", "/proc/self/status"));
	EXPECT_STREQ("", out ? out : "x");
	free(out), free(err);

	/* ls -1a: exactly the native listing of the directory. */
	EXPECT_EQ(0, IN_ROOT(root, "ls", "-1a", "/"));
	{
		char *nat;
		char nat_out[PATH_MAX], nat_err[PATH_MAX];

		path_in(nat_out, sizeof(nat_out), self->dir, "ls.out");
		path_in(nat_err, sizeof(nat_err), self->dir, "ls.err");
		ASSERT_EQ(0, spawn((const char *const[]){self->busybox, "ls", "-1a", root, NULL},
				   NULL, nat_out, nat_err));
		nat = slurp(nat_out, &len);
		EXPECT_STREQ(nat ? nat : "", out ? out : "") TH_LOG("%s", err);
		free(nat);
	}
	free(out), free(err);
	/* ls -la: stat and readlink of each entry (sizes, link targets). */
	EXPECT_EQ(0, IN_ROOT(root, "ls", "-la", "/", "/sub"));
	ASSERT_NE(NULL, out);
	EXPECT_NE(NULL, strstr(out, " 20 ")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, " hello.txt\n")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, " abs -> /etc/passwd\n")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, " up -> ../../etc/hostname\n")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\ndrwx")) TH_LOG("%s", out);
	free(out), free(err);
	/* sh cannot fork: builtins only. */
	EXPECT_EQ(0, IN_ROOT(root, "sh", "-c",
			     "test -r /hello.txt && test -d /sub && test ! -e /nope && "
			     "read l < /hello.txt && echo \"$l\""));
	EXPECT_STREQ("hello from the root\n", out ? out : "") TH_LOG("%s", err);
	free(out), free(err);
	EXPECT_EQ(0, IN_ROOT(root, "readlink", "/abs"));
	EXPECT_STREQ("/etc/passwd\n", out ? out : "") TH_LOG("%s", err);
	free(out), free(err);
	EXPECT_EQ(0, IN_ROOT(root, "head", "-c", "5", "/hello.txt"));
	EXPECT_STREQ("hello", out ? out : "") TH_LOG("%s", err);
	free(out), free(err);
	EXPECT_EQ(0, IN_ROOT(root, "wc", "-c", "/hello.txt"));
	EXPECT_STREQ("20 /hello.txt\n", out ? out : "") TH_LOG("%s", err);
	free(out), free(err);

	/* Without --root no path exists. */
	EXPECT_EQ(1, IN_ROOT(NULL, "cat", "/etc/passwd"));
	EXPECT_STREQ("", out ? out : "x");
	EXPECT_NE(NULL, err && strstr(err, "No such file")) TH_LOG("%s", err);
	free(out), free(err);
	path_in(path, sizeof(path), root, "hello.txt");
	EXPECT_EQ(1, IN_ROOT(NULL, "cat", path));
	free(out), free(err);
	free(host_passwd);
}

/* Writes give EROFS and change nothing; date reads the root's time zone. */
LINUX_TEST(root_is_read_only)
{
	char root[PATH_MAX / 2 + 16], root_opt[PATH_MAX + 8], path[PATH_MAX];
	char *out = NULL, *err = NULL, *text;
	size_t len;

	REQUIRE_BACKEND();
	make_root(_metadata, self, root, sizeof(root));
	EXPECT_NE(0, IN_ROOT(root, "touch", "/new"));
	EXPECT_NE(NULL, err && strstr(err, "Read-only file system")) TH_LOG("%s", err);
	free(out), free(err);
	path_in(path, sizeof(path), root, "new");
	EXPECT_NE(0, access(path, F_OK));
	EXPECT_NE(0, IN_ROOT(root, "sh", "-c", "echo x > /hello.txt"));
	EXPECT_NE(NULL, err && strstr(err, "Read-only file system")) TH_LOG("%s", err);
	free(out), free(err);
	EXPECT_NE(0, IN_ROOT(root, "sh", "-c", "echo x >> /sub/a.txt"));
	free(out), free(err);
	EXPECT_NE(0, IN_ROOT(root, "mkdir", "/d"));
	EXPECT_NE(NULL, err && strstr(err, "Read-only file system")) TH_LOG("%s", err);
	free(out), free(err);
	EXPECT_NE(0, IN_ROOT(root, "rm", "/hello.txt"));
	free(out), free(err);
	path_in(path, sizeof(path), root, "hello.txt");
	text = slurp(path, &len);
	EXPECT_STREQ("hello from the root\n", text ? text : "");
	free(text);

	snprintf(root_opt, sizeof(root_opt), "--root=%s", root);
	EXPECT_TRUE(same_as_native(_metadata, self, NULL, (const char *const[]){root_opt, NULL},
				   (const char *const[]){"date", "-d", "@1700000000", NULL}));
	EXPECT_TRUE(same_as_native(
	    _metadata, self, NULL, (const char *const[]){root_opt, NULL},
	    (const char *const[]){"date", "-d", "@0", "+%Y-%m-%d %H:%M:%S %Z", NULL}));
}

TEST_HARNESS_MAIN
