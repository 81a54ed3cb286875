// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * gdb_target.c - what the gdb stub shows of a sandbox: registers (with
 * the target descriptions for i386 and i386:x86-64), guest-virtual memory,
 * software and hardware breakpoints through KVM_SET_GUEST_DEBUG.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/lib/debug/gdb.h"
#include "userspace/lib/internal.h"

/* ---- registers ---- */

enum reg_src { R_GPR, R_RIP, R_FLAGS, R_SEG, R_ST, R_FPU, R_XMM, R_MXCSR, R_BASE };

struct reg {
	const char *name;
	unsigned int size; /* bytes */
	enum reg_src src;
	unsigned int index; /* kvm_regs slot, segment, st/xmm number, fpu word */
	const char *type;
};

/* kvm_regs in 8-byte slots: rax rbx rcx rdx rsi rdi rsp rbp r8..r15 rip
 * rflags. */
enum { RAX, RBX, RCX, RDX, RSI, RDI, RSP, RBP, R8 };
/* Segments: cs ss ds es fs gs; FPU words: fctrl fstat ftag fiseg fioff foseg
 * fooff fop. */

#define X87(prefix)                                                                                \
	{"st0", 10, R_ST, 0, "i387_ext"}, {"st1", 10, R_ST, 1, "i387_ext"},                        \
	    {"st2", 10, R_ST, 2, "i387_ext"}, {"st3", 10, R_ST, 3, "i387_ext"},                    \
	    {"st4", 10, R_ST, 4, "i387_ext"}, {"st5", 10, R_ST, 5, "i387_ext"},                    \
	    {"st6", 10, R_ST, 6, "i387_ext"}, {"st7", 10, R_ST, 7, "i387_ext"},                    \
	    {"fctrl", 4, R_FPU, 0, "int"}, {"fstat", 4, R_FPU, 1, "int"},                          \
	    {"ftag", 4, R_FPU, 2, "int"}, {"fiseg", 4, R_FPU, 3, "int"},                           \
	    {"fioff", 4, R_FPU, 4, "int"}, {"foseg", 4, R_FPU, 5, "int"},                          \
	    {"fooff", 4, R_FPU, 6, "int"},                                                         \
	{                                                                                          \
		"fop", 4, R_FPU, 7, "int"                                                          \
	}

/* What follows eflags in both layouts' descriptions: the segments, x87 and
 * the eight SSE registers i386 has (amd64 then adds xmm8..15). */
#define SEGS_X87_XMM0_7                                                                            \
	{"cs", 4, R_SEG, 0, "int32"}, {"ss", 4, R_SEG, 1, "int32"}, {"ds", 4, R_SEG, 2, "int32"},  \
	    {"es", 4, R_SEG, 3, "int32"}, {"fs", 4, R_SEG, 4, "int32"},                            \
	    {"gs", 4, R_SEG, 5, "int32"}, X87(), {"xmm0", 16, R_XMM, 0, "uint128"},                \
	    {"xmm1", 16, R_XMM, 1, "uint128"}, {"xmm2", 16, R_XMM, 2, "uint128"},                  \
	    {"xmm3", 16, R_XMM, 3, "uint128"}, {"xmm4", 16, R_XMM, 4, "uint128"},                  \
	    {"xmm5", 16, R_XMM, 5, "uint128"}, {"xmm6", 16, R_XMM, 6, "uint128"},                  \
	{                                                                                          \
		"xmm7", 16, R_XMM, 7, "uint128"                                                    \
	}

static const struct reg regs_i386[] = {
    {"eax", 4, R_GPR, RAX, "int32"},
    {"ecx", 4, R_GPR, RCX, "int32"},
    {"edx", 4, R_GPR, RDX, "int32"},
    {"ebx", 4, R_GPR, RBX, "int32"},
    {"esp", 4, R_GPR, RSP, "data_ptr"},
    {"ebp", 4, R_GPR, RBP, "data_ptr"},
    {"esi", 4, R_GPR, RSI, "int32"},
    {"edi", 4, R_GPR, RDI, "int32"},
    {"eip", 4, R_RIP, 0, "code_ptr"},
    {"eflags", 4, R_FLAGS, 0, "int32"},
    SEGS_X87_XMM0_7,
    {"mxcsr", 4, R_MXCSR, 0, "int"},
};

