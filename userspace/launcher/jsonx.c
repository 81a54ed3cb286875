// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * jsonx.c - typed getters over jansson (see jsonx.h).
 */
#include <sysexits.h>

#include "userspace/lib/internal.h"
#include "userspace/launcher/jsonx.h"

json_t *jsonx_parse_object(const char *name, const char *text, size_t len, struct snapvm_error *err)
{
	json_error_t error;
	json_t *value;

	value = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
	if (!value) {
		snapvm_fail(err, EX_DATAERR, "%s is not JSON: %s (line %d, column %d)", name,
			    error.text, error.line, error.column);
		return NULL;
	}
	if (!json_is_object(value)) {
		json_decref(value);
		snapvm_fail(err, EX_DATAERR, "%s is not a JSON object", name);
		return NULL;
	}
	return value;
}

json_t *jsonx_object(const json_t *obj, const char *key)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_object(v) ? v : NULL;
}

json_t *jsonx_array(const json_t *obj, const char *key)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_array(v) ? v : NULL;
}

const char *jsonx_string(const json_t *obj, const char *key)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int jsonx_uint(const json_t *obj, const char *key, uint64_t max, uint64_t *out)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	json_int_t n;

	if (!json_is_integer(v))
		return -1;
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n > max || (uint64_t)n > JSONX_MAX_UINT)
		return -1;
	*out = (uint64_t)n;
	return 0;
}
