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

#include "userspace/snapvm.h"

#define OCI_SNAPSHOT_MEDIA_TYPE "application/vnd.snapvm.snapshot.v1"
#define OCI_DEFAULT_TAG		"latest"

/* Export the snapshot file at path (verified first) as dir's tag (NULL: the
 * default tag), replacing an earlier manifest of that tag and keeping the
 * layout's other manifests. */
int oci_export(const char *path, const char *dir, const char *tag, struct snapvm_error *err);

/* Import dir's tag (NULL: the only manifest, else the default tag) into a
 * snapshot file at path, written atomically. A blob whose size or digest is
 * not its descriptor's, or a layer that is no valid snapshot file, fails
 * with EX_DATAERR and leaves path alone. */
int oci_import(const char *dir, const char *tag, const char *path, struct snapvm_error *err);

/* `snapvm snapshot export|import ...` (argv[0] is "snapshot"). */
int oci_cmd_snapshot(int argc, char **argv);

#endif /* SNAPVM_LAUNCHER_OCI_H */
