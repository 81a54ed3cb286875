// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * linux_personality.c - the Linux personality's two builds (guests/linux/,
 * build/guests/<arch>/linux.elf), embedded in libsnapvm so that a Linux
 * program needs nothing but the library and the launcher.
 */
#include <stddef.h>

#include "layout/abi.h"
#include "userspace/lib/internal.h"

#ifndef LX_PERSONALITY_DIR
#error "build with -DLX_PERSONALITY_DIR (guests/linux/build.mk)"
#endif

__asm__(".section .rodata\n"
	".balign 16\n"
	"lx_personality_i686:\n"
	".incbin \"" LX_PERSONALITY_DIR "/i686/linux.elf\"\n"
	"lx_personality_i686_end:\n"
	".balign 16\n"
	"lx_personality_amd64:\n"
	".incbin \"" LX_PERSONALITY_DIR "/amd64/linux.elf\"\n"
	"lx_personality_amd64_end:\n"
	".previous\n");

extern const unsigned char lx_personality_i686[], lx_personality_i686_end[];
extern const unsigned char lx_personality_amd64[], lx_personality_amd64_end[];

const unsigned char *snapvm_linux_personality(unsigned int layout, size_t *size)
{
	if (layout == SNAPVM_LAYOUT_I686) {
		*size = (size_t)(lx_personality_i686_end - lx_personality_i686);
		return lx_personality_i686;
	}
	*size = (size_t)(lx_personality_amd64_end - lx_personality_amd64);
	return lx_personality_amd64;
}
