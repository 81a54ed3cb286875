// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * seccomp_doc_test.c - the lists of allowed system calls in
 * userspace/lib/snapvm.h and docs/isolation.md name exactly the calls of the
 * filter's table (userspace/lib/seccomp.c): each call of the table appears in
 * both, and neither names a system call the table lacks.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <limits.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "userspace/lib/internal.h"

/* The checkout: this binary is build/tests/unit/seccomp_doc_test. */
static void repo_file(char *path, size_t size, const char *name)
{
	ssize_t n = readlink("/proc/self/exe", path, size - 1);

	path[n > 0 ? n : 0] = '\0';
	for (int i = 0; i < 4; i++) {
		char *slash = strrchr(path, '/');

		if (slash)
			*slash = '\0';
	}
	snprintf(path + strlen(path), size - strlen(path), "/%s", name);
}

/* The text of file from the line holding start up to the one holding end
 * (malloc'd), or NULL. */
static char *block(const char *name, const char *start, const char *end)
{
	char path[PATH_MAX], *text, *a, *b;
	FILE *f;
	long size;

	repo_file(path, sizeof(path), name);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	text = calloc(1, size + 1);
	if (fread(text, 1, size, f) != (size_t)size)
		size = 0;
	fclose(f);
	a = strstr(text, start);
	b = a ? strstr(a, end) : NULL;
	if (!size || !b) {
		free(text);
		return NULL;
	}
	memmove(text, a, b - a);
	text[b - a] = '\0';
	return text;
}

static bool in_table(const char *word)
{
	for (unsigned int i = 0; snapvm_seccomp_rule_name(i); i++)
		if (!strcmp(word, snapvm_seccomp_rule_name(i)))
			return true;
	return false;
}

static bool has_word(const char *text, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = strstr(text, word); p; p = strstr(p + 1, word))
		if ((p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_')) &&
		    !(isalnum((unsigned char)p[len]) || p[len] == '_'))
			return true;
	return false;
}

static void check(struct __test_metadata *_metadata, const char *name, const char *text)
{
	ASSERT_NE(NULL, text) TH_LOG("%s: no list of allowed calls found", name);
	for (unsigned int i = 0; snapvm_seccomp_rule_name(i); i++) {
		EXPECT_TRUE(has_word(text, snapvm_seccomp_rule_name(i)))
		TH_LOG("%s does not list %s", name, snapvm_seccomp_rule_name(i));
	}
	/* Every lower-case word that names an x86-64 system call. */
	for (const char *p = text; *p;) {
		char word[64];
		size_t n = 0;

		while (*p && !(isalnum((unsigned char)*p) || *p == '_'))
			p++;
		const char *start = p;

		while ((isalnum((unsigned char)*p) || *p == '_') && n < sizeof(word) - 1)
			word[n++] = *p++;
		word[n] = '\0';
		/* A file name (userspace/lib/seccomp.c) names no call. */
		if (start > text &&
		    (start[-1] == '/' || (*p == '.' && isalpha((unsigned char)p[1]))))
			n = 0;
		if (n && islower((unsigned char)word[0]) &&
		    seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, word) >= 0) {
			EXPECT_TRUE(in_table(word))
			TH_LOG("%s lists %s, which the filter does not allow", name, word);
		}
		while (*p && (isalnum((unsigned char)*p) || *p == '_'))
			p++;
	}
}

TEST(snapvm_h_lists_the_table)
{
	char *text = block("userspace/lib/snapvm.h", " * Allowed (x86-64", " * Not allowed");

	check(_metadata, "userspace/lib/snapvm.h", text);
	free(text);
}

TEST(readme_lists_the_table)
{
	char *text =
	    block("docs/isolation.md", "Allowed system calls", "`--no-seccomp` leaves it off");

	check(_metadata, "docs/isolation.md", text);
	free(text);
}

TEST(the_table_names_real_system_calls)
{
	for (unsigned int i = 0; snapvm_seccomp_rule_name(i); i++) {
		EXPECT_LE(0, seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64,
							       snapvm_seccomp_rule_name(i)))
		TH_LOG("%s", snapvm_seccomp_rule_name(i));
	}
}

TEST_HARNESS_MAIN
