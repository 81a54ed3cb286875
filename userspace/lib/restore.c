// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * restore.c - the whole restore path, top to bottom: the dirty logs, the
 * working set, scratch and view pages, the vCPU state.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "userspace/lib/internal.h"

/* Put the snapshot's bytes back into the i686 view's dirty pages. They
 * stay the view's private pages: dropping them instead (MADV_DONTNEED)
 * made every next request pay a host copy-on-write fault, a page
 * allocation and an MMU-notifier round per page again, while a copy into
 * a page KVM still maps costs a memcpy. Returns pages restored. */
static int64_t restore_view_pages(struct snapvm_sandbox *sb, const uint64_t *bitmap)
{
	const unsigned char *original = sb->snapshot->memory;
	uint64_t npages = sb->snapshot->size / SNAPVM_PAGE, restored = 0;

	for (uint64_t page = 0; page < npages;) {
		uint64_t run = 0;

		if (!bitmap[page / 64]) {
			page = (page / 64 + 1) * 64;
			continue;
		}
		while (page + run < npages &&
		       (bitmap[(page + run) / 64] >> ((page + run) % 64) & 1))
			run++;
		memcpy(sb->view + page * SNAPVM_PAGE, original + page * SNAPVM_PAGE,
		       run * SNAPVM_PAGE);
		restored += run;
		page += run ? run : 1;
	}
	return (int64_t)restored;
}

/* The pages of one slot that KVM saw written, into pending; all of them
 * re-protected except the working set's (see workingset.c). */
static int fetch_dirty(struct snapvm_sandbox *sb, uint32_t slot, int ws_slot, uint64_t *pending,
		       bool admit, struct snapvm_error *err)
{
	uint64_t npages = sb->working_set.npages[ws_slot];
	int ret =
	    snapvm_kvm_vm_dirty_log_fetch(&sb->vm, slot, npages, sb->dirty_fetch, pending, err);

	if (ret || !snapvm_working_set_admit(&sb->working_set, ws_slot, sb->dirty_fetch, admit))
		return ret;
	return snapvm_kvm_vm_dirty_log_clear(&sb->vm, slot, npages, sb->dirty_fetch, err);
}

int snapvm_sandbox_set_working_set(struct snapvm_sandbox *sb, uint64_t max_pages,
				   struct snapvm_error *err)
{
	if (sb->in_host_call)
		return snapvm_reentered("snapvm_sandbox_set_working_set", err);
	if (max_pages > SNAPVM_WORKING_SET_MAX)
		return snapvm_fail(
		    err, EX_USAGE, "working set of %llu pages: at most %llu (0 turns it off)",
		    (unsigned long long)max_pages, (unsigned long long)SNAPVM_WORKING_SET_MAX);
	/* Without manual protection KVM re-protects every page it reports. */
	if (!snapvm_kvm_vm_manual_protect(&sb->vm))
		max_pages = 0;
	snapvm_working_set_limit(&sb->working_set, max_pages);
	return 0;
}

static int restore_failed(struct snapvm_sandbox *sb, int status, struct snapvm_error *err)
{
	snprintf(sb->poison_reason, sizeof(sb->poison_reason), "a restore failed (%s)",
		 err ? err->message : "no message");
	return status;
}

int snapvm_sandbox_set_pdptrs(struct snapvm_sandbox *sb, const struct snapvm_vcpu_state *state,
			      struct snapvm_error *err)
{
	const struct kvm_sregs *s = &state->sregs;
	uint64_t pdpte[4];
	const void *host;

	/* Paging on, PAE, not long mode. */
	if (!(s->cr0 & (1ULL << 31)) || !(s->cr4 & (1ULL << 5)) || (s->efer & (1ULL << 10)))
		return 0;
	host = snapvm_gpa_to_host(&sb->memory, s->cr3 & 0xffffffe0ULL, sizeof(pdpte));
	if (!host || snapvm_guest_prepare(host, sizeof(pdpte), false))
		return 0; /* KVM reads them itself, and says so */
	memcpy(pdpte, host, sizeof(pdpte));
	return snapvm_kvm_vcpu_set_pdptrs(&sb->vcpu, s, pdpte, err);
}

