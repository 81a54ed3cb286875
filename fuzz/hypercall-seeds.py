#!/usr/bin/env python3
# fuzz/hypercall-seeds.py - writes the hand-made seeds of hypercall_fuzz
# into fuzz/corpus/hypercall/: one per paging mode (off, 32-bit, 32-bit
# with 4 MiB pages, PAE, 4-level with a 2 MiB page), WRITE and ABORT, in the
# harness's input format (struct fuzz_input, then slot 0 and slot 1 bytes).
import os
import struct

CR0_PG, CR4_PSE, CR4_PAE, EFER_LMA = 1 << 31, 1 << 4, 1 << 5, 1 << 10
P, RW, PS = 1, 2, 0x80
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "hypercall")


def seed(name, op, slot0, slot1, cr0=0, cr3=0, cr4=0, efer=0, gva=0, length=0,
         gpa0=0, gpa1=0x100000):
    pages = [max(1, (len(s) + 4095) // 4096) for s in (slot0, slot1)]
    head = struct.pack("<B3xHHQQQQQQQQ", op, pages[0] - 1, pages[1] - 1, gpa0, gpa1,
                       cr0, cr3, cr4, efer, gva, length)
    body = slot0.ljust(pages[0] * 4096, b"\0") + slot1
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(head + body)


def mem(pages, **at):
    m = bytearray(pages * 4096)
    for off, data in at.items():
        o = int(off[1:], 16)
        m[o:o + len(data)] = data
    return m


msg = b"guest says: something went wrong\0"
os.makedirs(OUT, exist_ok=True)
# Paging off: GVA = GPA; the string in slot 0, a WRITE across both slots.
seed("off-abort", 1, mem(2, x100=msg), b"tail", gva=0x100)
seed("off-write", 0, mem(2), mem(1, x0=b"x" * 4096), gva=0x1800, length=0x1800, gpa1=0x2000)
# One byte past the second slot: -EFAULT, nothing visited.
seed("off-write-past", 0, mem(2), mem(1), gva=0x1800, length=0x1801, gpa1=0x2000)
# 32-bit paging: PD at 0x1000, PT at 0x2000; GVA 0x400000 -> GPA 0x3000.
m = mem(4, x1004=struct.pack("<I", 0x2000 | P | RW), x2000=struct.pack("<I", 0x3000 | P),
        x3000=msg)
seed("pg32-abort", 1, m, b"", cr0=CR0_PG, cr3=0x1000, gva=0x400000)
seed("pg32-write", 0, m, b"", cr0=CR0_PG, cr3=0x1000, gva=0x400000, length=len(msg))
# 32-bit paging with PSE: a 4 MiB page at 0 maps GVA 0 -> GPA 0.
m = mem(2, x1000=struct.pack("<I", 0 | P | PS), x200=msg)
seed("pse-abort", 1, m, b"", cr0=CR0_PG, cr3=0x1000, cr4=CR4_PSE, gva=0x200)
# PAE: PDPT at 0x1000, PD at 0x2000, PT at 0x3000; GVA 0x10000 -> 0x4000.
m = mem(5, x1000=struct.pack("<Q", 0x2000 | P), x2000=struct.pack("<Q", 0x3000 | P | RW),
        x3080=struct.pack("<Q", 0x4000 | P), x4000=msg)
seed("pae-abort", 1, m, b"", cr0=CR0_PG, cr3=0x1000, cr4=CR4_PAE, gva=0x10000)
seed("pae-write", 0, m, b"", cr0=CR0_PG, cr3=0x1000, cr4=CR4_PAE, gva=0x10000, length=100)
# 4-level: PML4 0x1000, PDPT 0x2000, PD 0x3000 with a 2 MiB page at GPA 0,
# and the second slot above 4 GiB reached through PD entry 1.
m = mem(4, x1000=struct.pack("<Q", 0x2000 | P | RW), x2000=struct.pack("<Q", 0x3000 | P | RW),
        x3000=struct.pack("<Q", 0 | P | PS), x3008=struct.pack("<Q", 0x100000000 | P | PS),
        x500=msg)
seed("lm-abort", 1, m, b"", cr0=CR0_PG, cr3=0x1000, cr4=CR4_PAE, efer=EFER_LMA, gva=0x500)
seed("lm-write", 0, m, mem(1, x0=b"y" * 4096), cr0=CR0_PG, cr3=0x1000, cr4=CR4_PAE,
     efer=EFER_LMA, gva=0x3000, length=0x1000)
seed("lm-write-2m", 0, m, mem(2), cr0=CR0_PG, cr3=0x1000, cr4=CR4_PAE, efer=EFER_LMA,
     gva=0x200000, length=0x2000, gpa1=0x100000000)
