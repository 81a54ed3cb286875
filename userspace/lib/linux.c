// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * linux.c - Linux programs as guests, host side: a program's lifecycle
 * (created from its ELF and options; the personality's snapshot, whose ELF
 * is embedded in the library, linux_personality.c; attached to a sandbox)
 * and requests (restore, feed stdin, collect stdout and the exit status).
 * linux_elf.c validates the program, linux_files.c serves --root and
 * linux_hostcalls.c the personality's other host calls. See docs/linux.md.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layout/i686.h"
#include "userspace/lib/linux_host.h"

/* The personality needs its page tables and a heap besides the program. */
#define LX_DEFAULT_MAX_MEMORY (256ULL << 20)
#define LX_MIN_MEMORY	      (8ULL << 20)
/* i686: scratch must stay above the user range (LX_USER_TOP_I686). */
#define LX_I686_MAX_SCRATCH (I686_MAX_GPA + 1 - LX_USER_TOP_I686)
#define LX_ARGS_MAX	    (128U << 10)

static int set_args(struct snapvm_linux *lx, const char *const *argv, const char *const *envp,
		    struct snapvm_error *err)
{
	size_t len = sizeof(struct lx_args);
	uint32_t argc = 0, envc = 0;
	unsigned char *p;

	for (; argv && argv[argc]; argc++)
		len += strlen(argv[argc]) + 1;
	for (; envp && envp[envc]; envc++)
		len += strlen(envp[envc]) + 1;
	if (len - sizeof(struct lx_args) > LX_ARGS_MAX)
		return snapvm_fail(err, EX_USAGE, "arguments and environment exceed %u bytes",
				   LX_ARGS_MAX);
	p = malloc(len);
	if (!p)
		return snapvm_fail(err, EX_OSERR, "out of memory for the arguments");
	free(lx->args);
	lx->args = p;
	lx->args_len = len;
	((struct lx_args *)p)->argc = argc;
	((struct lx_args *)p)->envc = envc;
	((struct lx_args *)p)->strings_len = (uint32_t)(len - sizeof(struct lx_args));
	p += sizeof(struct lx_args);
	for (uint32_t i = 0; i < argc; i++)
		p = (unsigned char *)stpcpy((char *)p, argv[i]) + 1;
	for (uint32_t i = 0; i < envc; i++)
		p = (unsigned char *)stpcpy((char *)p, envp[i]) + 1;
	return 0;
}

int snapvm_linux_create(const char *program, const struct snapvm_linux_options *o,
			struct snapvm_linux **out, struct snapvm_error *err)
{
	struct snapvm_linux *lx = calloc(1, sizeof(*lx));
	bool is_linux, dynamic;
	int ret;

