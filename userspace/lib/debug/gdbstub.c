// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * gdbstub.c - a gdb remote stub for one sandbox at a time: the remote serial
 * protocol over TCP (localhost by default) or a unix socket, with target
 * descriptions for i386 and i386:x86-64, registers, guest-virtual memory,
 * software and hardware breakpoints and single steps through
 * KVM_SET_GUEST_DEBUG, and Ctrl-C while the guest runs.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "userspace/lib/debug/gdb.h"
#include "userspace/lib/internal.h"

/* A run is cut into slices this long so that gdb's Ctrl-C is seen between
 * them without a second thread. */
#define SLICE_MS 50

/* How long a closing connection waits for gdb to hang up first. */
#define DISCONNECT_LINGER_MS 2000

/* ---- framing (pure: unit-tested) ---- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum snapvm_gdb_rx_event snapvm_gdb_rx_byte(struct snapvm_gdb_rx *rx, unsigned char c)
{
	int v;

	switch (rx->state) {
	case 0: /* between packets */
		if (c == '$') {
			rx->state = 1;
			rx->len = 0;
			rx->sum = 0;
			return SNAPVM_GDB_RX_NONE;
		}
		if (c == 0x03)
			return SNAPVM_GDB_RX_INTERRUPT;
		if (c == '+' || c == '-')
			return SNAPVM_GDB_RX_NONE; /* acks: we never retransmit */
		return SNAPVM_GDB_RX_JUNK;
	case 1: /* data */
		if (c == '#') {
			rx->state = 2;
			return SNAPVM_GDB_RX_NONE;
		}
		if (rx->len >= SNAPVM_GDB_PACKET_MAX) {
			rx->state = 0;
			return SNAPVM_GDB_RX_OVERSIZED;
		}
		rx->buf[rx->len++] = (char)c;
		rx->sum = (uint8_t)(rx->sum + c);
		return SNAPVM_GDB_RX_NONE;
	case 2: /* first checksum digit */
		v = hexval(c);
		rx->check = (uint8_t)((v < 0 ? 0 : v) << 4);
		rx->check_bad = v < 0;
		rx->state = 3;
		return SNAPVM_GDB_RX_NONE;
	default: /* second digit */
		v = hexval(c);
		rx->state = 0;
		rx->buf[rx->len] = '\0';
		if (v < 0 || rx->check_bad || (uint8_t)(rx->check | v) != rx->sum)
			return SNAPVM_GDB_RX_BAD_CHECKSUM;
		return SNAPVM_GDB_RX_PACKET;
	}
}

/* "ADDR,LEN" in hex, then *rest at what follows. */
int snapvm_gdb_parse_addr_len(const char *p, uint64_t *addr, uint64_t *len, const char **rest)
{
	uint64_t v[2] = {0, 0};

	for (int i = 0; i < 2; i++) {
		int digits = 0, h;

		for (; (h = hexval((unsigned char)*p)) >= 0; p++, digits++) {
			if (digits == 16)
				return -1;
			v[i] = v[i] << 4 | (uint64_t)h;
		}
		if (!digits || (i == 0 && *p++ != ','))
			return -1;
	}
	*addr = v[0];
	*len = v[1];
	*rest = p;
	return 0;
}

/* A whole argument in hex: 1 to 16 digits, then the end of the string. */
int snapvm_gdb_parse_hex(const char *p, uint64_t *value)
{
	uint64_t v = 0;
	int digits = 0, h;

	for (; (h = hexval((unsigned char)*p)) >= 0; p++, digits++) {
		if (digits == 16)
			return -1;
		v = v << 4 | (uint64_t)h;
	}
	if (!digits || *p)
		return -1;
	*value = v;
	return 0;
}

/* len bytes of hex at p into buf; -1 unless exactly that many digits. */
int snapvm_gdb_unhex(const char *p, unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int hi = hexval((unsigned char)p[2 * i]), lo;

		if (hi < 0 || (lo = hexval((unsigned char)p[2 * i + 1])) < 0)
			return -1;
		buf[i] = (unsigned char)(hi << 4 | lo);
	}
	return p[2 * len] == '\0' ? 0 : -1;
}

