/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * host-calls.c - serves buffer calls (host-calls.h) that echo, claim more
 * output than there is room for, call host functions with good and bad
 * buffers, or call one and spin. Takes a SNAPSHOT first, like a real service.
 */
#include "guests/include/rt.h"
#include "guests/test/host-calls.h"

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static long serve(uint64_t function, const void *in, size_t in_len, void *out, size_t out_cap)
{
	const unsigned char *bytes = in;

	switch (function) {
	case HC_ECHO:
		if (in_len > out_cap)
			return -SNAPVM_EINVAL;
		memcpy(out, in, in_len);
		return (long)in_len;
	case HC_CLAIM:
		return in_len < 4 ? -SNAPVM_EINVAL : (long)le32(bytes);
	case HC_HOST:
		if (in_len < 4)
			return -SNAPVM_EINVAL;
		return rt_host_call(le32(bytes), bytes + 4, in_len - 4, out, out_cap);
	case HC_HOST_BAD_IN:
		return rt_host_call(1, (const void *)HOST_CALLS_NOWHERE, 16, out, out_cap);
	case HC_HOST_BAD_OUT: /* raw: rt_host_call would touch the buffer first */
		return rt_hypercall5(SNAPVM_HC_HOST_CALL, 1, (uintptr_t)in, in_len,
				     HOST_CALLS_NOWHERE, 64);
	case HC_HOST_TOO_BIG:
		return rt_host_call(1, in, SNAPVM_HOST_CALL_MAX + 1, out, out_cap);
	case HC_HOST_UNTOUCHED_OUT: /* raw, as HC_HOST_BAD_OUT */
		if (in_len < 4 || out_cap < 2 * RT_PAGE_SIZE)
			return -SNAPVM_EINVAL;
		return rt_hypercall5(
		    SNAPVM_HC_HOST_CALL, le32(bytes), (uintptr_t)(bytes + 4), in_len - 4,
		    ((uintptr_t)out + out_cap - RT_PAGE_SIZE) & ~(RT_PAGE_SIZE - 1), 64);
	case HC_HOST_THEN_SPIN:
		if (in_len < 4)
			return -SNAPVM_EINVAL;
		rt_host_call(le32(bytes), bytes + 4, in_len - 4, out, out_cap);
		for (;;)
			__asm__ volatile("pause");
	}
	return -SNAPVM_ENOSYS;
}

int main(void)
{
	rt_snapshot();
	rt_buffer_call_loop(serve);
}
