// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * gdbstub_test.c - the gdb stub's packet framing and argument parsing on
 * the host: good packets, acks, Ctrl-C, bad checksums, junk, oversized
 * packets, and a million random bytes that must never overrun the buffer
 * or yield a packet whose checksum does not hold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "userspace/lib/internal.h"

static int feed(struct snapvm_gdb_rx *rx, const char *bytes, size_t len)
{
	int last = SNAPVM_GDB_RX_NONE;

	for (size_t i = 0; i < len; i++) {
		enum snapvm_gdb_rx_event e = snapvm_gdb_rx_byte(rx, (unsigned char)bytes[i]);

		if (e != SNAPVM_GDB_RX_NONE && last == SNAPVM_GDB_RX_NONE)
			last = e; /* the first event */
	}
	return last;
}

#define FEED(rx, s) feed((rx), (s), sizeof(s) - 1)

TEST(packets_acks_and_interrupts)
{
	static struct snapvm_gdb_rx rx;

	EXPECT_EQ((int)SNAPVM_GDB_RX_PACKET, FEED(&rx, "$g#67"));
	EXPECT_STREQ("g", rx.buf);
	EXPECT_EQ((int)SNAPVM_GDB_RX_PACKET, FEED(&rx, "+$qSupported:swbreak+#8b"));
	EXPECT_EQ((int)SNAPVM_GDB_RX_NONE, FEED(&rx, "+-"));
	EXPECT_EQ((int)SNAPVM_GDB_RX_INTERRUPT, FEED(&rx, "\x03"));
	/* Upper-case checksum digits are fine too. */
	EXPECT_EQ((int)SNAPVM_GDB_RX_PACKET, FEED(&rx, "$m0,1#FA"));
	EXPECT_STREQ("m0,1", rx.buf);
	/* The empty packet. */
	EXPECT_EQ((int)SNAPVM_GDB_RX_PACKET, FEED(&rx, "$#00"));
	EXPECT_STREQ("", rx.buf);
}

TEST(bad_checksums_junk_and_oversized_packets)
{
	static struct snapvm_gdb_rx rx;
	static char big[SNAPVM_GDB_PACKET_MAX + 16];

	EXPECT_EQ((int)SNAPVM_GDB_RX_BAD_CHECKSUM, FEED(&rx, "$g#00"));
	EXPECT_EQ((int)SNAPVM_GDB_RX_BAD_CHECKSUM, FEED(&rx, "$g#zz"));
	EXPECT_EQ((int)SNAPVM_GDB_RX_BAD_CHECKSUM, FEED(&rx, "$g#6z"));
	EXPECT_EQ((int)SNAPVM_GDB_RX_JUNK, FEED(&rx, "x"));
	/* After junk and errors, a good packet still gets through. */
	EXPECT_EQ((int)SNAPVM_GDB_RX_PACKET, FEED(&rx, "$g#67"));
	big[0] = '$';
	memset(big + 1, 'a', sizeof(big) - 1);
	EXPECT_EQ((int)SNAPVM_GDB_RX_OVERSIZED, feed(&rx, big, sizeof(big)));
	/* The largest allowed packet is whole. */
	memset(&rx, 0, sizeof(rx));
	{
		unsigned int sum = 0;
		char tail[4];

		for (size_t i = 1; i <= SNAPVM_GDB_PACKET_MAX; i++)
			sum += 'a';
		feed(&rx, big, SNAPVM_GDB_PACKET_MAX + 1);
		snprintf(tail, sizeof(tail), "#%02x", sum & 0xff);
		EXPECT_EQ((int)SNAPVM_GDB_RX_PACKET, (int)feed(&rx, tail, 3));
		EXPECT_EQ((size_t)SNAPVM_GDB_PACKET_MAX, strlen(rx.buf));
	}
}