static const struct reg regs_amd64[] = {
    {"rax", 8, R_GPR, RAX, "int64"},
    {"rbx", 8, R_GPR, RBX, "int64"},
    {"rcx", 8, R_GPR, RCX, "int64"},
    {"rdx", 8, R_GPR, RDX, "int64"},
    {"rsi", 8, R_GPR, RSI, "int64"},
    {"rdi", 8, R_GPR, RDI, "int64"},
    {"rbp", 8, R_GPR, RBP, "data_ptr"},
    {"rsp", 8, R_GPR, RSP, "data_ptr"},
    {"r8", 8, R_GPR, R8, "int64"},
    {"r9", 8, R_GPR, R8 + 1, "int64"},
    {"r10", 8, R_GPR, R8 + 2, "int64"},
    {"r11", 8, R_GPR, R8 + 3, "int64"},
    {"r12", 8, R_GPR, R8 + 4, "int64"},
    {"r13", 8, R_GPR, R8 + 5, "int64"},
    {"r14", 8, R_GPR, R8 + 6, "int64"},
    {"r15", 8, R_GPR, R8 + 7, "int64"},
    {"rip", 8, R_RIP, 0, "code_ptr"},
    {"eflags", 4, R_FLAGS, 0, "int32"},
    SEGS_X87_XMM0_7,
    {"xmm8", 16, R_XMM, 8, "uint128"},
    {"xmm9", 16, R_XMM, 9, "uint128"},
    {"xmm10", 16, R_XMM, 10, "uint128"},
    {"xmm11", 16, R_XMM, 11, "uint128"},
    {"xmm12", 16, R_XMM, 12, "uint128"},
    {"xmm13", 16, R_XMM, 13, "uint128"},
    {"xmm14", 16, R_XMM, 14, "uint128"},
    {"xmm15", 16, R_XMM, 15, "uint128"},
    {"mxcsr", 4, R_MXCSR, 0, "int"},
    {"fs_base", 8, R_BASE, 0, "int64"},
    {"gs_base", 8, R_BASE, 1, "int64"},
};

static bool is_amd64(const struct snapvm_gdb *g)
{
	return g->sb->snapshot->arch->layout == SNAPVM_LAYOUT_AMD64;
}

static const struct reg *reg_table(const struct snapvm_gdb *g, size_t *n)
{
	if (is_amd64(g)) {
		*n = sizeof(regs_amd64) / sizeof(regs_amd64[0]);
		return regs_amd64;
	}
	*n = sizeof(regs_i386) / sizeof(regs_i386[0]);
	return regs_i386;
}

/* The target description: the registers above, in their order, so gdb's
 * numbers for p/P are the table's indices. */
static size_t target_xml(const struct snapvm_gdb *g, char *buf, size_t size)
{
	size_t n, len;
	const struct reg *t = reg_table(g, &n);
	const char *feature = NULL;

	len = (size_t)snprintf(buf, size,
			       "<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM "
			       "\"gdb-target.dtd\"><target version=\"1.0\"><architecture>%s"
			       "</architecture>",
			       is_amd64(g) ? "i386:x86-64" : "i386");
	for (size_t i = 0; i < n && len < size; i++) {
		const char *want = t[i].src == R_XMM || t[i].src == R_MXCSR ? "sse"
				   : t[i].src == R_BASE			    ? "segments"
									    : "core";

		if (!feature || strcmp(feature, want)) {
			len += (size_t)snprintf(buf + len, size - len,
						"%s<feature name=\"org.gnu.gdb.i386.%s\">",
						feature ? "</feature>" : "", want);
			feature = want;
		}
		if (len < size)
			len += (size_t)snprintf(
			    buf + len, size - len,
			    "<reg name=\"%s\" bitsize=\"%u\" type=\"%s\"%s/>", t[i].name,
			    t[i].size * 8, t[i].type,
			    t[i].src == R_XMM || t[i].src == R_MXCSR ? " group=\"vector\""
			    : t[i].src == R_ST || t[i].src == R_FPU  ? " group=\"float\""
								     : "");
	}
	if (len < size)
		len += (size_t)snprintf(buf + len, size - len, "</feature></target>");
	return len < size ? len : size - 1;
}

/* What a register read needs besides kvm_regs: segments and FPU. */
struct reg_context {
	struct kvm_regs *r;
	struct kvm_regs frame; /* held at a fault: the interrupted context */
	struct snapvm_vcpu_state *state;
	unsigned char fx[512];
};

