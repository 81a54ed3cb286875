// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * log.c - snapvm-runc's errors: one JSON line per error appended to --log
 * ({"level":"error","msg":"...","time":"RFC 3339"}, what the runc shim reads
 * back and reports), and the message on stderr.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "userspace/runc/runc.h"

static int log_fd = -1;
static bool log_json = true;

void log_open(const char *path, bool json)
{
	log_json = json;
	if (log_fd >= 0)
		close(log_fd);
	log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (log_fd < 0)
		fprintf(stderr, RUNC_NAME ": --log %s: %m\n", path);
}

void rfc3339_now(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char secs[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(secs, sizeof(secs), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%09ldZ", secs, ts.tv_nsec);
}

int fail(const char *fmt, ...)
{
	char msg[2048], when[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, RUNC_NAME ": %s\n", msg);
	if (log_fd < 0)
		return 1;
	rfc3339_now(when, sizeof(when));
	if (log_json) {
		json_t *line =
		    json_pack("{s:s,s:s,s:s}", "level", "error", "msg", msg, "time", when);
		char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;

		if (text)
			dprintf(log_fd, "%s\n", text);
		free(text);
		json_decref(line);
	} else {
		dprintf(log_fd, "time=\"%s\" level=error msg=\"%s\"\n", when, msg);
	}
	return 1;
}
