/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * sha256.h - SHA-256 (FIPS 180-4) for the digests of OCI blobs.
 */
#ifndef SNAPVM_LAUNCHER_SHA256_H
#define SNAPVM_LAUNCHER_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t length; /* bytes so far */
	uint8_t block[64];
	size_t used; /* bytes in block */
};

void sha256_init(struct sha256 *ctx);
void sha256_update(struct sha256 *ctx, const void *data, size_t len);
/* The digest as 64 lowercase hex digits and a NUL. */
void sha256_final_hex(struct sha256 *ctx, char hex[65]);

#endif /* SNAPVM_LAUNCHER_SHA256_H */