static int load_context(struct snapvm_gdb *g, struct reg_context *c, struct snapvm_error *err)
{
	int ret = snapvm_kvm_vcpu_regs(&g->sb->vcpu, &c->r, err);

	if (ret)
		return ret;
	c->state = malloc(sizeof(*c->state));
	if (!c->state)
		return snapvm_fail(err, EX_OSERR, "out of memory for a vCPU state");
	ret = snapvm_kvm_vcpu_get_state(&g->sb->vcpu, c->state, err);
	if (ret) {
		free(c->state);
		c->state = NULL;
		return ret;
	}
	snapvm_fxsave_from_state(c->state, c->fx);
	/* get_state's KVM_GET_REGS re-read them: the synced copy stays ours. */
	ret = snapvm_kvm_vcpu_regs(&g->sb->vcpu, &c->r, err);
	/* Held at a guest exception: show where it faulted, as a core dump
	 * does, not the handler (the run ends when gdb resumes anyway). */
	c->frame = *c->r;
	if (!ret && g->end_pending && snapvm_fault_frame_regs(g->sb, &c->state->sregs, &c->frame))
		c->r = &c->frame;
	return ret;
}

static __u64 *gpr(struct kvm_regs *r, unsigned int index)
{
	__u64 *slots[] = {&r->rax, &r->rbx, &r->rcx, &r->rdx, &r->rsi, &r->rdi, &r->rsp, &r->rbp,
			  &r->r8,  &r->r9,  &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15};

	return slots[index];
}

static void reg_read(const struct reg *reg, const struct reg_context *c, unsigned char *out)
{
	const struct kvm_sregs *s = &c->state->sregs;
	const struct kvm_segment *segs[] = {&s->cs, &s->ss, &s->ds, &s->es, &s->fs, &s->gs};
	uint64_t v = 0;

	memset(out, 0, reg->size);
	switch (reg->src) {
	case R_GPR:
		v = *gpr(c->r, reg->index);
		break;
	case R_RIP:
		v = c->r->rip;
		break;
	case R_FLAGS:
		v = c->r->rflags;
		break;
	case R_SEG:
		v = segs[reg->index]->selector;
		break;
	case R_BASE:
		v = reg->index ? s->gs.base : s->fs.base;
		break;
	case R_ST:
		memcpy(out, c->fx + 32 + reg->index * 16, 10);
		return;
	case R_XMM:
		memcpy(out, c->fx + 160 + reg->index * 16, 16);
		return;
	case R_MXCSR:
		memcpy(out, c->fx + 24, 4);
		return;
	case R_FPU: {
		uint16_t w = 0;
		uint32_t d = 0;

		switch (reg->index) {
		case 0: /* fctrl */
		case 1: /* fstat */
			memcpy(&w, c->fx + reg->index * 2, 2);
			v = w;
			break;
		case 2: /* ftag: full from abridged, empty = 11b */
			for (unsigned int i = 0; i < 8; i++)
				if (!(c->fx[4] >> i & 1))
					v |= 3U << (2 * i);
			break;
		case 3: /* fiseg */
			memcpy(&w, c->fx + 12, 2);
			v = w;
			break;
		case 4: /* fioff */
			memcpy(&d, c->fx + 8, 4);
			v = d;
			break;
		case 5: /* foseg */
			memcpy(&w, c->fx + 20, 2);
			v = w;
			break;
		case 6: /* fooff */
			memcpy(&d, c->fx + 16, 4);
			v = d;
			break;
		default: /* fop */
			memcpy(&w, c->fx + 6, 2);
			v = w & 0x7ff;
		}
		break;
	}
	}
	memcpy(out, &v, reg->size < 8 ? reg->size : 8);
}

/* Only what the run loop writes back: general registers, RIP, RFLAGS. */
static bool reg_write(const struct reg *reg, struct kvm_regs *r, const unsigned char *in)
{
	uint64_t v = 0;

	memcpy(&v, in, reg->size < 8 ? reg->size : 8);
	switch (reg->src) {
	case R_GPR:
		*gpr(r, reg->index) = v;
		return true;
	case R_RIP:
		r->rip = v;
		return true;
	case R_FLAGS:
		r->rflags = v;
		return true;
	default:
		return false;
	}
}

/* ---- memory ---- */

static int paging(struct snapvm_gdb *g, struct snapvm_paging *p)
{
	return snapvm_kvm_vcpu_paging(&g->sb->vcpu, p, NULL);
}

