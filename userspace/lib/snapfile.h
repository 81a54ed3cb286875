/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * snapfile.h - the snapshot file format: a sealed snapshot's memory (the
 * snapshot view and the scratch image), its saved vCPU state and layout,
 * with a format version and a checksum over everything.
 *
 * Little-endian, every section page-aligned in the file:
 *
 *   struct snapfile_header      (one page, zero-padded)
 *   vCPU state                  vcpu_state_size bytes, opaque here
 *   snapshot memory             snapshot_size bytes (guest-physical from
 *                               snapshot_gpa)
 *   scratch memory              scratch_size bytes
 *
 * The checksum (CRC-64/XZ) covers the whole file with the checksum field
 * read as zero. Saving is atomic: a temporary file in the same directory,
 * fsync, rename, fsync of the directory. Zero pages of the memory sections
 * are holes (a sparse file; a scratch is mostly zeros), which opening does
 * not read (SEEK_DATA) and the checksum passes a page at a time.
 */
#ifndef SNAPVM_USERSPACE_SNAPFILE_H
#define SNAPVM_USERSPACE_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "userspace/lib/snapvm.h"

#define SNAPFILE_MAGIC "SNAPVMSN"
/* Bump on any change of the header or of a section's meaning. */
#define SNAPFILE_VERSION 2

struct snapfile_header {
	char magic[8]; /* SNAPFILE_MAGIC, not NUL-terminated */
	uint32_t version;
	uint32_t layout; /* enum snapvm_layout_id */
	uint64_t checksum;
	uint64_t file_size;
	uint64_t vcpu_state_size;
	uint64_t snapshot_gpa;
	uint64_t snapshot_size;
	uint64_t scratch_size;
	uint64_t reserved[8]; /* zero */
};

/* A snapshot as the file holds it; the pointers are the caller's (save) or
 * point into the private copy of the file (open, parse). */
struct snapfile_contents {
	uint32_t layout;
	const void *vcpu_state;
	uint64_t vcpu_state_size;
	uint64_t snapshot_gpa;
	const void *snapshot;
	uint64_t snapshot_size;
	const void *scratch;
	uint64_t scratch_size;
};

/* Write the contents to path atomically: an earlier file at path survives
 * any failure (a crash, a full disk). EX_CANTCREAT / EX_IOERR on failure. */
int snapfile_save(const char *path, const struct snapfile_contents *contents,
		  struct snapvm_error *err);
/* The same, as name in the directory dirfd (snapvm_output_begin); path is
 * what messages call it. */
int snapfile_save_at(int dirfd, const char *name, const char *path,
		     const struct snapfile_contents *contents, struct snapvm_error *err);

/* An opened, fully verified snapshot file, read into private memory. */
struct snapfile {
	struct snapfile_contents contents; /* points into data */
	void *data;
	size_t size;
};

/*
 * Read path once into private memory and verify that copy (magic, version,
 * sizes against the layout, checksum) before returning: a corrupt,
 * truncated or foreign file fails with EX_DATAERR and a message naming the
 * file and what is wrong; so does anything but a regular file (a FIFO, a
 * device, a directory), a file truncated while it is read, and one whose
 * snapshot + scratch exceed max_memory (0 = no cap), refused from its header
 * before the sections are read. A missing or unreadable file is EX_NOINPUT.
 * Nothing is handed out unverified.
 */
int snapfile_open(const char *path, uint64_t max_memory, struct snapfile *file,
		  struct snapvm_error *err);
void snapfile_close(struct snapfile *file);

/* The checks of snapfile_open on size bytes at buf (the whole file); the
 * pointers in *out point into buf. name is the file in messages. */
int snapfile_parse(const char *name, const void *buf, size_t size, uint64_t max_memory,
		   struct snapfile_contents *out, struct snapvm_error *err);

/* CRC-64/XZ (ECMA-182 polynomial, reflected): start with crc = 0. */
uint64_t snapfile_crc64(uint64_t crc, const void *buf, size_t len);

#endif /* SNAPVM_USERSPACE_SNAPFILE_H */
