/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * invalid-opcode.c - executes ud2 at a known address: the runtime's IDT
 * catches the #UD and ABORTs naming the vector and the instruction pointer,
 * so the launcher exits 70 with that message.
 */
#include "guests/include/rt.h"

__asm__(".pushsection .text\n"
	".globl invalid_opcode\n"
	"invalid_opcode: ud2\n"
	".popsection");
extern const char invalid_opcode[];

int main(void)
{
	rt_printf("invalid-opcode: ud2 at %p\n", (const void *)invalid_opcode);
	((void (*)(void))(uintptr_t)invalid_opcode)();
	rt_printf("invalid-opcode: ud2 returned\n");
	return 0;
}