/*
 * The dirty bits a restore fetched stay in sb->*_dirty until their pages
 * are back: a restore that fails half-way leaves them there (and the
 * sandbox poisoned), and the next one adds the newer bits to them, so it
 * puts back every page dirtied since the last restore that succeeded.
 */
int snapvm_sandbox_restore(struct snapvm_sandbox *sb, struct snapvm_error *err)
{
	struct snapvm_snapshot *snap = sb->snapshot;
	uint64_t scratch_pages = snap->scratch_size / SNAPVM_PAGE;
	uint64_t view_pages = snap->size / SNAPVM_PAGE;
	struct snapvm_boot_info *info = (struct snapvm_boot_info *)sb->scratch_memory;
	int64_t scratch_done, view_done = 0;
	bool admit;
	int ret;

	if (sb->in_host_call)
		return snapvm_reentered("snapvm_sandbox_restore", err);
	sb->poisoned = true;
	snprintf(sb->poison_reason, sizeof(sb->poison_reason), "a restore is unfinished");
	sb->at_snapshot = sb->at_call_wait = false;
	sb->last_stop = 0; /* no fault frame to show any more */
	sb->console_len = 0;
	snapvm_deadline_refresh_mask();
	/* The vCPU first: it finishes a pending I/O, which could write memory
	 * (an `ins`), before the memory goes back. */
	ret = snapvm_kvm_vcpu_set_state(&sb->vcpu, sb->origin, err);
	if (!ret)
		ret = snapvm_kvm_vcpu_reset_tsc(&sb->vcpu, err);
	admit = !snapvm_working_set_begin(&sb->working_set);
	if (!ret)
		ret = fetch_dirty(sb, SNAPVM_SLOT_SCRATCH, SNAPVM_WS_SCRATCH, sb->scratch_dirty,
				  admit, err);
	if (!ret && sb->view_private)
		ret = fetch_dirty(sb, SNAPVM_SLOT_SNAPSHOT, SNAPVM_WS_VIEW, sb->view_dirty, admit,
				  err);
	if (!ret && sb->inject_restore_fault) {
		sb->inject_restore_fault = false;
		ret = snapvm_fail(err, EX_OSERR, "fault injected into the restore (a test hook)");
	}
	if (ret)
		return restore_failed(sb, ret, err);
	/* The VMM itself writes the boot info (seed, generation, calls),
	 * which the dirty log does not see. */
	sb->scratch_dirty[0] |= 1;
	scratch_done = snapvm_snapshot_fill_scratch(snap, &sb->scratch, sb->scratch_memory,
						    sb->scratch_dirty, err);
	if (scratch_done < 0)
		return restore_failed(sb, (int)-scratch_done, err);
	/* A PAE guest's PDPTEs from the memory just put back. */
	ret = snapvm_sandbox_set_pdptrs(sb, sb->origin, err);
	if (ret)
		return restore_failed(sb, ret, err);
	memset(sb->scratch_dirty, 0, snapvm_bitmap_words(scratch_pages) * sizeof(uint64_t));
	if (sb->view_private) {
		view_done = restore_view_pages(sb, sb->view_dirty);
		memset(sb->view_dirty, 0, snapvm_bitmap_words(view_pages) * sizeof(uint64_t));
	}
	info->random_seed = sb->random_seed;
	info->generation = ++sb->generation;
	sb->last_restore_pages = (uint64_t)scratch_done + (uint64_t)view_done;
	sb->poisoned = false;
	return 0;
}

uint64_t snapvm_sandbox_last_restore_pages(const struct snapvm_sandbox *sb)
{
	return sb->last_restore_pages;
}