/* Host address of one byte of guest-virtual memory, made present (NULL
 * when snapvm.ko cannot charge its page: gdb gets an error, not a SIGBUS);
 * with write, only where the host may write (the amd64 snapshot view is
 * read-only), and the page joins the restore's pending set, as KVM's dirty
 * log does not see us. */
static unsigned char *guest_byte(struct snapvm_gdb *g, const struct snapvm_paging *p, uint64_t gva,
				 bool write, bool mark)
{
	struct snapvm_sandbox *sb = g->sb;
	uint64_t gpa, contiguous;
	unsigned char *host;

	if (snapvm_gva_to_gpa(&sb->memory, p, gva, &gpa, &contiguous))
		return NULL;
	host = snapvm_gpa_to_host(&sb->memory, gpa, 1);
	if (!host || !write)
		return host && !snapvm_guest_prepare(host, 1, false) ? host : NULL;
	for (unsigned int i = 0; i < sb->memory.nslots; i++) {
		const struct snapvm_guest_slot *slot = &sb->memory.slots[i];
		uint64_t page;
		uint64_t *pending;

		if (gpa < slot->gpa || gpa - slot->gpa >= slot->size)
			continue;
		if (slot->host == sb->scratch_memory)
			pending = sb->scratch_dirty;
		else if (slot->host == sb->view && sb->view_private)
			pending = sb->view_dirty;
		else
			return NULL;
		if (snapvm_guest_prepare(host, 1, true))
			return NULL;
		if (mark) {
			page = (gpa - slot->gpa) / SNAPVM_PAGE;
			pending[page / 64] |= 1ULL << (page % 64);
		}
		return host;
	}
	return NULL;
}

struct breakpoint *snapvm_gdb_find_bp(struct snapvm_gdb *g, int type, uint64_t addr)
{
	for (unsigned int i = 0; i < g->nbps; i++)
		if (g->bps[i].addr == addr && (type < 0 || g->bps[i].type == type))
			return &g->bps[i];
	return NULL;
}

void snapvm_gdb_read_memory(struct snapvm_gdb *g, const char *args)
{
	struct snapvm_paging p;
	uint64_t addr, len, n;
	unsigned char buf[SNAPVM_GDB_PACKET_MAX / 2];
	const char *rest;

	if (snapvm_gdb_parse_addr_len(args, &addr, &len, &rest) || *rest) {
		snapvm_gdb_send_packet(g, "E01");
		return;
	}
	if (len > sizeof(buf))
		len = sizeof(buf);
	if (paging(g, &p)) {
		snapvm_gdb_send_packet(g, "E01");
		return;
	}
	for (n = 0; n < len; n++) {
		const unsigned char *b = guest_byte(g, &p, addr + n, false, false);

		if (!b)
			break;
		buf[n] = *b;
	}
	/* The int3s we keep in memory stay invisible. */
	for (unsigned int i = 0; i < g->nbps; i++)
		if (g->bps[i].in_memory && g->bps[i].addr - addr < n)
			buf[g->bps[i].addr - addr] = g->bps[i].orig;
	if (!n && len) {
		snapvm_gdb_send_packet(g, "E14"); /* EFAULT: not guest memory */
		return;
	}
	snapvm_gdb_tohex(g->out, buf, n);
	snapvm_gdb_send_packet(g, g->out);
}

void snapvm_gdb_write_memory(struct snapvm_gdb *g, const char *args)
{
	struct snapvm_paging p;
	uint64_t addr, len;
	unsigned char buf[SNAPVM_GDB_PACKET_MAX / 2];
	const char *rest;

	if (snapvm_gdb_parse_addr_len(args, &addr, &len, &rest) || *rest++ != ':' ||
	    len > sizeof(buf) || snapvm_gdb_unhex(rest, buf, len) || paging(g, &p)) {
		snapvm_gdb_send_packet(g, "E01");
		return;
	}
	/* All or nothing. */
	for (uint64_t i = 0; i < len; i++)
		if (!guest_byte(g, &p, addr + i, true, false)) {
			snapvm_gdb_send_packet(g, "E14");
			return;
		}
	for (uint64_t i = 0; i < len; i++)
		*guest_byte(g, &p, addr + i, true, true) = buf[i];
	snapvm_gdb_send_packet(g, "OK");
}

/* ---- breakpoints ---- */

