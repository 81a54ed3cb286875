/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * internal.h - libsnapvm's private interfaces between its parts: errors,
 * memory regions, guest-memory access, the ELF image, the per-layout
 * builders and the KVM backend. Host unit tests include it too.
 */
#ifndef SNAPVM_USERSPACE_INTERNAL_H
#define SNAPVM_USERSPACE_INTERNAL_H

#include <limits.h>
#include <signal.h>
#include <sys/types.h>
#include <time.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sysexits.h>

#include <linux/kvm.h>

#include "layout/abi.h"
#include "layout/common.h"
#include "userspace/lib/snapvm.h"

#define SNAPVM_PAGE SNAPVM_GUEST_PAGE_SIZE

/* ---- errors (error.c) ---- */

/* Fill err (may be NULL) and return status, so callers write
 * `return snapvm_fail(err, EX_DATAERR, "...")`. */
int snapvm_fail(struct snapvm_error *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, with ": strerror(errnum)" appended. */
int snapvm_fail_errno(struct snapvm_error *err, int status, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "16M", "4K", "12345": the shortest exact spelling of a size in SIZE syntax. */
void snapvm_format_size(uint64_t size, char *buf, size_t len);

/* ---- input files (file.c) ---- */

/*
 * Input files are read once into private memory and only that copy is
 * used: open with O_NONBLOCK (a FIFO must not hang us), refuse anything but
 * a regular file (EX_DATAERR naming its type) and files over max_size (0 =
 * no limit), read with pread for the size fstat gave. A missing or
 * unreadable file is EX_NOINPUT; one that shrinks while it is read is
 * EX_DATAERR ("truncated while reading"), never a SIGBUS.
 */
int snapvm_input_open(const char *path, uint64_t max_size, int *fd, uint64_t *size,
		      struct snapvm_error *err);
/* What a file that is not a regular one is, for messages: "a FIFO",
 * "a directory", "a character device", ... */
const char *snapvm_file_type(mode_t mode);
/* Exactly len bytes at offset, or EX_DATAERR when the file ends before. */
int snapvm_input_read(int fd, const char *path, void *buf, uint64_t len, uint64_t offset,
		      struct snapvm_error *err);
/* All of it into a malloc'd *buf (the caller frees it). */
int snapvm_read_file(const char *path, uint64_t max_size, void **buf, size_t *size,
		     struct snapvm_error *err);

/*
 * Output files (snapshot files, core dumps) are written atomically inside a
 * directory opened beforehand, so that the seccomp filter and Landlock can
 * confine them to it: snapvm_output_begin creates NAME.tmp.XXXXXX with
 * openat(dirfd, O_WRONLY | O_CREAT | O_EXCL), tmp gets its name;
 * snapvm_output_commit fsyncs and closes fd, and unless errnum (an earlier
 * error) or its own steps fail, renames tmp to name with renameat in dirfd
 * and fsyncs the directory; on failure it unlinks tmp. Both return 0 or an
 * errno value. name must be one plain file name (no '/', not "." or "..").
 */
#define SNAPVM_OUTPUT_TMP_SUFFIX ".tmp.XXXXXX"
int snapvm_output_name_check(const char *name);
int snapvm_output_begin(int dirfd, const char *name, char tmp[NAME_MAX + 1], int *fd);
int snapvm_output_commit(int dirfd, const char *tmp, const char *name, int fd, int errnum);

/* ---- memory regions (memory.c) ---- */

struct snapvm_region {
	int fd;
	uint64_t size;
	enum snapvm_memory memory; /* KMOD or MEMFD, never AUTO */
	bool sealed;
};

enum snapvm_map {
	SNAPVM_MAP_SHARED_RO,  /* amd64 snapshot view, host inspection */
	SNAPVM_MAP_SHARED_RW,  /* scratch */
	SNAPVM_MAP_PRIVATE_RW, /* i686 copy-on-write view of a sealed snapshot */
};

/* AUTO -> KMOD when /dev/snapvm exists, else MEMFD; KMOD checks the API. */
int snapvm_memory_resolve(enum snapvm_memory wanted, enum snapvm_memory *memory,
			  struct snapvm_error *err);
/* Zeroed, page-multiple; what names the region in messages. lazy: pages
 * are taken at first touch (memfd always; kmod when the module can). */
int snapvm_region_create(enum snapvm_memory memory, uint64_t size, const char *what, bool lazy,
			 struct snapvm_region *region, struct snapvm_error *err);
/* Can the module make private clones of this sealed region? */
bool snapvm_region_can_clone(const struct snapvm_region *sealed);
/* A new kmod region that reads as the sealed one and gets a page of its own
 * (pinned, charged) at each page's first write (SNAPVM_REGION_CLONE). */
int snapvm_region_clone(const struct snapvm_region *sealed, const char *what,
			struct snapvm_region *clone, struct snapvm_error *err);
int snapvm_region_write(struct snapvm_region *region, uint64_t offset, const void *buf,
			uint64_t len, struct snapvm_error *err);
/* No write ever again, by anyone: the module's SEAL or F_SEAL_WRITE. */
int snapvm_region_seal(struct snapvm_region *region, struct snapvm_error *err);
void *snapvm_region_map(struct snapvm_region *region, enum snapvm_map how,
			struct snapvm_error *err);
void snapvm_region_close(struct snapvm_region *region);

/* ---- guest memory and address translation (guestmem.c) ---- */

struct snapvm_guest_slot {
	uint64_t gpa;
	uint64_t size;
	unsigned char *host;
};

struct snapvm_guest_memory {
	struct snapvm_guest_slot slots[4];
	unsigned int nslots;
};

/* The control registers that decide how the guest translates addresses. */
struct snapvm_paging {
	uint64_t cr0, cr3, cr4, efer;
};

/* Host address of [gpa, gpa + len) when it lies inside one slot, else NULL:
 * the only way libsnapvm turns a guest address into a pointer. */
void *snapvm_gpa_to_host(const struct snapvm_guest_memory *mem, uint64_t gpa, uint64_t len);
/*
 * The choke point of every VMM load or store at a guest-chosen address:
 * make [host, host + len) of guest memory present (write: writable, so a
 * clone page is the region's own) before touching it. A snapvm.ko lazy or
 * clone page that cannot be charged (RLIMIT_MEMLOCK, max_total_mb, the
 * memory cgroup) would SIGBUS the whole process at its first touch; here it
 * is an errno (EFAULT, ENOMEM) and nothing was touched. 0 on success, and
 * on kernels before 5.14 (no MADV_POPULATE_*: nothing to ask).
 */
int snapvm_guest_prepare(const void *host, uint64_t len, bool write);
/* Walk the guest's page tables (or none, with paging off): the GPA for gva
 * and how many bytes from there stay inside the page. -1 when not mapped;
 * a positive errno when a page table's page cannot be made present. */
int snapvm_gva_to_gpa(const struct snapvm_guest_memory *mem, const struct snapvm_paging *paging,
		      uint64_t gva, uint64_t *gpa, uint64_t *contiguous);
/* Host pages already made present during one VM exit (nothing takes a
 * page away before the guest runs again): a walk of many pages asks
 * madvise once per page table and data page, not once per entry read. A
 * zeroed one is empty; never keep one across a guest run or a restore. */
#define SNAPVM_PREPARED_CACHE 8
struct snapvm_prepared {
	uintptr_t page[SNAPVM_PREPARED_CACHE]; /* host page | 1 when writable */
	unsigned int next;
};
int snapvm_gva_to_gpa_cached(const struct snapvm_guest_memory *mem,
			     const struct snapvm_paging *paging, uint64_t gva, uint64_t *gpa,
			     uint64_t *contiguous, struct snapvm_prepared *prepared);

/* [gva, gva + len) one piece at a time, each inside one guest page and one
 * slot, made present (see snapvm_guest_prepare; writable with write): its
 * host address and *chunk bytes, or NULL at the end, at the first byte that
 * is not mapped (done then says how far it got) or at the first page that
 * cannot be made present (error then holds its errno, and stays). present:
 * the caller made the pages present already (no madvise per piece). */
struct snapvm_guest_range {
	const struct snapvm_guest_memory *mem;
	const struct snapvm_paging *paging;
	uint64_t gva, len, done;
	bool write, present;
	int error;
	struct snapvm_prepared prepared;
};
const void *snapvm_guest_range_next(struct snapvm_guest_range *range, uint64_t *chunk);
/* Each piece of [gva, gva + len) of guest-virtual memory, through the
 * guest's own page tables, as host memory: first checks that every byte is
 * mapped and present (and gva + len does not wrap), then calls visit for
 * each piece, which lies inside one slot and never crosses a guest page.
 * Returns -1 when not all is mapped or present (nothing visited; *error is
 * 0, or the errno of a page that could not be made present), else the first
 * non-zero value visit returned (it must return >= 0), else 0. */
int snapvm_guest_range_visit(const struct snapvm_guest_memory *mem,
			     const struct snapvm_paging *paging, uint64_t gva, uint64_t len,
			     int (*visit)(void *ctx, const void *host, uint64_t len), void *ctx,
			     int *error);
/* The NUL-terminated string at gva, into buf (size >= 1 bytes): at most
 * size - 1 bytes, ending early at a NUL or the first byte not mapped or
 * present; always NUL-terminated. Returns its length, or -1 when gva itself
 * is not mapped or present. *error: 0, or the errno of the page that could
 * not be made present (where the string was cut). */
long snapvm_guest_read_string(const struct snapvm_guest_memory *mem,
			      const struct snapvm_paging *paging, uint64_t gva, char *buf,
			      size_t size, int *error);

/* ---- ELF guests (elf.c) ---- */

#define SNAPVM_ELF_MAX_SEGMENTS 64
/* The largest guest ELF file read into memory: a guest fills at most the
 * amd64 layout's snapshot, and anything that big is not a guest we build;
 * bounds the allocation a hostile path can cause. */
#define SNAPVM_ELF_MAX_FILE_SIZE ((4ULL << 30) + (256ULL << 20))

struct snapvm_elf_segment {
	unsigned int index; /* program header number, for messages */
	uint64_t vaddr, memsz, offset, filesz;
	uint32_t flags; /* PF_R | PF_W | PF_X */
};

struct snapvm_elf_image {
	const char *path;
	uint32_t layout; /* enum snapvm_layout_id */
	uint64_t entry;
	unsigned int nsegments; /* sorted by vaddr, non-overlapping */
	struct snapvm_elf_segment segments[SNAPVM_ELF_MAX_SEGMENTS];
	uint64_t end;		   /* page-aligned end of the highest segment */
	const unsigned char *file; /* the whole file, in private memory */
	size_t file_size;
	void *buffer; /* file when snapvm_elf_open read it: freed by close */
	void *elf;    /* Elf * */
};

/* Read (once, see snapvm_read_file) and check a guest ELF file; layout is
 * SNAPVM_LAYOUT_AUTO or one the ELF must match. EX_DATAERR with the file,
 * segment and reason otherwise. */
int snapvm_elf_open(const char *path, uint32_t layout, struct snapvm_elf_image *image,
		    struct snapvm_error *err);
/* The same checks on size bytes at buf, which stay the caller's and must
 * outlive the image (libelf may rewrite headers in place: buf is writable);
 * name is the file in messages. For snapvm_elf_open and the fuzzer. */
int snapvm_elf_parse(const char *name, void *buf, size_t size, uint32_t layout,
		     struct snapvm_elf_image *image, struct snapvm_error *err);
/* Copy the segments into buf, which holds guest memory from base_gpa
 * (image.c). */
void snapvm_elf_copy(const struct snapvm_elf_image *image, unsigned char *buf, uint64_t base_gpa,
		     uint64_t buf_size);
void snapvm_elf_close(struct snapvm_elf_image *image);

/* ---- vCPU state ---- */

/* Room for the MSRs a state saves: every MSR of KVM_GET_MSR_INDEX_LIST and
 * the MTRRs that a vCPU can read and write back (vcpu_state.c, kvm.c). */
#define SNAPVM_MAX_MSRS 512
/* Room for the CPUID entries KVM_GET_SUPPORTED_CPUID gives (about 60 today). */
#define SNAPVM_MAX_CPUID 160

/* Which parts of a struct snapvm_vcpu_state hold a captured value. */
#define SNAPVM_STATE_FULL  (1U << 0) /* everything but xsave/fpu/xcrs/cpuid */
#define SNAPVM_STATE_XSAVE (1U << 1) /* xsave, else fpu */
#define SNAPVM_STATE_XCRS  (1U << 2)
#define SNAPVM_STATE_CPUID (1U << 3) /* always: the guest's CPUID */
#define SNAPVM_STATE_PARTS                                                                         \
	(SNAPVM_STATE_FULL | SNAPVM_STATE_XSAVE | SNAPVM_STATE_XCRS | SNAPVM_STATE_CPUID)

/* A vCPU's state: regs and sregs are all an ELF entry state sets (KVM's
 * reset values for the rest); a captured state (SNAPSHOT) has everything.
 * KVM's own structures: they are the backend's native format. The struct
 * is saved as it is in snapshot files (fixed-size uapi structures). */
struct snapvm_vcpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint32_t parts; /* SNAPVM_STATE_* */
	uint32_t nmsrs;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debugregs;
	struct kvm_xcrs xcrs;
	struct kvm_fpu fpu;
	struct kvm_msr_entry msrs[SNAPVM_MAX_MSRS];
	struct kvm_xsave xsave;
	/* The guest's CPUID (snapvm_kvm_cpuid): the same for every sandbox
	 * of a snapshot, and saved with it. */
	uint32_t ncpuid;
	uint32_t reserved;
	struct kvm_cpuid_entry2 cpuid[SNAPVM_MAX_CPUID];
};

/* The FXSAVE image (512 bytes) of a state's FPU/SSE registers, from its
 * XSAVE area or its kvm_fpu (coredump.c; the gdb stub shows it too). */
void snapvm_fxsave_from_state(const struct snapvm_vcpu_state *state, unsigned char fx[512]);

/* At an ABORT whose frame names the interrupted context (layout/abi.h),
 * that context's registers into regs (coredump.c). False otherwise. */
struct snapvm_sandbox;
bool snapvm_fault_frame_regs(struct snapvm_sandbox *sb, const struct kvm_sregs *s,
			     struct kvm_regs *regs);

/* ---- layouts (arch_amd64.c, arch_i686.c, layout.c) ---- */

/* What a layout builds for one image and scratch size. */
struct snapvm_snapshot_image {
	unsigned char *snapshot; /* snapshot_size bytes from the layout's base GPA */
	uint64_t snapshot_size;
	unsigned char *scratch_init; /* written at scratch offset 0 in each sandbox */
	uint64_t scratch_init_size;
	struct snapvm_vcpu_state entry;
};

struct snapvm_arch {
	uint32_t layout; /* enum snapvm_layout_id */
	const char *name;
	unsigned int elf_class, elf_machine;
	uint64_t snapshot_base_gpa;
	uint64_t max_gpa;
	uint64_t min_scratch_size;
	/* ELF rules: refuse W+X segments; segments sharing a page must have
	 * the same rights (amd64 maps pages with exact rights). */
	bool refuse_wx, exact_page_rights;
	/* The snapshot region's size (from snapshot_base_gpa) and the bytes of
	 * scratch the VMM's own structures and the stack need, for a scratch
	 * of scratch_size: pure arithmetic, nothing is allocated. */
	uint64_t (*snapshot_size)(const struct snapvm_elf_image *image, uint64_t scratch_size);
	uint64_t (*scratch_needed)(const struct snapvm_elf_image *image, uint64_t scratch_size);
	uint64_t (*scratch_base_gpa)(uint64_t scratch_size);
	uint64_t (*scratch_base_gva)(uint64_t scratch_size);
	/* Build the snapshot bytes, the scratch template and entry state. */
	int (*build)(const struct snapvm_elf_image *image, uint64_t scratch_size,
		     struct snapvm_snapshot_image *out, struct snapvm_error *err);
	/* Truncate hypercall arguments to the guest's register width. */
	uint64_t arg_mask;
};

extern const struct snapvm_arch snapvm_arch_i686;
extern const struct snapvm_arch snapvm_arch_amd64;
const struct snapvm_arch *snapvm_arch_get(uint32_t layout);

/* Does a scratch of that size fit beside this image? (layout.c) */
bool snapvm_scratch_fits(const struct snapvm_arch *arch, const struct snapvm_elf_image *image,
			 uint64_t scratch_size);
/* The smallest and largest that fit, or 0/0 when none does. */
void snapvm_scratch_range(const struct snapvm_arch *arch, const struct snapvm_elf_image *image,
			  uint64_t *min, uint64_t *max);
/* EX_USAGE with a message naming the sizes that fit, or 0. */
int snapvm_scratch_check(const struct snapvm_arch *arch, const struct snapvm_elf_image *image,
			 uint64_t scratch_size, struct snapvm_error *err);
/* image.c: */
void snapvm_snapshot_image_free(struct snapvm_snapshot_image *out);

/* Fill the boot-info block every layout puts at scratch offset 0 (image.c). */
void snapvm_boot_info_init(struct snapvm_boot_info *info, const struct snapvm_arch *arch,
			   uint64_t snapshot_size, uint64_t scratch_size, uint64_t scratch_used,
			   uint64_t stack_size, uint64_t pt_gva);

/* ---- amd64 page tables (arch_amd64.c), exposed for the unit tests ---- */

/* One run of pages with the same rights, GVA order. */
struct amd64_mapping {
	uint64_t gva, gpa, npages;
	uint64_t flags; /* AMD64_PTE_* for the leaf entries */
};

struct amd64_page_tables {
	uint64_t *pages;     /* npages * 512 entries; pages[0..511] = PML4 */
	uint64_t npages;     /* exactly amd64_pt_count() of the mappings */
	uint64_t base_gpa;   /* where page 0 lives in guest memory */
	uint64_t window_gva; /* where the tables map themselves; 0 = nowhere */
	uint8_t *levels;     /* of each page: 3 = PML4, 2 = PDPT, 1 = PD, 0 = PT */
};

/* Table pages needed for these mappings plus, when window_gva is non-zero,
 * a read-only view of the tables themselves at window_gva. */
uint64_t amd64_pt_count(const struct amd64_mapping *maps, unsigned int nmaps, uint64_t window_gva);
/* Build them; base_gpa is where the tables will live. EX_OSERR on ENOMEM,
 * EX_SOFTWARE when mappings overlap or are not in GVA order. */
int amd64_pt_build(const struct amd64_mapping *maps, unsigned int nmaps, uint64_t base_gpa,
		   uint64_t window_gva, struct amd64_page_tables *pt, struct snapvm_error *err);
/* Copy the tables to live at new_base_gpa: every non-leaf pointer moves. */
void amd64_pt_relocate(const struct amd64_page_tables *pt, uint64_t new_base_gpa, uint64_t *dst);
void amd64_pt_free(struct amd64_page_tables *pt);
/* The mappings of an image in the amd64 layout (segments, then scratch);
 * returns how many were written (at most SNAPVM_ELF_MAX_SEGMENTS + 1). */
unsigned int amd64_image_mappings(const struct snapvm_elf_image *image, uint64_t scratch_size,
				  struct amd64_mapping *maps);

/* ---- the KVM backend (kvm.c, kvm_vcpu.c: the only files with KVM ioctls) ---- */

struct snapvm_kvm_vm {
	int fd;
	bool manual_protect; /* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 enabled */
};

struct snapvm_kvm_vcpu {
	int fd;
	struct kvm_run *run;
	size_t run_size;
	bool sync_regs;	      /* kvm_run.s.regs.regs is valid after each exit */
	bool sync_sregs;      /* kvm_run.s.regs.sregs too (read-only between exits) */
	bool sync_events;     /* KVM can take vCPU events from kvm_run */
	struct kvm_regs regs; /* fallback copy when sync_regs is false */
	/* The state whose CPUID the vCPU has (it outlives the vCPU). */
	const struct snapvm_vcpu_state *cpuid_from;
	/* The MSRs a state of this vCPU saves and restores. */
	uint32_t msrs[SNAPVM_MAX_MSRS];
	unsigned int nmsrs;
	/* The TSC offset it was created with: restore puts it back. */
	uint64_t tsc_offset;
	bool tsc_offset_valid;
	bool regs_fetched, regs_dirty;
	bool io_pending; /* the last exit was I/O: KVM finishes it on the next run */
	volatile sig_atomic_t kicked;
	/* An interrupt vector to inject (KVM_INTERRUPT, no in-kernel irqchip)
	 * once the guest can take it, 0: none; any thread sets it. */
	int inject_vector;
	sigset_t sigmask; /* what KVM_SET_SIGNAL_MASK gave it, when valid */
	bool sigmask_valid;
};

enum snapvm_exit_kind {
	SNAPVM_EXIT_IO = 1,
	SNAPVM_EXIT_MMIO,
	SNAPVM_EXIT_SHUTDOWN,
	SNAPVM_EXIT_KICKED, /* snapvm_kvm_vcpu_kick() interrupted the run */
	SNAPVM_EXIT_DEBUG,  /* guest debugging: breakpoint or single step */
	SNAPVM_EXIT_OTHER,  /* anything else: description says what */
	/* KVM_RUN stopped for a signal no handler ran and no kick came: the
	 * kick signal may be pending (blocked by the thread). The caller takes
	 * it (snapvm_deadline_take_pending), then sees vcpu->kicked or runs
	 * again; the backend does not call up into the deadline code. */
	SNAPVM_EXIT_SIGNAL,
	/* KVM_EXIT_IRQ_WINDOW_OPEN: the guest can take the interrupt it was
	 * asked to (inject_vector): the backend injected it. */
	SNAPVM_EXIT_IRQ_WINDOW,
};

struct snapvm_exit {
	enum snapvm_exit_kind kind;
	uint32_t reason; /* KVM_EXIT_* */
	union {
		struct {
			uint16_t port;
			uint8_t size;
			bool out;
			uint32_t count;
			unsigned char *data;
		} io;
		struct {
			uint64_t gpa;
			uint32_t len;
			bool write;
		} mmio;
		struct kvm_debug_exit_arch debug; /* exception, pc, dr6, dr7 */
	};
	char description[320]; /* SNAPVM_EXIT_OTHER */
};

/* The vCPU state policy (vcpu_state.c, below kvm.c). The MSRs a state may
 * save: KVM_GET_MSR_INDEX_LIST's @listed plus the MTRRs, minus those a
 * restore leaves alone; calloc()ed, *n of them (NULL: out of memory). */
uint32_t *snapvm_vcpu_msr_candidates(const uint32_t *listed, unsigned int nlisted, unsigned int *n);
/* The MSR filter that makes guest writes to unrestorable MSRs #GP. */
void snapvm_vcpu_msr_filter(struct kvm_msr_filter *filter);
/* KVM_GET_SUPPORTED_CPUID's @supported, normalised, into state->cpuid; the
 * KVM PV leaves only with kvm_pv. */
int snapvm_vcpu_cpuid(const struct kvm_cpuid2 *supported, bool kvm_pv,
		      struct snapvm_vcpu_state *state, struct snapvm_error *err);
/* Leaf 0's vendor string ("" without leaf 0). */
void snapvm_vcpu_cpuid_vendor(const struct kvm_cpuid_entry2 *entries, unsigned int n,
			      char vendor[13]);
/* A saved state's CPUID is valid (else EX_DATAERR), with the KVM PV leaves
 * or not (*kvm_pv). */
int snapvm_vcpu_cpuid_saved(const char *path, const struct snapvm_vcpu_state *state, bool *kvm_pv,
			    struct snapvm_error *err);
/* Can the CPUID @here (of a host whose vendor is @host_vendor) give what
 * @state's uses? EX_UNAVAILABLE naming the difference when not. */
int snapvm_vcpu_cpuid_compare(const char *path, const struct snapvm_vcpu_state *state,
			      const struct snapvm_vcpu_state *here, const char *host_vendor,
			      struct snapvm_error *err);

/* /dev/kvm, opened once per process (retried after a failure).
 * EX_UNAVAILABLE when unusable. */
int snapvm_kvm_check(struct snapvm_error *err);
/* The guest CPUID policy (see snapvm.h): KVM_GET_SUPPORTED_CPUID, normalised,
 * into state->cpuid; the KVM PV leaves only with kvm_pv. */
int snapvm_kvm_cpuid(bool kvm_pv, struct snapvm_vcpu_state *state, struct snapvm_error *err);
/* Can this host give a saved state's CPUID? EX_UNAVAILABLE naming the
 * difference (vendor, or the leaf, register and bits) when not. */
int snapvm_kvm_cpuid_check(const char *path, const struct snapvm_vcpu_state *state,
			   struct snapvm_error *err);
bool snapvm_kvm_cpu_is_amd(void);
int snapvm_kvm_vm_create(struct snapvm_kvm_vm *vm, uint32_t layout, struct snapvm_error *err);
int snapvm_kvm_vm_map(struct snapvm_kvm_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size,
		      void *host, bool readonly, bool log_dirty, struct snapvm_error *err);
void snapvm_kvm_vm_destroy(struct snapvm_kvm_vm *vm);
/* With state's CPUID (state must outlive the vCPU), the PV and Hyper-V
 * MSRs enforced by it, and the MSR list its states save. */
int snapvm_kvm_vcpu_create(struct snapvm_kvm_vm *vm, struct snapvm_kvm_vcpu *vcpu,
			   const struct snapvm_vcpu_state *state, struct snapvm_error *err);
/* Put back the TSC offset the vCPU was created with. */
int snapvm_kvm_vcpu_reset_tsc(struct snapvm_kvm_vcpu *vcpu, struct snapvm_error *err);
/* Sets what state->parts says; a pending I/O completion is finished first
 * so that it cannot act on the new state. */
int snapvm_kvm_vcpu_set_state(struct snapvm_kvm_vcpu *vcpu, const struct snapvm_vcpu_state *state,
			      struct snapvm_error *err);
/* A PAE guest's PDPTEs handed to KVM (kvm_vcpu.c says why). */
int snapvm_kvm_vcpu_set_pdptrs(struct snapvm_kvm_vcpu *vcpu, const struct kvm_sregs *sregs,
			       const uint64_t pdpte[4], struct snapvm_error *err);
/* snapvm_kvm_vcpu_set_pdptrs from the sandbox's memory, when state is a
 * PAE guest's (restore.c). */
int snapvm_sandbox_set_pdptrs(struct snapvm_sandbox *sb, const struct snapvm_vcpu_state *state,
			      struct snapvm_error *err);
/* Everything: regs, sregs, FPU/XSAVE, XCRs, MSRs, events, debug registers. */
int snapvm_kvm_vcpu_get_state(struct snapvm_kvm_vcpu *vcpu, struct snapvm_vcpu_state *state,
			      struct snapvm_error *err);
/* At an I/O exit the instruction is not finished (RIP still points at the
 * `out`): KVM_RUN with immediate_exit completes it and returns at once. */
int snapvm_kvm_vcpu_complete_io(struct snapvm_kvm_vcpu *vcpu, struct snapvm_error *err);
/* Dirty logging: slots mapped with log_dirty record the pages the guest
 * writes. _fetch adds the pages KVM reports (written since their bits were
 * last cleared) to pending (KVM's format, one bit per page of the slot) and
 * leaves them in fetch (room for one such bitmap). _clear re-protects the
 * pages of bitmap, so their next write is reported again; without manual
 * protection (old kernels) _fetch has already done that for all of them. */
int snapvm_kvm_vm_dirty_log_fetch(struct snapvm_kvm_vm *vm, uint32_t slot, uint64_t npages,
				  uint64_t *fetch, uint64_t *pending, struct snapvm_error *err);
int snapvm_kvm_vm_dirty_log_clear(struct snapvm_kvm_vm *vm, uint32_t slot, uint64_t npages,
				  uint64_t *bitmap, struct snapvm_error *err);
/* Can pages stay write-enabled across rounds (KVM's manual protection)? */
bool snapvm_kvm_vm_manual_protect(const struct snapvm_kvm_vm *vm);
/* set_state leaves regs, sregs and events in kvm_run for the next KVM_RUN
 * to set; anything that reads the vCPU's state through an ioctl first
 * sets them with this (get_state does). */
int snapvm_kvm_vcpu_apply_staged(struct snapvm_kvm_vcpu *vcpu, struct snapvm_error *err);
/* The signal mask KVM applies while it runs the guest. */
int snapvm_kvm_vcpu_set_signal_mask(struct snapvm_kvm_vcpu *vcpu, const sigset_t *mask,
				    struct snapvm_error *err);
/* KVM_RUN until an exit (EINTR from foreign signals is retried). */
int snapvm_kvm_vcpu_run(struct snapvm_kvm_vcpu *vcpu, struct snapvm_exit *exit,
			struct snapvm_error *err);
/* The general registers at the last exit; changes are written back by the
 * next run. Cheap with KVM_CAP_SYNC_REGS, one ioctl without. */
int snapvm_kvm_vcpu_regs(struct snapvm_kvm_vcpu *vcpu, struct kvm_regs **regs,
			 struct snapvm_error *err);
void snapvm_kvm_vcpu_regs_changed(struct snapvm_kvm_vcpu *vcpu);
/* CR0, CR3, CR4 and EFER at the last exit (or as the last set_state set
 * them): no ioctl with KVM_SYNC_X86_SREGS, one KVM_GET_SREGS without. */
int snapvm_kvm_vcpu_paging(struct snapvm_kvm_vcpu *vcpu, struct snapvm_paging *paging,
			   struct snapvm_error *err);
/* KVM_SET_GUEST_DEBUG: control is KVM_GUESTDBG_* (0 turns debugging off),
 * debugreg DR0-3 and DR7 for hardware breakpoints (NULL: none). */
int snapvm_kvm_vcpu_set_guest_debug(struct snapvm_kvm_vcpu *vcpu, uint32_t control,
				    const uint64_t debugreg[8], struct snapvm_error *err);
/* Does this host's KVM stop at a debug-register breakpoint, and intercept
 * an int3, as KVM_SET_GUEST_DEBUG promises? Probed in a throw-away real-mode
 * VM: nested virtualisation may not (QEMU's emulated SVM arms no DR7 from
 * the VMCB and checks INT3 against the software-interrupt intercept). */
void snapvm_kvm_probe_guest_debug(bool *hw_breakpoints, bool *int3);
/* Async-signal-safe: make the current or next KVM_RUN return at once. */
void snapvm_kvm_vcpu_kick(struct snapvm_kvm_vcpu *vcpu);
void snapvm_kvm_vcpu_unkick(struct snapvm_kvm_vcpu *vcpu);
void snapvm_kvm_vcpu_destroy(struct snapvm_kvm_vcpu *vcpu);
/* For `snapvm info`. */
void snapvm_kvm_host_info(struct snapvm_host_info *info);

/* ---- the gdb stub's framing (debug/gdb_packet.c), exposed for the unit tests ---- */

/* The longest packet gdb may send us (qSupported's PacketSize). */
#define SNAPVM_GDB_PACKET_MAX 16384

enum snapvm_gdb_rx_event {
	SNAPVM_GDB_RX_NONE,	    /* more bytes needed */
	SNAPVM_GDB_RX_PACKET,	    /* rx->buf holds one, NUL-terminated */
	SNAPVM_GDB_RX_BAD_CHECKSUM, /* a packet whose checksum is wrong: NAK it */
	SNAPVM_GDB_RX_INTERRUPT,    /* Ctrl-C (0x03) */
	SNAPVM_GDB_RX_OVERSIZED,    /* longer than SNAPVM_GDB_PACKET_MAX */
	SNAPVM_GDB_RX_JUNK,	    /* a byte outside any packet */
};

struct snapvm_gdb_rx {
	int state;
	size_t len;
	uint8_t sum, check;
	bool check_bad;
	char buf[SNAPVM_GDB_PACKET_MAX + 1];
};

/* One received byte through the framing ($data#xx, acks, Ctrl-C). */
enum snapvm_gdb_rx_event snapvm_gdb_rx_byte(struct snapvm_gdb_rx *rx, unsigned char c);
/* "ADDR,LEN" (hex, at most 16 digits each); *rest at what follows. -1 when
 * malformed. */
int snapvm_gdb_parse_addr_len(const char *p, uint64_t *addr, uint64_t *len, const char **rest);

/* The launcher's filter plus what a gdb connection on fd needs (seccomp.c),
 * and output files created in the count directories dirfds (see
 * snapvm_seccomp_install_dirs). */
int snapvm_seccomp_install_fd(int fd, const int *dirfds, unsigned int count,
			      struct snapvm_error *err);
/* The filter's table, for the test that checks the docs: the name of rule
 * i, NULL past the end. */
const char *snapvm_seccomp_rule_name(unsigned int i);
/* Open /dev/snapvm (when it exists) and keep it for good: the seccomp
 * filter allows no openat of it (memory.c). */
void snapvm_module_preopen(void);

/* ---- the objects ---- */

/*
 * Where a sandbox's scratch comes from, at creation and at each restore:
 * either a template (an ELF snapshot: the VMM's structures, zeros after
 * them) or a sealed scratch image of full size (a SNAPSHOT the guest took,
 * or a snapshot file).
 */
struct snapvm_snapshot {
	int refs;
	const struct snapvm_arch *arch;
	struct snapvm_region region; /* sealed */
	const unsigned char *memory; /* shared read-only mapping of region */
	uint64_t gpa, size;
	uint64_t scratch_size;
	unsigned char *scratch_init; /* template, or NULL with a scratch image */
	uint64_t scratch_init_size;
	struct snapvm_region scratch_image; /* sealed; fd -1 without one */
	const unsigned char *scratch_image_memory;
	uint64_t *scratch_nonzero; /* image pages that are not all zero */
	struct snapvm_vcpu_state entry;
	/* The buffer-call I/O area, as offsets into scratch (boot info). */
	uint64_t io_in_offset, io_out_offset, io_size;
};

/* ---- the restore's working set (workingset.c) ---- */

enum { SNAPVM_WS_SCRATCH, SNAPVM_WS_VIEW, SNAPVM_WS_SLOTS };

/* Pages kept write-enabled across restores: never re-protected, always
 * put back. max_pages 0: none (every restore re-protects what it saw). */
struct snapvm_working_set {
	uint64_t *kept[SNAPVM_WS_SLOTS];
	uint64_t npages[SNAPVM_WS_SLOTS];
	uint64_t pages, max_pages;
	unsigned int age; /* restores since the last re-protection */
};

int snapvm_working_set_init(struct snapvm_working_set *ws, const uint64_t npages[SNAPVM_WS_SLOTS],
			    uint64_t max_pages);
void snapvm_working_set_free(struct snapvm_working_set *ws);
void snapvm_working_set_limit(struct snapvm_working_set *ws, uint64_t max_pages);
/* At each restore: true when this one empties the set (re-protects all). */
bool snapvm_working_set_begin(struct snapvm_working_set *ws);
/* dirty: what KVM_GET_DIRTY_LOG reported for the slot. Admits new pages
 * (when admit) while there is room, and leaves in dirty only the pages to
 * re-protect; returns whether any are left. */
bool snapvm_working_set_admit(struct snapvm_working_set *ws, int slot, uint64_t *dirty, bool admit);

struct snapvm_sandbox {
	struct snapvm_snapshot *snapshot;
	struct snapvm_kvm_vm vm;
	struct snapvm_kvm_vcpu vcpu;
	struct snapvm_region scratch;
	unsigned char *scratch_memory;
	unsigned char *view; /* i686: private mapping; amd64: snapshot->memory */
	bool view_private;
	struct snapvm_guest_memory memory;
	int output_fd;
	char console[256];
	size_t console_len;
	/* Restore: the vCPU state to go back to (the snapshot's, or the one
	 * read from the fresh vCPU for an ELF snapshot's partial state), the
	 * dirty-log bitmaps and what the last restore touched. */
	const struct snapvm_vcpu_state *origin;
	struct snapvm_vcpu_state *own_origin;
	uint64_t *scratch_dirty, *view_dirty; /* pages to put back (pending) */
	uint64_t *dirty_fetch;		      /* what one KVM_GET_DIRTY_LOG returned */
	struct snapvm_working_set working_set;
	uint64_t last_restore_pages;
	uint64_t random_seed, generation;
	/* Stopped at SNAPSHOT: the state a resume starts from (RAX = 1). */
	struct snapvm_vcpu_state *taken;
	bool at_snapshot, at_call_wait;
	/* A restore failed half-way: runs, calls and snapshots are refused
	 * until a restore succeeds. */
	bool poisoned;
	char poison_reason[1400];
	/* Tests: the next restore fails after it fetched the dirty logs. */
	bool inject_restore_fault;
	/* snapvm_sandbox_interrupt: asked for (any thread), and the thread
	 * of the run in progress (0 between runs). */
	int interrupt_requested;
	pid_t running_tid;
	/* snapvm_sandbox_signal_stop: the run ends with SNAPVM_STOP_SIGNAL
	 * (this signal) at once; any thread, 0: none. */
	int signal_stop;
	/* Host functions (HOST_CALL), and whether one is running now. */
	struct snapvm_host_binding *host_functions;
	unsigned int nhost_functions;
	bool in_host_call;
	unsigned char *host_in, *host_out; /* SNAPVM_HOST_CALL_MAX each, at first use */
	/* How the last run stopped, and for an ABORT the GVA of the fault
	 * frame the guest passed (0: none): what core dumps show. */
	enum snapvm_stop last_stop;
	uint64_t abort_frame;
	/* SNAPVM_STOP_DEBUG: what KVM_EXIT_DEBUG said. */
	struct kvm_debug_exit_arch debug_exit;
};

struct snapvm_host_binding {
	uint32_t number;
	snapvm_host_function fn;
	void *ctx;
};

/* ---- what stops a run: timeouts and interrupts (deadline.c) ---- */

struct snapvm_deadline {
	bool have_kick;
};

/* Around each run on the calling thread: the kick signal installed and
 * unblocked, the sandbox marked as running here (interrupts aim at this
 * thread), the timer armed (0 = none). _end undoes all of it. */
int snapvm_deadline_start(struct snapvm_sandbox *sb, uint64_t timeout_ms,
			  struct snapvm_deadline *deadline, struct snapvm_error *err);
void snapvm_deadline_end(struct snapvm_sandbox *sb, struct snapvm_deadline *deadline);
/* Around a write that may block during a run: the kick signal unblocked
 * (true; the mask before in *saved), then the mask back (false). Returns
 * whether the signal was blocked, i.e. whether the mask must go back. */
bool snapvm_deadline_unblock(bool unblock, sigset_t *saved);
/* After SNAPVM_EXIT_SIGNAL: handle a kick signal left pending (deadline.c). */
void snapvm_deadline_take_pending(void);
/* Read the calling thread's signal mask again (at each restore: see
 * deadline.c for why not at each run). */
void snapvm_deadline_refresh_mask(void);
/* Has snapvm_sandbox_interrupt been asked for? _take also consumes it. */
bool snapvm_interrupt_pending(struct snapvm_sandbox *sb);
bool snapvm_interrupt_take(struct snapvm_sandbox *sb);
/* From any thread or a signal handler: end the run with SNAPVM_STOP_SIGNAL
 * (signo) at once, or inject an interrupt vector into the guest when it can
 * take one; both kick the run in progress (or the next one). _clear drops
 * both, between runs. */
void snapvm_sandbox_signal_stop(struct snapvm_sandbox *sb, int signo);
void snapvm_sandbox_inject(struct snapvm_sandbox *sb, int vector);
void snapvm_sandbox_signals_clear(struct snapvm_sandbox *sb);
/* Has the current run's deadline passed? */
bool snapvm_deadline_passed(void);

/* Bitmap words for npages pages (KVM's dirty-log format). */
static inline uint64_t snapvm_bitmap_words(uint64_t npages)
{
	return (npages + 63) / 64;
}

/* Fill scratch (snapshot->scratch_size bytes, mapped at host) with the
 * pages of the snapshot's scratch that bitmap flags, or, with bitmap NULL,
 * with all of it (a fresh sandbox). Returns pages written, or -status. */
int64_t snapvm_snapshot_fill_scratch(const struct snapvm_snapshot *snap,
				     struct snapvm_region *scratch, unsigned char *host,
				     uint64_t *bitmap, struct snapvm_error *err);
/* A new snapshot from a sandbox stopped at SNAPSHOT (snapshot.c). */
int snapvm_snapshot_from_sandbox(struct snapvm_sandbox *sb, const struct snapvm_vcpu_state *state,
				 struct snapvm_snapshot **out, struct snapvm_error *err);

/* ---- the sandbox's pieces: what they share ----
 * sandbox.c (lifecycle, exit loop) stands above hypercall.c (the table and
 * host functions), which stands above console.c (output); restore.c and
 * call.c use the loop; all of them report through outcome.c. */

/* The two memory slots of every sandbox's VM. */
enum { SNAPVM_SLOT_SNAPSHOT, SNAPVM_SLOT_SCRATCH };

/* What an exit's handler returns (or -status): run on, or the run stops
 * with *outcome filled. */
enum { SNAPVM_RUN_ON, SNAPVM_RUN_STOP };

/* How a run stopped, into *outcome (outcome.c). snapvm_fault: the guest did
 * something wrong at rip; returns SNAPVM_RUN_STOP. */
int snapvm_fault(struct snapvm_outcome *outcome, uint64_t rip, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The vCPU's RIP now, 0 if it cannot be read. */
uint64_t snapvm_current_rip(struct snapvm_sandbox *sb);
/* The run was kicked: timed out or interrupted; returns SNAPVM_RUN_STOP. */
int snapvm_timed_out(struct snapvm_sandbox *sb, struct snapvm_outcome *outcome);
/* The errors of a sandbox that may not run now: poisoned (a failed restore
 * or guest memory that could not be brought in), reentered from one of its
 * host functions, or guest memory snapvm.ko could not charge (which
 * poisons it). */
int snapvm_poisoned(struct snapvm_sandbox *sb, struct snapvm_error *err);
int snapvm_reentered(const char *what, struct snapvm_error *err);
int snapvm_guest_memory_failed(struct snapvm_sandbox *sb, struct snapvm_error *err,
			       const char *what, uint64_t gva, int errnum);

/* The guest's output (console.c): what snapvm_console_output and
 * snapvm_console_flush return when the run's deadline passed while they
 * waited on the output fd. */
#define SNAPVM_OUTPUT_TIMED_OUT (-1)
int snapvm_console_output(struct snapvm_sandbox *sb, const void *buf, size_t len,
			  struct snapvm_error *err);
int snapvm_console_flush(struct snapvm_sandbox *sb, struct snapvm_error *err);
int snapvm_console_put(struct snapvm_sandbox *sb, const struct snapvm_exit *exit,
		       struct snapvm_error *err);

/* An exit on the hypercall port (hypercall.c). */
int snapvm_handle_hypercall(struct snapvm_sandbox *sb, const struct snapvm_exit *exit,
			    struct snapvm_outcome *outcome, struct snapvm_error *err);

/* linux_personality.c: the Linux personality's ELF image for a layout
 * (enum snapvm_layout_id), embedded at build time. */
const unsigned char *snapvm_linux_personality(unsigned int layout, size_t *size);
/* The O_PATH fd of --root's directory, or -1 (linux.c, for the filter). */
int snapvm_linux_root_fd(const struct snapvm_linux *linux_state);

#endif /* SNAPVM_USERSPACE_INTERNAL_H */
