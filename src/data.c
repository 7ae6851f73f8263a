/* data.c — numeric CSV loading, standardisation and seeded splits (module data).

   The loader reads the whole file once with fgets-sized chunks of a growable line
   buffer, parses every field with strtod and checks that nothing but blanks follows
   the number, so "1.5x" or an empty field is reported with its line and field number
   rather than silently read as 1.5 or 0. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rng_impl.h"
#include "kry/data.h"
#include "kry/rng.h"

kry_csv_params kry_csv_params_default(void)
{
    kry_csv_params p;
    p.delim = ',';
    p.header = -1;
    return p;
}

void kry_table_free(kry_table *t)
{
    if (t == NULL)
        return;
    free(t->v);
    t->v = NULL;
    t->rows = t->cols = 0;
}

static kry_status fail(kry_data_error *err, kry_status st, const char *path, size_t line,
                       size_t field, const char *fmt, ...)
{
    if (err != NULL) {
        err->line = line;
        err->field = field;
        int off = line ? snprintf(err->msg, sizeof err->msg, "%s:%zu: ", path, line)
                       : snprintf(err->msg, sizeof err->msg, "%s: ", path);
        if (off < 0)
            off = 0;
        if ((size_t)off < sizeof err->msg) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err->msg + off, sizeof err->msg - (size_t)off, fmt, ap);
            va_end(ap);
        }
    }
    return st;
}

/* Reads one line (without the newline and a trailing '\r') into *buf. Returns 0 at
   end of file, 1 for a line, -1 on allocation failure. */
static int read_line(FILE *f, char **buf, size_t *cap)
{
    size_t len = 0;
    if (*cap == 0) {
        *cap = 4096;
        *buf = malloc(*cap);
        if (*buf == NULL)
            return -1;
    }
    for (;;) {
        if (fgets(*buf + len, (int)(*cap - len), f) == NULL)
            break;
        len += strlen(*buf + len);
        if (len > 0 && (*buf)[len - 1] == '\n')
            break;
        if (len + 1 < *cap)
            continue; /* last line without a newline: loop ends at EOF */
        char *nb = realloc(*buf, *cap * 2);
        if (nb == NULL)
            return -1;
        *buf = nb;
        *cap *= 2;
    }
    if (len == 0 && feof(f))
        return 0;
    while (len > 0 && ((*buf)[len - 1] == '\n' || (*buf)[len - 1] == '\r'))
        (*buf)[--len] = '\0';
    return 1;
}

static int is_blank_line(const char *s)
{
    for (; *s; ++s)
        if (!isspace((unsigned char)*s))
            return 0;
    return 1;
}

/* Number of fields split_fields will find in line. */
static size_t count_fields(const char *line, char delim)
{
    size_t nf = 0;
    if (delim == ' ') {
        const char *p = line;
        for (;;) {
            while (*p == ' ' || *p == '\t')
                ++p;
            if (*p == '\0')
                return nf;
            ++nf;
            while (*p && *p != ' ' && *p != '\t')
                ++p;
        }
    }
    for (nf = 1; *line; ++line)
        nf += *line == delim;
    return nf;
}

/* Splits line into fields in place; returns the count, writing up to max pointers. */
static size_t split_fields(char *line, char delim, char **fields, size_t max)
{
    size_t nf = 0;
    char *p = line;
    if (delim == ' ') {
        for (;;) {
            while (*p == ' ' || *p == '\t')
                ++p;
            if (*p == '\0')
                break;
            if (nf < max)
                fields[nf] = p;
            ++nf;
            while (*p && *p != ' ' && *p != '\t')
                ++p;
            if (*p)
                *p++ = '\0';
        }
        return nf;
    }
    for (;;) {
        if (nf < max)
            fields[nf] = p;
        ++nf;
        char *q = strchr(p, delim);
        if (q == NULL)
            break;
        *q = '\0';
        p = q + 1;
    }
    return nf;
}

/* 0: a finite number; 1: not a number; 2: NaN or Inf. */
static int parse_field(const char *s, double *out)
{
    while (isspace((unsigned char)*s))
        ++s;
    if (*s == '\0')
        return 1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s)
        return 1;
    while (isspace((unsigned char)*end))
        ++end;
    if (*end != '\0')
        return 1;
    if (!isfinite(v))
        return 2;
    *out = v;
    return 0;
}

