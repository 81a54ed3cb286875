// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * snapshot.c - `snapvm snapshot export|import`: snapshot files as OCI
 * artifacts (oci.c does the work).
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
    "OCI, a symlink, FIFO or other non-regular file in it, or a layer that is\n"
    "larger than 4 GiB + 2 MiB or no valid snapshot file; 66 no such file,\n"
    "directory or tag; 73/74 a file could not be written.\n";

static int snapshot_usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "snapvm: snapshot: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'snapvm snapshot --help'.\n");
	return EX_USAGE;
}

int cmd_snapshot(int argc, char **argv)
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
		return snapshot_usage_error("%s needs --oci=DIR[:TAG]", cmd);
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
		if (!oci_valid_tag(tag)) {
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
