// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * gdb_packet.c - the gdb stub's packets: the remote serial protocol's
 * framing, hex, and sending on the connection (and closing it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "userspace/lib/debug/gdb.h"
#include "userspace/lib/internal.h"

/* How long a closing connection waits for gdb to hang up first. */
#define DISCONNECT_LINGER_MS 2000

/* ---- framing (pure: unit-tested) ---- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum snapvm_gdb_rx_event snapvm_gdb_rx_byte(struct snapvm_gdb_rx *rx, unsigned char c)
{
	int v;

	switch (rx->state) {
	case 0: /* between packets */
		if (c == '$') {
			rx->state = 1;
			rx->len = 0;
			rx->sum = 0;
			return SNAPVM_GDB_RX_NONE;
		}
		if (c == 0x03)
			return SNAPVM_GDB_RX_INTERRUPT;
		if (c == '+' || c == '-')
			return SNAPVM_GDB_RX_NONE; /* acks: we never retransmit */
		return SNAPVM_GDB_RX_JUNK;
	case 1: /* data */
		if (c == '#') {
			rx->state = 2;
			return SNAPVM_GDB_RX_NONE;
		}
		if (rx->len >= SNAPVM_GDB_PACKET_MAX) {
			rx->state = 0;
			return SNAPVM_GDB_RX_OVERSIZED;
		}
		rx->buf[rx->len++] = (char)c;
		rx->sum = (uint8_t)(rx->sum + c);
		return SNAPVM_GDB_RX_NONE;
	case 2: /* first checksum digit */
		v = hexval(c);
		rx->check = (uint8_t)((v < 0 ? 0 : v) << 4);
		rx->check_bad = v < 0;
		rx->state = 3;
		return SNAPVM_GDB_RX_NONE;
	default: /* second digit */
		v = hexval(c);
		rx->state = 0;
		rx->buf[rx->len] = '\0';
		if (v < 0 || rx->check_bad || (uint8_t)(rx->check | v) != rx->sum)
			return SNAPVM_GDB_RX_BAD_CHECKSUM;
		return SNAPVM_GDB_RX_PACKET;
	}
}

/* "ADDR,LEN" in hex, then *rest at what follows. */
int snapvm_gdb_parse_addr_len(const char *p, uint64_t *addr, uint64_t *len, const char **rest)
{
	uint64_t v[2] = {0, 0};

	for (int i = 0; i < 2; i++) {
		int digits = 0, h;

		for (; (h = hexval((unsigned char)*p)) >= 0; p++, digits++) {
			if (digits == 16)
				return -1;
			v[i] = v[i] << 4 | (uint64_t)h;
		}
		if (!digits || (i == 0 && *p++ != ','))
			return -1;
	}
	*addr = v[0];
	*len = v[1];
	*rest = p;
	return 0;
}

/* A whole argument in hex: 1 to 16 digits, then the end of the string. */
int snapvm_gdb_parse_hex(const char *p, uint64_t *value)
{
	uint64_t v = 0;
	int digits = 0, h;

	for (; (h = hexval((unsigned char)*p)) >= 0; p++, digits++) {
		if (digits == 16)
			return -1;
		v = v << 4 | (uint64_t)h;
	}
	if (!digits || *p)
		return -1;
	*value = v;
	return 0;
}

/* len bytes of hex at p into buf; -1 unless exactly that many digits. */
int snapvm_gdb_unhex(const char *p, unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int hi = hexval((unsigned char)p[2 * i]), lo;

		if (hi < 0 || (lo = hexval((unsigned char)p[2 * i + 1])) < 0)
			return -1;
		buf[i] = (unsigned char)(hi << 4 | lo);
	}
	return p[2 * len] == '\0' ? 0 : -1;
}

char *snapvm_gdb_tohex(char *out, const void *buf, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		*out++ = digits[p[i] >> 4];
		*out++ = digits[p[i] & 15];
	}
	*out = '\0';
	return out;
}

/* ---- the connection ---- */

int snapvm_gdb_send_all(struct snapvm_gdb *g, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(g->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int snapvm_gdb_send_packet(struct snapvm_gdb *g, const char *data)
{
	char head[1] = {'$'}, tail[4];
	uint8_t sum = 0;
	size_t len = strlen(data);

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + (unsigned char)data[i]);
	snprintf(tail, sizeof(tail), "#%02x", sum);
	if (snapvm_gdb_send_all(g, head, 1) || snapvm_gdb_send_all(g, data, len) ||
	    snapvm_gdb_send_all(g, tail, 3))
		return -1;
	return 0;
}

uint64_t snapvm_gdb_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Close once gdb has hung up (or after a while): closing with its acks
 * unread would send a reset, which can cost gdb our last reply. */
void snapvm_gdb_disconnect(struct snapvm_gdb *g)
{
	struct pollfd pfd = {.fd = g->fd, .events = POLLIN};
	uint64_t deadline = snapvm_gdb_now_ms() + DISCONNECT_LINGER_MS, now;
	char buf[256];

	if (g->fd < 0)
		return;
	/* Bounded in all: a client that keeps sending is cut off all the
	 * same, and the launcher goes on. */
	while ((now = snapvm_gdb_now_ms()) < deadline &&
	       poll(&pfd, 1, (int)(deadline - now)) == 1) {
		ssize_t n = recv(g->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			break;
	}
	close(g->fd);
	g->fd = -1;
}
