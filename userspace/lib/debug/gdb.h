// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * gdb.h - the gdb stub's own interfaces between its layers: the session
 * (gdbstub.c: packets to actions, runs, listen and accept) stands above the
 * target (gdb_target.c: registers, memory, breakpoints), which stands above
 * the packets (gdb_packet.c: framing, hex, the connection).
 */
#ifndef SNAPVM_USERSPACE_GDB_H
#define SNAPVM_USERSPACE_GDB_H

#include "userspace/lib/internal.h"

#define MAX_BREAKPOINTS 64
#define HW_SLOTS	4
#define DR6_BS		(1ULL << 14)

/* How a breakpoint stops the guest, best first: a debug register, an
 * int3 (where the host may write guest memory), or single steps that
 * compare RIP, which works wherever single-stepping does. */
enum bp_how { BP_DR, BP_INT3, BP_STEP };

struct breakpoint {
	uint64_t addr;
	int type; /* 0: Z0, 1: Z1 */
	enum bp_how how;
	int hw_slot;  /* BP_DR: DR0-3 */
	uint8_t orig; /* BP_INT3: the byte the int3 replaces */
	/* BP_INT3 while the guest runs: where the int3 went. Removal writes
	 * there, not where addr maps at the stop: the guest may remap the
	 * page meanwhile (a PTE write and invlpg exit to nobody). */
	unsigned char *host;
	bool in_memory;
};

struct snapvm_gdb {
	int listen_fd, fd;
	char unix_path[108];
	struct snapvm_gdb_rx rx;
	struct snapvm_sandbox *sb;
	bool stopped;	  /* gdb holds the guest; it waits for our commands */
	bool step;	  /* the resume asked for is a single step */
	bool end_pending; /* stopped at ABORT/FAULT: resuming ends the run */
	bool killed;
	/* What KVM_SET_GUEST_DEBUG really does here (probed at listen). */
	bool hw_ok, int3_ok;
	struct snapvm_outcome ended;
	char last_stop[64];
	struct breakpoint bps[MAX_BREAKPOINTS];
	unsigned int nbps;
	uint64_t hw_addr[HW_SLOTS];
	bool hw_used[HW_SLOTS];
	char out[SNAPVM_GDB_PACKET_MAX * 2 + 16];
};

/* ---- packets and the connection (gdb_packet.c) ---- */

/* Hex digits to a value (-1 when malformed), to len bytes (-1 unless
 * exactly 2 * len digits), and bytes to hex (returns the end, NUL there). */
int snapvm_gdb_parse_hex(const char *p, uint64_t *value);
int snapvm_gdb_unhex(const char *p, unsigned char *buf, size_t len);
char *snapvm_gdb_tohex(char *out, const void *buf, size_t len);
/* Bytes, or one packet ($data#xx), to gdb; -1 once the connection is gone. */
int snapvm_gdb_send_all(struct snapvm_gdb *g, const void *buf, size_t len);
int snapvm_gdb_send_packet(struct snapvm_gdb *g, const char *data);
uint64_t snapvm_gdb_now_ms(void);
void snapvm_gdb_disconnect(struct snapvm_gdb *g);

/* ---- the target (gdb_target.c): each answers its packet itself ---- */

void snapvm_gdb_read_registers(struct snapvm_gdb *g, int regno);
void snapvm_gdb_write_registers(struct snapvm_gdb *g, const char *args, bool one);
void snapvm_gdb_xfer_features(struct snapvm_gdb *g, const char *args);
void snapvm_gdb_read_memory(struct snapvm_gdb *g, const char *args);
void snapvm_gdb_write_memory(struct snapvm_gdb *g, const char *args);
void snapvm_gdb_set_breakpoint(struct snapvm_gdb *g, const char *args, bool insert);
struct breakpoint *snapvm_gdb_find_bp(struct snapvm_gdb *g, int type, uint64_t addr);
/* int3s into guest memory while it runs, out again at each stop. */
void snapvm_gdb_insert_int3s(struct snapvm_gdb *g);
void snapvm_gdb_remove_int3s(struct snapvm_gdb *g);
/* KVM_SET_GUEST_DEBUG from the breakpoints and the step asked for. */
int snapvm_gdb_apply_debug(struct snapvm_gdb *g, bool on, bool step, struct snapvm_error *err);

#endif /* SNAPVM_USERSPACE_GDB_H */
