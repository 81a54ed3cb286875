/* SPDX-License-Identifier: GPL-2.0 */
/*
 * seccomp_helpers.h - what seccomp_test.c and seccomp_escape_test.c share: a
 * directory's listing, to see that nothing changed in it.
 */
#ifndef SNAPVM_TESTS_SECCOMP_HELPERS_H
#define SNAPVM_TESTS_SECCOMP_HELPERS_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every name in dir (sorted, each followed by a space), to see nothing
 * changed. */
static inline void list_dir(const char *dir, char *names, size_t size)
{
	char *list[32];
	size_t n = 0, len = 0;
	struct dirent *e;
	DIR *d = opendir(dir);

	names[0] = '\0';
	while (d && (e = readdir(d)) && n < 32)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			list[n++] = strdup(e->d_name);
	if (d)
		closedir(d);
	qsort(list, n, sizeof(list[0]), by_name);
	for (size_t i = 0; i < n; i++) {
		len += snprintf(names + len, size > len ? size - len : 0, "%s ", list[i]);
		free(list[i]);
	}
}

#endif /* SNAPVM_TESTS_SECCOMP_HELPERS_H */
