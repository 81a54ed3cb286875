// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * cli.h - what the launcher's commands share (cli.c): the usage text, usage
 * errors, the option parsers, and how a run's outcome is reported; and the
 * subcommands main.c dispatches to, one file each.
 */
#ifndef SNAPVM_LAUNCHER_CLI_H
#define SNAPVM_LAUNCHER_CLI_H

#include <stdint.h>

#include "userspace/lib/snapvm.h"

/* `snapvm --help`'s text (tests/docs-tap checks docs/ against it). */
extern const char usage_text[];
/* "snapvm: " fmt (with arg) and a pointer to --help on stderr; EX_USAGE. */
int usage_error(const char *fmt, const char *arg);

/* Option values; each returns 0, or usage_error's EX_USAGE naming the bad
 * value. */
int parse_layout(const char *text, uint32_t *layout);
int parse_memory(const char *text, enum snapvm_memory *memory);
int parse_timeout(const char *text, uint64_t *ms);
int parse_max_memory(const char *text, uint64_t *size);
int parse_working_set(const char *text, uint64_t *pages);
int parse_repeat(const char *text, uint64_t *repeat);

/* How a run stopped, on stderr (what is "the guest"; the --timeout text). */
void report(const char *what, const struct snapvm_outcome *outcome, const char *timeout_text);

/* The subcommands: argv[0] is the command's name. */
int cmd_run(int argc, char **argv);	 /* run.c */
int cmd_call(int argc, char **argv);	 /* call.c */
int cmd_snapshot(int argc, char **argv); /* snapshot.c: export, import */
int cmd_info(void);			 /* info.c */

#endif /* SNAPVM_LAUNCHER_CLI_H */
