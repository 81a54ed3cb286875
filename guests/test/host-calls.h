/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * host-calls.h - the buffer functions of the host-calls guest, shared with
 * tests/kselftest/embed_test.c.
 */
#ifndef SNAPVM_GUESTS_TEST_HOST_CALLS_H
#define SNAPVM_GUESTS_TEST_HOST_CALLS_H

enum host_calls_function {
	HC_ECHO = 1,	 /* the input, as output */
	HC_CLAIM,	 /* input: 4 bytes LE, the output length to claim (none written) */
	HC_HOST,	 /* input: 4 bytes LE host function number, then its input; the
			  * host's output is the output, its error the result */
	HC_HOST_BAD_IN,	 /* HOST_CALL with an input buffer nowhere in guest memory */
	HC_HOST_BAD_OUT, /* ... with an output buffer nowhere */
	HC_HOST_TOO_BIG, /* ... with an input over SNAPVM_HOST_CALL_MAX */
	/* As HC_HOST, but the output buffer is the I/O output area's last
	 * page, which the guest never touches: the VMM's write is its first. */
	HC_HOST_UNTOUCHED_OUT,
	/* As HC_HOST, then spins forever: the host function tells the host
	 * that the call runs (interrupts). */
	HC_HOST_THEN_SPIN,
};

/* Nowhere in either layout: above i686's 4 GiB is not reachable, so a GVA
 * far below scratch and above any image. */
#define HOST_CALLS_NOWHERE 0x70000000UL

#endif /* SNAPVM_GUESTS_TEST_HOST_CALLS_H */
