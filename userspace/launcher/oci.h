/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * oci.h - snapshot files as OCI artifacts: `snapvm snapshot export FILE
 * --oci=DIR[:TAG]` writes an OCI image layout (oci-layout, index.json, a
 * manifest, a config and one layer, the snapshot file itself, each a blob
 * named by its sha256 digest), and `snapvm snapshot import --oci=DIR[:TAG]
 * FILE` turns one back into a snapshot file after checking every digest.
 *
 * The manifest is an OCI image manifest whose config is a (minimal) OCI image
 * config, so OCI tools such as skopeo inspect and copy it; the layer's media
 * type, OCI_SNAPSHOT_MEDIA_TYPE, says that it is a snapvm snapshot file (its
 * own header carries the format version and the layout).
 */
#ifndef SNAPVM_LAUNCHER_OCI_H
#define SNAPVM_LAUNCHER_OCI_H

#include <stddef.h>
#include <stdint.h>

#include "userspace/lib/snapvm.h"

#define OCI_SNAPSHOT_MEDIA_TYPE "application/vnd.snapvm.snapshot.v1"
#define OCI_DEFAULT_TAG		"latest"
/*
 * The largest layer import accepts, 4 GiB + 2 MiB: the snapshot file of a
 * sandbox at the default --max-memory (SNAPVM_DEFAULT_MAX_MEMORY of snapshot
 * and scratch) with its header page and vCPU state. A larger descriptor
 * fails before its blob is read; export refuses a larger file.
 */
#define OCI_MAX_LAYER_SIZE (SNAPVM_DEFAULT_MAX_MEMORY + (2ULL << 20))

/* A blob as a descriptor names it: "sha256:" and 64 lowercase hex digits
 * (the only digests whose blobs are opened), and its size. */
struct oci_descriptor {
	char digest[7 + 64 + 1];
	uint64_t size;
};

/*
 * The parsers import uses, on a document's text (name: the file, in
 * messages); each checks what it takes and fails with EX_DATAERR naming the
 * document and what is wrong, except as noted.
 *
 * oci_parse_layout: oci-layout says image layout version 1.x.
 * oci_parse_index: index.json's descriptor of the manifest tagged tag (NULL:
 *	the only one, else OCI_DEFAULT_TAG); no such tag is EX_NOINPUT.
 * oci_parse_manifest: an OCI image manifest (schema version 2), its config
 *	and its one layer, of type OCI_SNAPSHOT_MEDIA_TYPE and at most
 *	OCI_MAX_LAYER_SIZE bytes.
 * oci_parse_config: the config is a JSON object.
 */
int oci_parse_layout(const char *name, const char *text, size_t len, struct snapvm_error *err);
int oci_parse_index(const char *name, const char *text, size_t len, const char *tag,
		    struct oci_descriptor *manifest, struct snapvm_error *err);
int oci_parse_manifest(const char *name, const char *text, size_t len,
		       struct oci_descriptor *config, struct oci_descriptor *layer,
		       struct snapvm_error *err);
int oci_parse_config(const char *name, const char *text, size_t len, struct snapvm_error *err);

/*
 * Export's index: the one at text (len 0: none yet) with its manifests
 * kept, but for the one tagged tag, which manifest replaces. The new
 * document goes to *out (malloc'd, *out_len bytes). A text that is no OCI
 * index fails with EX_DATAERR.
 */
int oci_index_add(const char *name, const char *text, size_t len, const char *tag,
		  const struct oci_descriptor *manifest, char **out, size_t *out_len,
		  struct snapvm_error *err);

/* Export the snapshot file at path (verified first) as dir's tag (NULL: the
 * default tag), replacing an earlier manifest of that tag and keeping the
 * layout's other manifests. */
int oci_export(const char *path, const char *dir, const char *tag, struct snapvm_error *err);

/* Import dir's tag (NULL: the only manifest, else the default tag) into a
 * snapshot file at path, written atomically. A blob whose size or digest is
 * not its descriptor's, or a layer that is no valid snapshot file, fails
 * with EX_DATAERR and leaves path alone. */
int oci_import(const char *dir, const char *tag, const char *path, struct snapvm_error *err);

/* A tag as the OCI distribution spec allows: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}. */
bool oci_valid_tag(const char *tag);

#endif /* SNAPVM_LAUNCHER_OCI_H */
