// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * arch_i686.c - the i686 layout: the snapshot is the ELF image followed by a
 * GDT the VMM writes; the vCPU starts in 32-bit protected mode with paging
 * off, flat segments, ESP at the top of scratch and EBX = boot info.
 */
#include <stdlib.h>
#include <string.h>

#include "layout/i686.h"
#include "userspace/lib/internal.h"

#define CR0_PE (1ULL << 0)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)

/*
 * Flat 4 GiB ring-0 descriptors (G=1, D=1, limit 0xfffff). The Accessed bit
 * is left clear on purpose: the CPU sets it on the guest's first segment
 * load, writing the GDT inside the snapshot view, which must therefore be
 * writable (the point of the i686 layout's private view).
 */
#define GDT_CODE32 0x00cf9a000000ffffULL /* present, execute/read */
#define GDT_DATA32 0x00cf92000000ffffULL /* present, read/write */

static const uint64_t gdt[] = {0, GDT_CODE32, GDT_DATA32};

static uint64_t i686_scratch_gpa(uint64_t scratch_size)
{
	return i686_scratch_base_gpa(scratch_size);
}

/* Paging is off: a scratch byte's GVA is its GPA. */
static uint64_t i686_scratch_gva(uint64_t scratch_size)
{
	return i686_scratch_base_gpa(scratch_size);
}

/* The image, then one page for the GDT. */
static uint64_t i686_snapshot_size(const struct snapvm_elf_image *image, uint64_t scratch_size)
{
	return image->end - I686_SNAPSHOT_BASE_GPA + SNAPVM_PAGE;
}

static uint64_t i686_scratch_needed(const struct snapvm_elf_image *image, uint64_t scratch_size)
{
	return SNAPVM_PAGE + I686_STACK_SIZE;
}

/* The CPU's cached descriptors say "accessed" (VMX insists on it); the GDT
 * in memory does not, see above. */
static struct kvm_segment flat_segment(uint16_t selector, uint8_t type)
{
	return (struct kvm_segment){
	    .base = 0,
	    .limit = 0xffffffff,
	    .selector = selector,
	    .type = type,
	    .present = 1,
	    .db = 1,
	    .s = 1,
	    .g = 1,
	};
}

static void i686_entry_state(const struct snapvm_elf_image *image, uint64_t scratch_size,
			     uint64_t gdt_gpa, struct snapvm_vcpu_state *state)
{
	struct kvm_sregs *s = &state->sregs;
	uint64_t scratch_gpa = i686_scratch_base_gpa(scratch_size);

	memset(state, 0, sizeof(*state));
	state->regs.rip = image->entry;
	state->regs.rsp = scratch_gpa + scratch_size; /* 0xfee00000: 16-byte aligned */
	state->regs.rbx = scratch_gpa + I686_SCRATCH_BOOT_INFO_OFFSET;
	state->regs.rflags = 0x2; /* IF=0: the guest has no IDT yet */

	s->cs = flat_segment(SNAPVM_SELECTOR_CODE, 0xb);
	s->ds = s->es = s->fs = s->gs = s->ss = flat_segment(SNAPVM_SELECTOR_DATA, 0x3);
	/* No task switches ever happen; the entry checks want a busy TSS. */
	s->tr = (struct kvm_segment){.limit = 0xffff, .type = 0xb, .present = 1};
	s->ldt = (struct kvm_segment){.type = 0x2, .unusable = 1};
	s->gdt.base = gdt_gpa;
	s->gdt.limit = sizeof(gdt) - 1;
	s->idt.limit = 0; /* a guest that wants exceptions installs its own */
	s->cr0 = CR0_PE | CR0_ET | CR0_NE;
	s->apic_base = 0xfee00900; /* KVM's reset value: BSP, enabled */
}

static int i686_build(const struct snapvm_elf_image *image, uint64_t scratch_size,
		      struct snapvm_snapshot_image *out, struct snapvm_error *err)
{
	uint64_t snapshot_size = i686_snapshot_size(image, scratch_size);
	uint64_t gdt_gpa = image->end;
	struct snapvm_boot_info *info;

	memset(out, 0, sizeof(*out));
	out->snapshot = calloc(1, snapshot_size);
	out->scratch_init = calloc(1, SNAPVM_PAGE);
	if (!out->snapshot || !out->scratch_init) {
		snapvm_snapshot_image_free(out);
		return snapvm_fail(err, EX_OSERR, "out of memory for a %llu-byte snapshot",
				   (unsigned long long)snapshot_size);
	}
	out->snapshot_size = snapshot_size;
	out->scratch_init_size = SNAPVM_PAGE;
	snapvm_elf_copy(image, out->snapshot, I686_SNAPSHOT_BASE_GPA, snapshot_size);
	memcpy(out->snapshot + (gdt_gpa - I686_SNAPSHOT_BASE_GPA), gdt, sizeof(gdt));

	info = (struct snapvm_boot_info *)(out->scratch_init + I686_SCRATCH_BOOT_INFO_OFFSET);
	snapvm_boot_info_init(info, &snapvm_arch_i686, snapshot_size, scratch_size, SNAPVM_PAGE,
			      I686_STACK_SIZE, 0);
	i686_entry_state(image, scratch_size, gdt_gpa, &out->entry);
	return 0;
}

const struct snapvm_arch snapvm_arch_i686 = {
    .layout = SNAPVM_LAYOUT_I686,
    .name = "i686",
    .elf_class = 1,   /* ELFCLASS32 */
    .elf_machine = 3, /* EM_386 */
    .snapshot_base_gpa = I686_SNAPSHOT_BASE_GPA,
    .max_gpa = I686_MAX_GPA,
    .min_scratch_size = I686_MIN_SCRATCH_SIZE,
    /* Paging is off at entry: there are no page rights to be exact about,
     * and Nanvix-style images keep code and data in RWX segments. */
    .refuse_wx = false,
    .exact_page_rights = false,
    .snapshot_size = i686_snapshot_size,
    .scratch_needed = i686_scratch_needed,
    .scratch_base_gpa = i686_scratch_gpa,
    .scratch_base_gva = i686_scratch_gva,
    .build = i686_build,
    .arg_mask = 0xffffffffULL,
};