static int hw_alloc(struct snapvm_gdb *g, uint64_t addr)
{
	for (int i = 0; i < HW_SLOTS; i++)
		if (!g->hw_used[i]) {
			g->hw_used[i] = true;
			g->hw_addr[i] = addr;
			return i;
		}
	return -1;
}

void snapvm_gdb_set_breakpoint(struct snapvm_gdb *g, const char *args, bool insert)
{
	struct snapvm_paging p;
	struct breakpoint *bp;
	uint64_t addr, kind;
	const char *rest;
	int type = args[0] - '0';

	if ((type != 0 && type != 1) || args[1] != ',' ||
	    snapvm_gdb_parse_addr_len(args + 2, &addr, &kind, &rest) || *rest) {
		snapvm_gdb_send_packet(g, type >= 2 && type <= 4 ? "" : "E01"); /* no watchpoints */
		return;
	}
	bp = snapvm_gdb_find_bp(g, type, addr);
	if (!insert) {
		if (bp) {
			if (bp->how == BP_DR)
				g->hw_used[bp->hw_slot] = false;
			*bp = g->bps[--g->nbps];
		}
		snapvm_gdb_send_packet(g, "OK");
		return;
	}
	if (bp) {
		snapvm_gdb_send_packet(g, "OK");
		return;
	}
	if (g->nbps == MAX_BREAKPOINTS || paging(g, &p)) {
		snapvm_gdb_send_packet(g, "E0c");
		return;
	}
	bp = &g->bps[g->nbps];
	*bp = (struct breakpoint){.addr = addr, .type = type, .hw_slot = -1};
	if (!guest_byte(g, &p, addr, false, false)) {
		snapvm_gdb_send_packet(g, "E14");
		return;
	}
	/* Z0 too takes a debug register while one is free: guest memory stays
	 * untouched (the amd64 snapshot is read-only anyway). Then an int3
	 * where the host may write guest memory, then single steps. Each only
	 * where the probe saw KVM honour it (QEMU's emulated SVM arms no DR7
	 * from the VMCB and lets an INT3 through to the guest). */
	bp->how = BP_STEP;
	if (g->hw_ok && (bp->hw_slot = hw_alloc(g, addr)) >= 0)
		bp->how = BP_DR;
	else if (type == 0 && g->int3_ok && guest_byte(g, &p, addr, true, false))
		bp->how = BP_INT3;
	g->nbps++;
	snapvm_gdb_send_packet(g, "OK");
}

/* The int3s go into memory only while the guest runs: a stop, a restore,
 * a snapshot or a core dump always sees the guest's own bytes. Each page
 * an int3 goes to joins the restore's pending set, so that even an int3
 * left behind is gone after the next restore. */
void snapvm_gdb_insert_int3s(struct snapvm_gdb *g)
{
	struct snapvm_paging p;

	if (paging(g, &p))
		return;
	for (unsigned int i = 0; i < g->nbps; i++) {
		struct breakpoint *bp = &g->bps[i];
		unsigned char *b;

		if (bp->how != BP_INT3 || bp->in_memory)
			continue;
		b = guest_byte(g, &p, bp->addr, true, true);
		if (!b)
			continue;
		bp->orig = *b;
		/* Two addresses on one byte: the guest's byte, not our int3. */
		for (unsigned int j = 0; j < g->nbps; j++)
			if (j != i && g->bps[j].in_memory && g->bps[j].host == b)
				bp->orig = g->bps[j].orig;
		*b = 0xcc;
		bp->host = b;
		bp->in_memory = true;
	}
}

/* Back where each int3 was written, whatever the page tables say now. */
void snapvm_gdb_remove_int3s(struct snapvm_gdb *g)
{
	for (unsigned int i = 0; i < g->nbps; i++) {
		struct breakpoint *bp = &g->bps[i];

		if (!bp->in_memory)
			continue;
		/* Unless the guest wrote over it itself. */
		if (*bp->host == 0xcc)
			*bp->host = bp->orig;
		bp->host = NULL;
		bp->in_memory = false;
	}
}

int snapvm_gdb_apply_debug(struct snapvm_gdb *g, bool on, bool step, struct snapvm_error *err)
{
	uint64_t dr[8] = {0};
	uint32_t control = 0;

	if (on) {
		control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP;
		for (int i = 0; i < HW_SLOTS; i++)
			if (g->hw_used[i]) {
				dr[i] = g->hw_addr[i];
				dr[7] |= 1ULL << (2 * i); /* local enable, execute, 1 byte */
				control |= KVM_GUESTDBG_USE_HW_BP;
			}
		if (step)
			control |= KVM_GUESTDBG_SINGLESTEP;
	}
	return snapvm_kvm_vcpu_set_guest_debug(&g->sb->vcpu, control, dr, err);
}

