/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * digest.h - the functions the digest guest serves, and the host function
 * it calls: shared by the guest, the example host program and the tests.
 */
#ifndef SNAPVM_EXAMPLES_DIGEST_DIGEST_H
#define SNAPVM_EXAMPLES_DIGEST_DIGEST_H

enum digest_function {
	DIGEST_SHA256 = 1,   /* the input's SHA-256, 32 raw bytes */
	DIGEST_VIA_HOST = 2, /* host function 7 on the input, its output reversed */
	DIGEST_COUNT = 3,    /* how often function 1 ran since the snapshot, 8 bytes LE */
	DIGEST_SPIN = 4,     /* spins forever (for cancellation) */
};

/* The host function DIGEST_VIA_HOST calls; the example host program's
 * upper-cases its input. */
#define DIGEST_HOST_FUNCTION 7

#endif /* SNAPVM_EXAMPLES_DIGEST_DIGEST_H */
