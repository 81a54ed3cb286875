// SPDX-License-Identifier: GPL-2.0
/*
 * debug_stub_test.c - the gdb stub against clients that are no gdb: garbage,
 * oversized and malformed packets (E01, nothing changed), a client that
 * keeps sending after detach; the --gdb flag's errors and the unix socket's
 * mode; --help on where the stub binds.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "guests/test/gdb-remap.h"
#include "kselftest_harness.h"
#include "tests/kselftest/vmm_test.h"
#include "tests/kselftest/debug_fixture.h"
#include "userspace/lib/snapvm.h"

/* ---- bad input ---- */

/* What comes back within a few seconds: bytes, "" at EOF. */
static ssize_t reply(int fd, char *buf, size_t size)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	size_t len = 0;

	while (len < size - 1 && poll(&pfd, 1, 5000) == 1) {
		ssize_t n = recv(fd, buf + len, size - 1 - len, 0);

		if (n <= 0)
			break;
		len += (size_t)n;
		/* A whole packet (or a lone NAK) is enough. */
		if (memchr(buf, '#', len) && buf[len - 1] != '#' && len >= 3 && buf[len - 3] == '#')
			break;
		if (len == 1 && buf[0] == '-')
			break;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

static void send_packet(int fd, const char *data)
{
	static char pkt[16384]; /* a whole G for amd64 is ~1.2 KiB */
	unsigned int sum = 0;

	for (const char *p = data; *p; p++)
		sum += (unsigned char)*p;
	snprintf(pkt, sizeof(pkt), "$%s#%02x", data, sum & 0xff);
	send(fd, pkt, strlen(pkt), MSG_NOSIGNAL);
}

DEBUG_TEST(gdb_stub_survives_garbage_oversized_packets_and_bad_reads)
{
	char buf[4096], cmd[64];
	static char big[40000];
	struct launcher l;
	int fd;

	REQUIRE_BACKEND();
	{
		const char *extra[] = {"--timeout=60", guest(self, "hello"), NULL};

		ASSERT_EQ(0, start_launcher(self, &l, "0", extra));
	}
	fd = stub_connect(&l);
	ASSERT_LE(0, fd) TH_LOG("connect to port %d: %s", l.port, strerror(errno));
	/* Garbage outside packets: a NAK. */
	send(fd, "hello, stub!", 12, MSG_NOSIGNAL);
	reply(fd, buf, sizeof(buf));
	EXPECT_EQ('-', buf[0]) TH_LOG("reply to garbage: \"%s\"", buf);
	/* A bad checksum: a NAK. */
	send(fd, "$g#00", 5, MSG_NOSIGNAL);
	reply(fd, buf, sizeof(buf));
	EXPECT_EQ('-', buf[0]) TH_LOG("reply to a bad checksum: \"%s\"", buf);
	/* Malformed arguments: an error packet. */
	send_packet(fd, "mzz,qq");
	reply(fd, buf, sizeof(buf));
	EXPECT_STREQ("+$E01#a6", buf) TH_LOG("reply to a malformed m");
	/* Memory outside the guest's: an error packet. */
	snprintf(cmd, sizeof(cmd), "m%s,10", is_amd64(variant) ? "800000000000" : "fffff000");
	send_packet(fd, cmd);
	reply(fd, buf, sizeof(buf));
	EXPECT_STREQ("+$E14#aa", buf) TH_LOG("reply to %s", cmd);
	send_packet(fd, "mffffffffffffffff,ffffffffffffffff");
	reply(fd, buf, sizeof(buf));
	EXPECT_STREQ("+$E14#aa", buf) TH_LOG("reply to a wrapping m");
	/* Still alive: registers. */
	send_packet(fd, "g");
	reply(fd, buf, sizeof(buf));
	EXPECT_LT(100, (int)strlen(buf)) TH_LOG("reply to g: \"%s\"", buf);
	/* Unknown packets: the empty reply. */
	send_packet(fd, "vNoSuchThing");
	reply(fd, buf, sizeof(buf));
	EXPECT_NE(NULL, strstr(buf, "$#00")) TH_LOG("reply to an unknown packet: \"%s\"", buf);
	/* Oversized: the connection closes, and the guest runs on alone. */
	big[0] = '$';
	memset(big + 1, 'a', sizeof(big) - 2);
	send(fd, big, sizeof(big) - 1, MSG_NOSIGNAL);
	while (reply(fd, buf, sizeof(buf)) > 0)
		;
	EXPECT_EQ(0, recv(fd, buf, sizeof(buf), 0));
	close(fd);
	EXPECT_LAUNCHER_EXIT(&l, 0);
	EXPECT_TRUE(wait_for_text(l.out, "hello", 1));
}

/* What the stub must answer to packet, exactly ("+" ack, then the reply). */
static const char *ask(int fd, const char *packet)
{
	static char buf[8192];

	send_packet(fd, packet);
	reply(fd, buf, sizeof(buf));
	return buf;
}

/* payload framed as the stub sends it, after its ack. */
static const char *framed(const char *payload)
{
	static char buf[8192];
	unsigned int sum = 0;

	for (const char *p = payload; *p; p++)
		sum += (unsigned char)*p;
	snprintf(buf, sizeof(buf), "+$%s#%02x", payload, sum & 0xff);
	return buf;
}

#define EXPECT_REPLY(fd, packet, payload)                                                          \
	do {                                                                                       \
		const char *got_ = ask((fd), (packet));                                            \
		EXPECT_STREQ(framed(payload), got_) TH_LOG("reply to \"%s\"", (packet));           \
	} while (0)

/* The payload of a reply (between "$" and "#"), copied into out. */
static const char *payload_of(const char *reply_text, char *out, size_t size)
{
	const char *start = strchr(reply_text, '$'), *end = start ? strchr(start, '#') : NULL;

	out[0] = '\0';
	if (start && end && (size_t)(end - start) <= size)
		snprintf(out, size, "%.*s", (int)(end - start - 1), start + 1);
	return out;
}

/* A little-endian hex register value. */
static uint64_t le_hex(const char *hex, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = bytes; i-- > 0;) {
		unsigned int byte = 0;

		sscanf(hex + 2 * i, "%2x", &byte);
		v = v << 8 | byte;
	}
	return v;
}

