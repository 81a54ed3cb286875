// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * hash.c - snapvm_hash64, FNV-1a over bytes: a utility at the bottom of the
 * library, so that the KVM backend (its MSR probe cache) and the snapshot
 * code can both use it without calling each other.
 */
#include "userspace/lib/snapvm.h"

uint64_t snapvm_hash64(uint64_t hash, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		hash ^= p[i];
		hash *= 0x100000001b3ULL;
	}
	return hash;
}
