// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * workingset.c - which guest pages stay write-enabled across restores.
 *
 * A restore normally re-protects every page the last request wrote
 * (KVM_CLEAR_DIRTY_LOG), so the next request's first write to each of them
 * takes a write-protection fault: a VM exit, which in a nested KVM costs
 * about as much as a hypercall. The pages a service writes are mostly the
 * same from one request to the next (its stack, its globals, its buffers),
 * so those are kept write-enabled instead. KVM_GET_DIRTY_LOG (with manual
 * protection) keeps reporting a page until its bit is cleared, so a kept
 * page is always in the restore's set: it is put back every time, written
 * or not. That is the trade: a restore touches the pages written plus at
 * most the working set, and saves a fault per kept page that is written.
 *
 * The set adapts by periodic re-protection: every WORKING_SET_PERIOD
 * restores it is emptied and every page re-protected, so a page that
 * stopped being written leaves it, and the next restores admit again only
 * what is really written. Admission is first come while the set has room.
 */
#include <stdlib.h>
#include <string.h>

#include "userspace/lib/internal.h"

/* Restores between two re-protections: one request in 64 pays the faults
 * of its working set again, which is what finding out costs. */
#define WORKING_SET_PERIOD 64

int snapvm_working_set_init(struct snapvm_working_set *ws, const uint64_t npages[SNAPVM_WS_SLOTS],
			    uint64_t max_pages)
{
	memset(ws, 0, sizeof(*ws));
	for (int i = 0; i < SNAPVM_WS_SLOTS; i++) {
		ws->npages[i] = npages[i];
		ws->kept[i] = calloc(snapvm_bitmap_words(npages[i]) + 1, sizeof(uint64_t));
		if (!ws->kept[i]) {
			snapvm_working_set_free(ws);
			return -1;
		}
	}
	ws->max_pages = max_pages;
	return 0;
}

void snapvm_working_set_free(struct snapvm_working_set *ws)
{
	for (int i = 0; i < SNAPVM_WS_SLOTS; i++) {
		free(ws->kept[i]);
		ws->kept[i] = NULL;
	}
}

void snapvm_working_set_limit(struct snapvm_working_set *ws, uint64_t max_pages)
{
	ws->max_pages = max_pages;
	ws->age = WORKING_SET_PERIOD; /* the next restore starts afresh */
}

bool snapvm_working_set_begin(struct snapvm_working_set *ws)
{
	if (++ws->age < WORKING_SET_PERIOD)
		return false;
	for (int i = 0; i < SNAPVM_WS_SLOTS; i++)
		memset(ws->kept[i], 0, snapvm_bitmap_words(ws->npages[i]) * sizeof(uint64_t));
	ws->pages = 0;
	ws->age = 0;
	return true;
}

bool snapvm_working_set_admit(struct snapvm_working_set *ws, int slot, uint64_t *dirty, bool admit)
{
	uint64_t *kept = ws->kept[slot];
	bool any = false;

	for (uint64_t w = 0; w < snapvm_bitmap_words(ws->npages[slot]); w++) {
		uint64_t fresh = dirty[w] & ~kept[w];

		while (admit && fresh && ws->pages < ws->max_pages) {
			uint64_t bit = fresh & -fresh;

			kept[w] |= bit;
			fresh &= ~bit;
			ws->pages++;
		}
		/* What is left is re-protected. */
		dirty[w] &= ~kept[w];
		any |= dirty[w] != 0;
	}
	return any;
}
