/* SPDX-License-Identifier: GPL-2.0 */
/*
 * linux_helpers.h - what the Linux-program tests and bench/linux.c share,
 * without the kselftest harness: running a program with its stdio in files
 * (so busybox runs natively and under snapvm alike), reading and writing
 * files, and writing a tiny static Linux program around a few bytes of code.
 */
#ifndef SNAPVM_TESTS_LINUX_HELPERS_H
#define SNAPVM_TESTS_LINUX_HELPERS_H

#include <elf.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run argv with stdin from in (NULL: /dev/null) and stdout, stderr to
 * files; the exit status, or 128 + signal. */
static inline int spawn(const char *const *argv, const char *in, const char *out, const char *err)
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

static inline char *slurp(const char *path, size_t *len)
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

static inline void path_in(char *buf, size_t size, const char *dir, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
}

static inline bool write_file(const char *dir, const char *name, const void *data, size_t len)
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

/* A program crafted around code: one PT_LOAD (R+X) at 0x400000, entry at
 * code, and a PT_GNU_STACK, so snapvm takes it for a Linux program. */

static inline int write_program(const char *path, bool is64, const unsigned char *code, size_t len)
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

#endif /* SNAPVM_TESTS_LINUX_HELPERS_H */
