/* SPDX-License-Identifier: GPL-2.0 */
/*
 * snapshot_fixture.h - what snapshot_test.c and snapshot_file_test.c share:
 * the snapshot fixture (both layouts, both memory backends; a guest's
 * snapshot taken), sandboxes created, restored and called, hashes of guest
 * memory, registers compared, pinned pages counted. Include after
 * kselftest_harness.h and vmm_test.h.
 */
#ifndef SNAPVM_TESTS_SNAPSHOT_FIXTURE_H
#define SNAPVM_TESTS_SNAPSHOT_FIXTURE_H

#define PINNED_PAGES_PATH "/sys/class/misc/snapvm/pinned_pages"
/* Small: every test hashes all of guest memory, under nested TCG. */
#define SCRATCH_SIZE (1ULL << 20)
#define RESTORES     5
#define CYCLES	     1000
#define OUTPUT_MAX   (64 << 10)

static inline long pinned_pages(void)
{
	FILE *f = fopen(PINNED_PAGES_PATH, "r");
	long n = -1;

	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

static inline int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

FIXTURE(snapshot)
{
	char guests[PATH_MAX];
	char tmp[PATH_MAX];
	char skip[256];
	struct snapvm_error err;
	struct snapvm_outcome outcome;
	struct snapvm_snapshot_options options;
	/* call-loop stopped at its SNAPSHOT, and the snapshot it took */
	struct snapvm_sandbox *taker;
	struct snapvm_snapshot *taken;
	int output_fd; /* a memfd collecting guest output */
};

VMM_VARIANTS(snapshot);

static inline const char *guest_path(FIXTURE_DATA(snapshot) * self, const char *name)
{
	static char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s.elf", self->guests, name);
	return path;
}

/* Start guest `name` and run it to its SNAPSHOT; *taken is that snapshot. */
static inline int take(FIXTURE_DATA(snapshot) * self, const char *name,
		       struct snapvm_sandbox **taker, struct snapvm_snapshot **taken)
{
	struct snapvm_sandbox_options sandbox_options = {.output_fd = self->output_fd};
	struct snapvm_snapshot *elf;
	int ret;

	*taker = NULL;
	*taken = NULL;
	ret = snapvm_snapshot_from_elf(guest_path(self, name), &self->options, &elf, &self->err);
	if (ret)
		return ret;
	ret = snapvm_sandbox_create(elf, &sandbox_options, taker, &self->err);
	snapvm_snapshot_put(elf);
	if (!ret)
		ret = snapvm_sandbox_run(*taker, 60000, &self->outcome, &self->err);
	if (!ret && self->outcome.stop != SNAPVM_STOP_SNAPSHOT) {
		snprintf(self->err.message, sizeof(self->err.message),
			 "stopped with %d before SNAPSHOT: %.1200s", self->outcome.stop,
			 self->outcome.message);
		ret = EX_SOFTWARE;
	}
	if (!ret)
		ret = snapvm_sandbox_take_snapshot(*taker, taken, &self->err);
	return ret;
}

FIXTURE_SETUP(snapshot)
{
	const char *build = vmm_build_dir();

	ASSERT_NE(NULL, build);
	snprintf(self->guests, sizeof(self->guests), "%s/guests/%s", build, variant->layout);
	self->options = (struct snapvm_snapshot_options){
	    .layout = variant->layout_id,
	    .memory = variant->memory_id,
	    .scratch_size = SCRATCH_SIZE,
	};
	self->output_fd = memfd_create("guest-output", MFD_CLOEXEC);
	ASSERT_LE(0, self->output_fd);
	ASSERT_NE(NULL, vmm_make_tmpdir(self->tmp, sizeof(self->tmp), "snapshot"))
	TH_LOG("mkdtemp %s: %s", self->tmp, strerror(errno));

	vmm_skip_reason(variant->memory_id, self->skip, sizeof(self->skip));
	if (self->skip[0])
		return;
	ASSERT_EQ(0, take(self, "call-loop", &self->taker, &self->taken))
	TH_LOG("call-loop to its SNAPSHOT: %s", self->err.message);
}

FIXTURE_TEARDOWN(snapshot)
{
	snapvm_sandbox_destroy(self->taker);
	snapvm_snapshot_put(self->taken);
	if (self->output_fd >= 0)
		close(self->output_fd);
	if (self->tmp[0] && vmm_remove_tmpdir(self->tmp))
		TH_LOG("could not remove %s", self->tmp);
}

#define CREATE(snap, sb)                                                                           \
	do {                                                                                       \
		struct snapvm_sandbox_options o_ = {.output_fd = self->output_fd};                 \
		ASSERT_EQ(0, snapvm_sandbox_create((snap), &o_, (sb), &self->err))                 \
		TH_LOG("create: %s", self->err.message);                                           \
	} while (0)

#define RESTORE(sb)                                                                                \
	ASSERT_EQ(0, snapvm_sandbox_restore((sb), &self->err))                                     \
	TH_LOG("restore: %s", self->err.message)

/* *result = function(arg) in the call-loop guest; the call must end at the
 * next CALL_WAIT. */
#define CALL(sb, function, arg, result)                                                            \
	do {                                                                                       \
		ASSERT_EQ(0, snapvm_sandbox_call((sb), (function), (arg), 60000, (result),         \
						 &self->outcome, &self->err))                      \
		TH_LOG("call %d: %s", (int)(function), self->err.message);                         \
		ASSERT_EQ((int)SNAPVM_STOP_CALL_WAIT, (int)self->outcome.stop)                     \
		TH_LOG("call %d stopped with %d: %s", (int)(function), self->outcome.stop,         \
		       self->outcome.message);                                                     \
	} while (0)

/* The guest output collected so far, then forgotten. */
static inline void take_output(FIXTURE_DATA(snapshot) * self, char *buf, size_t size)
{
	ssize_t n = pread(self->output_fd, buf, size - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	if (ftruncate(self->output_fd, 0) || lseek(self->output_fd, 0, SEEK_SET))
		buf[0] = '\0';
}

/* FNV-1a over all guest memory as the sandbox sees it; the boot info's
 * seed and generation are left out (they differ by design). */
static inline int memory_hash(struct snapvm_sandbox *sb, struct snapvm_snapshot *snap,
			      uint64_t *hash, struct snapvm_error *err)
{
	uint64_t gpa, size, scratch_gpa = snapvm_snapshot_scratch_gpa(snap);
	uint64_t scratch_size = snapvm_snapshot_scratch_size(snap);
	unsigned char *buf;
	int ret;

	snapvm_snapshot_memory(snap, &gpa, &size);
	buf = malloc(size > scratch_size ? size : scratch_size);
	if (!buf)
		return EX_OSERR;
	ret = snapvm_sandbox_read_gpa(sb, gpa, buf, size, err);
	*hash = snapvm_hash64(SNAPVM_HASH64_INIT, buf, size);
	if (!ret)
		ret = snapvm_sandbox_read_gpa(sb, scratch_gpa, buf, scratch_size, err);
	if (!ret) {
		struct snapvm_boot_info *info = (struct snapvm_boot_info *)buf;

		info->random_seed = 0;
		info->generation = 0;
		*hash = snapvm_hash64(*hash, buf, scratch_size);
	}
	free(buf);
	return ret;
}

static inline uint64_t snapshot_bytes_hash(struct snapvm_snapshot *snap)
{
	uint64_t gpa, size;
	const void *p = snapvm_snapshot_memory(snap, &gpa, &size);

	return snapvm_hash64(SNAPVM_HASH64_INIT, p, size);
}

/* Equal registers, or a log line naming the first that differs. */
static inline bool same_registers(struct __test_metadata *_metadata,
				  const struct snapvm_registers *a,
				  const struct snapvm_registers *b, const char *what)
{
#define SAME(field)                                                                                \
	do {                                                                                       \
		if (a->field != b->field) {                                                        \
			TH_LOG("%s: " #field " 0x%llx != 0x%llx", what,                            \
			       (unsigned long long)a->field, (unsigned long long)b->field);        \
			return false;                                                              \
		}                                                                                  \
	} while (0)
	for (int i = 0; i < 16; i++)
		SAME(gpr[i]);
	SAME(rip);
	SAME(rflags);
	SAME(cr0);
	SAME(cr2);
	SAME(cr3);
	SAME(cr4);
	SAME(efer);
	for (int i = 0; i < 8; i++)
		SAME(segment[i]);
	SAME(fs_base);
	SAME(gs_base);
	SAME(gdt_base);
	SAME(idt_base);
	SAME(gdt_limit);
	SAME(idt_limit);
	SAME(fpu_hash);
	SAME(msr_hash);
	SAME(other_hash);
	return true;
#undef SAME
}

#endif /* SNAPVM_TESTS_SNAPSHOT_FIXTURE_H */