/*
 * At least one malformed packet of each type the stub handles gets exactly
 * E01 and changes nothing (registers, memory, the stop); the well-formed
 * G, P, M, Z1 and z1 work; M into the read-only amd64 snapshot is refused.
 */
DEBUG_TEST(gdb_stub_answers_malformed_packets_e01_and_changes_nothing)
{
	static const char *const malformed[] = {
	    "?x",
	    "gx",
	    "G",
	    "G0",
	    "Gzz",
	    "p",
	    "pzz",
	    "p-1",
	    "p10000000000000000",
	    "p999",
	    "P",
	    "P=00",
	    "P0=zz",
	    "P0=00",
	    "Pzz=00000000",
	    "m",
	    "m0",
	    "m0,1:",
	    "M",
	    "M0,1",
	    "M0,2:zz",
	    "M0,1:0011",
	    "Z",
	    "Z0",
	    "Z0,zz,1",
	    "Z0,1000,1junk",
	    "Z9,1000,1",
	    "z",
	    "z1,",
	    "czz",
	    "c-1",
	    "sx",
	    "C",
	    "Czz",
	    "C05;",
	    "C05;zz",
	    "S123",
	    "Dx",
	    "kx",
	    "H",
	    "Hx1",
	    "Hg2",
	    "T2",
	    "T",
	    "qXfer:features:read:other.xml:0,10",
	    "qXfer:features:read:target.xml:zz",
	};
	/* i386: eip is register 8, cs 10; x86-64: rip 16, cs 18. */
	const char *pc_reg = is_amd64(variant) ? "10" : "8",
		   *cs_reg = is_amd64(variant) ? "12" : "a";
	unsigned int width = is_amd64(variant) ? 8 : 4;
	static char before[4096], after[4096], changed[4096], text[64], pkt[8192];
	char pc_hex[32], cmd[128];
	struct launcher l;
	uint64_t pc;
	int fd;

	REQUIRE_BACKEND();
	{
		const char *extra[] = {"--timeout=60", guest(self, "hello"), NULL};

		ASSERT_EQ(0, start_launcher(self, &l, "0", extra));
	}
	fd = stub_connect(&l);
	ASSERT_LE(0, fd) TH_LOG("connect to port %d: %s", l.port, strerror(errno));
	payload_of(ask(fd, "g"), before, sizeof(before));
	ASSERT_LT(100, (int)strlen(before));
	snprintf(cmd, sizeof(cmd), "p%s", pc_reg);
	payload_of(ask(fd, cmd), pc_hex, sizeof(pc_hex));
	ASSERT_EQ(2 * width, (unsigned int)strlen(pc_hex));
	pc = le_hex(pc_hex, width);
	snprintf(cmd, sizeof(cmd), "m%llx,8", (unsigned long long)pc);
	payload_of(ask(fd, cmd), text, sizeof(text));
	ASSERT_EQ(16, strlen(text));

	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
		EXPECT_REPLY(fd, malformed[i], "E01");
	/* A whole G of the right length, but one bad digit; one digit more. */
	snprintf(pkt, sizeof(pkt), "G%s", before);
	pkt[1] = 'x';
	EXPECT_REPLY(fd, pkt, "E01");
	snprintf(pkt, sizeof(pkt), "G%s0", before);
	EXPECT_REPLY(fd, pkt, "E01");
	/* A segment register is shown, not set. */
	snprintf(pkt, sizeof(pkt), "P%s=00000000", cs_reg);
	EXPECT_REPLY(fd, pkt, "E01");
	/* Watchpoints: not supported (the empty reply), not malformed. */
	EXPECT_REPLY(fd, "Z2,1000,1", "");
	/* Nothing changed, and the guest is still held where it was. */
	EXPECT_REPLY(fd, "?", "S05");
	EXPECT_REPLY(fd, "g", before);
	EXPECT_REPLY(fd, cmd, text);

	/* Well-formed G and P do write: the first register (eax/rax). */
	snprintf(changed, sizeof(changed), "%s", before);
	memcpy(changed, "11223344", 8);
	snprintf(pkt, sizeof(pkt), "G%s", changed);
	EXPECT_REPLY(fd, pkt, "OK");
	EXPECT_REPLY(fd, "g", changed);
	snprintf(pkt, sizeof(pkt), "P0=%.*s", 2 * width, before);
	EXPECT_REPLY(fd, pkt, "OK");
	EXPECT_REPLY(fd, "p0", is_amd64(variant) ? "0000000000000000" : "00000000");
	payload_of(ask(fd, "g"), after, sizeof(after));
	EXPECT_STREQ(before, after);

	/* M: the amd64 snapshot (the text) is read-only to the host; i686's
	 * is writable (the same bytes back). Outside guest memory: E14. */
	snprintf(pkt, sizeof(pkt), "M%llx,8:%s", (unsigned long long)pc, text);
	EXPECT_REPLY(fd, pkt, is_amd64(variant) ? "E14" : "OK");
	EXPECT_REPLY(fd, cmd, text);
	snprintf(pkt, sizeof(pkt), "M%s,1:00", is_amd64(variant) ? "800000000000" : "fffff000");
	EXPECT_REPLY(fd, pkt, "E14");

	/* Z1 (a hardware breakpoint) at the PC and off it; z1; Z0 outside. */
	snprintf(pkt, sizeof(pkt), "Z1,%llx,1", (unsigned long long)pc);
	EXPECT_REPLY(fd, pkt, "OK");
	pkt[0] = 'z';
	EXPECT_REPLY(fd, pkt, "OK");
	snprintf(pkt, sizeof(pkt), "Z1,%s,1", is_amd64(variant) ? "800000000000" : "fffff000");
	EXPECT_REPLY(fd, pkt, "E14");
	pkt[1] = '0';
	EXPECT_REPLY(fd, pkt, "E14");
	/* Threads: the one vCPU. */
	EXPECT_REPLY(fd, "Hg0", "OK");
	EXPECT_REPLY(fd, "Hc-1", "OK");
	EXPECT_REPLY(fd, "T1", "OK");

	/* Detach: the guest runs on alone, unchanged. */
	EXPECT_REPLY(fd, "D", "OK");
	close(fd);
	EXPECT_LAUNCHER_EXIT(&l, 0);
	EXPECT_TRUE(wait_for_text(l.out, "hello", 1));
}

