/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * sys.h - what syscalls.c (the table, the dispatcher), files.c (fds, files,
 * stat) and process.c (memory, process, time, signals) share.
 */
#ifndef SNAPVM_GUESTS_LINUX_SYS_H
#define SNAPVM_GUESTS_LINUX_SYS_H

#include "guests/linux/lx.h"

typedef long sys_fn(const uintptr_t *a);

#include "guests/linux/syscalls.h"

#define DECLARE(name, n64, n32, fn, fmt) sys_fn lx_##fn;
LX_SYSCALLS(DECLARE)
/* Several entries share a handler: declaring twice is fine in C. */

#define NFDS 64

#endif /* SNAPVM_GUESTS_LINUX_SYS_H */
