// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * oci_test.c - snapshots as OCI artifacts, on the host: `snapvm snapshot
 * export` and `import` give back the very file, several tags share one
 * layout, skopeo inspects the layout and copies it to another one that
 * imports again, and a tampered blob (layer, config, manifest) exits 65
 * leaving the output file alone. Hostile layouts fail promptly with 65 and
 * write nothing: a padded index.json, a FIFO, directory or symlink where a
 * file belongs, a layer whose size lies or exceeds OCI_MAX_LAYER_SIZE, a
 * layer that is no snapshot. Every launcher run that could hang is under
 * timeout(1), so a regression fails (124) instead of hanging the test.
 * Running an imported snapshot needs KVM: tests/kselftest/install_test.sh
 * does that in the test VM.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "layout/amd64.h"
#include "layout/i686.h"
#include "userspace/launcher/oci.h"
#include "userspace/lib/snapfile.h"

/*
 * mklayout LAYOUT LAYERFILE [SIZE [MEDIATYPE]]: an OCI image layout by hand
 * whose one layer is LAYERFILE, described with SIZE (default: its own) and
 * MEDIATYPE (default: a snapvm snapshot); every digest is right.
 */
static const char mklayout[] =
    "set -e\n"
    "L=$1 F=$2\n"
    "mkdir -p $L/blobs/sha256\n"
    "put() { h=$(sha256sum $1 | cut -c1-64); cp $1 $L/blobs/sha256/$h; echo $h; }\n"
    "lh=$(put $F) ls=${3:-$(stat -c %s $F)} mt=${4:-" OCI_SNAPSHOT_MEDIA_TYPE "}\n"
    "printf '{\"architecture\":\"amd64\",\"os\":\"linux\"}' >$L/c.tmp\n"
    "ch=$(put $L/c.tmp) cs=$(stat -c %s $L/c.tmp)\n"
    "printf '{\"schemaVersion\":2,\"mediaType\":"
    "\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":"
    "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:%s\",\"size\":%s},"
    "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"sha256:%s\",\"size\":%s}]}' "
    "$ch $cs $mt $lh $ls >$L/m.tmp\n"
    "mh=$(put $L/m.tmp) ms=$(stat -c %s $L/m.tmp)\n"
    "rm $L/c.tmp $L/m.tmp\n"
    "printf '{\"imageLayoutVersion\":\"1.0.0\"}' >$L/oci-layout\n"
    "printf '{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
    "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:%s\",\"size\":%s}]}' "
    "$mh $ms >$L/index.json\n";

FIXTURE(oci)
{
	char dir[64];
	char snap[128];
	char snapvm[512];
	char run[640]; /* the launcher under a timeout */
	unsigned char *snapshot, *scratch, vcpu[300];
};

FIXTURE_VARIANT(oci)
{
	uint32_t layout;
	uint64_t gpa, scratch_size;
};

FIXTURE_VARIANT_ADD(oci, amd64){
    .layout = SNAPVM_LAYOUT_AMD64,
    .gpa = AMD64_SNAPSHOT_BASE_GPA,
    .scratch_size = AMD64_MIN_SCRATCH_SIZE,
};

FIXTURE_VARIANT_ADD(oci, i686){
    .layout = SNAPVM_LAYOUT_I686,
    .gpa = I686_SNAPSHOT_BASE_GPA,
    .scratch_size = I686_MIN_SCRATCH_SIZE,
};

/* Run a shell command line (printf-style); its exit status, or -1. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	status = system(cmd);
	return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

FIXTURE_SETUP(oci)
{
	const uint64_t snapshot_size = 3 * SNAPVM_GUEST_PAGE_SIZE;
	struct snapfile_contents contents;
	struct snapvm_error err;
	char self_exe[512];
	ssize_t n;

	/* build/tests/unit/oci_test -> build/snapvm */
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	ASSERT_LT(0, n);
	self_exe[n] = 0;
	snprintf(self->snapvm, sizeof(self->snapvm), "%s/../../snapvm", dirname(self_exe));
	/* Not built is a failure: make check builds it before the tests. */
	ASSERT_EQ(0, access(self->snapvm, X_OK))
	TH_LOG("%s not built (make programs)", self->snapvm);
	snprintf(self->run, sizeof(self->run), "timeout 10 %s", self->snapvm);

	strcpy(self->dir, "/tmp/oci_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->snap, sizeof(self->snap), "%s/app.snap", self->dir);
	self->snapshot = malloc(snapshot_size);
	self->scratch = malloc(variant->scratch_size);
	ASSERT_NE(NULL, self->snapshot);
	ASSERT_NE(NULL, self->scratch);
	for (uint64_t i = 0; i < snapshot_size; i++)
		self->snapshot[i] = (unsigned char)(i * 7 + 1);
	for (uint64_t i = 0; i < variant->scratch_size; i++)
		self->scratch[i] = (unsigned char)(i * 13 + 5);
	for (unsigned int i = 0; i < sizeof(self->vcpu); i++)
		self->vcpu[i] = (unsigned char)i;
	contents = (struct snapfile_contents){
	    .layout = variant->layout,
	    .vcpu_state = self->vcpu,
	    .vcpu_state_size = sizeof(self->vcpu),
	    .snapshot_gpa = variant->gpa,
	    .snapshot = self->snapshot,
	    .snapshot_size = snapshot_size,
	    .scratch = self->scratch,
	    .scratch_size = variant->scratch_size,
	};
	ASSERT_EQ(0, snapfile_save(self->snap, &contents, &err)) TH_LOG("%s", err.message);
	{
		char path[128];
		FILE *f;

		snprintf(path, sizeof(path), "%s/mklayout", self->dir);
		f = fopen(path, "w");
		ASSERT_NE(NULL, f);
		ASSERT_EQ(sizeof(mklayout) - 1, fwrite(mklayout, 1, sizeof(mklayout) - 1, f));
		ASSERT_EQ(0, fclose(f));
	}
}

FIXTURE_TEARDOWN(oci)
{
	if (self->dir[0] && sh("rm -rf %s", self->dir))
		TH_LOG("could not remove %s", self->dir);
	free(self->snapshot);
	free(self->scratch);
}

TEST_F(oci, export_import_round_trip)
{
	const char *d = self->dir;

	ASSERT_EQ(0, sh("%s snapshot export %s --oci=%s/layout:v1", self->snapvm, self->snap, d));
	EXPECT_EQ(0, sh("test -f %s/layout/oci-layout && test -f %s/layout/index.json", d, d));
	/* Blobs: the layer (the file itself), the config and the manifest. */
	EXPECT_EQ(0, sh("test $(ls %s/layout/blobs/sha256 | wc -l) = 3", d));
	EXPECT_EQ(0,
		  sh("test -f %s/layout/blobs/sha256/$(sha256sum %s | cut -c1-64)", d, self->snap));
	ASSERT_EQ(0, sh("%s snapshot import --oci=%s/layout:v1 %s/back.snap", self->snapvm, d, d));
	EXPECT_EQ(0, sh("cmp -s %s %s/back.snap", self->snap, d));
	/* Without a tag: the only manifest. */
	ASSERT_EQ(0, sh("%s snapshot import --oci=%s/layout %s/only.snap", self->snapvm, d, d));
	EXPECT_EQ(0, sh("cmp -s %s %s/only.snap", self->snap, d));
	/* A second tag joins the index; re-exporting a tag replaces it. */
	ASSERT_EQ(0, sh("%s snapshot export --oci=%s/layout:v2 %s", self->snapvm, d, self->snap));
	ASSERT_EQ(0, sh("%s snapshot export --oci=%s/layout:v2 %s", self->snapvm, d, self->snap));
	EXPECT_EQ(0, sh("test $(grep -o org.opencontainers.image.ref.name %s/layout/index.json | "
			"wc -l) = 2",
			d));
	EXPECT_EQ(0, sh("%s snapshot import --oci=%s/layout:v2 %s/v2.snap && cmp -s %s %s/v2.snap",
			self->snapvm, d, d, self->snap, d));
	/* Two manifests and no "latest": a tag is needed. */
	EXPECT_EQ(EX_NOINPUT, sh("%s snapshot import --oci=%s/layout %s/x.snap 2>/dev/null",
				 self->snapvm, d, d));
}

TEST_F_TIMEOUT(oci, skopeo_inspect_copy_import, 180)
{
	const char *d = self->dir;

	/* tests/vm/setup installs skopeo: missing is a failure, not a skip. */
	ASSERT_EQ(0, sh("command -v skopeo >/dev/null")) TH_LOG("no skopeo (tests/vm/setup)");
	ASSERT_EQ(0, sh("%s snapshot export %s --oci=%s/layout:app", self->snapvm, self->snap, d));
	ASSERT_EQ(0, sh("skopeo inspect oci:%s/layout:app >%s/inspect.json", d, d));
	EXPECT_EQ(0, sh("grep -q org.snapvm.layout %s/inspect.json", d));
	ASSERT_EQ(0, sh("skopeo inspect --raw oci:%s/layout:app | grep -q "
			"application/vnd.snapvm.snapshot.v1",
			d));
	/* --tmpdir: /var/tmp may be read-only (the test VM). */
	ASSERT_EQ(0,
		  sh("skopeo --tmpdir %s copy -q oci:%s/layout:app oci:%s/copy:copied", d, d, d));
	ASSERT_EQ(0,
		  sh("%s snapshot import --oci=%s/copy:copied %s/copied.snap", self->snapvm, d, d));
	EXPECT_EQ(0, sh("cmp -s %s %s/copied.snap", self->snap, d));
	/* An OCI archive (one tar file) goes back and forth too. */
	ASSERT_EQ(0, sh("skopeo --tmpdir %s copy -q oci:%s/layout:app oci-archive:%s/app.tar:app",
			d, d, d));
	ASSERT_EQ(0, sh("skopeo --tmpdir %s copy -q oci-archive:%s/app.tar:app oci:%s/again:app", d,
			d, d));
	ASSERT_EQ(0, sh("%s snapshot import --oci=%s/again:app %s/again.snap", self->snapvm, d, d));
	EXPECT_EQ(0, sh("cmp -s %s %s/again.snap", self->snap, d));
}

TEST_F(oci, tampered_blobs_exit_65)
{
	const char *d = self->dir;

	ASSERT_EQ(0, sh("%s snapshot export %s --oci=%s/layout", self->snapvm, self->snap, d));
	ASSERT_EQ(0, sh("cp -a %s/layout %s/pristine", d, d));

	/* The layer: the file itself, named by its digest. */
	ASSERT_EQ(0, sh("f=%s/layout/blobs/sha256/$(sha256sum %s | cut -c1-64) && "
			"printf '\\377' | dd of=$f bs=1 seek=5000 conv=notrunc status=none",
			d, self->snap));
	EXPECT_EQ(EX_DATAERR, sh("%s snapshot import --oci=%s/layout %s/out.snap 2>%s/err",
				 self->snapvm, d, d, d));
	EXPECT_EQ(0, sh("grep -q corrupt %s/err", d));
	EXPECT_NE(0, sh("ls %s/out.snap* 2>/dev/null", d));

	/* The config: the manifest's first digest. */
	ASSERT_EQ(0, sh("rm -rf %s/layout && cp -a %s/pristine %s/layout", d, d, d));
	ASSERT_EQ(0, sh("m=%s/layout/blobs/sha256/$(grep -o 'sha256:[0-9a-f]*' "
			"%s/layout/index.json | cut -c8-) && "
			"c=$(grep -o 'sha256:[0-9a-f]*' $m | head -1 | cut -c8-) && "
			"printf 'X' | dd of=%s/layout/blobs/sha256/$c bs=1 seek=3 conv=notrunc "
			"status=none",
			d, d, d));
	EXPECT_EQ(EX_DATAERR, sh("%s snapshot import --oci=%s/layout %s/out.snap 2>/dev/null",
				 self->snapvm, d, d));

	/* The manifest. */
	ASSERT_EQ(0, sh("rm -rf %s/layout && cp -a %s/pristine %s/layout", d, d, d));
	ASSERT_EQ(0, sh("m=%s/layout/blobs/sha256/$(grep -o 'sha256:[0-9a-f]*' "
			"%s/layout/index.json | cut -c8-) && "
			"printf ' ' | dd of=$m bs=1 seek=0 conv=notrunc status=none",
			d, d));
	EXPECT_EQ(EX_DATAERR, sh("%s snapshot import --oci=%s/layout %s/out.snap 2>/dev/null",
				 self->snapvm, d, d));

	/* A blob that is gone, and a digest naming a path elsewhere. */
	ASSERT_EQ(0, sh("rm -rf %s/layout && cp -a %s/pristine %s/layout", d, d, d));
	ASSERT_EQ(0, sh("rm %s/layout/blobs/sha256/$(sha256sum %s | cut -c1-64)", d, self->snap));
	EXPECT_EQ(EX_DATAERR, sh("%s snapshot import --oci=%s/layout %s/out.snap 2>/dev/null",
				 self->snapvm, d, d));
	ASSERT_EQ(0, sh("rm -rf %s/layout && cp -a %s/pristine %s/layout", d, d, d));
	ASSERT_EQ(0, sh("sed -i 's|sha256:[0-9a-f]*|sha256:../../../../etc/passwd|' "
			"%s/layout/index.json",
			d));
	EXPECT_EQ(EX_DATAERR, sh("%s snapshot import --oci=%s/layout %s/out.snap 2>/dev/null",
				 self->snapvm, d, d));
	EXPECT_NE(0, sh("ls %s/out.snap* 2>/dev/null", d));
}

TEST_F(oci, usage_and_missing_input)
{
	const char *d = self->dir;

	EXPECT_EQ(EX_USAGE, sh("%s snapshot export %s 2>/dev/null", self->snapvm, self->snap));
	EXPECT_EQ(EX_USAGE, sh("%s snapshot import --oci=%s/l 2>/dev/null", self->snapvm, d));
	EXPECT_EQ(EX_USAGE, sh("%s snapshot frobnicate 2>/dev/null", self->snapvm));
	EXPECT_EQ(EX_USAGE, sh("%s snapshot export %s --oci=%s/l:-bad 2>/dev/null", self->snapvm,
			       self->snap, d));
	EXPECT_EQ(EX_NOINPUT, sh("%s snapshot export %s/missing.snap --oci=%s/l 2>/dev/null",
				 self->snapvm, d, d));
	EXPECT_EQ(EX_NOINPUT, sh("%s snapshot import --oci=%s/missing %s/x.snap 2>/dev/null",
				 self->snapvm, d, d));
	/* Not a snapshot file: refused before anything is written. */
	ASSERT_EQ(0, sh("head -c 8192 /dev/zero >%s/zero.snap", d));
	EXPECT_EQ(EX_DATAERR,
		  sh("%s snapshot export %s/zero.snap --oci=%s/l 2>/dev/null", self->snapvm, d, d));
	EXPECT_NE(0, sh("test -e %s/l/index.json", d));
	/* A tag nobody exported. */
	ASSERT_EQ(0, sh("%s snapshot export %s --oci=%s/l:one", self->snapvm, self->snap, d));
	EXPECT_EQ(EX_NOINPUT, sh("%s snapshot import --oci=%s/l:two %s/x.snap 2>/dev/null",
				 self->snapvm, d, d));
}

/* Every usage error names what is wrong (exit 64), one per flag at least. */
TEST_F_TIMEOUT(oci, usage_messages, 180)
{
	const char *d = self->dir, *s = self->snapvm;
	char long_tag[131];

	memset(long_tag, 'a', 129);
	long_tag[129] = 0;
	EXPECT_EQ(EX_USAGE, sh("%s snapshot export %s 2>%s/err", s, self->snap, d));
	EXPECT_EQ(0, sh("grep -qxF 'snapvm: snapshot: export needs --oci=DIR[:TAG]' %s/err", d));
	EXPECT_EQ(EX_USAGE, sh("%s snapshot import %s/x.snap 2>%s/err", s, d, d));
	EXPECT_EQ(0, sh("grep -qxF 'snapvm: snapshot: import needs --oci=DIR[:TAG]' %s/err", d));
	EXPECT_EQ(EX_USAGE, sh("%s snapshot export %s --oci 2>%s/err", s, self->snap, d));
	EXPECT_EQ(0, sh("grep -qF \"option '--oci' needs a value\" %s/err", d));
	EXPECT_EQ(EX_USAGE, sh("%s snapshot export %s --oci= 2>%s/err", s, self->snap, d));
	EXPECT_EQ(0, sh("grep -qF 'export needs --oci=DIR[:TAG]' %s/err", d));
	EXPECT_EQ(EX_USAGE, sh("%s snapshot export %s --oci=:v1 2>%s/err", s, self->snap, d));
	EXPECT_EQ(0, sh("grep -qF 'needs a DIR' %s/err", d));
	EXPECT_EQ(EX_USAGE,
		  sh("%s snapshot export %s --oci=%s/l --frob 2>%s/err", s, self->snap, d, d));
	EXPECT_EQ(0, sh("grep -qF \"unknown option '--frob'\" %s/err", d));
	EXPECT_EQ(EX_USAGE, sh("%s snapshot import --oci=%s/l 2>%s/err", s, d, d));
	EXPECT_EQ(0, sh("grep -qF 'import: which snapshot FILE?' %s/err", d));
	EXPECT_EQ(EX_USAGE, sh("%s snapshot import --oci=%s/l a b 2>%s/err", s, d, d));
	EXPECT_EQ(0, sh("grep -qF \"one FILE only, not also 'b'\" %s/err", d));
	EXPECT_EQ(EX_USAGE, sh("%s snapshot 2>%s/err", s, d));
	EXPECT_EQ(0, sh("grep -qF 'which command?' %s/err", d));
	/* A tag of 129 characters; 128 is fine. */
	EXPECT_EQ(EX_USAGE, sh("%s snapshot export %s --oci=%s/l:%s 2>%s/err", s, self->snap, d,
			       long_tag, d));
	EXPECT_EQ(0, sh("grep -qF \"malformed tag '%s'\" %s/err", long_tag, d));
	EXPECT_NE(0, sh("test -e %s/l", d));
	long_tag[128] = 0;
	EXPECT_EQ(0, sh("%s snapshot export %s --oci=%s/l:%s", s, self->snap, d, long_tag));
	EXPECT_EQ(0, sh("%s snapshot import --oci=%s/l:%s %s/long.snap && cmp -s %s %s/long.snap",
			s, d, long_tag, d, self->snap, d));
	/* A '/' after the last colon makes it part of DIR, not a tag: l:v1/x
	 * is a directory whose parent l:v1 does not exist. */
	EXPECT_EQ(EX_CANTCREAT,
		  sh("%s snapshot export %s --oci=%s/q:v1/x 2>%s/err", s, self->snap, d, d));
	EXPECT_EQ(0, sh("grep -qF 'cannot create %s/q:v1/x' %s/err", d, d));
	EXPECT_NE(0, sh("ls -d %s/q* 2>/dev/null", d));
	EXPECT_EQ(EX_NOINPUT,
		  sh("%s snapshot import --oci=%s/l:v1/x %s/x.snap 2>%s/err", s, d, d, d));
	EXPECT_EQ(0, sh("grep -qF '%s/l:v1/x' %s/err", d, d));
}

/* index.json padded with 300,000 spaces is still JSON: import reads it and
 * export into that layout keeps its manifest (issue 21: both crashed, the
 * parsed values pointing into a freed buffer). */
TEST_F_TIMEOUT(oci, padded_index_json, 180)
{
	const char *d = self->dir;

	ASSERT_EQ(0, sh("%s snapshot export %s --oci=%s/l:v1", self->run, self->snap, d));
	ASSERT_EQ(0, sh("cd %s/l && { head -c 300000 /dev/zero | tr '\\0' ' '; cat index.json; } "
			">i && mv i index.json && test $(stat -c %%s index.json) -gt 300000",
			d));
	EXPECT_EQ(0, sh("%s snapshot import --oci=%s/l:v1 %s/a.snap && cmp -s %s %s/a.snap",
			self->run, d, d, self->snap, d));
	EXPECT_EQ(0, sh("%s snapshot export %s --oci=%s/l:v2", self->run, self->snap, d));
	/* The index written is JSON with both manifests, v1's intact. */
	EXPECT_EQ(0, sh("python3 -c 'import json,sys; i=json.load(open(sys.argv[1])); "
			"assert [m[\"annotations\"][\"org.opencontainers.image.ref.name\"] "
			"for m in i[\"manifests\"]] == [\"v1\", \"v2\"]' %s/l/index.json",
			d));
	EXPECT_EQ(0, sh("%s snapshot import --oci=%s/l:v1 %s/b.snap && cmp -s %s %s/b.snap",
			self->run, d, d, self->snap, d));
	EXPECT_EQ(0, sh("%s snapshot import --oci=%s/l:v2 %s/c.snap && cmp -s %s %s/c.snap",
			self->run, d, d, self->snap, d));
}

/* The digest of the manifest (m) or of the layer (l) of layout d/l. */
#define MANIFEST_BLOB "$(grep -o 'sha256:[0-9a-f]*' %s/l/index.json | cut -c8-)"
#define LAYER_BLOB    "$(sha256sum %s | cut -c1-64)"

/* A FIFO, a directory or a symlink where the layout needs a file: refused
 * at once with 65 and a message naming it (issue 21: a FIFO hung import). */
/* Many launcher runs: room for a slow (TCG) machine. */
TEST_F_TIMEOUT(oci, special_files_refused, 180)
{
	const char *d = self->dir, *r = self->run;

	ASSERT_EQ(0, sh("%s snapshot export %s --oci=%s/l", r, self->snap, d));
	ASSERT_EQ(0, sh("cp -a %s/l %s/pristine", d, d));

	ASSERT_EQ(0, sh("rm %s/l/index.json && mkfifo %s/l/index.json", d, d));
	EXPECT_EQ(EX_DATAERR, sh("%s snapshot import --oci=%s/l %s/out.snap 2>%s/err", r, d, d, d));
	EXPECT_EQ(0, sh("grep -qF '%s/l/index.json is not a regular file' %s/err", d, d));
	EXPECT_EQ(EX_DATAERR, sh("%s snapshot export %s --oci=%s/l 2>%s/err", r, self->snap, d, d));
	EXPECT_EQ(0, sh("grep -qF '%s/l/index.json is not a regular file' %s/err", d, d));
	EXPECT_EQ(0, sh("test -p %s/l/index.json", d));

	ASSERT_EQ(0, sh("rm %s/l/index.json && mkdir %s/l/index.json", d, d));
	EXPECT_EQ(EX_DATAERR, sh("%s snapshot import --oci=%s/l %s/out.snap 2>%s/err", r, d, d, d));
	EXPECT_EQ(0, sh("grep -qF '%s/l/index.json is not a regular file' %s/err", d, d));

	ASSERT_EQ(
	    0, sh("rm -r %s/l/index.json && ln -s ../pristine/index.json %s/l/index.json", d, d));
	EXPECT_EQ(EX_DATAERR, sh("%s snapshot import --oci=%s/l %s/out.snap 2>%s/err", r, d, d, d));
	EXPECT_EQ(0, sh("grep -qF '%s/l/index.json is a symbolic link' %s/err", d, d));

	ASSERT_EQ(0, sh("rm -rf %s/l && cp -a %s/pristine %s/l", d, d, d));
	ASSERT_EQ(0, sh("rm %s/l/oci-layout && mkfifo %s/l/oci-layout", d, d));
	EXPECT_EQ(EX_DATAERR, sh("%s snapshot import --oci=%s/l %s/out.snap 2>%s/err", r, d, d, d));
	EXPECT_EQ(0, sh("grep -qF '%s/l/oci-layout is not a regular file' %s/err", d, d));

	/* The manifest blob, then the layer blob, as a FIFO. */
	ASSERT_EQ(0, sh("rm -rf %s/l && cp -a %s/pristine %s/l", d, d, d));
	ASSERT_EQ(0, sh("m=%s/l/blobs/sha256/" MANIFEST_BLOB " && rm $m && mkfifo $m", d, d));
	EXPECT_EQ(EX_DATAERR, sh("%s snapshot import --oci=%s/l %s/out.snap 2>%s/err", r, d, d, d));
	EXPECT_EQ(0, sh("grep -qF %s/l/blobs/sha256/" MANIFEST_BLOB " %s/err && "
			"grep -qF 'is not a regular file' %s/err",
			d, d, d, d));
	ASSERT_EQ(0, sh("rm -rf %s/l && cp -a %s/pristine %s/l", d, d, d));
	ASSERT_EQ(0, sh("b=%s/l/blobs/sha256/" LAYER_BLOB " && rm $b && mkfifo $b", d, self->snap));
	EXPECT_EQ(EX_DATAERR, sh("%s snapshot import --oci=%s/l %s/out.snap 2>%s/err", r, d, d, d));
	EXPECT_EQ(0, sh("grep -qF 'is not a regular file' %s/err", d));

	/* A symlinked blob: 65, as documented (it was 66). */
	ASSERT_EQ(0, sh("rm -rf %s/l && cp -a %s/pristine %s/l", d, d, d));
	ASSERT_EQ(0, sh("b=%s/l/blobs/sha256/" LAYER_BLOB " && mv $b %s/layer && ln -s %s/layer $b",
			d, self->snap, d, d));
	EXPECT_EQ(EX_DATAERR, sh("%s snapshot import --oci=%s/l %s/out.snap 2>%s/err", r, d, d, d));
	EXPECT_EQ(0, sh("grep -qF 'is a symbolic link' %s/err", d));
	/* A symlinked blobs directory too. */
	ASSERT_EQ(0, sh("rm -rf %s/l && cp -a %s/pristine %s/l && mv %s/l/blobs %s/blobs && "
			"ln -s ../blobs %s/l/blobs",
			d, d, d, d, d, d));
	EXPECT_EQ(EX_DATAERR, sh("%s snapshot import --oci=%s/l %s/out.snap 2>%s/err", r, d, d, d));
	EXPECT_EQ(0, sh("grep -qF 'is a symbolic link' %s/err", d));
	EXPECT_NE(0, sh("ls %s/out.snap* 2>/dev/null", d));
}

/* A layer whose descriptor's size is not its length, or is over the cap,
 * fails with 65 before anything is kept. */
TEST_F_TIMEOUT(oci, layer_sizes, 180)
{
	const char *d = self->dir, *r = self->run;
	struct stat st;

	ASSERT_EQ(0, stat(self->snap, &st));
	/* The helper's layout itself imports. */
	ASSERT_EQ(0, sh("sh %s/mklayout %s/ok %s", d, d, self->snap));
	ASSERT_EQ(0, sh("%s snapshot import --oci=%s/ok %s/ok.snap && cmp -s %s %s/ok.snap", r, d,
			d, self->snap, d));

	ASSERT_EQ(0,
		  sh("sh %s/mklayout %s/big %s %lld", d, d, self->snap, (long long)st.st_size + 1));
	EXPECT_EQ(EX_DATAERR,
		  sh("%s snapshot import --oci=%s/big %s/out.snap 2>%s/err", r, d, d, d));
	EXPECT_EQ(0, sh("grep -qF 'size is %lld bytes, not %lld' %s/err", (long long)st.st_size,
			(long long)st.st_size + 1, d));
	ASSERT_EQ(
	    0, sh("sh %s/mklayout %s/small %s %lld", d, d, self->snap, (long long)st.st_size - 1));
	EXPECT_EQ(EX_DATAERR,
		  sh("%s snapshot import --oci=%s/small %s/out.snap 2>/dev/null", r, d, d));
	/* Over the cap: refused from the descriptor, before the blob is read. */
	ASSERT_EQ(0, sh("sh %s/mklayout %s/huge %s %llu", d, d, self->snap,
			(unsigned long long)OCI_MAX_LAYER_SIZE + 1));
	EXPECT_EQ(EX_DATAERR,
		  sh("%s snapshot import --oci=%s/huge %s/out.snap 2>%s/err", r, d, d, d));
	EXPECT_EQ(0, sh("grep -qF 'more than %llu bytes' %s/err",
			(unsigned long long)OCI_MAX_LAYER_SIZE, d));
	/* Not a JSON size: past 2^53, negative, fractional. */
	ASSERT_EQ(0, sh("sh %s/mklayout %s/n1 %s 9007199254740993", d, d, self->snap));
	ASSERT_EQ(0, sh("sh %s/mklayout %s/n2 %s -1", d, d, self->snap));
	ASSERT_EQ(0, sh("sh %s/mklayout %s/n3 %s %lld.5", d, d, self->snap, (long long)st.st_size));
	for (int i = 1; i <= 3; i++) {
		EXPECT_EQ(EX_DATAERR, sh("%s snapshot import --oci=%s/n%d %s/out.snap 2>%s/err", r,
					 d, i, d, d));
		EXPECT_EQ(0, sh("grep -qF 'snapshot layer: missing or malformed size' %s/err", d));
	}
	EXPECT_NE(0, sh("ls %s/out.snap* 2>/dev/null", d));
}

/* A layer with the right digest that is no snapshot file, and a layer of
 * another media type: 65, nothing written. */
TEST_F(oci, layer_not_a_snapshot)
{
	const char *d = self->dir, *r = self->run;

	ASSERT_EQ(0, sh("head -c 8192 /dev/urandom >%s/noise && sh %s/mklayout %s/l %s/noise", d, d,
			d, d));
	EXPECT_EQ(EX_DATAERR, sh("%s snapshot import --oci=%s/l %s/out.snap 2>%s/err", r, d, d, d));
	EXPECT_EQ(0, sh("grep -qF 'is not a valid snapshot file' %s/err", d));
	ASSERT_EQ(0, sh("sh %s/mklayout %s/t %s '' application/vnd.oci.image.layer.v1.tar", d, d,
			self->snap));
	EXPECT_EQ(EX_DATAERR, sh("%s snapshot import --oci=%s/t %s/out.snap 2>%s/err", r, d, d, d));
	EXPECT_EQ(
	    0, sh("grep -qF 'must have one layer, of type " OCI_SNAPSHOT_MEDIA_TYPE "' %s/err", d));
	EXPECT_NE(0, sh("ls %s/out.snap* 2>/dev/null", d));
}

TEST_HARNESS_MAIN
