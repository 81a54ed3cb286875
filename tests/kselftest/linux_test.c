// SPDX-License-Identifier: GPL-2.0
/*
 * linux_test.c - Linux programs as guests: Debian's busybox-static (i386 on
 * the i686 layout, amd64 on amd64; tests/vm/setup fetches both) runs under
 * `snapvm run` and must give the same stdout and exit status as the same
 * binary run natively on the test VM's kernel, on both memory backends;
 * the launcher's options; crafted programs that fault. Snapshots serving
 * requests are in linux_snapshot_test.c, --root in linux_root_test.c,
 * system-call fuzzing and bad arguments in linux_probe_test.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/kselftest/linux_fixture.h"

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

TEST_HARNESS_MAIN
