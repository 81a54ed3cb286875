/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * buffer-calls.c - takes a SNAPSHOT, then serves the buffer calls of
 * buffer-calls.h: `snapvm call` on its snapshot file, for each exit status.
 */
#include "guests/include/rt.h"
#include "guests/test/buffer-calls.h"

static long serve(uint64_t function, const void *in, size_t in_len, void *out, size_t out_cap)
{
	const unsigned char *src = in;
	unsigned char *dst = out;

	switch (function) {
	case BUFFER_ECHO:
		if (in_len > out_cap)
			return -SNAPVM_EINVAL;
		for (size_t i = 0; i < in_len; i++)
			dst[i] = src[i];
		return (long)in_len;
	case BUFFER_FAIL:
		return -BUFFER_FAIL_ERROR;
	case BUFFER_CLAIM:
		return (long)out_cap + 1;
	case BUFFER_SPIN:
		for (;;)
			__asm__ volatile("pause");
	case BUFFER_EXIT:
		rt_exit(in_len ? src[0] : 0);
	case BUFFER_ABORT:
		rt_abort(3, BUFFER_ABORT_MESSAGE);
	}
	return -SNAPVM_ENOSYS;
}

int main(void)
{
	rt_snapshot();
	rt_buffer_call_loop(serve);
}