	*out = NULL;
	if (!lx)
		return snapvm_fail(err, EX_OSERR, "out of memory");
	lx->in_fd = 0;
	lx->out_fd = 1;
	lx->err_fd = 2;
	lx->root_fd = -1;
	for (int i = 0; i < LX_MAX_FILES; i++)
		lx->files[i] = -1;
	/* A fresh program starts with every signal at SIG_DFL; a snapshot's
	 * tells its own when it resumes. */
	lx->sig_known = program != NULL;
	lx->sig_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (lx->sig_efd < 0) {
		ret = snapvm_fail(err, EX_OSERR, "eventfd: %s", strerror(errno));
		free(lx);
		return ret;
	}
	if (o->root) {
		lx->root_fd = open(o->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (lx->root_fd < 0) {
			ret = snapvm_fail(
			    err, errno == ENOENT || errno == ENOTDIR ? EX_NOINPUT : EX_OSERR,
			    "--root=%s: %s", o->root, strerror(errno));
			close(lx->sig_efd);
			free(lx);
			return ret;
		}
	}
	ret = lx_set_cwd(lx, o, err);
	if (ret) {
		snapvm_linux_destroy(lx);
		return ret;
	}
	lx->snapshot_at = o->snapshot_at;
	lx->snapshot_pending = o->snapshot_at == SNAPVM_LINUX_SNAPSHOT_FIRST_READ;
	lx->max_memory = o->max_memory ? o->max_memory : LX_DEFAULT_MAX_MEMORY;
	if (lx->max_memory < LX_MIN_MEMORY) {
		snapvm_linux_destroy(lx);
		return snapvm_fail(err, EX_USAGE,
				   "--max-memory: a Linux program needs at least %llu MiB",
				   LX_MIN_MEMORY >> 20);
	}
	ret = set_args(lx, o->argv, o->envp, err);
	if (!ret && program) {
		lx->path = strdup(program);
		ret =
		    snapvm_read_file(program, 1ULL << 30, (void **)&lx->file, &lx->file_size, err);
		if (!ret) {
			lx_classify(lx->file, lx->file_size, &is_linux, &dynamic);
			if (dynamic)
				ret = snapvm_fail(err, EX_DATAERR,
						  "%s is dynamically linked (it has PT_INTERP): "
						  "only static Linux programs run in snapvm",
						  program);
			else if (lx->file_size < EI_NIDENT || memcmp(lx->file, ELFMAG, SELFMAG))
				ret = snapvm_fail(err, EX_DATAERR, "%s: not an ELF file", program);
			else if (lx->file[EI_CLASS] != ELFCLASS64 &&
				 lx->file[EI_CLASS] != ELFCLASS32)
				ret = snapvm_fail(err, EX_DATAERR, "%s: bad ELF class", program);
		}
		if (!ret) {
			lx->layout = lx->file[EI_CLASS] == ELFCLASS64 ? SNAPVM_LAYOUT_AMD64
								      : SNAPVM_LAYOUT_I686;
			if ((lx->file[EI_CLASS] == ELFCLASS64 &&
			     lx->file_size < sizeof(Elf64_Ehdr)) ||
			    lx->file_size < sizeof(Elf32_Ehdr))
				ret = snapvm_fail(err, EX_DATAERR, "%s: truncated ELF header",
						  program);
		}
		if (!ret)
			ret = lx_build_setup(lx, err);
		if (!ret) {
			lx->setup.flags =
			    (o->trace_syscalls ? LX_SETUP_TRACE : 0) |
			    (o->snapshot_at == SNAPVM_LINUX_SNAPSHOT_ENTRY ? LX_SETUP_SNAPSHOT_ENTRY
									   : 0);
			for (int fd = 0; fd < 3; fd++)
				if (isatty(fd))
					lx->setup.flags |= 1U << (LX_SETUP_TTY_SHIFT + fd);
			lx->setup.max_pages = lx->max_memory / SNAPVM_GUEST_PAGE_SIZE;
			snprintf(lx->setup.cwd, sizeof(lx->setup.cwd), "%s", lx->cwd);
			snprintf(lx->setup.nodename, sizeof(lx->setup.nodename), "%s",
				 o->hostname ? o->hostname : "");
		}
	}
	if (ret) {
		snapvm_linux_destroy(lx);
		return ret;
	}
	*out = lx;
	return 0;
}

void snapvm_linux_destroy(struct snapvm_linux *lx)
{
	if (!lx)
		return;
	lx_files_reset(lx);
	if (lx->root_fd >= 0)
		close(lx->root_fd);
	if (lx->sig_efd >= 0)
		close(lx->sig_efd);
	free(lx->path);
	free(lx->file);
	free(lx->args);
	free(lx);
}

int snapvm_linux_root_fd(const struct snapvm_linux *lx)
{
	return lx->root_fd;
}

uint32_t snapvm_linux_layout(const struct snapvm_linux *lx)
{
	return lx->layout;
}

int snapvm_linux_snapshot(struct snapvm_linux *lx, enum snapvm_memory memory,
			  struct snapvm_snapshot **snapshot, struct snapvm_error *err)
{
	struct snapvm_snapshot_options options = {.layout = lx->layout, .memory = memory};
	size_t size;
	const unsigned char *elf = snapvm_linux_personality(lx->layout, &size);
	char path[64];
	int fd, ret;

