// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * guest.c - the digest guest: initialises, takes a SNAPSHOT, then serves
 * buffer calls (digest.h) from the snapshot's state, one per request.
 */
#include "examples/digest/digest.h"
#include "examples/digest/sha256.h"
#include "guests/include/rt.h"

/* .bss: back to 0 at every restore, which function 3 shows. */
static uint64_t sha256_calls;

static long serve(uint64_t function, const void *in, size_t in_len, void *out, size_t out_cap)
{
	unsigned char *bytes = out;
	struct sha256 ctx;
	long n;

	switch (function) {
	case DIGEST_SHA256:
		if (out_cap < SHA256_DIGEST_SIZE)
			return -SNAPVM_EINVAL;
		sha256_init(&ctx);
		sha256_update(&ctx, in, in_len);
		sha256_final(&ctx, bytes);
		sha256_calls++;
		return SHA256_DIGEST_SIZE;
	case DIGEST_VIA_HOST:
		n = rt_host_call(DIGEST_HOST_FUNCTION, in, in_len, out, out_cap);
		for (long i = 0; n > 0 && i < n / 2; i++) {
			unsigned char c = bytes[i];

			bytes[i] = bytes[n - 1 - i];
			bytes[n - 1 - i] = c;
		}
		return n;
	case DIGEST_COUNT:
		for (int i = 0; i < 8; i++)
			bytes[i] = (unsigned char)(sha256_calls >> (8 * i));
		return 8;
	case DIGEST_SPIN:
		for (;;)
			__asm__ volatile("pause");
	}
	return -SNAPVM_ENOSYS;
}

int main(void)
{
	sha256_calls = 0;
	rt_snapshot();
	rt_buffer_call_loop(serve);
}
