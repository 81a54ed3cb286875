// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * gdbpacket_fuzz.c - what a gdb client sends the stub: the bytes through
 * the packet framing, and every packet's text through the ADDR,LEN parser
 * that m, M, Z, z and qXfer use.
 */
#include <stdint.h>
#include <string.h>

#include "userspace/lib/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct snapvm_gdb_rx rx;

	memset(&rx, 0, sizeof(rx));
	for (size_t i = 0; i < size; i++) {
		enum snapvm_gdb_rx_event e = snapvm_gdb_rx_byte(&rx, data[i]);
		uint64_t addr, len;
		const char *rest;

		if (rx.len > SNAPVM_GDB_PACKET_MAX)
			__builtin_trap();
		if (e == SNAPVM_GDB_RX_PACKET && rx.buf[0] &&
		    !snapvm_gdb_parse_addr_len(rx.buf + 1, &addr, &len, &rest) &&
		    (rest < rx.buf + 1 || rest > rx.buf + rx.len))
			__builtin_trap();
	}
	return 0;
}
