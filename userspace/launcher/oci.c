// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * oci.c - `snapvm snapshot export|import`: a snapshot file to an OCI image
 * layout and back (see oci.h). Digests are checked before anything read from
 * the layout is used, blob names are built only from validated digests, and
 * every file we write appears atomically (a temporary file, fsync, rename).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "userspace/launcher/json.h"
#include "userspace/launcher/oci.h"
#include "userspace/launcher/sha256.h"
#include "userspace/snapfile.h"

#define OCI_MANIFEST_MEDIA_TYPE "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX_MEDIA_TYPE	"application/vnd.oci.image.index.v1+json"
#define OCI_CONFIG_MEDIA_TYPE	"application/vnd.oci.image.config.v1+json"
#define OCI_REF_NAME		"org.opencontainers.image.ref.name"
#define OCI_TITLE		"org.opencontainers.image.title"
/* index.json, manifests and configs are small; refuse to read a huge one. */
#define OCI_MAX_JSON (4u << 20)

static int fail(struct snapvm_error *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct snapvm_error *err, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	err->status = status;
	return status;
}

/* A tag as the OCI distribution spec allows: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}. */
static bool valid_tag(const char *tag)
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
		return fail(err, EX_USAGE, "path too long: %s/%s", dir, name);
	return 0;
}

/* Write len bytes to path atomically (a temporary file next to it). */
static int write_atomic(const char *path, const void *data, size_t len, struct snapvm_error *err)
{
	char tmp[PATH_MAX];
	const char *p = data;
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= sizeof(tmp))
		return fail(err, EX_CANTCREAT, "path too long: %s", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		return fail(err, EX_CANTCREAT, "cannot create %s: %s", tmp, strerror(errno));
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;

			close(fd);
			unlink(tmp);
			return fail(err, EX_IOERR, "cannot write %s: %s", tmp, strerror(e));
		}
		p += n, len -= (size_t)n;
	}
	if (fchmod(fd, 0644) || fsync(fd) || close(fd) || rename(tmp, path)) {
		int e = errno;

		unlink(tmp);
		return fail(err, EX_IOERR, "cannot write %s: %s", path, strerror(e));
	}
	return 0;
}

static void digest_of(const void *data, size_t len, char digest[7 + 65])
{
	struct sha256 ctx;

	sha256_init(&ctx);
	sha256_update(&ctx, data, len);
	memcpy(digest, "sha256:", 7);
	sha256_final_hex(&ctx, digest + 7);
}

static int mkdir_p(const char *dir, struct snapvm_error *err)
{
	if (mkdir(dir, 0755) && errno != EEXIST)
		return fail(err, EX_CANTCREAT, "cannot create %s: %s", dir, strerror(errno));
	return 0;
}

/* Store data as a blob of dir; its digest goes to digest. */
static int put_blob(const char *dir, const void *data, size_t len, char digest[7 + 65],
		    struct snapvm_error *err)
{
	char path[PATH_MAX];

	digest_of(data, len, digest);
	if ((size_t)snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, digest + 7) >=
	    sizeof(path))
		return fail(err, EX_USAGE, "path too long: %s", dir);
	return write_atomic(path, data, len, err);
}

/* Read a whole small file (index.json, oci-layout). */
static int read_small(const char *path, char **out, size_t *len, struct snapvm_error *err)
{
	FILE *f = fopen(path, "rb");
	size_t n = 0, cap = 4096;
	char *buf;

	if (!f)
		return fail(err, errno == ENOENT ? EX_NOINPUT : EX_DATAERR, "cannot open %s: %s",
			    path, strerror(errno));
	buf = malloc(cap);
	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, f);

		n += got;
		if (n < cap)
			break;
		if (cap >= OCI_MAX_JSON) {
			free(buf);
			fclose(f);
			return fail(err, EX_DATAERR, "%s is larger than %u bytes", path,
				    OCI_MAX_JSON);
		}
		cap *= 2;
		char *bigger = realloc(buf, cap);

		if (!bigger)
			free(buf);
		buf = bigger;
	}
	if (!buf || ferror(f)) {
		int e = buf ? EIO : ENOMEM;

		free(buf);
		fclose(f);
		return fail(err, EX_IOERR, "cannot read %s: %s", path, strerror(e));
	}
	fclose(f);
	*out = buf;
	*len = n;
	return 0;
}