kry_status kry_data_load_csv(const char *path, const kry_csv_params *params,
                             kry_table *out, kry_data_error *err)
{
    KRY_REQUIRE(path != NULL && out != NULL, KRY_EINVAL);
    out->rows = out->cols = 0;
    out->v = NULL;
    if (err) {
        err->line = err->field = 0;
        err->msg[0] = '\0';
    }
    kry_csv_params p = params ? *params : kry_csv_params_default();
    KRY_REQUIRE(p.delim != '\0' && p.delim != '\n', KRY_EINVAL);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return fail(err, KRY_EIO, path, 0, 0, "cannot open: %s", strerror(errno));
    kry_status st = KRY_OK;
    char *buf = NULL, **fields = NULL;
    size_t cap = 0, fcap = 0, lineno = 0, cols = 0, rows = 0, vcap = 0;
    double *v = NULL;
    int r;
    while ((r = read_line(f, &buf, &cap)) == 1) {
        ++lineno;
        if (is_blank_line(buf))
            continue;
        size_t need = count_fields(buf, p.delim);
        if (need > fcap) {
            char **nfld = realloc(fields, need * sizeof *fields);
            if (nfld == NULL) {
                st = KRY_ENOMEM;
                goto fail;
            }
            fields = nfld;
            fcap = need;
        }
        size_t nf = split_fields(buf, p.delim, fields, fcap);
        int first = rows == 0 && cols == 0;
        int header_now = first && p.header == 1;
        if (first && p.header == -1) {
            double tmp;
            for (size_t i = 0; i < nf; ++i)
                if (parse_field(fields[i], &tmp) != 0) {
                    header_now = 1;
                    break;
                }
        }
        if (header_now) {
            p.header = 0;
            continue;
        }
        p.header = 0;
        if (cols == 0)
            cols = nf;
        if (nf != cols) {
            st = fail(err, KRY_EFORMAT, path, lineno, 0, "expected %zu fields, found %zu",
                      cols, nf);
            goto fail;
        }
        if ((rows + 1) * cols > vcap) {
            size_t ncap = vcap ? 2 * vcap : 1024 * cols;
            double *nv = realloc(v, ncap * sizeof *v);
            if (nv == NULL) {
                st = KRY_ENOMEM;
                goto fail;
            }
            v = nv;
            vcap = ncap;
        }
        for (size_t i = 0; i < nf; ++i) {
            int pr = parse_field(fields[i], &v[rows * cols + i]);
            if (pr == 1) {
                st = fail(err, KRY_EFORMAT, path, lineno, i + 1,
                          "field %zu is not a number: '%.40s'", i + 1, fields[i]);
                goto fail;
            }
            if (pr == 2) {
                st = fail(err, KRY_ENONFINITE, path, lineno, i + 1,
                          "field %zu is NaN or infinite", i + 1);
                goto fail;
            }
        }
        ++rows;
    }
    if (r < 0) {
        st = KRY_ENOMEM;
        goto fail;
    }
    if (ferror(f)) {
        st = fail(err, KRY_EIO, path, lineno, 0, "read error");
        goto fail;
    }
    if (rows == 0) {
        st = fail(err, KRY_EFORMAT, path, 0, 0, "no data rows");
        goto fail;
    }
    fclose(f);
    free(buf);
    free(fields);
    out->rows = rows;
    out->cols = cols;
    out->v = v;
    return KRY_OK;
fail:
    fclose(f);
    free(buf);
    free(fields);
    free(v);
    return st;
}

kry_status kry_data_moments(size_t m, size_t cols, const double *x, size_t ldx,
                            const size_t *idx, double *mean, double *std)
{
    KRY_REQUIRE(m > 0 && cols > 0 && x != NULL && mean != NULL && std != NULL, KRY_EINVAL);
    KRY_REQUIRE(ldx >= cols, KRY_EINVAL);
    for (size_t c = 0; c < cols; ++c) {
        double s = 0.0;
        for (size_t r = 0; r < m; ++r)
            s += x[(idx ? idx[r] : r) * ldx + c];
        double mu = s / (double)m, q = 0.0;
        for (size_t r = 0; r < m; ++r) {
            double t = x[(idx ? idx[r] : r) * ldx + c] - mu;
            q += t * t;
        }
        double sd = sqrt(q / (double)m);
        mean[c] = mu;
        std[c] = sd > 0.0 ? sd : 1.0;
    }
    return KRY_OK;
}

kry_status kry_data_standardize(size_t rows, size_t cols, double *x, size_t ldx,
                                const double *mean, const double *std)
{
    KRY_REQUIRE(x != NULL && mean != NULL && std != NULL && ldx >= cols, KRY_EINVAL);
    for (size_t c = 0; c < cols; ++c)
        KRY_REQUIRE(std[c] != 0.0 && isfinite(std[c]) && isfinite(mean[c]), KRY_EINVAL);
    for (size_t r = 0; r < rows; ++r)
        for (size_t c = 0; c < cols; ++c)
            x[r * ldx + c] = (x[r * ldx + c] - mean[c]) / std[c];
    return KRY_OK;
}

void kry_data_shuffle(size_t n, uint64_t seed, uint64_t stream, size_t *idx)
{
    for (size_t i = 0; i < n; ++i)
        idx[i] = i;
    const uint64_t key = kry_rng_key(seed, stream);
    for (size_t i = n; i > 1; --i) {
        size_t j = (size_t)(kry_rng_keyed(key, i) % i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

kry_status kry_data_split(size_t n, double train_frac, uint64_t seed, size_t *idx,
                          size_t *ntrain)
{
    KRY_REQUIRE(idx != NULL && ntrain != NULL && n >= 2, KRY_EINVAL);
    KRY_REQUIRE(train_frac > 0.0 && train_frac < 1.0, KRY_EINVAL);
    kry_data_shuffle(n, seed, KRY_RNG_STREAM_USER + 7, idx);
    double t = floor(train_frac * (double)n + 0.5);
    size_t m = (size_t)t;
    if (m < 1)
        m = 1;
    if (m > n - 1)
        m = n - 1;
    *ntrain = m;
    return KRY_OK;
}