char *snapvm_gdb_tohex(char *out, const void *buf, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		*out++ = digits[p[i] >> 4];
		*out++ = digits[p[i] & 15];
	}
	*out = '\0';
	return out;
}

/* ---- the connection ---- */

int snapvm_gdb_send_all(struct snapvm_gdb *g, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(g->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int snapvm_gdb_send_packet(struct snapvm_gdb *g, const char *data)
{
	char head[1] = {'$'}, tail[4];
	uint8_t sum = 0;
	size_t len = strlen(data);

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + (unsigned char)data[i]);
	snprintf(tail, sizeof(tail), "#%02x", sum);
	if (snapvm_gdb_send_all(g, head, 1) || snapvm_gdb_send_all(g, data, len) ||
	    snapvm_gdb_send_all(g, tail, 3))
		return -1;
	return 0;
}

uint64_t snapvm_gdb_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Close once gdb has hung up (or after a while): closing with its acks
 * unread would send a reset, which can cost gdb our last reply. */
void snapvm_gdb_disconnect(struct snapvm_gdb *g)
{
	struct pollfd pfd = {.fd = g->fd, .events = POLLIN};
	uint64_t deadline = snapvm_gdb_now_ms() + DISCONNECT_LINGER_MS, now;
	char buf[256];

	if (g->fd < 0)
		return;
	/* Bounded in all: a client that keeps sending is cut off all the
	 * same, and the launcher goes on. */
	while ((now = snapvm_gdb_now_ms()) < deadline &&
	       poll(&pfd, 1, (int)(deadline - now)) == 1) {
		ssize_t n = recv(g->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			break;
	}
	close(g->fd);
	g->fd = -1;
}

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
    {"cs", 4, R_SEG, 0, "int32"},
    {"ss", 4, R_SEG, 1, "int32"},
    {"ds", 4, R_SEG, 2, "int32"},
    {"es", 4, R_SEG, 3, "int32"},
    {"fs", 4, R_SEG, 4, "int32"},
    {"gs", 4, R_SEG, 5, "int32"},
    X87(),
    {"xmm0", 16, R_XMM, 0, "uint128"},
    {"xmm1", 16, R_XMM, 1, "uint128"},
    {"xmm2", 16, R_XMM, 2, "uint128"},
    {"xmm3", 16, R_XMM, 3, "uint128"},
    {"xmm4", 16, R_XMM, 4, "uint128"},
    {"xmm5", 16, R_XMM, 5, "uint128"},
    {"xmm6", 16, R_XMM, 6, "uint128"},
    {"xmm7", 16, R_XMM, 7, "uint128"},
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
    {"cs", 4, R_SEG, 0, "int32"},
    {"ss", 4, R_SEG, 1, "int32"},
    {"ds", 4, R_SEG, 2, "int32"},
    {"es", 4, R_SEG, 3, "int32"},
    {"fs", 4, R_SEG, 4, "int32"},
    {"gs", 4, R_SEG, 5, "int32"},
    X87(),
    {"xmm0", 16, R_XMM, 0, "uint128"},
    {"xmm1", 16, R_XMM, 1, "uint128"},
    {"xmm2", 16, R_XMM, 2, "uint128"},
    {"xmm3", 16, R_XMM, 3, "uint128"},
    {"xmm4", 16, R_XMM, 4, "uint128"},
    {"xmm5", 16, R_XMM, 5, "uint128"},
    {"xmm6", 16, R_XMM, 6, "uint128"},
    {"xmm7", 16, R_XMM, 7, "uint128"},
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

/* ---- the session ---- */

enum action { SERVE, RESUME, DETACH, KILL };

static void stop_reply(struct snapvm_gdb *g, const char *reply)
{
	snprintf(g->last_stop, sizeof(g->last_stop), "%s", reply);
	snapvm_gdb_send_packet(g, reply);
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

/* Hg/Hc and T name a thread: all (-1), any (0), or the one vCPU (1). */
static bool thread_ok(const char *id, bool any)
{
	return !strcmp(id, "1") || (any && (!strcmp(id, "0") || !strcmp(id, "-1")));
}

/* c/s: "[ADDR]"; C/S: "SIG[;ADDR]" (a guest has no signals: dropped).
 * Sets RIP to ADDR; false when malformed, and then nothing changed. */
static bool resume_args(struct snapvm_gdb *g, const char *pkt)
{
	const char *addr = pkt + 1;
	uint64_t rip, sig;
	char num[3];

	if (pkt[0] == 'C' || pkt[0] == 'S') {
		const char *semi = strchr(pkt, ';');
		size_t len = semi ? (size_t)(semi - (pkt + 1)) : strlen(pkt + 1);

		if (len < 1 || len > 2)
			return false;
		memcpy(num, pkt + 1, len);
		num[len] = '\0';
		if (snapvm_gdb_parse_hex(num, &sig))
			return false;
		addr = semi ? semi + 1 : "";
		if (semi && !*addr)
			return false;
	}
	if (*addr) {
		struct kvm_regs *r;

		if (snapvm_gdb_parse_hex(addr, &rip) ||
		    snapvm_kvm_vcpu_regs(&g->sb->vcpu, &r, NULL))
			return false;
		r->rip = rip;
		snapvm_kvm_vcpu_regs_changed(&g->sb->vcpu);
	}
	return true;
}

/* One packet while the guest is held; what the session does next.
 * Malformed packets get E01 and change nothing. */
static enum action handle_packet(struct snapvm_gdb *g, char *pkt)
{
	uint64_t regno;

	switch (pkt[0]) {
	case '?':
		snapvm_gdb_send_packet(g, pkt[1] ? "E01" : g->last_stop);
		return SERVE;
	case 'g':
		if (pkt[1])
			snapvm_gdb_send_packet(g, "E01");
		else
			snapvm_gdb_read_registers(g, -1);
		return SERVE;
	case 'G':
		snapvm_gdb_write_registers(g, pkt + 1, false);
		return SERVE;
	case 'p':
		if (snapvm_gdb_parse_hex(pkt + 1, &regno) || regno > INT32_MAX)
			snapvm_gdb_send_packet(g, "E01");
		else
			snapvm_gdb_read_registers(g, (int)regno);
		return SERVE;
	case 'P':
		snapvm_gdb_write_registers(g, pkt + 1, true);
		return SERVE;
	case 'm':
		snapvm_gdb_read_memory(g, pkt + 1);
		return SERVE;
	case 'M':
		snapvm_gdb_write_memory(g, pkt + 1);
		return SERVE;
	case 'Z':
	case 'z':
		snapvm_gdb_set_breakpoint(g, pkt + 1, pkt[0] == 'Z');
		return SERVE;
	case 'c':
	case 's':
	case 'C':
	case 'S':
		if (!resume_args(g, pkt)) {
			snapvm_gdb_send_packet(g, "E01");
			return SERVE;
		}
		g->step = pkt[0] == 's' || pkt[0] == 'S';
		return RESUME;
	case 'D':
		if (pkt[1]) {
			snapvm_gdb_send_packet(g, "E01");
			return SERVE;
		}
		snapvm_gdb_send_packet(g, "OK");
		return DETACH;
	case 'k':
		if (pkt[1]) {
			snapvm_gdb_send_packet(g, "E01");
			return SERVE;
		}
		return KILL;
	case 'H':
		snapvm_gdb_send_packet(
		    g, (pkt[1] == 'g' || pkt[1] == 'c') && thread_ok(pkt + 2, true) ? "OK" : "E01");
		return SERVE;
	case 'T':
		snapvm_gdb_send_packet(g, thread_ok(pkt + 1, false) ? "OK" : "E01");
		return SERVE;
	case 'q':
		if (!strncmp(pkt, "qSupported", 10))
			snapvm_gdb_send_packet(
			    g, "PacketSize=4000;qXfer:features:read+;swbreak+;hwbreak+");
		else if (!strncmp(pkt, "qXfer:features:read:", 20))
			snapvm_gdb_xfer_features(g, pkt + 20);
		else if (!strcmp(pkt, "qAttached"))
			snapvm_gdb_send_packet(g, "1");
		else if (!strcmp(pkt, "qC"))
			snapvm_gdb_send_packet(g, "QC1");
		else if (!strcmp(pkt, "qfThreadInfo"))
			snapvm_gdb_send_packet(g, "m1");
		else if (!strcmp(pkt, "qsThreadInfo"))
			snapvm_gdb_send_packet(g, "l");
		else
			snapvm_gdb_send_packet(g, "");
		return SERVE;
	default:
		snapvm_gdb_send_packet(g, ""); /* not supported */
		return SERVE;
	}
}

/* Feed received bytes to the framing; a complete packet is acknowledged
 * and handled. Returns the action, or -1 when the connection must close. */
static int receive(struct snapvm_gdb *g, const unsigned char *buf, size_t n, bool running,
		   bool *interrupt, enum action *action)
{
	bool junk = false;

	for (size_t i = 0; i < n; i++) {
		switch (snapvm_gdb_rx_byte(&g->rx, buf[i])) {
		case SNAPVM_GDB_RX_NONE:
			break;
		case SNAPVM_GDB_RX_INTERRUPT:
			*interrupt = true;
			break;
		case SNAPVM_GDB_RX_JUNK:
			junk = true;
			break;
		case SNAPVM_GDB_RX_OVERSIZED:
			return -1; /* nothing sane follows: close */
		case SNAPVM_GDB_RX_BAD_CHECKSUM:
			if (snapvm_gdb_send_all(g, "-", 1))
				return -1;
			break;
		case SNAPVM_GDB_RX_PACKET:
			if (snapvm_gdb_send_all(g, "+", 1))
				return -1;
			if (running) /* all-stop: nothing but Ctrl-C while it runs */
				break;
			*action = handle_packet(g, g->rx.buf);
			if (*action != SERVE)
				return 0;
			break;
		}
	}
	/* Bytes outside any packet: a NAK, so a confused client hears of it. */
	if (junk && snapvm_gdb_send_all(g, "-", 1))
		return -1;
	return 0;
}

/* Serve gdb while the guest is held, until it resumes, detaches or kills. */
static enum action serve(struct snapvm_gdb *g)
{
	unsigned char buf[4096];
	enum action action = SERVE;
	bool interrupt = false;

	while (action == SERVE) {
		ssize_t n = recv(g->fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || receive(g, buf, (size_t)n, false, &interrupt, &action) < 0) {
			snapvm_gdb_disconnect(g);
			return DETACH; /* gdb went away: the guest runs on alone */
		}
	}
	return action;
}

/* Between slices: did gdb send Ctrl-C (or hang up)? */
static bool poll_interrupt(struct snapvm_gdb *g)
{
	struct pollfd pfd = {.fd = g->fd, .events = POLLIN};
	unsigned char buf[256];
	bool interrupt = false;
	enum action action = SERVE;
	ssize_t n;

	if (poll(&pfd, 1, 0) <= 0)
		return false;
	n = recv(g->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
	    (n > 0 && receive(g, buf, (size_t)n, true, &interrupt, &action) < 0)) {
		snapvm_gdb_disconnect(g);
		return false;
	}
	return interrupt;
}

/* A DEBUG stop: which breakpoint, or the end of a step. */
static void debug_stop(struct snapvm_gdb *g)
{
	const struct kvm_debug_exit_arch *d = &g->sb->debug_exit;
	const char *why = "";

	if (d->exception == 3) {
		/* #BP: RIP at the int3 (KVM intercepts before it executes); be
		 * safe about a CPU that reports it after. */
		struct kvm_regs *r;

		if (!snapvm_kvm_vcpu_regs(&g->sb->vcpu, &r, NULL) &&
		    !snapvm_gdb_find_bp(g, 0, r->rip) && snapvm_gdb_find_bp(g, 0, r->rip - 1)) {
			r->rip--;
			snapvm_kvm_vcpu_regs_changed(&g->sb->vcpu);
		}
		why = "swbreak:;";
	} else if (!g->step && snapvm_gdb_find_bp(g, -1, d->pc)) {
		/* Traced onto a BP_STEP breakpoint (or a DR one at the same
		 * address). */
		why = snapvm_gdb_find_bp(g, -1, d->pc)->type == 0 ? "swbreak:;" : "hwbreak:;";
	} else if (d->dr6 & 0xf) {
		for (int i = 0; i < HW_SLOTS; i++)
			if (d->dr6 >> i & 1 && g->hw_used[i]) {
				struct breakpoint *bp = snapvm_gdb_find_bp(g, -1, g->hw_addr[i]);

				why = bp && bp->type == 0 ? "swbreak:;" : "hwbreak:;";
			}
	}
	char reply[32];

	snprintf(reply, sizeof(reply), "T05%s", why);
	stop_reply(g, reply);
}

static bool needs_trace(const struct snapvm_gdb *g)
{
	for (unsigned int i = 0; i < g->nbps; i++)
		if (g->bps[i].how == BP_STEP)
			return true;
	return false;
}

/* Continue one slice by single steps, for BP_STEP breakpoints: stops at
 * one (SNAPVM_STOP_DEBUG), at any other stop, or as SNAPVM_STOP_TIMEOUT
 * when the slice is over. */
static int trace_slice(struct snapvm_gdb *g, uint64_t slice_ms, struct snapvm_outcome *outcome,
		       struct snapvm_error *err)
{
	uint64_t start = snapvm_gdb_now_ms();

	for (;;) {
		const struct kvm_debug_exit_arch *d = &g->sb->debug_exit;
		int ret = snapvm_sandbox_run(g->sb, 0, outcome, err);

		if (ret || outcome->stop != SNAPVM_STOP_DEBUG)
			return ret;
		/* A debug register or int3 of ours, or a breakpoint reached. */
		if (d->exception == 3 || (d->dr6 & 0xf) || snapvm_gdb_find_bp(g, -1, d->pc))
			return 0;
		if (snapvm_gdb_now_ms() - start >= slice_ms) {
			outcome->stop = SNAPVM_STOP_TIMEOUT;
			return 0;
		}
	}
}

int snapvm_gdb_run(struct snapvm_gdb *g, struct snapvm_sandbox *sb, uint64_t timeout_ms,
		   struct snapvm_outcome *outcome, struct snapvm_error *err)
{
	uint64_t spent = 0;
	bool trace;
	int ret;

	g->sb = sb;
	for (;;) {
		uint64_t slice = SLICE_MS, start;

		if (g->fd >= 0 && g->stopped) {
			enum action action = serve(g);

			g->stopped = false;
			if (action == KILL) {
				struct kvm_regs *r;

				g->killed = true;
				snapvm_gdb_disconnect(g);
				snapvm_gdb_apply_debug(g, false, false, NULL);
				memset(outcome, 0, sizeof(*outcome));
				outcome->stop = SNAPVM_STOP_INTERRUPTED;
				if (!snapvm_kvm_vcpu_regs(&sb->vcpu, &r, NULL))
					outcome->rip = r->rip;
				snprintf(outcome->message, sizeof(outcome->message),
					 "killed by gdb at RIP 0x%llx",
					 (unsigned long long)outcome->rip);
				return 0;
			}
			if (action == DETACH) {
				snapvm_gdb_disconnect(g);
				ret = snapvm_gdb_apply_debug(g, false, false, err);
				if (ret)
					return ret;
			}
			if (g->end_pending) {
				g->end_pending = false;
				*outcome = g->ended;
				return 0;
			}
		}
		if (g->fd < 0) /* detached: the rest of the run as usual */
			return snapvm_sandbox_run(sb, timeout_ms ? timeout_ms - spent : 0, outcome,
						  err);
		if (timeout_ms && timeout_ms - spent < slice)
			slice = timeout_ms - spent;
		trace = !g->step && needs_trace(g);
		ret = snapvm_gdb_apply_debug(g, true, g->step || trace, err);
		if (ret)
			return ret;
		snapvm_gdb_insert_int3s(g);
		start = snapvm_gdb_now_ms();
		if (trace)
			ret = trace_slice(g, slice, outcome, err);
		else
			ret = snapvm_sandbox_run(sb, slice, outcome, err);
		spent += snapvm_gdb_now_ms() - start;
		snapvm_gdb_remove_int3s(g);
		if (ret)
			return ret;
		switch (outcome->stop) {
		case SNAPVM_STOP_DEBUG:
			debug_stop(g);
			g->stopped = true;
			break;
		case SNAPVM_STOP_TIMEOUT:
			if (timeout_ms && spent >= timeout_ms)
				return 0;
			if (poll_interrupt(g)) {
				stop_reply(g, "T02");
				g->stopped = true;
			}
			break;
		case SNAPVM_STOP_ABORT:
		case SNAPVM_STOP_FAULT:
			/* Held for gdb to look at; resuming ends the run. */
			g->ended = *outcome;
			g->end_pending = true;
			/* An exception the runtime caught is a SIGSEGV, as in the core. */
			stop_reply(g, outcome->stop == SNAPVM_STOP_ABORT && !sb->abort_frame
					  ? "T06"
					  : "T0b");
			g->stopped = true;
			break;
		default:
			return 0;
		}
		if (g->stopped && timeout_ms && spent >= timeout_ms)
			spent = timeout_ms - 1; /* a held guest's deadline waits */
	}
}

void snapvm_gdb_end(struct snapvm_gdb *g, int status)
{
	char reply[8];

	if (!g)
		return;
	/* gdb waits for a stop reply only while the guest runs. */
	if (g->fd >= 0 && !g->stopped && !g->killed) {
		snprintf(reply, sizeof(reply), "W%02x", status & 0xff);
		snapvm_gdb_send_packet(g, reply);
	}
	snapvm_gdb_disconnect(g);
	if (g->sb)
		snapvm_gdb_apply_debug(g, false, false, NULL);
	if (g->listen_fd >= 0)
		close(g->listen_fd);
	if (g->unix_path[0])
		unlink(g->unix_path);
	free(g);
}

bool snapvm_gdb_killed(const struct snapvm_gdb *g)
{
	return g && g->killed;
}

int snapvm_gdb_listen(const char *where, struct snapvm_gdb **out, char *address, size_t size,
		      struct snapvm_error *err)
{
	struct snapvm_gdb *g = calloc(1, sizeof(*g));
	int fd = -1, one = 1;

	*out = NULL;
	if (!g)
		return snapvm_fail(err, EX_OSERR, "out of memory for the gdb stub");
	g->listen_fd = g->fd = -1;
	g->stopped = true;
	/* Before the seccomp filter: the probe makes a VM of its own. */
	snapvm_kvm_probe_guest_debug(&g->hw_ok, &g->int3_ok);
	/* Test-only (debug_test): Z0 as an int3 wherever the host may write,
	 * as on a real host once the four debug registers are taken. The
	 * test VM's KVM honours neither, and its guests never execute one. */
	if (getenv("SNAPVM_GDB_FORCE_INT3") && !strcmp(getenv("SNAPVM_GDB_FORCE_INT3"), "1")) {
		g->hw_ok = false;
		g->int3_ok = true;
	}
	snprintf(g->last_stop, sizeof(g->last_stop), "S05");
	if (!strncmp(where, "unix:", 5)) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		bool bound;

		if (!where[5] || strlen(where + 5) >= sizeof(sun.sun_path)) {
			free(g);
			return snapvm_fail(err, EX_USAGE,
					   "--gdb=%s: want unix:PATH, at most %zu bytes", where,
					   sizeof(sun.sun_path) - 1);
		}
		strcpy(sun.sun_path, where + 5);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		/* Whoever connects first controls the guest: the owner only.
		 * Nobody can connect between bind and chmod: no listen yet. */
		bound = fd >= 0 && bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;

		if (bound && chmod(sun.sun_path, 0600) == 0)
			snprintf(g->unix_path, sizeof(g->unix_path), "%s", sun.sun_path);
		else if (fd >= 0) {
			int errnum = errno;

			close(fd);
			if (bound)
				unlink(sun.sun_path);
			free(g);
			return snapvm_fail_errno(err, EX_CANTCREAT, errnum, "gdb stub: bind %s",
						 where + 5);
		}
		snprintf(address, size, "%s", where);
	} else {
		struct sockaddr_in sin = {.sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		const char *colon = strrchr(where, ':'), *port = colon ? colon + 1 : where;
		char host[64] = "127.0.0.1", *end;
		unsigned long n;

		/* HOST:PORT binds elsewhere, on purpose only. */
		if (colon) {
			if ((size_t)(colon - where) >= sizeof(host) || colon == where)
				goto bad;
			memcpy(host, where, (size_t)(colon - where));
			host[colon - where] = '\0';
			if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
				goto bad;
		}
		errno = 0;
		n = strtoul(port, &end, 10);
		/* Port 0: the kernel picks a free one, and address names it. */
		if (errno || end == port || *end || n > 65535 || *port == '-')
			goto bad;
		sin.sin_port = htons((uint16_t)n);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0)
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
			int errnum = errno;

			close(fd);
			free(g);
			return snapvm_fail_errno(err, EX_UNAVAILABLE, errnum,
						 "gdb stub: bind %s:%lu", host, n);
		}
		if (fd >= 0 && !getsockname(fd, (struct sockaddr *)&sin, &(socklen_t){sizeof(sin)}))
			n = ntohs(sin.sin_port);
		snprintf(address, size, "%s:%lu", host, n);
	}
	if (fd < 0) {
		int errnum = errno;

		free(g);
		return snapvm_fail_errno(err, EX_OSERR, errnum, "gdb stub: socket");
	}
	if (listen(fd, 1) != 0) {
		int errnum = errno;

		close(fd);
		if (g->unix_path[0])
			unlink(g->unix_path);
		free(g);
		return snapvm_fail_errno(err, EX_OSERR, errnum, "gdb stub: listen");
	}
	g->listen_fd = fd;
	*out = g;
	return 0;
bad:
	free(g);
	return snapvm_fail(err, EX_USAGE,
			   "--gdb=%s: want PORT (1-65535 on 127.0.0.1, 0 for any free one), "
			   "ADDRESS:PORT (IPv4) or unix:PATH",
			   where);
}

int snapvm_gdb_accept(struct snapvm_gdb *g, struct snapvm_error *err)
{
	int one = 1;

	do
		g->fd = accept4(g->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	while (g->fd < 0 && errno == EINTR);
	if (g->fd < 0)
		return snapvm_fail_errno(err, EX_OSERR, errno, "gdb stub: accept");
	/* Small packets, answered at once. */
	setsockopt(g->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* One debugger only: nobody else connects later. */
	close(g->listen_fd);
	g->listen_fd = -1;
	if (g->unix_path[0]) {
		unlink(g->unix_path);
		g->unix_path[0] = '\0';
	}
	return 0;
}

int snapvm_gdb_seccomp_install(struct snapvm_gdb *g, struct snapvm_error *err)
{
	return snapvm_seccomp_install_fd(g->fd, NULL, 0, err);
}

int snapvm_gdb_seccomp_install_dirs(struct snapvm_gdb *g, const int *dirfds, unsigned int count,
				    struct snapvm_error *err)
{
	return snapvm_seccomp_install_fd(g->fd, dirfds, count, err);
}