void snapvm_gdb_read_registers(struct snapvm_gdb *g, int regno)
{
	struct reg_context c = {0};
	size_t n;
	const struct reg *t = reg_table(g, &n);
	char *o = g->out;

	if (load_context(g, &c, NULL) || (regno >= 0 && (size_t)regno >= n)) {
		free(c.state);
		snapvm_gdb_send_packet(g, "E01");
		return;
	}
	for (size_t i = regno < 0 ? 0 : (size_t)regno; i < n; i++) {
		unsigned char v[16];

		reg_read(&t[i], &c, v);
		o = snapvm_gdb_tohex(o, v, t[i].size);
		if (regno >= 0)
			break;
	}
	free(c.state);
	snapvm_gdb_send_packet(g, g->out);
}

/* P: "NN=VALUE", one register; G: every register in the table's order,
 * exactly. Nothing is written unless the whole packet is well-formed. */
void snapvm_gdb_write_registers(struct snapvm_gdb *g, const char *args, bool one)
{
	struct kvm_regs *r, staged;
	size_t n, at = 0, total = 0;
	const struct reg *t = reg_table(g, &n);
	unsigned char v[16];
	bool wrote = false;

	if (snapvm_kvm_vcpu_regs(&g->sb->vcpu, &r, NULL)) {
		snapvm_gdb_send_packet(g, "E01");
		return;
	}
	staged = *r;
	if (one) {
		const char *eq = strchr(args, '=');
		char num[20];
		uint64_t regno;

		if (!eq || (size_t)(eq - args) >= sizeof(num)) {
			snapvm_gdb_send_packet(g, "E01");
			return;
		}
		memcpy(num, args, (size_t)(eq - args));
		num[eq - args] = '\0';
		if (snapvm_gdb_parse_hex(num, &regno) || regno >= n ||
		    strlen(eq + 1) != 2 * t[regno].size ||
		    snapvm_gdb_unhex(eq + 1, v, t[regno].size)) {
			snapvm_gdb_send_packet(g, "E01");
			return;
		}
		/* FPU and segment registers are shown, not set. */
		wrote = reg_write(&t[regno], &staged, v);
		if (!wrote) {
			snapvm_gdb_send_packet(g, "E01");
			return;
		}
	} else {
		for (size_t i = 0; i < n; i++)
			total += 2 * t[i].size;
		if (strlen(args) != total) {
			snapvm_gdb_send_packet(g, "E01");
			return;
		}
		for (size_t i = 0; i < n; i++) {
			char hex[33];
			size_t digits = 2 * t[i].size;

			memcpy(hex, args + at, digits);
			hex[digits] = '\0';
			if (snapvm_gdb_unhex(hex, v, t[i].size)) {
				snapvm_gdb_send_packet(g, "E01");
				return;
			}
			wrote |= reg_write(&t[i], &staged, v);
			at += digits;
		}
	}
	if (wrote) {
		*r = staged;
		snapvm_kvm_vcpu_regs_changed(&g->sb->vcpu);
	}
	snapvm_gdb_send_packet(g, "OK");
}

void snapvm_gdb_xfer_features(struct snapvm_gdb *g, const char *args)
{
	static char xml[8192];
	uint64_t offset, len;
	size_t size = target_xml(g, xml, sizeof(xml));
	const char *rest;

	if (strncmp(args, "target.xml:", 11) ||
	    snapvm_gdb_parse_addr_len(args + 11, &offset, &len, &rest) || *rest) {
		snapvm_gdb_send_packet(g, "E01");
		return;
	}
	if (offset >= size) {
		snapvm_gdb_send_packet(g, "l");
		return;
	}
	if (len > SNAPVM_GDB_PACKET_MAX - 1)
		len = SNAPVM_GDB_PACKET_MAX - 1;
	if (len > size - offset)
		len = size - offset;
	g->out[0] = offset + len < size ? 'm' : 'l';
	memcpy(g->out + 1, xml + offset, len);
	g->out[1 + len] = '\0';
	snapvm_gdb_send_packet(g, g->out);
}
