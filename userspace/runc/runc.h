/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * runc.h - what snapvm-runc's files share: the OCI runtime that containerd's
 * stock runc shim drives (docs/runc.md). One container = one VMM process
 * (vmm.c) running one snapvm sandbox; its state lives in ROOT/ID/.
 */
#ifndef SNAPVM_RUNC_RUNC_H
#define SNAPVM_RUNC_RUNC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "userspace/lib/snapvm.h"

#define RUNC_NAME	  "snapvm-runc"
#define RUNC_DEFAULT_ROOT "/run/snapvm-runc"
#define RUNC_OCI_VERSION  "1.1.0"
/* Longest container ID: a path component, with room for the state files. */
#define RUNC_ID_MAX 1024

/* ---- log.c: errors to --log (JSON lines) and stderr ---- */
void log_open(const char *path, bool json);
/* Log "fmt..." at level "error" and print it on stderr; returns 1, the
 * status of every failed command (runc's). */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* RFC 3339 with nanoseconds, UTC ("2026-12-07T07:04:01.123456789Z"). */
void rfc3339_now(char *buf, size_t size);

/* ---- state.c: ROOT/ID/state.json ---- */
enum status {
	STATUS_CREATING,
	STATUS_CREATED,
	STATUS_RUNNING,
	STATUS_PAUSED,
	STATUS_STOPPED,
};
struct state {
	char id[RUNC_ID_MAX + 1];
	char dir[4096];	  /* ROOT/ID */
	pid_t pid;	  /* the VMM; 0 while creating */
	uint64_t started; /* its start time (/proc/PID/stat field 22) */
	char bundle[4096];
	char rootfs[4096];
	char created[64];
	char cgroup[4096]; /* the VMM's cgroup directory, "" when none */
	bool paused;
	bool frozen;	   /* paused by cgroup.freeze, not SIGSTOP */
	void *annotations; /* json_t object (owned) */
};
extern const char *runc_root;
/* Is id usable as a file name: 1..RUNC_ID_MAX bytes of [A-Za-z0-9_+.-], not
 * "." or ".."? Returns 0 or fail()'s 1. */
int state_check_id(const char *id);
/* ROOT/ID into s->dir (after state_check_id). */
void state_path(struct state *s, const char *id);
/* Read state.json; 1 (logged "container ID does not exist") when absent. */
int state_load(struct state *s, const char *id);
/* Write state.json atomically (a temporary file renamed over it). */
int state_save(const struct state *s);
void state_free(struct state *s);
/* An exclusive flock on ROOT/ID (returns the fd, or -1 after fail()). */
int state_lock(const struct state *s);
/* The status now: the VMM's pid alive with the same start time, and the
 * exec.fifo still there (created) or gone (running). */
enum status state_status(const struct state *s);
const char *status_name(enum status st);
/* Field 22 of /proc/PID/stat (0 when unreadable) and field 3 into *state. */
uint64_t proc_start_time(pid_t pid, char *state);
/* rm -r ROOT/ID (its files, no subdirectories beyond one level). */
void state_remove(const struct state *s);

/* ---- config: the bundle (create.c) ---- */
struct bundle {
	void *config; /* json_t */
	char **argv;  /* process.args (pointers into config) */
	char **envp;  /* process.env */
	const char *cwd;
	const char *hostname;
	const char *root; /* root.path, absolute */
	const char *cgroups_path;
	bool terminal;
	uint32_t uid, gid;
	uint32_t *gids;
	unsigned int ngids;
	uint64_t max_memory; /* 0 = the default */
	uint64_t timeout_ms; /* io.snapvm.timeout */
	int snapshot_at;     /* enum snapvm_linux_snapshot_at */
	int program_fd;	     /* args[0], resolved inside root */
	char program[4096];  /* args[0]'s path inside the root, for messages */
	enum { PROGRAM_LINUX, PROGRAM_GUEST, PROGRAM_SNAPSHOT } kind;
};

/* ---- vmm.c: the container's one host process ---- */
struct vmm_args {
	struct bundle *b;
	const char *console_socket;
	const char *fifo; /* ROOT/ID/exec.fifo */
	const char *jail; /* ROOT/ID/jail: the empty directory it pivots into */
	bool no_pivot;
	int ready_fd; /* to create: "" on success, else the message */
};
/* Never returns: the VMM's exit status is the container's. */
void vmm_main(struct vmm_args *a) __attribute__((noreturn));

/* ---- console.c ---- */
/* Open a pty, send its master to the unix socket path (one SCM_RIGHTS
 * message), make its slave fds 0/1/2 and the controlling terminal. */
int console_setup(const char *socket_path, char *why, size_t size);

/* ---- cgroup.c ---- */
/* The directory of cgroupsPath (systemd "slice:prefix:name" converted as
 * runc does), created, joined by pid; "" dir when path is NULL. */
int cgroup_join(const char *path, pid_t pid, char *dir, size_t size, char *why, size_t why_size);
/* cgroup.freeze of a v2 cgroup dir: 0, or -1 (errno) when it cannot. */
int cgroup_freeze(const char *dir, bool frozen);
/* memory.max (v2) or memory.limit_in_bytes (v1) of the VMM's cgroup. */
int cgroup_set_memory(const char *dir, uint64_t limit);

/* ---- the commands ---- */
int cmd_create(int argc, char **argv); /* create.c */
int cmd_start(int argc, char **argv);  /* ops.c */
int cmd_kill(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_state(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_update(int argc, char **argv);
int signal_parse(const char *text, int *signo);

/* ---- vmm.c: a signal for the guest ---- */
void vmm_raise(struct snapvm_linux *lx, struct snapvm_sandbox *sb, int signo);

#endif /* SNAPVM_RUNC_RUNC_H */