/* A descriptor's digest and size, checked for form. */
static int descriptor(const struct json *desc, const char *what, const char **digest,
		      uint64_t *size, struct snapvm_error *err)
{
	*digest = json_string(json_get(desc, "digest"));
	if (!valid_digest(*digest))
		return fail(err, EX_DATAERR,
			    "%s: missing or unsupported digest (want sha256:<64 hex>)", what);
	if (json_uint(json_get(desc, "size"), size))
		return fail(err, EX_DATAERR, "%s: missing or malformed size", what);
	return 0;
}

/*
 * Open the blob a descriptor names and check it: its size is the
 * descriptor's, and so is its sha256, which is computed while copying it to
 * out (a FILE) or into *data (malloc'd, for blobs up to OCI_MAX_JSON).
 */
static int get_blob(const char *dir, const char *digest, uint64_t size, FILE *out, char **data,
		    struct snapvm_error *err)
{
	char path[PATH_MAX], hex[65];
	struct sha256 ctx;
	uint64_t left = size;
	char *buf = NULL, chunk[65536];
	struct stat st;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, digest + 7) >=
	    sizeof(path))
		return fail(err, EX_USAGE, "path too long: %s", dir);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errno == ENOENT ? EX_DATAERR : EX_NOINPUT,
			    "blob %s: cannot open %s: %s", digest, path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size) {
		close(fd);
		return fail(err, EX_DATAERR, "blob %s: %s is not a file of %llu bytes", digest,
			    path, (unsigned long long)size);
	}
	if (data) {
		if (size > OCI_MAX_JSON) {
			close(fd);
			return fail(err, EX_DATAERR, "blob %s: larger than %u bytes", digest,
				    OCI_MAX_JSON);
		}
		buf = malloc(size + 1);
		if (!buf) {
			close(fd);
			return fail(err, EX_OSERR, "out of memory");
		}
	}
	sha256_init(&ctx);
	while (left) {
		size_t want = left < sizeof(chunk) ? (size_t)left : sizeof(chunk);
		char *to = buf ? buf + (size - left) : chunk;
		ssize_t n = read(fd, to, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			close(fd);
			return fail(err, EX_DATAERR, "blob %s: %s ends early", digest, path);
		}
		sha256_update(&ctx, to, (size_t)n);
		if (out && fwrite(to, 1, (size_t)n, out) != (size_t)n) {
			free(buf);
			close(fd);
			return fail(err, EX_IOERR, "cannot write the snapshot file: %s",
				    strerror(errno));
		}
		left -= (uint64_t)n;
	}
	close(fd);
	sha256_final_hex(&ctx, hex);
	if (strcmp(hex, digest + 7)) {
		free(buf);
		return fail(err, EX_DATAERR, "blob %s is corrupt: its content has digest sha256:%s",
			    digest, hex);
	}
	if (data) {
		buf[size] = 0;
		*data = buf;
	}
	return 0;
}

/* A verified JSON blob, parsed. */
static int get_json_blob(const char *dir, const struct json *desc, const char *what,
			 struct json **out, struct snapvm_error *err)
{
	const char *digest, *why;
	uint64_t size;
	char *text;
	int ret;

	ret = descriptor(desc, what, &digest, &size, err);
	if (!ret)
		ret = get_blob(dir, digest, size, NULL, &text, err);
	if (ret)
		return ret;
	*out = json_parse(text, size, &why);
	free(text);
	if (!*out || (*out)->type != JSON_OBJECT)
		return fail(err, EX_DATAERR, "%s %s is not a JSON object%s%s", what, digest,
			    *out ? "" : ": ", *out ? "" : why);
	return 0;
}

static const char *ref_name(const struct json *desc)
{
	return json_string(json_get(json_get(desc, "annotations"), OCI_REF_NAME));
}

/* Build a document in memory. */
struct doc {
	FILE *f;
	char *text;
	size_t len;
};

static int doc_open(struct doc *d, struct snapvm_error *err)
{
	d->text = NULL;
	d->f = open_memstream(&d->text, &d->len);
	return d->f ? 0 : fail(err, EX_OSERR, "open_memstream: %s", strerror(errno));
}

static int doc_close(struct doc *d, struct snapvm_error *err)
{
	if (fclose(d->f)) {
		free(d->text);
		return fail(err, EX_OSERR, "out of memory");
	}
	return 0;
}

static void write_descriptor(FILE *f, const char *media_type, const char *digest, uint64_t size)
{
	fprintf(f, "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%llu", media_type, digest,
		(unsigned long long)size);
}

