// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * json.c - a strict JSON reader for the launcher's OCI import: recursive
 * descent over a length-bounded buffer, depth-limited, \u escapes decoded to
 * UTF-8 (a NUL or a lone surrogate is refused), numbers checked against the
 * grammar. Nothing here trusts the input to be terminated.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/launcher/json.h"

#define JSON_MAX_DEPTH 64

struct parser {
	const char *p, *end;
	const char *why;
};

static void skip_space(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static struct json *fail(struct parser *ps, const char *why, struct json *value)
{
	if (!ps->why)
		ps->why = why;
	json_free(value);
	return NULL;
}

static bool literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return false;
	ps->p += n;
	return true;
}

static int hex4(const char *p, unsigned int *out)
{
	*out = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		unsigned int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		*out = *out << 4 | d;
	}
	return 0;
}

static size_t put_utf8(char *out, unsigned int cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* At the opening quote: the decoded string (malloc'd), or NULL. */
static char *parse_string(struct parser *ps)
{
	const char *start = ++ps->p;
	char *out, *o;

	/* Decoded text is never longer than the escaped text. */
	while (ps->p < ps->end && *ps->p != '"')
		ps->p += *ps->p == '\\' && ps->end - ps->p > 1 ? 2 : 1;
	if (ps->p >= ps->end) {
		ps->why = ps->why ? ps->why : "unterminated string";
		return NULL;
	}
	out = o = malloc(ps->p - start + 1);
	if (!out) {
		ps->why = ps->why ? ps->why : "out of memory";
		return NULL;
	}
	for (const char *s = start; s < ps->p;) {
		unsigned int cp, lo;

		if ((unsigned char)*s < 0x20)
			goto bad;
		if (*s != '\\') {
			*o++ = *s++;
			continue;
		}
		s++;
		switch (*s++) {
		case '"':
			*o++ = '"';
			break;
		case '\\':
			*o++ = '\\';
			break;
		case '/':
			*o++ = '/';
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u':
			if (ps->p - s < 4 || hex4(s, &cp) || cp == 0)
				goto bad;
			s += 4;
			if (cp >= 0xdc00 && cp < 0xe000)
				goto bad;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (ps->p - s < 6 || s[0] != '\\' || s[1] != 'u' ||
				    hex4(s + 2, &lo) || lo < 0xdc00 || lo >= 0xe000)
					goto bad;
				s += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			o += put_utf8(o, cp);
			break;
		default:
			goto bad;
		}
	}
	*o = 0;
	ps->p++; /* the closing quote */
	return out;
bad:
	free(out);
	ps->why = ps->why ? ps->why : "malformed string";
	return NULL;
}

static bool parse_number(struct parser *ps)
{
	const char *p = ps->p;

	if (p < ps->end && *p == '-')
		p++;
	if (p >= ps->end || *p < '0' || *p > '9')
		return false;
	if (*p == '0')
		p++;
	else
		while (p < ps->end && *p >= '0' && *p <= '9')
			p++;
	if (p < ps->end && *p == '.') {
		if (++p >= ps->end || *p < '0' || *p > '9')
			return false;
		while (p < ps->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < ps->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < ps->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= ps->end || *p < '0' || *p > '9')
			return false;
		while (p < ps->end && *p >= '0' && *p <= '9')
			p++;
	}
	ps->p = p;
	return true;
}

static bool append(struct json *v, struct json *item, char *key)
{
	struct json **items = realloc(v->items, (v->count + 1) * sizeof(*items));

	if (!items)
		return false;
	v->items = items;
	if (v->type == JSON_OBJECT) {
		char **keys = realloc(v->keys, (v->count + 1) * sizeof(*keys));

		if (!keys)
			return false;
		v->keys = keys;
		v->keys[v->count] = key;
	}
	v->items[v->count++] = item;
	return true;
}

static struct json *parse_value(struct parser *ps, int depth)
{
	struct json *v;

	skip_space(ps);
	if (ps->p >= ps->end)
		return fail(ps, "unexpected end of text", NULL);
	if (depth > JSON_MAX_DEPTH)
		return fail(ps, "nested too deeply", NULL);
	v = calloc(1, sizeof(*v));
	if (!v)
		return fail(ps, "out of memory", NULL);
	v->raw = ps->p;
	switch (*ps->p) {
	case '"':
		v->type = JSON_STRING;
		v->string = parse_string(ps);
		if (!v->string)
			return fail(ps, "malformed string", v);
		break;
	case '{':
	case '[': {
		bool object = *ps->p == '{';
		char close = object ? '}' : ']';

		v->type = object ? JSON_OBJECT : JSON_ARRAY;
		ps->p++;
		skip_space(ps);
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			break;
		}
		for (;;) {
			char *key = NULL;
			struct json *item;

			skip_space(ps);
			if (object) {
				if (ps->p >= ps->end || *ps->p != '"')
					return fail(ps, "expected a member name", v);
				key = parse_string(ps);
				if (!key)
					return fail(ps, "malformed member name", v);
				skip_space(ps);
				if (ps->p >= ps->end || *ps->p != ':') {
					free(key);
					return fail(ps, "expected ':'", v);
				}
				ps->p++;
			}
			item = parse_value(ps, depth + 1);
			if (!item || !append(v, item, key)) {
				free(key);
				json_free(item);
				return fail(ps, "out of memory", v);
			}
			skip_space(ps);
			if (ps->p < ps->end && *ps->p == ',') {
				ps->p++;
				continue;
			}
			if (ps->p < ps->end && *ps->p == close) {
				ps->p++;
				break;
			}
			return fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'", v);
		}
		break;
	}
	default:
		if (literal(ps, "null"))
			v->type = JSON_NULL;
		else if (literal(ps, "true"))
			v->type = JSON_TRUE;
		else if (literal(ps, "false"))
			v->type = JSON_FALSE;
		else if (parse_number(ps))
			v->type = JSON_NUMBER;
		else
			return fail(ps, "unexpected character", v);
	}
	v->raw_len = ps->p - v->raw;
	return v;
}

struct json *json_parse(const char *text, size_t len, const char **why)
{
	struct parser ps = {.p = text, .end = text + len};
	struct json *v = parse_value(&ps, 0);

	if (v) {
		skip_space(&ps);
		if (ps.p != ps.end)
			v = fail(&ps, "text after the value", v);
	}
	if (!v && why)
		*why = ps.why ? ps.why : "not JSON";
	return v;
}

void json_free(struct json *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->count; i++) {
		json_free(v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->string);
	free(v);
}

const struct json *json_get(const struct json *object, const char *key)
{
	if (!object || object->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < object->count; i++)
		if (!strcmp(object->keys[i], key))
			return object->items[i];
	return NULL;
}

const char *json_string(const struct json *value)
{
	return value && value->type == JSON_STRING ? value->string : NULL;
}

int json_uint(const struct json *value, uint64_t *out)
{
	uint64_t n = 0;

	if (!value || value->type != JSON_NUMBER || value->raw_len > 16)
		return -1;
	for (size_t i = 0; i < value->raw_len; i++) {
		char c = value->raw[i];

		if (c < '0' || c > '9')
			return -1; /* negative, fractional or with an exponent */
		n = n * 10 + (uint64_t)(c - '0');
	}
	*out = n;
	return 0;
}

void json_write_string(FILE *out, const char *text)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}