	if (!lx->file)
		return snapvm_fail(err, EX_USAGE, "no Linux program to make a snapshot of");
	/* The personality needs scratch for its tables and the program's
	 * memory; i686 keeps scratch above the user range. */
	options.scratch_size = snapvm_page_align_up(lx->max_memory + (16ULL << 20));
	options.scratch_size = (options.scratch_size + 0x1fffff) & ~0x1fffffULL;
	if (lx->layout == SNAPVM_LAYOUT_I686 && options.scratch_size > LX_I686_MAX_SCRATCH)
		options.scratch_size = LX_I686_MAX_SCRATCH & ~0x1fffffULL;
	options.max_memory = options.scratch_size + (64ULL << 20);
	fd = memfd_create("snapvm-linux-personality", MFD_CLOEXEC);
	if (fd < 0)
		return snapvm_fail(err, EX_OSERR, "memfd_create: %s", strerror(errno));
	if (write(fd, elf, size) != (ssize_t)size) {
		close(fd);
		return snapvm_fail(err, EX_OSERR, "writing the personality: %s", strerror(errno));
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ret = snapvm_snapshot_from_elf(path, &options, snapshot, err);
	close(fd);
	return ret;
}

bool snapvm_snapshot_is_linux(const struct snapvm_snapshot *snapshot)
{
	uint64_t gpa, size;
	const unsigned char *mem = snapvm_snapshot_memory(snapshot, &gpa, &size);

	return mem && LX_MAGIC_GPA >= gpa && LX_MAGIC_GPA - gpa + sizeof(LX_MAGIC) <= size &&
	       !memcmp(mem + (LX_MAGIC_GPA - gpa), LX_MAGIC, sizeof(LX_MAGIC));
}

int snapvm_linux_attach(struct snapvm_linux *lx, struct snapvm_sandbox *sb,
			struct snapvm_error *err)
{
	return lx_host_calls_attach(lx, sb, err);
}

int snapvm_linux_set_args(struct snapvm_linux *lx, const char *const *argv, const char *const *envp,
			  struct snapvm_error *err)
{
	return set_args(lx, argv, envp, err);
}

void snapvm_linux_set_input(struct snapvm_linux *lx, int fd, const void *buf, size_t len)
{
	lx->in_fd = fd;
	lx->in_buf = buf;
	lx->in_len = len;
	lx->in_pos = 0;
}

int snapvm_linux_request(struct snapvm_sandbox *sb, struct snapvm_linux *lx, const void *in,
			 size_t in_len, void *out, size_t out_cap, size_t *out_len, int *status,
			 uint64_t timeout_ms, struct snapvm_error *err)
{
	struct snapvm_outcome outcome;
	int ret;

	lx_signals_clear(lx, sb);
	ret = snapvm_sandbox_restore(sb, err);
	*out_len = 0;
	*status = 0;
	if (ret)
		return ret;
	snapvm_linux_set_input(lx, -1, in ? in : "", in_len);
	lx->out_buf = out;
	lx->out_cap = out_cap;
	lx->out_len = 0;
	lx->out_overflow = false;
	ret = snapvm_sandbox_run(sb, timeout_ms, &outcome, err);
	lx_files_reset(lx); /* also after a timeout or fault */
	lx->out_buf = NULL;
	snapvm_linux_set_input(lx, 0, NULL, 0);
	if (ret)
		return ret;
	*out_len = lx->out_len;
	if (outcome.stop == SNAPVM_STOP_ABORT || outcome.stop == SNAPVM_STOP_FAULT) {
		char line[1400];
		int n = snprintf(line, sizeof(line), "snapvm: request: %s%s\n",
				 outcome.stop == SNAPVM_STOP_ABORT ? "personality aborted: " : "",
				 outcome.message);

		if (n > 0)
			lx_write_all(lx->err_fd, (const unsigned char *)line,
				     (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	if (lx->out_overflow)
		return snapvm_fail(err, EX_DATAERR, "the program wrote more than %zu bytes",
				   out_cap);
	*status = snapvm_outcome_exit_status(&outcome);
	return 0;
}