int oci_export(const char *path, const char *dir, const char *tag, struct snapvm_error *err)
{
	char layer[72], config[72], manifest[72], sub[PATH_MAX], index_path[PATH_MAX];
	const struct json *old_manifests = NULL;
	struct json *old_index = NULL;
	const char *layout, *title;
	struct snapfile file;
	struct doc d;
	int ret;

	tag = tag ? tag : OCI_DEFAULT_TAG;
	ret = snapfile_open(path, 0, &file, err); /* no cap: the user's own file */
	if (ret)
		return ret;
	layout = snapvm_layout_name(file.contents.layout);
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
	ret = doc_open(&d, err);
	if (ret)
		goto out;
	fprintf(d.f,
		"{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Labels\":{"
		"\"org.snapvm.layout\":\"%s\",\"org.snapvm.format\":\"%u\"}},"
		"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
		layout ? layout : "unknown", SNAPFILE_VERSION, layer);
	ret = doc_close(&d, err);
	if (!ret)
		ret = put_blob(dir, d.text, d.len, config, err);
	free(d.text);
	if (ret)
		goto out;
	/* The config's size is that of the blob just written. */
	{
		char cpath[PATH_MAX];
		struct stat st;

		snprintf(cpath, sizeof(cpath), "%s/blobs/sha256/%s", dir, config + 7);
		if (stat(cpath, &st)) {
			ret = fail(err, EX_IOERR, "cannot stat %s: %s", cpath, strerror(errno));
			goto out;
		}
		ret = doc_open(&d, err);
		if (ret)
			goto out;
		fprintf(d.f, "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":",
			OCI_MANIFEST_MEDIA_TYPE);
		write_descriptor(d.f, OCI_CONFIG_MEDIA_TYPE, config, (uint64_t)st.st_size);
		fputs("},\"layers\":[", d.f);
		write_descriptor(d.f, OCI_SNAPSHOT_MEDIA_TYPE, layer, file.size);
		fputs(",\"annotations\":{\"" OCI_TITLE "\":", d.f);
		json_write_string(d.f, title);
		fprintf(d.f, "}}],\"annotations\":{\"org.snapvm.layout\":\"%s\"}}\n",
			layout ? layout : "unknown");
		ret = doc_close(&d, err);
	}
	if (ret)
		goto out;
	ret = put_blob(dir, d.text, d.len, manifest, err);
	{
		size_t manifest_size = d.len;

		free(d.text);
		if (ret)
			goto out;

		ret = path_join(sub, sizeof(sub), dir, "oci-layout", err);
		if (!ret)
			ret = write_atomic(sub, "{\"imageLayoutVersion\":\"1.0.0\"}\n", 31, err);
		if (!ret)
			ret = path_join(index_path, sizeof(index_path), dir, "index.json", err);
		if (ret)
			goto out;

		/* Keep the layout's other manifests; this tag names ours alone. */
		if (access(index_path, F_OK) == 0) {
			char *text;
			size_t len;
			const char *why;

			ret = read_small(index_path, &text, &len, err);
			if (ret)
				goto out;
			old_index = json_parse(text, len, &why);
			free(text);
			old_manifests = json_get(old_index, "manifests");
			if (!old_manifests || old_manifests->type != JSON_ARRAY) {
				ret = fail(err, EX_DATAERR,
					   "%s is not an OCI index (no \"manifests\" array)",
					   index_path);
				goto out;
			}
		}
		ret = doc_open(&d, err);
		if (ret)
			goto out;
		fprintf(d.f, "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[",
			OCI_INDEX_MEDIA_TYPE);
		for (size_t i = 0; old_manifests && i < old_manifests->count; i++) {
			const struct json *m = old_manifests->items[i];
			const char *name = ref_name(m);

			if (name && !strcmp(name, tag))
				continue;
			fwrite(m->raw, 1, m->raw_len, d.f);
			fputc(',', d.f);
		}
		write_descriptor(d.f, OCI_MANIFEST_MEDIA_TYPE, manifest, manifest_size);
		fputs(",\"annotations\":{\"" OCI_REF_NAME "\":", d.f);
		json_write_string(d.f, tag);
		fputs("}}]}\n", d.f);
		ret = doc_close(&d, err);
		if (ret)
			goto out;
		ret = write_atomic(index_path, d.text, d.len, err);
		free(d.text);
	}
out:
	json_free(old_index);
	snapfile_close(&file);
	return ret;
}

/* The manifest descriptor of index for tag (NULL: the only one, else the
 * default tag). */
