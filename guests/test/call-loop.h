/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * call-loop.h - the functions the call-loop guest serves (its call numbers
 * and what they return), shared with the snapshot kselftest. Pure C.
 */
#ifndef SNAPVM_GUEST_CALL_LOOP_H
#define SNAPVM_GUEST_CALL_LOOP_H

/* Pages of each buffer the guest writes: scratch (taken from the free
 * scratch area before the snapshot) and .bss (the snapshot view: private
 * copies in i686, copy-on-write pages in amd64). */
#define CALL_LOOP_PAGES 64
/* What .bss word 0 of data page 0 and scratch page 0 hold at the snapshot. */
#define CALL_LOOP_MARK 0x5eed

enum call_loop_function {
	CALL_ADD = 1,	     /* arg + CALL_LOOP_ADDEND */
	CALL_WRITE_SCRATCH,  /* write one word in each of arg scratch pages; arg */
	CALL_WRITE_DATA,     /* the same in arg .bss pages; arg */
	CALL_GENERATION,     /* boot_info.generation */
	CALL_SEED,	     /* boot_info.random_seed (low 32 bits in i686) */
	CALL_COUNTER,	     /* ++ a .bss counter: 1 after every restore */
	CALL_POKE,	     /* word 0 of data page 0 and of scratch page 0 = arg; 0 */
	CALL_PEEK_DATA,	     /* word 0 of data page 0 */
	CALL_PEEK_SCRATCH,   /* word 0 of scratch page 0 */
	CALL_SNAPSHOT_VALUE, /* what SNAPSHOT returned */
	CALL_EXIT,	     /* EXIT(arg) */
	CALL_SCRIBBLE,	     /* write words in pages of both buffers picked by the
			      * 32-bit seed arg (call_loop_scribble); pages written */
};
#define CALL_LOOP_ADDEND 1000

/* CALL_SCRIBBLE's pattern, a xorshift32 walk from the seed: how many words
 * it writes (0..47), then for each the buffer (bit 0: .bss, else scratch),
 * the page and the word. Shared by the guest and the test. */
static inline unsigned int call_loop_scribble_next(unsigned int *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

#endif /* SNAPVM_GUEST_CALL_LOOP_H */
