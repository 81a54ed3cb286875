/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * syscalls.h - the Linux personality's system-call table: the one list of
 * the calls it answers, with their amd64 and i386 numbers. syscalls.c
 * builds its dispatch table from it; tests/unit/linux_doc_test.c checks
 * docs/linux.md's table against it. Anything not listed: ENOSYS.
 */
#ifndef SNAPVM_GUESTS_LINUX_SYSCALLS_H
#define SNAPVM_GUESTS_LINUX_SYSCALLS_H

/*
 * X(name, amd64 number, i386 number, handler, argument kinds for the trace)
 * -1: not on that architecture. Kinds: d int, u unsigned, x hex, p pointer,
 * s string, o octal.
 */
#define LX_SYSCALLS(X)                                                                             \
	X(read, 0, 3, sys_read, "dpu")                                                             \
	X(write, 1, 4, sys_write, "dpu")                                                           \
	X(open, 2, 5, sys_open, "sxo")                                                             \
	X(close, 3, 6, sys_close, "d")                                                             \
	X(stat, 4, -1, sys_stat, "sp")                                                             \
	X(fstat, 5, -1, sys_fstat, "dp")                                                           \
	X(lstat, 6, -1, sys_lstat, "sp")                                                           \
	X(poll, 7, 168, sys_poll, "pud")                                                           \
	X(lseek, 8, 19, sys_lseek, "dxd")                                                          \
	X(mmap, 9, -1, sys_mmap, "pxxxdx")                                                         \
	X(mprotect, 10, 125, sys_mprotect, "pxx")                                                  \
	X(munmap, 11, 91, sys_munmap, "px")                                                        \
	X(brk, 12, 45, sys_brk, "p")                                                               \
	X(rt_sigaction, 13, 174, sys_rt_sigaction, "dppu")                                         \
	X(rt_sigprocmask, 14, 175, sys_rt_sigprocmask, "dppu")                                     \
	X(rt_sigreturn, 15, 173, sys_rt_sigreturn, "")                                             \
	X(ioctl, 16, 54, sys_ioctl, "dxp")                                                         \
	X(pread64, 17, 180, sys_pread64, "dpux")                                                   \
	X(readv, 19, 145, sys_readv, "dpd")                                                        \
	X(writev, 20, 146, sys_writev, "dpd")                                                      \
	X(access, 21, 33, sys_access, "sx")                                                        \
	X(pipe, 22, 42, sys_enosys, "p")                                                           \
	X(sched_yield, 24, 158, sys_zero, "")                                                      \
	X(mremap, 25, 163, sys_mremap, "pxxxp")                                                    \
	X(madvise, 28, 219, sys_zero, "pxd")                                                       \
	X(dup, 32, 41, sys_dup, "d")                                                               \
	X(dup2, 33, 63, sys_dup2, "dd")                                                            \
	X(nanosleep, 35, 162, sys_nanosleep, "pp")                                                 \
	X(getpid, 39, 20, sys_getpid, "")                                                          \
	X(clone, 56, 120, sys_enosys, "xppp")                                                      \
	X(fork, 57, 2, sys_enosys, "")                                                             \
	X(vfork, 58, 190, sys_enosys, "")                                                          \
	X(execve, 59, 11, sys_enosys, "spp")                                                       \
	X(exit, 60, 1, sys_exit, "d")                                                              \
	X(wait4, 61, 114, sys_wait, "dpdp")                                                        \
	X(kill, 62, 37, sys_kill, "dd")                                                            \
	X(uname, 63, 122, sys_uname, "p")                                                          \
	X(fcntl, 72, 55, sys_fcntl, "ddx")                                                         \
	X(getcwd, 79, 183, sys_getcwd, "pu")                                                       \
	X(rename, 82, 38, sys_erofs, "ss")                                                         \
	X(mkdir, 83, 39, sys_erofs, "so")                                                          \
	X(rmdir, 84, 40, sys_erofs, "s")                                                           \
	X(link, 86, 9, sys_erofs, "ss")                                                            \
	X(unlink, 87, 10, sys_erofs, "s")                                                          \
	X(symlink, 88, 83, sys_erofs, "ss")                                                        \
	X(readlink, 89, 85, sys_readlink, "spu")                                                   \
	X(chmod, 90, 15, sys_erofs, "so")                                                          \
	X(umask, 95, 60, sys_umask, "o")                                                           \
	X(gettimeofday, 96, 78, sys_gettimeofday, "pp")                                            \
	X(getrlimit, 97, -1, sys_getrlimit, "dp")                                                  \
	X(getuid, 102, 24, sys_zero, "")                                                           \
	X(getgid, 104, 47, sys_zero, "")                                                           \
	X(geteuid, 107, 49, sys_zero, "")                                                          \
	X(getegid, 108, 50, sys_zero, "")                                                          \
	X(setpgid, 109, 57, sys_zero, "dd")                                                        \
	X(getppid, 110, 64, sys_zero, "")                                                          \
	X(getpgrp, 111, 65, sys_getpid, "")                                                        \
	X(sigaltstack, 131, 186, sys_sigaltstack, "pp")                                            \
	X(prctl, 157, 172, sys_prctl, "dxxxx")                                                     \
	X(arch_prctl, 158, 384, sys_arch_prctl, "xp")                                              \
	X(gettid, 186, 224, sys_getpid, "")                                                        \
	X(time, 201, 13, sys_time, "p")                                                            \
	X(futex, 202, 240, sys_enosys, "pxdppd")                                                   \
	X(getdents64, 217, 220, sys_getdents64, "dpu")                                             \
	X(set_tid_address, 218, 258, sys_getpid, "p")                                              \
	X(clock_gettime, 228, 265, sys_clock_gettime, "dp")                                        \
	X(clock_getres, 229, 266, sys_clock_getres, "dp")                                          \
	X(clock_nanosleep, 230, 267, sys_clock_nanosleep, "ddpp")                                  \
	X(exit_group, 231, 252, sys_exit, "d")                                                     \
	X(tgkill, 234, 270, sys_tgkill, "ddd")                                                     \
	X(openat, 257, 295, sys_openat, "dsxo")                                                    \
	X(mkdirat, 258, 296, sys_erofs, "dso")                                                     \
	X(newfstatat, 262, -1, sys_fstatat, "dspx")                                                \
	X(unlinkat, 263, 301, sys_erofs, "dsx")                                                    \
	X(renameat, 264, 302, sys_erofs, "dsds")                                                   \
	X(readlinkat, 267, 305, sys_readlinkat, "dspu")                                            \
	X(faccessat, 269, 307, sys_faccessat, "dsx")                                               \
	X(set_robust_list, 273, 311, sys_zero, "pu")                                               \
	X(utimensat, 280, 320, sys_erofs, "dspx")                                                  \
	X(dup3, 292, 330, sys_dup3, "ddx")                                                         \
	X(pipe2, 293, 331, sys_enosys, "px")                                                       \
	X(prlimit64, 302, 340, sys_prlimit64, "ddpp")                                              \
	X(getrandom, 318, 355, sys_getrandom, "pux")                                               \
	X(statx, 332, 383, sys_statx, "dsxxp")                                                     \
	X(rseq, 334, 386, sys_enosys, "pudx")                                                      \
	X(faccessat2, 439, 439, sys_faccessat, "dsxx")                                             \
	X(waitpid, -1, 7, sys_wait, "dpd")                                                         \
	X(mmap_old, -1, 90, sys_mmap_old, "p")                                                     \
	X(sigreturn, -1, 119, sys_sigreturn, "")                                                   \
	X(_llseek, -1, 140, sys_llseek, "dxxpd")                                                   \
	X(ugetrlimit, -1, 191, sys_getrlimit, "dp")                                                \
	X(mmap2, -1, 192, sys_mmap2, "pxxxdx")                                                     \
	X(stat64, -1, 195, sys_stat, "sp")                                                         \
	X(lstat64, -1, 196, sys_lstat, "sp")                                                       \
	X(fstat64, -1, 197, sys_fstat, "dp")                                                       \
	X(getuid32, -1, 199, sys_zero, "")                                                         \
	X(getgid32, -1, 200, sys_zero, "")                                                         \
	X(geteuid32, -1, 201, sys_zero, "")                                                        \
	X(getegid32, -1, 202, sys_zero, "")                                                        \
	X(fcntl64, -1, 221, sys_fcntl, "ddx")                                                      \
	X(set_thread_area, -1, 243, sys_set_thread_area, "p")                                      \
	X(get_thread_area, -1, 244, sys_get_thread_area, "p")                                      \
	X(fstatat64, -1, 300, sys_fstatat, "dspx")                                                 \
	X(clock_gettime64, -1, 403, sys_clock_gettime64, "dp")                                     \
	X(clock_getres_time64, -1, 406, sys_clock_getres64, "dp")                                  \
	X(clock_nanosleep_time64, -1, 407, sys_clock_nanosleep64, "ddpp")                          \
	X(utimensat_time64, -1, 412, sys_erofs, "dspx")

#endif /* SNAPVM_GUESTS_LINUX_SYSCALLS_H */
