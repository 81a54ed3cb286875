// SPDX-License-Identifier: GPL-2.0 OR MIT
/* error.c - libsnapvm's error reporting, the SIZE syntax and the names of
 * layouts and memory backends. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "userspace/lib/internal.h"

static int fail_va(struct snapvm_error *err, int status, int errnum, const char *fmt, va_list ap)
{
	if (err) {
		int n = vsnprintf(err->message, sizeof(err->message), fmt, ap);

		if (errnum && n >= 0 && (size_t)n < sizeof(err->message))
			snprintf(err->message + n, sizeof(err->message) - n, ": %s",
				 strerror(errnum));
		err->status = status;
	}
	return status;
}

int snapvm_fail(struct snapvm_error *err, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fail_va(err, status, 0, fmt, ap);
	va_end(ap);
	return status;
}

int snapvm_fail_errno(struct snapvm_error *err, int status, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fail_va(err, status, errnum, fmt, ap);
	va_end(ap);
	return status;
}

int snapvm_parse_size(const char *text, uint64_t *size, struct snapvm_error *err)
{
	const char *p = text;
	uint64_t value = 0;
	unsigned int shift = 0;

	if (!text || !isdigit((unsigned char)*p))
		return snapvm_fail(
		    err, EX_USAGE,
		    "malformed size '%s': want bytes with an optional K, M or G suffix",
		    text ? text : "");
	for (; isdigit((unsigned char)*p); p++) {
		if (__builtin_mul_overflow(value, 10, &value) ||
		    __builtin_add_overflow(value, (uint64_t)(*p - '0'), &value))
			return snapvm_fail(err, EX_USAGE, "size '%s' is too large", text);
	}
	switch (*p) {
	case '\0':
		break;
	case 'K':
	case 'k':
		shift = 10;
		break;
	case 'M':
	case 'm':
		shift = 20;
		break;
	case 'G':
	case 'g':
		shift = 30;
		break;
	default:
		return snapvm_fail(
		    err, EX_USAGE,
		    "malformed size '%s': want bytes with an optional K, M or G suffix", text);
	}
	if (shift && p[1] != '\0')
		return snapvm_fail(
		    err, EX_USAGE,
		    "malformed size '%s': want bytes with an optional K, M or G suffix", text);
	if (shift && value > (UINT64_MAX >> shift))
		return snapvm_fail(err, EX_USAGE, "size '%s' is too large", text);
	*size = value << shift;
	return 0;
}

void snapvm_format_size(uint64_t size, char *buf, size_t len)
{
	static const char suffix[] = "GMK";

	for (unsigned int i = 0; i < 3; i++) {
		unsigned int shift = 30 - 10 * i;

		if (size && size % (1ULL << shift) == 0) {
			snprintf(buf, len, "%llu%c", (unsigned long long)(size >> shift),
				 suffix[i]);
			return;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)size);
}

const char *snapvm_layout_name(uint32_t layout)
{
	switch (layout) {
	case SNAPVM_LAYOUT_I686:
		return "i686";
	case SNAPVM_LAYOUT_AMD64:
		return "amd64";
	default:
		return NULL;
	}
}

const char *snapvm_memory_name(enum snapvm_memory memory)
{
	switch (memory) {
	case SNAPVM_MEMORY_AUTO:
		return "auto";
	case SNAPVM_MEMORY_KMOD:
		return "kmod";
	case SNAPVM_MEMORY_MEMFD:
		return "memfd";
	}
	return "?";
}

int snapvm_outcome_exit_status(const struct snapvm_outcome *outcome)
{
	switch (outcome->stop) {
	case SNAPVM_STOP_EXIT:
		return (int)(outcome->code & 0xff);
	case SNAPVM_STOP_TIMEOUT:
		return SNAPVM_STATUS_TIMEOUT;
	case SNAPVM_STOP_INTERRUPTED:
		return SNAPVM_STATUS_INTERRUPTED;
	case SNAPVM_STOP_SIGNAL:
		return 128 + (int)(outcome->code & 0x7f);
	case SNAPVM_STOP_ABORT:
	case SNAPVM_STOP_FAULT:
	case SNAPVM_STOP_SNAPSHOT:  /* not an end: the caller had to continue */
	case SNAPVM_STOP_CALL_WAIT: /* a call loop with nobody to call it */
	case SNAPVM_STOP_DEBUG:	    /* not an end either */
		break;
	}
	return SNAPVM_STATUS_GUEST_FAULT;
}