static int find_manifest(const struct json *index, const char *dir, const char *tag,
			 const struct json **desc, struct snapvm_error *err)
{
	const struct json *manifests = json_get(index, "manifests");
	const char *want = tag ? tag : OCI_DEFAULT_TAG;

	if (!manifests || manifests->type != JSON_ARRAY)
		return fail(err, EX_DATAERR, "%s/index.json has no \"manifests\" array", dir);
	if (!tag && manifests->count == 1) {
		*desc = manifests->items[0];
		return 0;
	}
	for (size_t i = 0; i < manifests->count; i++) {
		const char *name = ref_name(manifests->items[i]);

		if (name && !strcmp(name, want)) {
			*desc = manifests->items[i];
			return 0;
		}
	}
	return fail(err, EX_NOINPUT, "%s has no manifest tagged '%s'", dir, want);
}

int oci_import(const char *dir, const char *tag, const char *path, struct snapvm_error *err)
{
	struct json *layout = NULL, *index = NULL, *manifest = NULL, *config = NULL;
	const struct json *desc = NULL, *layers, *snapshot_layer = NULL;
	const char *media_type, *version, *why, *digest;
	char sub[PATH_MAX], tmp[PATH_MAX], *text;
	struct snapfile check;
	uint64_t size;
	size_t len;
	FILE *out;
	int fd, ret;

	struct stat st;

	if (stat(dir, &st))
		return fail(err, EX_NOINPUT, "cannot open %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fail(err, EX_DATAERR, "%s is not a directory (an OCI image layout)", dir);
	ret = path_join(sub, sizeof(sub), dir, "oci-layout", err);
	if (!ret)
		ret = read_small(sub, &text, &len, err);
	if (ret)
		return ret == EX_NOINPUT
			   ? fail(err, EX_DATAERR,
				  "%s is not an OCI image layout (no oci-layout file)", dir)
			   : ret;
	layout = json_parse(text, len, &why);
	free(text);
	version = json_string(json_get(layout, "imageLayoutVersion"));
	if (!version || strncmp(version, "1.", 2)) {
		ret = fail(err, EX_DATAERR, "%s/oci-layout: not an image layout version 1.x", dir);
		goto out;
	}
	ret = path_join(sub, sizeof(sub), dir, "index.json", err);
	if (!ret)
		ret = read_small(sub, &text, &len, err);
	if (ret) {
		if (ret == EX_NOINPUT)
			ret = fail(err, EX_DATAERR, "%s is not an OCI image layout (no index.json)",
				   dir);
		goto out;
	}
	index = json_parse(text, len, &why);
	free(text);
	if (!index || index->type != JSON_OBJECT) {
		ret = fail(err, EX_DATAERR, "%s/index.json is not a JSON object%s%s", dir,
			   index ? "" : ": ", index ? "" : why);
		goto out;
	}
	ret = find_manifest(index, dir, tag, &desc, err);
	if (ret)
		goto out;
	media_type = json_string(json_get(desc, "mediaType"));
	if (media_type && strcmp(media_type, OCI_MANIFEST_MEDIA_TYPE)) {
		ret = fail(err, EX_DATAERR, "%s: the manifest's media type is %s, not %s", dir,
			   media_type, OCI_MANIFEST_MEDIA_TYPE);
		goto out;
	}
	ret = get_json_blob(dir, desc, "manifest", &manifest, err);
	if (ret)
		goto out;
	media_type = json_string(json_get(manifest, "mediaType"));
	if ((media_type && strcmp(media_type, OCI_MANIFEST_MEDIA_TYPE)) ||
	    json_uint(json_get(manifest, "schemaVersion"), &size) || size != 2) {
		ret =
		    fail(err, EX_DATAERR, "%s: not an OCI image manifest (schema version 2)", dir);
		goto out;
	}
	/* Every digest is checked, the config's too. */
	ret = get_json_blob(dir, json_get(manifest, "config"), "config", &config, err);
	if (ret)
		goto out;
	layers = json_get(manifest, "layers");
	for (size_t i = 0; layers && layers->type == JSON_ARRAY && i < layers->count; i++) {
		media_type = json_string(json_get(layers->items[i], "mediaType"));
		if (!media_type || strcmp(media_type, OCI_SNAPSHOT_MEDIA_TYPE) || snapshot_layer) {
			ret = fail(err, EX_DATAERR,
				   "%s: the manifest must have one layer, of type %s (a snapvm "
				   "snapshot file)",
				   dir, OCI_SNAPSHOT_MEDIA_TYPE);
			goto out;
		}
		snapshot_layer = layers->items[i];
	}
	if (!snapshot_layer) {
		ret = fail(err, EX_DATAERR, "%s: the manifest has no %s layer", dir,
			   OCI_SNAPSHOT_MEDIA_TYPE);
		goto out;
	}
	ret = descriptor(snapshot_layer, "snapshot layer", &digest, &size, err);
	if (ret)
		goto out;

	/* The layer goes to a temporary file next to path, is verified (its
	 * digest, then as a snapshot file), and only then renamed to path. */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= sizeof(tmp)) {
		ret = fail(err, EX_CANTCREAT, "path too long: %s", path);
		goto out;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		ret = fail(err, EX_CANTCREAT, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	out = fdopen(fd, "wb");
	if (!out) {
		close(fd);
		unlink(tmp);
		ret = fail(err, EX_OSERR, "fdopen: %s", strerror(errno));
		goto out;
	}
	ret = get_blob(dir, digest, size, out, NULL, err);
	if (fflush(out) || fsync(fd) || fchmod(fd, 0644)) {
		if (!ret)
			ret = fail(err, EX_IOERR, "cannot write %s: %s", tmp, strerror(errno));
	}
	fclose(out);
	if (!ret) {
		ret = snapfile_open(tmp, 0, &check, err);
		if (!ret)
			snapfile_close(&check);
		else
			ret = EX_DATAERR;
	}
	if (!ret && rename(tmp, path))
		ret = fail(err, EX_CANTCREAT, "cannot rename %s to %s: %s", tmp, path,
			   strerror(errno));
	if (ret)
		unlink(tmp);
out:
	json_free(layout);
	json_free(index);
	json_free(manifest);
	json_free(config);
	return ret;
}

static const char snapshot_usage[] =
    "usage: snapvm snapshot export FILE --oci=DIR[:TAG]\n"
    "       snapvm snapshot import --oci=DIR[:TAG] FILE\n"
    "\n"
    "export   write snapshot file FILE into the OCI image layout DIR (created when\n"
    "         missing) as TAG (default latest): a manifest, a config and one layer\n"
    "         of type " OCI_SNAPSHOT_MEDIA_TYPE ", named by sha256 digests\n"
    "import   verify every digest of DIR's manifest TAG (default: the only one,\n"
    "         else latest) and write its snapshot to FILE atomically\n"
    "\n"
    "exit status: 0; 64 bad usage; 65 a tampered blob, a layout that is not\n"
    "OCI or a layer that is no valid snapshot file; 66 no such file, directory\n"
    "or tag; 73/74 a file could not be written.\n";

static int snapshot_usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "snapvm: snapshot: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'snapvm snapshot --help'.\n");
	return EX_USAGE;
}