/* A gdb that keeps talking after D: the launcher goes on within a bound. */
DEBUG_TEST(gdb_client_that_keeps_sending_after_detach_does_not_hold_the_launcher)
{
	struct launcher l;
	double start, exited = 0;
	int fd, ws = 0;

	REQUIRE_BACKEND();
	{
		const char *extra[] = {"--timeout=60", guest(self, "hello"), NULL};

		ASSERT_EQ(0, start_launcher(self, &l, "0", extra));
	}
	fd = stub_connect(&l);
	ASSERT_LE(0, fd) TH_LOG("connect to port %d: %s", l.port, strerror(errno));
	EXPECT_REPLY(fd, "D", "OK");
	/* An ack every half second, for up to 30 s, never hanging up. */
	start = now_s();
	while (now_s() - start < 30) {
		if (waitpid(l.pid, &ws, WNOHANG) == l.pid) {
			exited = now_s() - start;
			break;
		}
		send(fd, "+", 1, MSG_NOSIGNAL);
		usleep(500000);
	}
	close(fd);
	if (!exited)
		EXPECT_LAUNCHER_EXIT(&l, 0);
	EXPECT_LT(0, exited) TH_LOG("the launcher was still held after 30 s");
	EXPECT_GT(10, exited);
	EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) TH_LOG("wait status 0x%x", ws);
}

