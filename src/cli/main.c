/* main.c — the `kry` program: dispatches to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: kry <command> [options]\n"
    "\n"
    "commands:\n"
    "  eigs     extreme eigenpairs of a symmetric matrix (Matrix Market file or built-in)\n"
    "  train    train an eigenvalue model lambda_k(tridiagonal pencil) on a task\n"
    "  funm     f(A) v for f = exp, log, sqrt, 1/x by Lanczos\n"
    "  logdet   log det A of an SPD matrix by stochastic Lanczos quadrature\n"
    "  trace    tr f(A) by stochastic Lanczos quadrature\n"
    "  density  spectral density (CSV, optional PNG) by stochastic Lanczos quadrature\n"
    "\n"
    "Run `kry <command> --help` for the options of a command.\n"
    "\n"
    "exit codes: 0 success, 1 not converged within the budget (results still printed),\n"
    "            2 usage error, 3 bad input data, 4 internal or numerical failure\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return KRY_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return KRY_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        puts("kry 0.1.0");
        return KRY_EXIT_OK;
    }
    if (strcmp(cmd, "eigs") == 0)
        return cli_eigs(argc - 1, argv + 1);
    if (strcmp(cmd, "train") == 0)
        return cli_train(argc - 1, argv + 1);
    if (strcmp(cmd, "funm") == 0)
        return cli_funm(argc - 1, argv + 1);
    if (strcmp(cmd, "logdet") == 0)
        return cli_logdet(argc - 1, argv + 1);
    if (strcmp(cmd, "trace") == 0)
        return cli_trace(argc - 1, argv + 1);
    if (strcmp(cmd, "density") == 0)
        return cli_density(argc - 1, argv + 1);
    fprintf(stderr, "kry: unknown command '%s' (try `kry --help`)\n", cmd);
    return KRY_EXIT_USAGE;
}
