/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* gdb-remap.h - what the gdb-remap guest and debug_test share. */
#ifndef SNAPVM_GUEST_GDB_REMAP_H
#define SNAPVM_GUEST_GDB_REMAP_H

/* A private GVA (RT_AMD64_PRIVATE_GVA: never mapped by the VMM). */
#define GDB_REMAP_GVA	     0x0000400000000000ULL
#define GDB_REMAP_BYTE	     0x5a
#define GDB_REMAP_OTHER_BYTE 0xa5
#define GDB_REMAP_LINE	     "gdb-remap: the GVA reads 0x%02x\n"

#endif
