/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * sha256.h - SHA-256 (FIPS 180-4) for freestanding guests: no libc, no
 * tables beyond the round constants.
 */
#ifndef SNAPVM_EXAMPLES_DIGEST_SHA256_H
#define SNAPVM_EXAMPLES_DIGEST_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32

struct sha256 {
	uint32_t state[8];
	uint64_t length; /* bytes hashed so far */
	uint8_t block[64];
	size_t used; /* bytes in block */
};

void sha256_init(struct sha256 *ctx);
void sha256_update(struct sha256 *ctx, const void *data, size_t len);
void sha256_final(struct sha256 *ctx, uint8_t digest[SHA256_DIGEST_SIZE]);

#endif /* SNAPVM_EXAMPLES_DIGEST_SHA256_H */
