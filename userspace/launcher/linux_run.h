/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * linux_run.h - `snapvm run` for Linux programs (linux_run.c).
 */
#ifndef SNAPVM_LAUNCHER_LINUX_RUN_H
#define SNAPVM_LAUNCHER_LINUX_RUN_H

/* Non-zero when `snapvm run ARGS` is for a Linux program: PROGRAM is one
 * (snapvm_linux_classify), --from names a snapshot of one, or
 * --personality=linux. argv[0] is "run". */
int linux_run_wanted(int argc, char **argv);
int linux_cmd_run(int argc, char **argv);

#endif /* SNAPVM_LAUNCHER_LINUX_RUN_H */