TEST(addr_len_arguments)
{
	uint64_t addr, len;
	const char *rest;

	EXPECT_EQ(0, snapvm_gdb_parse_addr_len("1000,20", &addr, &len, &rest));
	EXPECT_EQ(0x1000ULL, addr);
	EXPECT_EQ(0x20ULL, len);
	EXPECT_STREQ("", rest);
	EXPECT_EQ(0, snapvm_gdb_parse_addr_len("ffffffffffffffff,1:ab", &addr, &len, &rest));
	EXPECT_EQ(UINT64_MAX, addr);
	EXPECT_STREQ(":ab", rest);
	EXPECT_EQ(-1, snapvm_gdb_parse_addr_len("", &addr, &len, &rest));
	EXPECT_EQ(-1, snapvm_gdb_parse_addr_len("1000", &addr, &len, &rest));
	EXPECT_EQ(-1, snapvm_gdb_parse_addr_len(",20", &addr, &len, &rest));
	EXPECT_EQ(-1, snapvm_gdb_parse_addr_len("1000,", &addr, &len, &rest));
	EXPECT_EQ(-1, snapvm_gdb_parse_addr_len("zz,qq", &addr, &len, &rest));
	/* 17 digits overflow 64 bits: refused, not wrapped. */
	EXPECT_EQ(-1, snapvm_gdb_parse_addr_len("10000000000000000,1", &addr, &len, &rest));
}

/* One byte into rx; for a packet that comes out, the checksum that was
 * transmitted (the last two bytes fed) must hold for what it holds.
 * Returns 1 for a packet, 0 else, -1 when the checksum did not hold. */
static int feed_checked(struct snapvm_gdb_rx *rx, unsigned char c, char last[3])
{
	unsigned int sent;
	uint8_t sum = 0;

	last[0] = last[1];
	last[1] = (char)c;
	if (snapvm_gdb_rx_byte(rx, c) != SNAPVM_GDB_RX_PACKET)
		return 0;
	for (size_t k = 0; k < rx->len; k++)
		sum = (uint8_t)(sum + (unsigned char)rx->buf[k]);
	if (sscanf(last, "%2x", &sent) != 1 || sent != sum ||
	    strnlen(rx->buf, rx->len + 1) > rx->len)
		return -1;
	return 1;
}

/* Random bytes, biased towards the framing characters, with a well-formed
 * packet every 500 bytes (its checksum wrong every other time): every
 * packet that comes out fits the buffer and holds its transmitted
 * checksum, and packets do come out. */
TEST(random_bytes_never_overrun)
{
	static struct snapvm_gdb_rx rx;
	static const char special[] = "$#+-\x03}0123456789abcdefABCDEF";
	unsigned int seed = 12345, packets = 0;
	char last[3] = "";

	for (int i = 0; i < 1000000; i++) {
		char pkt[32];
		size_t len = 1;
		int got;

		seed = seed * 1103515245 + 12345;
		pkt[0] = (seed >> 16) & 1 ? special[(seed >> 17) % (sizeof(special) - 1)]
					  : (char)(seed >> 20);
		if (i % 500 == 0) {
			unsigned int sum = 0, n = 1 + (seed >> 8) % 20;

			pkt[0] = '$';
			for (unsigned int k = 1; k <= n; k++)
				sum += (unsigned char)(pkt[k] = (char)('a' + (seed >> k) % 26));
			snprintf(pkt + n + 1, sizeof(pkt) - n - 1, "#%02x",
				 (sum + (unsigned int)(i / 500 % 2)) & 0xff);
			len = n + 4;
		}
		for (size_t k = 0; k < len; k++) {
			got = feed_checked(&rx, (unsigned char)pkt[k], last);
			ASSERT_LE(0, got)
			TH_LOG("a packet \"%s\" whose checksum is not #%s", rx.buf, last);
			ASSERT_LE(rx.len, (size_t)SNAPVM_GDB_PACKET_MAX);
			packets += (unsigned int)got;
		}
	}
	/* A good share of the 1000 good ones (noise may swallow some). */
	EXPECT_LT(250U, packets);
	TH_LOG("%u packets in the noise", packets);
}

TEST_HARNESS_MAIN
