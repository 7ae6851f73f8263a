/* common.c — shared helpers of the kry command-line program (see cli.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"

int cli_fail(const char *cmd, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kry %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

int cli_exit_for_status(kry_status st, int data_stage)
{
    switch (st) {
    case KRY_OK:
        return KRY_EXIT_OK;
    case KRY_EINVAL:
        return data_stage ? KRY_EXIT_DATA : KRY_EXIT_USAGE;
    case KRY_EFORMAT:
    case KRY_ENOTSYM:
    case KRY_EIO:
    case KRY_EUNSUPPORTED:
    case KRY_EDOMAIN:
        return KRY_EXIT_DATA;
    case KRY_ENONFINITE:
    case KRY_EDIM:
    case KRY_ERANGE:
        return data_stage ? KRY_EXIT_DATA : KRY_EXIT_INTERNAL;
    default:
        return KRY_EXIT_INTERNAL;
    }
}

int cli_parse_size(const char *s, size_t *out)
{
    if (s == NULL || *s == '\0' || *s == '-' || *s == '+')
        return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > (unsigned long long)SIZE_MAX)
        return -1;
    *out = (size_t)v;
    return 0;
}

int cli_parse_u64(const char *s, uint64_t *out)
{
    size_t v;
    if (cli_parse_size(s, &v) != 0)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

int cli_parse_double(const char *s, double *out)
{
    if (s == NULL || *s == '\0')
        return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_json_double(FILE *f, double x)
{
    if (isfinite(x))
        fprintf(f, "%.17g", x);
    else
        fputs("null", f);
}
