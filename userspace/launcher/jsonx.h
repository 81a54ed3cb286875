/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * jsonx.h - thin typed getters over jansson for the JSON documents the
 * launcher reads (OCI oci-layout, index.json, manifests and configs): parse
 * one object with an error naming the document, line and column, then ask
 * for members of one type, NULL (or -1) when absent or of another type, so
 * a caller checks once and names what is wrong.
 */
#ifndef SNAPVM_LAUNCHER_JSONX_H
#define SNAPVM_LAUNCHER_JSONX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "userspace/lib/snapvm.h"

/* The largest integer a JSON number carries exactly (RFC 8259 section 6):
 * 2^53 - 1. A larger one is refused, never rounded. */
#define JSONX_MAX_UINT ((1ULL << 53) - 1)

/*
 * Parse len bytes at text as one JSON object (whitespace around it). No
 * duplicate member names (which of two "digest"s would count?) and no NUL
 * in strings. NULL with EX_DATAERR in err, naming name and where the text
 * stops being JSON, when it is not. Free with json_decref.
 */
json_t *jsonx_parse_object(const char *name, const char *text, size_t len,
			   struct snapvm_error *err);

/* Member key of obj (NULL obj: none) when it is an object, an array, a
 * string; NULL otherwise. */
json_t *jsonx_object(const json_t *obj, const char *key);
json_t *jsonx_array(const json_t *obj, const char *key);
const char *jsonx_string(const json_t *obj, const char *key);

/* Member key of obj as an integer in [0, max] (max at most JSONX_MAX_UINT);
 * -1 when absent, not an integer (1.0 is not), negative or above max. */
int jsonx_uint(const json_t *obj, const char *key, uint64_t max, uint64_t *out);

#endif /* SNAPVM_LAUNCHER_JSONX_H */
