// SPDX-License-Identifier: GPL-2.0
/*
 * linux_root_test.c - --root: a host directory the program sees read-only
 * as /; cat, ls, readlink and sh inside it; symlinks, ".." and /proc never
 * lead out of it; writes give EROFS; without --root no path exists.
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

/* ---- --root ---- */

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
