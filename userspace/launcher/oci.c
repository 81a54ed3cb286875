// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * oci.c - `snapvm snapshot export|import`: a snapshot file to an OCI image
 * layout and back (see oci.h). Digests are checked before anything read from
 * the layout is used, blob names are built only from validated digests,
 * every file of the layout is opened without following a symlink or
 * blocking and read only when it is a regular file, and every file we write
 * appears atomically (a temporary file, fsync, rename). JSON is jansson's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sysexits.h>
#include <unistd.h>

#include "userspace/lib/internal.h"
#include "userspace/launcher/jsonx.h"
#include "userspace/launcher/cli.h"
#include "userspace/launcher/oci.h"
#include "userspace/launcher/sha256.h"
#include "userspace/lib/snapfile.h"

#define OCI_MANIFEST_MEDIA_TYPE "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX_MEDIA_TYPE	"application/vnd.oci.image.index.v1+json"
#define OCI_CONFIG_MEDIA_TYPE	"application/vnd.oci.image.config.v1+json"
#define OCI_REF_NAME		"org.opencontainers.image.ref.name"
#define OCI_TITLE		"org.opencontainers.image.title"
/* index.json, manifests and configs are small; refuse to read a huge one. */
#define OCI_MAX_JSON (4u << 20)

/* A tag as the OCI distribution spec allows: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}. */
bool oci_valid_tag(const char *tag)
{
	size_t n = strlen(tag);

	if (n == 0 || n > 128 || tag[0] == '.' || tag[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = tag[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* "sha256:" and 64 lowercase hex digits: the only digests we name files by. */
static bool valid_digest(const char *digest)
{
	if (!digest || strncmp(digest, "sha256:", 7) || strlen(digest) != 7 + 64)
		return false;
	for (const char *p = digest + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static int path_join(char *out, size_t size, const char *dir, const char *name,
		     struct snapvm_error *err)
{
	if ((size_t)snprintf(out, size, "%s/%s", dir, name) >= size)
		return snapvm_fail(err, EX_USAGE, "path too long: %s/%s", dir, name);
	return 0;
}

static int write_all(int fd, const char *name, const void *data, size_t len,
		     struct snapvm_error *err)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return snapvm_fail_errno(err, EX_IOERR, n < 0 ? errno : EIO,
						 "cannot write %s", name);
		p += n, len -= (size_t)n;
	}
	return 0;
}

/* Write len bytes to path atomically (a temporary file next to it). */
static int write_atomic(const char *path, const void *data, size_t len, struct snapvm_error *err)
{
	char tmp[PATH_MAX];
	int fd, ret;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= sizeof(tmp))
		return snapvm_fail(err, EX_CANTCREAT, "path too long: %s", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		return snapvm_fail_errno(err, EX_CANTCREAT, errno, "cannot create %s", tmp);
	ret = write_all(fd, tmp, data, len, err);
	if (ret) {
		close(fd);
		unlink(tmp);
		return ret;
	}
	if (fchmod(fd, 0644) || fsync(fd) || close(fd) || rename(tmp, path)) {
		int e = errno;

		unlink(tmp);
		return snapvm_fail_errno(err, EX_IOERR, e, "cannot write %s", path);
	}
	return 0;
}

static int mkdir_p(const char *dir, struct snapvm_error *err)
{
	if (mkdir(dir, 0755) && errno != EEXIST)
		return snapvm_fail_errno(err, EX_CANTCREAT, errno, "cannot create %s", dir);
	return 0;
}

/* Store data as a blob of dir; its digest goes to digest. */
static int put_blob(const char *dir, const void *data, size_t len, char digest[7 + 65],
		    struct snapvm_error *err)
{
	char path[PATH_MAX];
	struct sha256 ctx;

	sha256_init(&ctx);
	sha256_update(&ctx, data, len);
	memcpy(digest, "sha256:", 7);
	sha256_final_hex(&ctx, digest + 7);
	if ((size_t)snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, digest + 7) >=
	    sizeof(path))
		return snapvm_fail(err, EX_USAGE, "path too long: %s", dir);
	return write_atomic(path, data, len, err);
}

/* A JSON document, compact, a newline after it; malloc'd. */
static int dump(json_t *doc, char **out, size_t *len, struct snapvm_error *err)
{
	size_t n = doc ? json_dumpb(doc, NULL, 0, JSON_COMPACT) : 0;
	char *buf = n ? malloc(n + 1) : NULL;

	if (!buf || json_dumpb(doc, buf, n, JSON_COMPACT) != n) {
		free(buf);
		return snapvm_fail(err, EX_OSERR, "out of memory for a JSON document");
	}
	buf[n] = '\n';
	*out = buf;
	*len = n + 1;
	return 0;
}

/* ---- reading the layout ---- */

/*
 * Open name under the layout directory dirfd (dir, in messages): no symlink
 * on the way (RESOLVE_NO_SYMLINKS; O_NOFOLLOW where openat2 is missing),
 * nothing outside dir, O_NONBLOCK so that a FIFO cannot hang us, and only a
 * regular file, seen by fstat before a byte is read. A missing file is
 * EX_NOINPUT with *absent set (the caller says what is missing); anything
 * refused is EX_DATAERR.
 */
static int layout_open(int dirfd, const char *dir, const char *name, int *fd_out, uint64_t *size,
		       bool *absent, struct snapvm_error *err)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
	    .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH,
	};
	struct stat st;
	int fd;

	*absent = false;
	fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		fd = openat(dirfd, name, (int)how.flags);
	if (fd < 0) {
		int e = errno;

		*absent = e == ENOENT;
		if (e == ELOOP)
			return snapvm_fail(err, EX_DATAERR,
					   "%s/%s is a symbolic link (or lies under one): refused",
					   dir, name);
		if (e == ENOTDIR || e == EXDEV)
			return snapvm_fail(err, EX_DATAERR, "%s/%s: not a file of the layout", dir,
					   name);
		return snapvm_fail_errno(err, EX_NOINPUT, e, "cannot open %s/%s", dir, name);
	}
	if (fstat(fd, &st)) {
		int e = errno;

		close(fd);
		return snapvm_fail_errno(err, EX_IOERR, e, "cannot stat %s/%s", dir, name);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return snapvm_fail(err, EX_DATAERR, "%s/%s is not a regular file (%s): refused",
				   dir, name, snapvm_file_type(st.st_mode));
	}
	*fd_out = fd;
	*size = (uint64_t)st.st_size;
	return 0;
}

/*
 * Read exactly size bytes of fd (path, in messages) through ctx (may be
 * NULL) into buf, or when buf is NULL to out_fd (out_name). A file that
 * ends early or goes on past size has changed since fstat: EX_DATAERR.
 */
static int read_exact(int fd, const char *path, uint64_t size, char *buf, int out_fd,
		      const char *out_name, struct sha256 *ctx, struct snapvm_error *err)
{
	char chunk[1 << 16];
	uint64_t done = 0;
	char extra;
	ssize_t n;

	while (done < size) {
		size_t want = size - done < sizeof(chunk) ? (size_t)(size - done) : sizeof(chunk);
		char *to = buf ? buf + done : chunk;

		n = read(fd, to, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return snapvm_fail_errno(err, EX_IOERR, errno, "cannot read %s", path);
		if (n == 0)
			return snapvm_fail(err, EX_DATAERR, "%s ends after %llu of its %llu bytes",
					   path, (unsigned long long)done,
					   (unsigned long long)size);
		if (ctx)
			sha256_update(ctx, to, (size_t)n);
		if (!buf && write_all(out_fd, out_name, to, (size_t)n, err))
			return err->status;
		done += (uint64_t)n;
	}
	do
		n = read(fd, &extra, 1);
	while (n < 0 && errno == EINTR);
	if (n != 0)
		return n < 0 ? snapvm_fail_errno(err, EX_IOERR, errno, "cannot read %s", path)
			     : snapvm_fail(err, EX_DATAERR, "%s grew past %llu bytes while read",
					   path, (unsigned long long)size);
	return 0;
}

/* A small file of the layout (oci-layout, index.json), NUL-terminated;
 * *absent when there is none. */
static int read_small(int dirfd, const char *dir, const char *name, char **text, size_t *len,
		      bool *absent, struct snapvm_error *err)
{
	char path[PATH_MAX];
	uint64_t size;
	char *buf;
	int fd, ret;

	ret = path_join(path, sizeof(path), dir, name, err);
	if (!ret)
		ret = layout_open(dirfd, dir, name, &fd, &size, absent, err);
	if (ret)
		return ret;
	if (size > OCI_MAX_JSON) {
		close(fd);
		return snapvm_fail(err, EX_DATAERR, "%s: %llu bytes, more than %u", path,
				   (unsigned long long)size, OCI_MAX_JSON);
	}
	buf = malloc(size + 1);
	if (!buf) {
		close(fd);
		return snapvm_fail(err, EX_OSERR, "out of memory for %s", path);
	}
	ret = read_exact(fd, path, size, buf, -1, NULL, NULL, err);
	close(fd);
	if (ret) {
		free(buf);
		return ret;
	}
	buf[size] = 0;
	*text = buf;
	*len = size;
	return 0;
}

/*
 * Open the blob desc names and check it: its size is the descriptor's, and
 * so is its sha256, computed while it is copied to out_fd (out_name) or,
 * when data is not NULL, read into *data (malloc'd, NUL-terminated; the
 * caller has capped desc->size).
 */
static int get_blob(int dirfd, const char *dir, const struct oci_descriptor *desc, int out_fd,
		    const char *out_name, char **data, struct snapvm_error *err)
{
	char name[16 + 64], path[PATH_MAX], hex[65];
	struct sha256 ctx;
	char *buf = NULL;
	uint64_t size;
	bool absent = false;
	int fd, ret;

	snprintf(name, sizeof(name), "blobs/sha256/%s", desc->digest + 7);
	ret = path_join(path, sizeof(path), dir, name, err);
	if (!ret)
		ret = layout_open(dirfd, dir, name, &fd, &size, &absent, err);
	if (ret)
		return absent ? snapvm_fail(err, EX_DATAERR, "blob %s: %s is missing", desc->digest,
					    path)
			      : ret;
	if (size != desc->size) {
		close(fd);
		return snapvm_fail(err, EX_DATAERR,
				   "blob %s: %s: its size is %llu bytes, not %llu as its "
				   "descriptor says",
				   desc->digest, path, (unsigned long long)size,
				   (unsigned long long)desc->size);
	}
	if (data) {
		buf = malloc(size + 1);
		if (!buf) {
			close(fd);
			return snapvm_fail(err, EX_OSERR, "out of memory for %s", path);
		}
	}
	sha256_init(&ctx);
	ret = read_exact(fd, path, size, buf, out_fd, out_name, &ctx, err);
	close(fd);
	if (!ret) {
		sha256_final_hex(&ctx, hex);
		if (strcmp(hex, desc->digest + 7))
			ret = snapvm_fail(err, EX_DATAERR,
					  "blob %s is corrupt: its content has digest sha256:%s",
					  desc->digest, hex);
	}
	if (ret) {
		free(buf);
		return ret;
	}
	if (data) {
		buf[size] = 0;
		*data = buf;
	}
	return 0;
}

/* ---- the documents ---- */

/* A descriptor's digest and size, checked for form and against max. */
static int descriptor(const json_t *desc, const char *name, const char *what, uint64_t max,
		      struct oci_descriptor *out, struct snapvm_error *err)
{
	const char *digest = jsonx_string(desc, "digest");

	if (!json_is_object(desc))
		return snapvm_fail(err, EX_DATAERR, "%s: %s: no descriptor object", name, what);
	if (!valid_digest(digest))
		return snapvm_fail(err, EX_DATAERR,
				   "%s: %s: missing or unsupported digest (want sha256:<64 hex>)",
				   name, what);
	if (jsonx_uint(desc, "size", JSONX_MAX_UINT, &out->size))
		return snapvm_fail(err, EX_DATAERR, "%s: %s: missing or malformed size", name,
				   what);
	if (out->size > max)
		return snapvm_fail(err, EX_DATAERR, "%s: %s: %llu bytes, more than %llu bytes",
				   name, what, (unsigned long long)out->size,
				   (unsigned long long)max);
	memcpy(out->digest, digest, sizeof(out->digest));
	return 0;
}

static const char *ref_name(const json_t *desc)
{
	return jsonx_string(jsonx_object(desc, "annotations"), OCI_REF_NAME);
}

int oci_parse_layout(const char *name, const char *text, size_t len, struct snapvm_error *err)
{
	json_t *doc = jsonx_parse_object(name, text, len, err);
	const char *version = jsonx_string(doc, "imageLayoutVersion");
	int ret = 0;

	if (!doc)
		return err->status;
	if (!version || strncmp(version, "1.", 2))
		ret = snapvm_fail(err, EX_DATAERR, "%s: not an image layout version 1.x", name);
	json_decref(doc);
	return ret;
}

int oci_parse_index(const char *name, const char *text, size_t len, const char *tag,
		    struct oci_descriptor *manifest, struct snapvm_error *err)
{
	json_t *doc = jsonx_parse_object(name, text, len, err);
	json_t *manifests = jsonx_array(doc, "manifests"), *desc = NULL;
	const char *want = tag ? tag : OCI_DEFAULT_TAG, *media_type;
	int ret;

	if (!doc)
		return err->status;
	if (!manifests) {
		ret = snapvm_fail(err, EX_DATAERR, "%s has no \"manifests\" array", name);
		goto out;
	}
	if (!tag && json_array_size(manifests) == 1)
		desc = json_array_get(manifests, 0);
	for (size_t i = 0; !desc && i < json_array_size(manifests); i++) {
		const char *ref = ref_name(json_array_get(manifests, i));

		if (ref && !strcmp(ref, want))
			desc = json_array_get(manifests, i);
	}
	if (!desc) {
		ret = snapvm_fail(err, EX_NOINPUT, "%s has no manifest tagged '%s'", name, want);
		goto out;
	}
	media_type = jsonx_string(desc, "mediaType");
	if (media_type && strcmp(media_type, OCI_MANIFEST_MEDIA_TYPE)) {
		ret = snapvm_fail(err, EX_DATAERR, "%s: the manifest's media type is %s, not %s",
				  name, media_type, OCI_MANIFEST_MEDIA_TYPE);
		goto out;
	}
	ret = descriptor(desc, name, "manifest", OCI_MAX_JSON, manifest, err);
out:
	json_decref(doc);
	return ret;
}

int oci_parse_manifest(const char *name, const char *text, size_t len,
		       struct oci_descriptor *config, struct oci_descriptor *layer,
		       struct snapvm_error *err)
{
	json_t *doc = jsonx_parse_object(name, text, len, err);
	json_t *layers = jsonx_array(doc, "layers");
	const char *media_type = jsonx_string(doc, "mediaType");
	uint64_t version;
	int ret;

	if (!doc)
		return err->status;
	if ((media_type && strcmp(media_type, OCI_MANIFEST_MEDIA_TYPE)) ||
	    jsonx_uint(doc, "schemaVersion", 2, &version) || version != 2) {
		ret = snapvm_fail(err, EX_DATAERR,
				  "%s: not an OCI image manifest (schema version 2)", name);
		goto out;
	}
	ret = descriptor(jsonx_object(doc, "config"), name, "config", OCI_MAX_JSON, config, err);
	if (ret)
		goto out;
	media_type = jsonx_string(json_array_get(layers, 0), "mediaType");
	if (json_array_size(layers) != 1 || !media_type ||
	    strcmp(media_type, OCI_SNAPSHOT_MEDIA_TYPE)) {
		ret = snapvm_fail(err, EX_DATAERR,
				  "%s: the manifest must have one layer, of type %s (a snapvm "
				  "snapshot file)",
				  name, OCI_SNAPSHOT_MEDIA_TYPE);
		goto out;
	}
	ret = descriptor(json_array_get(layers, 0), name, "snapshot layer", OCI_MAX_LAYER_SIZE,
			 layer, err);
out:
	json_decref(doc);
	return ret;
}

int oci_parse_config(const char *name, const char *text, size_t len, struct snapvm_error *err)
{
	json_t *doc = jsonx_parse_object(name, text, len, err);

	json_decref(doc);
	return doc ? 0 : err->status;
}

int oci_index_add(const char *name, const char *text, size_t len, const char *tag,
		  const struct oci_descriptor *manifest, char **out, size_t *out_len,
		  struct snapvm_error *err)
{
	json_t *old = NULL, *old_manifests = NULL, *manifests, *index;
	int ret;

	if (len) {
		old = jsonx_parse_object(name, text, len, err);
		if (!old)
			return err->status;
		old_manifests = jsonx_array(old, "manifests");
		if (!old_manifests) {
			json_decref(old);
			return snapvm_fail(err, EX_DATAERR,
					   "%s is not an OCI index (no \"manifests\" array)", name);
		}
	}
	/* Keep the layout's other manifests; this tag names ours alone. */
	manifests = json_array();
	for (size_t i = 0; manifests && i < json_array_size(old_manifests); i++) {
		json_t *m = json_array_get(old_manifests, i);
		const char *ref = ref_name(m);

		if (!json_is_object(m)) {
			json_decref(manifests);
			json_decref(old);
			return snapvm_fail(err, EX_DATAERR,
					   "%s: manifests[%zu] is no descriptor object", name, i);
		}
		if (!(ref && !strcmp(ref, tag)) && json_array_append(manifests, m)) {
			json_decref(manifests);
			manifests = NULL;
		}
	}
	if (manifests &&
	    json_array_append_new(manifests,
				  json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType",
					    OCI_MANIFEST_MEDIA_TYPE, "digest", manifest->digest,
					    "size", (json_int_t)manifest->size, "annotations",
					    OCI_REF_NAME, tag))) {
		json_decref(manifests);
		manifests = NULL;
	}
	/* "o" takes manifests' reference, also when json_pack fails. */
	index = manifests ? json_pack("{s:i, s:s, s:o}", "schemaVersion", 2, "mediaType",
				      OCI_INDEX_MEDIA_TYPE, "manifests", manifests)
			  : NULL;
	ret = dump(index, out, out_len, err);
	json_decref(index);
	json_decref(old);
	return ret;
}

/* ---- export and import ---- */

int oci_export(const char *path, const char *dir, const char *tag, struct snapvm_error *err)
{
	struct oci_descriptor manifest = {0};
	char layer[72], config[72], sub[PATH_MAX], format[16], *text = NULL, *old = NULL;
	const char *layout, *title;
	json_t *doc = NULL, *layer_desc, *title_value;
	size_t len, config_len, old_len = 0;
	struct snapfile file;
	bool absent = false;
	int dirfd = -1, ret;

	tag = tag ? tag : OCI_DEFAULT_TAG;
	ret = snapfile_open(path, 0, &file, err); /* no memory cap: the user's own file */
	if (ret)
		return ret;
	if (file.size > OCI_MAX_LAYER_SIZE) {
		ret = snapvm_fail(err, EX_DATAERR,
				  "%s: %zu bytes, more than the %llu bytes of a layer import "
				  "accepts",
				  path, file.size, (unsigned long long)OCI_MAX_LAYER_SIZE);
		goto out;
	}
	layout = snapvm_layout_name(file.contents.layout);
	layout = layout ? layout : "unknown";
	title = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

	ret = mkdir_p(dir, err);
	if (!ret)
		ret = path_join(sub, sizeof(sub), dir, "blobs", err);
	if (!ret)
		ret = mkdir_p(sub, err);
	if (!ret)
		ret = path_join(sub, sizeof(sub), dir, "blobs/sha256", err);
	if (!ret)
		ret = mkdir_p(sub, err);
	if (!ret)
		ret = put_blob(dir, file.data, file.size, layer, err);
	if (ret)
		goto out;

	/* A minimal OCI image config: OCI tools read the platform; the labels
	 * say what the one layer holds. */
	snprintf(format, sizeof(format), "%u", SNAPFILE_VERSION);
	doc = json_pack("{s:s, s:s, s:{s:{s:s, s:s}}, s:{s:s, s:[s]}}", "architecture", "amd64",
			"os", "linux", "config", "Labels", "org.snapvm.layout", layout,
			"org.snapvm.format", format, "rootfs", "type", "layers", "diff_ids", layer);
	ret = dump(doc, &text, &config_len, err);
	json_decref(doc);
	if (!ret)
		ret = put_blob(dir, text, config_len, config, err);
	free(text);
	text = NULL;
	if (ret)
		goto out;

	/* The layer's title is the file name, when it is UTF-8 as JSON wants. */
	layer_desc = json_pack("{s:s, s:s, s:I}", "mediaType", OCI_SNAPSHOT_MEDIA_TYPE, "digest",
			       layer, "size", (json_int_t)file.size);
	title_value = json_string(title);
	if (layer_desc && title_value)
		json_object_set_new(layer_desc, "annotations",
				    json_pack("{s:o}", OCI_TITLE, title_value));
	else
		json_decref(title_value);
	doc = layer_desc ? json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:[o], s:{s:s}}",
				     "schemaVersion", 2, "mediaType", OCI_MANIFEST_MEDIA_TYPE,
				     "config", "mediaType", OCI_CONFIG_MEDIA_TYPE, "digest", config,
				     "size", (json_int_t)config_len, "layers", layer_desc,
				     "annotations", "org.snapvm.layout", layout)
			 : NULL;
	ret = dump(doc, &text, &len, err);
	json_decref(doc);
	if (!ret)
		ret = put_blob(dir, text, len, manifest.digest, err);
	free(text);
	text = NULL;
	if (ret)
		goto out;
	manifest.size = len;

	ret = path_join(sub, sizeof(sub), dir, "oci-layout", err);
	if (!ret)
		ret = write_atomic(sub, "{\"imageLayoutVersion\":\"1.0.0\"}\n", 31, err);
	if (ret)
		goto out;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		ret = snapvm_fail_errno(err, EX_IOERR, errno, "cannot open %s", dir);
		goto out;
	}
	ret = path_join(sub, sizeof(sub), dir, "index.json", err);
	if (!ret)
		ret = read_small(dirfd, dir, "index.json", &old, &old_len, &absent, err);
	if (ret && absent)
		ret = 0, old_len = 0;
	if (!ret)
		ret = oci_index_add(sub, old, old_len, tag, &manifest, &text, &len, err);
	if (!ret)
		ret = write_atomic(sub, text, len, err);
