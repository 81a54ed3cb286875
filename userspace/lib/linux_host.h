/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * linux_host.h - what the files of libsnapvm's Linux host side share:
 * the state of one Linux program (struct snapvm_linux) and the calls
 * between linux.c (lifecycle, requests), linux_elf.c (classification,
 * validation), linux_files.c (--root) and linux_hostcalls.c (the
 * personality's host calls, signals). See docs/linux.md.
 */
#ifndef SNAPVM_LINUX_HOST_H
#define SNAPVM_LINUX_HOST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "layout/linux.h"
#include "userspace/lib/internal.h"

struct snapvm_linux {
	char *path;
	unsigned char *file; /* the program, read once */
	size_t file_size;
	uint32_t layout;
	uint64_t max_memory;
	struct lx_setup setup;
	unsigned char *args; /* struct lx_args + strings, random filled per call */
	size_t args_len;
	/* I/O: fds, or buffers for a request. */
	int in_fd, out_fd, err_fd;
	const unsigned char *in_buf;
	size_t in_len, in_pos;
	unsigned char *out_buf;
	size_t out_cap, out_len;
	bool out_overflow;
	int snapshot_at;
	bool snapshot_pending; /* first-read: the next stdin read snapshots */
	/* --root: the directory, and the files the program opened in it.
	 * A handle is gen * LX_MAX_FILES + slot, so one that a restored fd
	 * table still holds gives EBADF after a reset, not another file. */
	int root_fd;
	char cwd[LX_CWD_MAX]; /* relative paths start here, inside the root */
	int files[LX_MAX_FILES];
	/* Each file's path in the root ("/sub"): a path relative to a
	 * directory fd is resolved as that path + "/" + it, from root_fd, so
	 * that the seccomp filter can allow openat2 from root_fd only. */
	char *paths[LX_MAX_FILES];
	uint32_t files_gen;
	/* Signals from the host (snapvm_linux_raise, any thread or a signal
	 * handler): the sandbox attached, what the program leaves to us
	 * (sig_known: its last LX_HC_SIGNALS said; until then, everything goes
	 * to the personality), the raised signals it has not fetched, and an
	 * eventfd that wakes a host call blocked for it (read, sleep). */
	struct snapvm_sandbox *sb;
	uint64_t sig_wants, sig_pending;
	int sig_known;
	int sig_efd;
};

/* linux_elf.c */
int lx_classify(const unsigned char *f, size_t size, bool *is_linux, bool *dynamic);
int lx_build_setup(struct snapvm_linux *lx, struct snapvm_error *err);

/* linux_files.c */
void lx_files_reset(struct snapvm_linux *lx);
int lx_set_cwd(struct snapvm_linux *lx, const struct snapvm_linux_options *o,
	       struct snapvm_error *err);
void lx_stat_of(const struct stat *st, struct lx_stat *s);
int64_t lx_hc_file(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len, void *out,
		   size_t cap);
int64_t lx_hc_files_reset(void *ctx, struct snapvm_sandbox *sb, const void *in, size_t in_len,
			  void *out, size_t cap);

/* linux_hostcalls.c */
int lx_host_calls_attach(struct snapvm_linux *lx, struct snapvm_sandbox *sb,
			 struct snapvm_error *err);
void lx_signals_clear(struct snapvm_linux *lx, struct snapvm_sandbox *sb);
int64_t lx_write_all(int fd, const unsigned char *p, size_t len);

#endif
