/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * json.h - a strict, bounded JSON reader (RFC 8259) for OCI index.json and
 * manifests, and the escaping a writer needs. Every parsed value keeps the
 * span of text it came from, so a document can be rewritten with parts of
 * it copied verbatim.
 */
#ifndef SNAPVM_LAUNCHER_JSON_H
#define SNAPVM_LAUNCHER_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum json_type {
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT
};

struct json {
	enum json_type type;
	const char *raw; /* the value's text in the parsed document */
	size_t raw_len;
	char *string; /* JSON_STRING: decoded, NUL-terminated (no NUL inside) */
	size_t count; /* JSON_ARRAY, JSON_OBJECT: elements / members */
	struct json **items;
	char **keys; /* JSON_OBJECT: member names, decoded */
};

/* Parse text[0..len) as exactly one JSON value (whitespace around it).
 * Returns NULL with a reason in why (static text) when it is not JSON or
 * nests deeper than 64. */
struct json *json_parse(const char *text, size_t len, const char **why);
void json_free(struct json *value);

/* The member key of an object (the first, were there several), or NULL. */
const struct json *json_get(const struct json *object, const char *key);
/* The decoded string, or NULL when value is absent or not a string. */
const char *json_string(const struct json *value);
/* A non-negative integer below 2^53; -1 when value is anything else. */
int json_uint(const struct json *value, uint64_t *out);

/* Write text as a JSON string, quotes included. */
void json_write_string(FILE *out, const char *text);

#endif /* SNAPVM_LAUNCHER_JSON_H */
