// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * console.c - --console-socket: a new pty whose master goes to the shim in
 * one SCM_RIGHTS message over the unix socket (no reply is read), and whose
 * slave becomes the VMM's fds 0, 1, 2 and controlling terminal, so the
 * guest's TCGETS/TIOCGWINSZ are answered from it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "userspace/runc/runc.h"

static int send_fd(int sock, int fd)
{
	char data = '\0', control[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = &data, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control,
			     .msg_controllen = sizeof(control)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

int console_setup(const char *socket_path, char *why, size_t size)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int master, slave, sock;

	if (strlen(socket_path) >= sizeof(addr.sun_path)) {
		snprintf(why, size, "path too long for a unix socket");
		return -1;
	}
	strcpy(addr.sun_path, socket_path);
	if (openpty(&master, &slave, NULL, NULL, NULL)) {
		snprintf(why, size, "openpty: %s", strerror(errno));
		return -1;
	}
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof(addr)) ||
	    send_fd(sock, master)) {
		snprintf(why, size, "%s: %s", sock < 0 ? "socket" : "sending the pty master",
			 strerror(errno));
		return -1;
	}
	close(sock);
	close(master);
	/* A session of its own, with the slave as its controlling terminal. */
	if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) || dup2(slave, 0) < 0 ||
	    dup2(slave, 1) < 0 || dup2(slave, 2) < 0) {
		snprintf(why, size, "making the pty slave stdio: %s", strerror(errno));
		return -1;
	}
	if (slave > 2)
		close(slave);
	return 0;
}