/* --gdb=... that cannot work: a usage error (64), a port someone else
 * has (69), a socket that cannot be made (73); a unix socket is the
 * owner's only (0600). */
DEBUG_TEST(gdb_flag_malformed_port_in_use_and_unix_socket_mode)
{
	static const char *const bad[] = {"",	 "abc",	       "70000", "-1", "12x", "1.2.3.4.5:80",
					  ":80", "127.0.0.1:", "unix:"};
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	char snapvm[PATH_MAX], flag[PATH_MAX + 16], out[PATH_MAX], err[PATH_MAX], expect[128],
	    sock[PATH_MAX];
	struct launcher l;
	struct stat st;
	int taken, fd;

	REQUIRE_BACKEND();
	snprintf(snapvm, sizeof(snapvm), "%s/snapvm", vmm_build_dir());
	snprintf(out, sizeof(out), "%s/out", self->tmp);
	snprintf(err, sizeof(err), "%s/err", self->tmp);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[] = {snapvm, "run", self->memory_flag, flag, guest(self, "hello"),
				      NULL};

		snprintf(flag, sizeof(flag), "--gdb=%s", bad[i]);
		EXPECT_EQ(EX_USAGE, finish(spawn(argv, out, err), DEADLINE_S))
		TH_LOG("%s", flag);
		snprintf(expect, sizeof(expect), "--gdb=%s: want ", bad[i]);
		EXPECT_HAS(slurp(err, launcher_err, sizeof(launcher_err)), expect);
	}
	/* A port that is listened on already (ours, held: no race). */
	taken = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, bind(taken, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(0, listen(taken, 1));
	ASSERT_EQ(0, getsockname(taken, (struct sockaddr *)&sin, &len));
	snprintf(flag, sizeof(flag), "--gdb=%d", ntohs(sin.sin_port));
	{
		const char *argv[] = {snapvm, "run", self->memory_flag, flag, guest(self, "hello"),
				      NULL};

		EXPECT_EQ(EX_UNAVAILABLE, finish(spawn(argv, out, err), DEADLINE_S));
		snprintf(expect, sizeof(expect), "gdb stub: bind 127.0.0.1:%d",
			 ntohs(sin.sin_port));
		EXPECT_HAS(slurp(err, launcher_err, sizeof(launcher_err)), expect);
	}
	close(taken);
	snprintf(flag, sizeof(flag), "--gdb=unix:%s/no-such-dir/gdb.sock", self->tmp);
	{
		const char *argv[] = {snapvm, "run", self->memory_flag, flag, guest(self, "hello"),
				      NULL};

		EXPECT_EQ(EX_CANTCREAT, finish(spawn(argv, out, err), DEADLINE_S));
		EXPECT_HAS(slurp(err, launcher_err, sizeof(launcher_err)), "gdb stub: bind ");
	}
	/* The unix socket: 0600 while it waits; k ends the run. */
	snprintf(sock, sizeof(sock), "unix:%s/gdb.sock", self->tmp);
	{
		const char *extra[] = {"--timeout=60", guest(self, "hello"), NULL};

		ASSERT_EQ(0, start_launcher(self, &l, sock, extra));
	}
	ASSERT_EQ(0, stat(l.target, &st)) TH_LOG("%s: %s", l.target, strerror(errno));
	EXPECT_TRUE(S_ISSOCK(st.st_mode));
	EXPECT_EQ(0600, (int)(st.st_mode & 07777));
	fd = stub_connect(&l);
	ASSERT_LE(0, fd) TH_LOG("connect to %s: %s", l.target, strerror(errno));
	send_packet(fd, "k");
	EXPECT_LAUNCHER_EXIT(&l, SNAPVM_STATUS_INTERRUPTED);
	close(fd);
}

TEST(help_says_the_stub_binds_to_localhost)
{
	char snapvm[PATH_MAX], out[PATH_MAX], dir[PATH_MAX / 2];

	ASSERT_NE(NULL, vmm_make_tmpdir(dir, sizeof(dir), "debug-help"));
	snprintf(snapvm, sizeof(snapvm), "%s/snapvm", vmm_build_dir());
	snprintf(out, sizeof(out), "%s/help", dir);
	{
		const char *argv[] = {snapvm, "run", "--help", NULL};

		ASSERT_EQ(0, finish(spawn(argv, out, NULL), DEADLINE_S));
	}
	slurp(out, gdb_out, sizeof(gdb_out));
	EXPECT_HAS(gdb_out, "--gdb=PORT");
	EXPECT_HAS(gdb_out, "localhost");
	EXPECT_HAS(gdb_out, "--core-dump=PATH");
	vmm_remove_tmpdir(dir);
}

TEST_HARNESS_MAIN
