/* cli.h — shared pieces of the `kry` command-line program: exit codes, one-line error
   reporting, strict number parsing, and the status-to-exit-code map. */
#ifndef KRY_CLI_H
#define KRY_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kry/status.h"

/* Exit codes (DESIGN.md): documented in `kry --help` and the README. */
enum {
    KRY_EXIT_OK = 0,            /* success */
    KRY_EXIT_NOT_CONVERGED = 1, /* budget ran out; results still printed */
    KRY_EXIT_USAGE = 2,         /* bad command line */
    KRY_EXIT_DATA = 3,          /* bad input data (file contents, non-symmetric, ...) */
    KRY_EXIT_INTERNAL = 4       /* internal or numerical failure */
};

/* Prints "kry <cmd>: <message>\n" to stderr and returns code. */
int cli_fail(const char *cmd, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Exit code for a library status coming from processing user data (3) or from the
   solver itself (4). */
int cli_exit_for_status(kry_status st, int data_stage);

/* Strict parsers: the whole string must be a number in range. Return 0 on success. */
int cli_parse_size(const char *s, size_t *out);
int cli_parse_u64(const char *s, uint64_t *out);
int cli_parse_double(const char *s, double *out);

/* Seconds on a monotonic clock. */
double cli_now(void);

/* Prints a double as JSON (NaN/Inf become null). */
void cli_json_double(FILE *f, double x);

/* Subcommands: each returns the process exit code. */
int cli_eigs(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_funm(int argc, char **argv);
int cli_logdet(int argc, char **argv);
int cli_trace(int argc, char **argv);
int cli_density(int argc, char **argv);

#endif /* KRY_CLI_H */