int oci_cmd_snapshot(int argc, char **argv)
{
	static const struct option long_options[] = {
	    {"oci", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct snapvm_error err = {0};
	char *dir = NULL, *tag = NULL, *colon;
	const char *cmd;
	int opt, ret;

	if (argc < 2)
		return snapshot_usage_error("%s", "which command? (export, import)");
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		fputs(snapshot_usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "export") && strcmp(cmd, "import"))
		return snapshot_usage_error("unknown command '%s': want export or import", cmd);
	argc--, argv++;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
		switch (opt) {
		case 'o':
			dir = optarg;
			break;
		case 'h':
			fputs(snapshot_usage, stdout);
			return 0;
		case ':':
			return snapshot_usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return snapshot_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (!dir || !*dir)
		return snapshot_usage_error("%s %s needs --oci=DIR[:TAG]", cmd);
	if (optind == argc)
		return snapshot_usage_error("%s: which snapshot FILE?", cmd);
	if (optind + 1 != argc)
		return snapshot_usage_error("one FILE only, not also '%s'", argv[optind + 1]);
	/* DIR[:TAG]: the text after the last colon is a tag when it looks like
	 * one and holds no '/'. */
	dir = strdup(dir);
	if (!dir)
		return EX_OSERR;
	colon = strrchr(dir, ':');
	if (colon && !strchr(colon, '/')) {
		*colon = 0;
		tag = colon + 1;
		if (!valid_tag(tag)) {
			ret = snapshot_usage_error(
			    "malformed tag '%s': want [A-Za-z0-9_][A-Za-z0-9._-]*, "
			    "at most 128 characters",
			    tag);
			free(dir);
			return ret;
		}
		if (!*dir) {
			free(dir);
			return snapshot_usage_error("%s", "--oci=DIR[:TAG] needs a DIR");
		}
	}
	if (!strcmp(cmd, "export"))
		ret = oci_export(argv[optind], dir, tag, &err);
	else
		ret = oci_import(dir, tag, argv[optind], &err);
	if (ret)
		fprintf(stderr, "snapvm: %s\n", err.message);
	free(dir);
	return ret;
}
