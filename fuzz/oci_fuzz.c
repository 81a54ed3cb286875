// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * oci_fuzz.c - libFuzzer harness for the OCI documents `snapvm snapshot
 * import` and `export` parse: the input is read as oci-layout, as index.json
 * (no tag, "latest", "v1"), as a manifest and as a config, then given to
 * export's index update, whose output must be an index again that names the
 * new manifest under its tag. The seeds are those of an exported layout.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/launcher/oci.h"

static void check_descriptor(const struct oci_descriptor *d, uint64_t max)
{
	if (strlen(d->digest) != 7 + 64 || strncmp(d->digest, "sha256:", 7) ||
	    strspn(d->digest + 7, "0123456789abcdef") != 64 || d->size > max)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tags[] = {NULL, OCI_DEFAULT_TAG, "v1"};
	const struct oci_descriptor ours = {
	    .digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    .size = 1234,
	};
	const char *text = (const char *)data;
	struct oci_descriptor manifest, config, layer, found;
	struct snapvm_error err;
	char *out;
	size_t out_len;

	oci_parse_layout("oci-layout", text, size, &err);
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (!oci_parse_index("index.json", text, size, tags[i], &manifest, &err))
			check_descriptor(&manifest, 4 << 20);
	if (!oci_parse_manifest("manifest", text, size, &config, &layer, &err)) {
		check_descriptor(&config, 4 << 20);
		check_descriptor(&layer, OCI_MAX_LAYER_SIZE);
	}
	oci_parse_config("config", text, size, &err);
	if (!oci_index_add("index.json", text, size, "v1", &ours, &out, &out_len, &err)) {
		if (oci_parse_index("new index.json", out, out_len, "v1", &found, &err) ||
		    strcmp(found.digest, ours.digest) || found.size != ours.size)
			abort();
		free(out);
	}
	return 0;
}