out:
	free(text);
	free(old);
	if (dirfd >= 0)
		close(dirfd);
	snapfile_close(&file);
	return ret;
}

/* A verified JSON blob of dir as text; name gets its path, for messages. */
static int get_json_blob(int dirfd, const char *dir, const struct oci_descriptor *desc, char *name,
			 size_t name_size, char **text, struct snapvm_error *err)
{
	if ((size_t)snprintf(name, name_size, "%s/blobs/sha256/%s", dir, desc->digest + 7) >=
	    name_size)
		return snapvm_fail(err, EX_USAGE, "path too long: %s", dir);
	return get_blob(dirfd, dir, desc, -1, NULL, text, err);
}

int oci_import(const char *dir, const char *tag, const char *path, struct snapvm_error *err)
{
	struct oci_descriptor manifest, config, layer;
	char name[PATH_MAX], tmp[PATH_MAX], *text = NULL;
	struct snapvm_error check_err;
	struct snapfile check;
	size_t len;
	bool absent = false;
	int dirfd, fd, ret;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return errno == ENOTDIR
			   ? snapvm_fail(err, EX_DATAERR,
					 "%s is not a directory (an OCI image layout)", dir)
			   : snapvm_fail_errno(err, EX_NOINPUT, errno, "cannot open %s", dir);
	ret = path_join(name, sizeof(name), dir, "oci-layout", err);
	if (!ret)
		ret = read_small(dirfd, dir, "oci-layout", &text, &len, &absent, err);
	if (ret && absent)
		ret = snapvm_fail(err, EX_DATAERR,
				  "%s is not an OCI image layout (no oci-layout file)", dir);
	if (!ret)
		ret = oci_parse_layout(name, text, len, err);
	free(text);
	text = NULL;
	if (!ret)
		ret = path_join(name, sizeof(name), dir, "index.json", err);
	if (!ret)
		ret = read_small(dirfd, dir, "index.json", &text, &len, &absent, err);
	if (ret && absent)
		ret = snapvm_fail(err, EX_DATAERR, "%s is not an OCI image layout (no index.json)",
				  dir);
	if (!ret)
		ret = oci_parse_index(name, text, len, tag, &manifest, err);
	free(text);
	text = NULL;
	/* Every digest is checked, the config's too, before the layer's. */
	if (!ret)
		ret = get_json_blob(dirfd, dir, &manifest, name, sizeof(name), &text, err);
	if (!ret)
		ret = oci_parse_manifest(name, text, manifest.size, &config, &layer, err);
	free(text);
	text = NULL;
	if (!ret)
		ret = get_json_blob(dirfd, dir, &config, name, sizeof(name), &text, err);
	if (!ret)
		ret = oci_parse_config(name, text, config.size, err);
	free(text);
	if (ret)
		goto out;

	/* The layer streams to a temporary file next to path through the
	 * digest; only once the digest and then the snapshot file check
	 * out is it renamed to path, else it is removed. */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= sizeof(tmp)) {
		ret = snapvm_fail(err, EX_CANTCREAT, "path too long: %s", path);
		goto out;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		ret = snapvm_fail_errno(err, EX_CANTCREAT, errno, "cannot create %s", tmp);
		goto out;
	}
	ret = get_blob(dirfd, dir, &layer, fd, tmp, NULL, err);
	if (!ret && (fchmod(fd, 0644) || fsync(fd)))
		ret = snapvm_fail_errno(err, EX_IOERR, errno, "cannot write %s", tmp);
	if (close(fd) && !ret)
		ret = snapvm_fail_errno(err, EX_IOERR, errno, "cannot write %s", tmp);
	if (!ret) {
		if (snapfile_open(tmp, 0, &check, &check_err))
			ret = snapvm_fail(err, EX_DATAERR,
					  "%s: the snapshot layer %s is not a valid snapshot file: "
					  "%s",
					  dir, layer.digest, check_err.message);
		else
			snapfile_close(&check);
	}
	if (!ret && rename(tmp, path))
		ret = snapvm_fail_errno(err, EX_CANTCREAT, errno, "cannot rename %s to %s", tmp,
					path);
	if (ret)
		unlink(tmp);
out:
	close(dirfd);
	return ret;
}
