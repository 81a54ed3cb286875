// SPDX-License-Identifier: GPL-2.0
/*
 * linux_doc_test.c - docs/linux.md's system-call table and the Linux
 * personality's (guests/linux/syscalls.h, the one list in the code) agree:
 * every call the personality answers is documented with its amd64 and
 * i386 numbers, and the document lists no call it does not answer.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "guests/linux/syscalls.h"

struct entry {
	const char *name;
	int amd64, i386;
};

#define ROW(name, n64, n32, fn, fmt) {#name, n64, n32},
static const struct entry table[] = {LX_SYSCALLS(ROW)};
#define NENTRIES (sizeof(table) / sizeof(table[0]))

/* docs/linux.md of this checkout: the binary is build/tests/unit/NAME. */
static char *read_doc(void)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	FILE *f;
	char *buf;
	long size;

	if (n <= 0)
		return NULL;
	path[n] = 0;
	for (int i = 0; i < 4; i++)
		*strrchr(path, '/') = 0;
	strcat(path, "/docs/linux.md");
	f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)size + 1);
	if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static void number(char *buf, size_t size, int n)
{
	if (n < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%d", n);
}

TEST(every_call_is_documented_with_its_numbers)
{
	char *doc = read_doc();

	ASSERT_NE(NULL, doc);
	for (size_t i = 0; i < NENTRIES; i++) {
		char row[128], a[16], b[16];

		number(a, sizeof(a), table[i].amd64);
		number(b, sizeof(b), table[i].i386);
		snprintf(row, sizeof(row), "\n| %s | %s | %s | ", table[i].name, a, b);
		EXPECT_NE(NULL, strstr(doc, row)) TH_LOG("docs/linux.md lacks \"%s\"", row + 1);
	}
	free(doc);
}

TEST(the_document_lists_nothing_else)
{
	char *doc = read_doc(), *p;
	size_t rows = 0;

	ASSERT_NE(NULL, doc);
	p = strstr(doc, "\n| call | amd64 | i386 |");
	ASSERT_NE(NULL, p);
	p = strchr(p + 1, '\n'); /* the header */
	p = strchr(p + 1, '\n'); /* the rule */
	while (p && p[1] == '|') {
		rows++;
		p = strchr(p + 1, '\n');
	}
	EXPECT_EQ(NENTRIES, rows);
	free(doc);
}

TEST_HARNESS_MAIN
