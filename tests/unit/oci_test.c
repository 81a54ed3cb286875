// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * oci_test.c - snapshots as OCI artifacts, on the host: `snapvm snapshot
 * export` and `import` give back the very file, several tags share one
 * layout, skopeo inspects the layout and copies it to another one that
 * imports again, and a tampered blob (layer, config, manifest) exits 65
 * leaving the output file alone. Running an imported snapshot needs KVM:
 * tests/kselftest/install_test.sh does that in the test VM.
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
#include "userspace/snapfile.h"

FIXTURE(oci)
{
	char dir[64];
	char snap[128];
	char snapvm[512];
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
	if (access(self->snapvm, X_OK))
		SKIP(return, "%s not built (make programs)", self->snapvm);

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

TEST_F(oci, skopeo_inspect_copy_import)
{
	const char *d = self->dir;

	if (sh("command -v skopeo >/dev/null"))
		SKIP(return, "no skopeo (apt-get install skopeo)");
	ASSERT_EQ(0, sh("%s snapshot export %s --oci=%s/layout:app", self->snapvm, self->snap, d));
	ASSERT_EQ(0, sh("skopeo inspect oci:%s/layout:app >%s/inspect.json", d, d));
	EXPECT_EQ(0, sh("grep -q org.snapvm.layout %s/inspect.json", d));
	ASSERT_EQ(0, sh("skopeo inspect --raw oci:%s/layout:app | grep -q "
			"application/vnd.snapvm.snapshot.v1",
			d));
	ASSERT_EQ(0, sh("skopeo copy -q oci:%s/layout:app oci:%s/copy:copied", d, d));
	ASSERT_EQ(0,
		  sh("%s snapshot import --oci=%s/copy:copied %s/copied.snap", self->snapvm, d, d));
	EXPECT_EQ(0, sh("cmp -s %s %s/copied.snap", self->snap, d));
	/* An OCI archive (one tar file) goes back and forth too. */
	ASSERT_EQ(0, sh("skopeo copy -q oci:%s/layout:app oci-archive:%s/app.tar:app", d, d));
	ASSERT_EQ(0, sh("skopeo copy -q oci-archive:%s/app.tar:app oci:%s/again:app", d, d));
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

TEST_HARNESS_MAIN
