/* mtx.c — Matrix Market reading (into CSR or a dense array) and dense array writing.

   Format: R. F. Boisvert, R. Pozo, K. A. Remington, "The Matrix Market Exchange Formats:
   Initial Design", NISTIR 5935, 1996 (https://math.nist.gov/MatrixMarket/formats.html).
   The choices kry makes where the format leaves room are listed in include/kry/mtx.h.

   The reader is a small line-oriented state machine: one bounded line buffer filled by
   getc_unlocked (under flockfile), in-place tokenising, and strict token parsers, so
   that every malformed input ends in a status and a "FILE:LINE: ..." message, never in
   undefined behaviour. Entry storage grows geometrically up to the declared count
   rather than trusting the size line for one big allocation, so a short file claiming a
   huge matrix reports "unexpected end of file" instead of exhausting memory.

   The writer goes through a temporary file in the target directory and rename(2), which
   replaces the target atomically on POSIX file systems. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <unistd.h>

#include "internal.h"
#include "kry/mtx.h"

#if defined(__GNUC__)
#  define MTX_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#  define MTX_PRINTF(a, b)
#endif

#define MTX_MAX_TOKENS 8

typedef enum mm_format { MM_COORDINATE, MM_ARRAY } mm_format;
typedef enum mm_field { MM_REAL, MM_INTEGER, MM_PATTERN } mm_field;
typedef enum mm_symmetry { MM_GENERAL, MM_SYMMETRIC } mm_symmetry;

typedef struct mm_header {
    mm_format format;
    mm_field field;
    mm_symmetry symmetry;
    size_t m, n;      /* rows and columns */
    size_t count;     /* entries declared (coordinate) or values expected (array) */
    size_t size_line; /* line number of the size line */
} mm_header;

typedef struct reader {
    FILE *f;
    const char *name;
    kry_mtx_error *err;
    size_t line; /* number of the last line read (1-based; 0 before the first) */
    int eof;
    size_t ntok;                 /* tokens on the current line (may exceed the array) */
    char *tok[MTX_MAX_TOKENS];   /* the first MTX_MAX_TOKENS of them */
    char buf[KRY_MTX_LINE_MAX + 1];
} reader;

/* ---- Messages ---- */

static void err_clear(kry_mtx_error *err)
{
    if (err != NULL) {
        err->line = 0;
        err->message[0] = '\0';
    }
}

/* Formats "NAME:LINE: ..." (or "NAME: ..." for line 0) into err and returns st. */
MTX_PRINTF(5, 6)
static kry_status set_err(kry_mtx_error *err, const char *name, size_t line, kry_status st,
                          const char *fmt, ...)
{
    if (err == NULL)
        return st;
    const size_t cap = sizeof err->message;
    int k = line ? snprintf(err->message, cap, "%s:%zu: ", name, line)
                 : snprintf(err->message, cap, "%s: ", name);
    if (k >= 0 && (size_t)k < cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message + k, cap - (size_t)k, fmt, ap);
        va_end(ap);
    }
    err->line = line;
    return st;
}

/* A printable copy of a token for messages: at most 40 characters, control and
   non-ASCII bytes replaced by '?', "..." appended when cut. */
typedef struct quoted {
    char s[48];
} quoted;

static quoted quote(const char *t)
{
    quoted q;
    size_t i = 0;
    for (; t[i] != '\0' && i < 40; ++i) {
        unsigned char c = (unsigned char)t[i];
        q.s[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (t[i] != '\0') {
        memcpy(q.s + i, "...", 3);
        i += 3;
    }
    q.s[i] = '\0';
    return q;
}

/* Thread-safe strerror (the XSI strerror_r, selected by _XOPEN_SOURCE=700). */
typedef struct errtext {
    char s[128];
} errtext;

static errtext errno_text(int e)
{
    errtext t;
    if (strerror_r(e, t.s, sizeof t.s) != 0)
        snprintf(t.s, sizeof t.s, "error %d", e);
    return t;
}

/* ---- Lines and tokens ---- */

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* Reads the next line into r->buf (terminator and a trailing CR removed).
   Returns 1 with a line, 0 at end of file, -1 with *st set on an error. */
static int read_line(reader *r, kry_status *st)
{
    if (r->eof)
        return 0;
    size_t len = 0;
    int too_long = 0, has_nul = 0, c;
    while ((c = getc_unlocked(r->f)) != EOF && c != '\n') {
        if (c == '\0')
            has_nul = 1;
        if (len < KRY_MTX_LINE_MAX)
            r->buf[len++] = (char)c;
        else
            too_long = 1;
    }
    if (c == EOF) {
        if (ferror(r->f)) {
            int e = errno;
            if (r->line == 0)
                *st = set_err(r->err, r->name, 0, KRY_EIO, "cannot read: %s",
                              errno_text(e).s);
            else
                *st = set_err(r->err, r->name, 0, KRY_EIO, "read error after line %zu: %s",
                              r->line, errno_text(e).s);
            return -1;
        }
        r->eof = 1;
        if (len == 0 && !too_long)
            return 0;
    }
    r->line++;
    if (len > 0 && r->buf[len - 1] == '\r')
        --len;
    r->buf[len] = '\0';
    if (has_nul) {
        *st = set_err(r->err, r->name, r->line, KRY_EFORMAT,
                      "line contains a NUL byte (not a text file?)");
        return -1;
    }
    if (too_long) {
        const char *p = r->buf;
        while (is_blank(*p))
            ++p;
        if (*p != '%') {
            *st = set_err(r->err, r->name, r->line, KRY_EFORMAT,
                          "line is longer than %d characters", KRY_MTX_LINE_MAX);
            return -1;
        }
    }
    return 1;
}

/* Splits r->buf in place into blank-separated tokens. */
static void tokenize(reader *r)
{
    char *p = r->buf;
    r->ntok = 0;
    for (;;) {
        while (is_blank(*p))
            ++p;
        if (*p == '\0')
            break;
        if (r->ntok < MTX_MAX_TOKENS)
            r->tok[r->ntok] = p;
        r->ntok++;
        while (*p != '\0' && !is_blank(*p))
            ++p;
        if (*p != '\0')
            *p++ = '\0';
    }
}

/* Reads up to the next line that is neither blank nor a '%' comment and tokenises it.
   Returns 1, 0 at end of file, or -1 with *st set. */
static int next_data_line(reader *r, kry_status *st)
{
    for (;;) {
        int got = read_line(r, st);
        if (got <= 0)
            return got;
        const char *p = r->buf;
        while (is_blank(*p))
            ++p;
        if (*p == '\0' || *p == '%')
            continue;
        tokenize(r);
        return 1;
    }
}

/* ---- Number parsing (strict: the whole token must be consumed) ---- */

/* Unsigned decimal integer. 0: ok, -1: not an integer, -2: too large for uint64. */
static int parse_u64(const char *t, uint64_t *v)
{
    uint64_t x = 0;
    if (*t == '+')
        ++t;
    if (*t == '\0')
        return -1;
    for (; *t != '\0'; ++t) {
        if (*t < '0' || *t > '9')
            return -1;
        unsigned d = (unsigned)(*t - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -2;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

/* A 1-based index in [1, bound], stored 0-based in *idx. what: "row" or "column". */
static kry_status parse_index(reader *r, const char *t, const char *what, size_t bound,
                              uint32_t *idx)
{
    uint64_t v = 0;
    int neg = (*t == '-');
    int rc = parse_u64(neg ? t + 1 : t, &v);
    if (rc == -1 || (neg && t[1] == '+'))
        return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                       "%s index '%s' is not an integer", what, quote(t).s);
    if (neg || rc == -2 || v == 0 || v > bound)
        return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                       "%s index %s is out of range (must be between 1 and %zu)", what,
                       quote(t).s, bound);
    *idx = (uint32_t)(v - 1);
    return KRY_OK;
}

static kry_status parse_value(reader *r, const char *t, mm_field field, double *out)
{
    errno = 0;
    char *end = NULL;
    if (field == MM_INTEGER) {
        long long v = strtoll(t, &end, 10);
        if (end == t || *end != '\0')
            return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                           "'%s' is not an integer (the field is 'integer')", quote(t).s);
        if (errno == ERANGE)
            return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                           "integer value %s is out of range", quote(t).s);
        *out = (double)v;
        return KRY_OK;
    }
    double v = strtod(t, &end);
    if (end == t || *end != '\0')
        return set_err(r->err, r->name, r->line, KRY_EFORMAT, "'%s' is not a number",
                       quote(t).s);
    if (isnan(v) || isinf(v))
        return set_err(r->err, r->name, r->line, KRY_ENONFINITE,
                       "value '%s' is not finite%s", quote(t).s,
                       (errno == ERANGE) ? " (it overflows a double)" : "");
    *out = v;
    return KRY_OK;
}

/* ---- Header ---- */

enum { WANT_ANY, WANT_ARRAY };

static kry_status read_header(reader *r, mm_header *h, unsigned flags, int want)
{
    kry_status st = KRY_OK;
    int got = read_line(r, &st);
    if (got < 0)
        return st;
    if (got == 0)
        return set_err(r->err, r->name, 0, KRY_EFORMAT,
                       "empty file: expected a '%%%%MatrixMarket' banner");
    tokenize(r);
    if (r->ntok == 0 || strcasecmp(r->tok[0], "%%MatrixMarket") != 0)
        return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                       "missing '%%%%MatrixMarket' banner (the first line starts with '%s')",
                       r->ntok ? quote(r->tok[0]).s : "");
    if (r->ntok < 5)
        return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                       "incomplete banner: expected '%%%%MatrixMarket matrix FORMAT FIELD "
                       "SYMMETRY'");
    const char *obj = r->tok[1], *fmt = r->tok[2], *fld = r->tok[3], *sym = r->tok[4];
    if (strcasecmp(obj, "matrix") != 0)
        return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                       "unknown object '%s' in the banner (expected 'matrix')",
                       quote(obj).s);
    if (strcasecmp(fmt, "coordinate") == 0)
        h->format = MM_COORDINATE;
    else if (strcasecmp(fmt, "array") == 0)
        h->format = MM_ARRAY;
    else
        return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                       "unknown format '%s' in the banner (expected 'coordinate' or "
                       "'array')", quote(fmt).s);
    int complex_field = 0;
    if (strcasecmp(fld, "real") == 0)
        h->field = MM_REAL;
    else if (strcasecmp(fld, "integer") == 0)
        h->field = MM_INTEGER;
    else if (strcasecmp(fld, "pattern") == 0)
        h->field = MM_PATTERN;
    else if (strcasecmp(fld, "complex") == 0)
        complex_field = 1;
    else
        return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                       "unknown field '%s' in the banner (expected 'real', 'integer', "
                       "'pattern' or 'complex')", quote(fld).s);
    int skew = 0, herm = 0;
    if (strcasecmp(sym, "general") == 0)
        h->symmetry = MM_GENERAL;
    else if (strcasecmp(sym, "symmetric") == 0)
        h->symmetry = MM_SYMMETRIC;
    else if (strcasecmp(sym, "skew-symmetric") == 0)
        skew = 1;
    else if (strcasecmp(sym, "hermitian") == 0)
        herm = 1;
    else
        return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                       "unknown symmetry '%s' in the banner (expected 'general', "
                       "'symmetric', 'skew-symmetric' or 'hermitian')", quote(sym).s);
    if (r->ntok > 5)
        return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                       "unexpected '%s' after the symmetry in the banner",
                       quote(r->tok[5]).s);
    if (complex_field)
        return set_err(r->err, r->name, r->line, KRY_EUNSUPPORTED,
                       "complex matrices are not supported (kry works with real symmetric "
                       "matrices)");
    if (herm)
        return set_err(r->err, r->name, r->line, KRY_EUNSUPPORTED,
                       "hermitian matrices are not supported (kry works with real "
                       "symmetric matrices)");
    if (skew)
        return set_err(r->err, r->name, r->line, KRY_EUNSUPPORTED,
                       "skew-symmetric matrices are not supported (kry works with "
                       "symmetric matrices)");
    if (h->format == MM_ARRAY && h->field == MM_PATTERN)
        return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                       "the 'pattern' field cannot be used with the 'array' format");
    if (want == WANT_ARRAY && h->format != MM_ARRAY)
        return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                       "expected a dense 'array' file, found a 'coordinate' one");

    /* Size line. */
    got = next_data_line(r, &st);
    if (got < 0)
        return st;
    if (got == 0)
        return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                       "unexpected end of file: missing the size line");
    h->size_line = r->line;
    const size_t want_tok = (h->format == MM_COORDINATE) ? 3 : 2;
    const char *shape = (h->format == MM_COORDINATE) ? "ROWS COLUMNS ENTRIES"
                                                     : "ROWS COLUMNS";
    if (r->ntok != want_tok)
        return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                       "bad size line: expected '%s' (%zu integers), found %zu token%s",
                       shape, want_tok, r->ntok, r->ntok == 1 ? "" : "s");
    uint64_t v[3] = {0, 0, 0};
    static const char *const what[3] = {"number of rows", "number of columns",
                                        "number of entries"};
    for (size_t i = 0; i < want_tok; ++i) {
        int rc = parse_u64(r->tok[i], &v[i]);
        if (rc == -1)
            return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                           "bad size line: %s '%s' is not a non-negative integer", what[i],
                           quote(r->tok[i]).s);
        if (rc == -2)
            return set_err(r->err, r->name, r->line, KRY_ERANGE,
                           "%s %s is too large", what[i], quote(r->tok[i]).s);
    }
    if (v[0] == 0 || v[1] == 0)
        return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                       "bad size line: the matrix is %llu x %llu, but rows and columns "
                       "must be at least 1", (unsigned long long)v[0],
                       (unsigned long long)v[1]);
    for (size_t i = 0; i < 2; ++i)
        if (v[i] > UINT32_MAX)
            return set_err(r->err, r->name, r->line, KRY_ERANGE,
                           "%s %llu exceeds the limit %lu", what[i],
                           (unsigned long long)v[i], (unsigned long)UINT32_MAX);
    h->m = (size_t)v[0];
    h->n = (size_t)v[1];
    if (h->symmetry == MM_SYMMETRIC && h->m != h->n)
        return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                       "a symmetric matrix must be square, but the size line says %zu x %zu",
                       h->m, h->n);
    if ((flags & KRY_MTX_REQUIRE_SYMMETRIC) && h->m != h->n)
        return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                       "the matrix is %zu x %zu, but a square symmetric matrix is required",
                       h->m, h->n);
    /* 64 bytes per entry bounds the reader's storage (triplets, mirrored CSR, scratch). */
    const uint64_t max_entries = SIZE_MAX / 64;
    if (h->format == MM_COORDINATE) {
        if (v[2] > max_entries)
            return set_err(r->err, r->name, r->line, KRY_ERANGE,
                           "%llu entries are more than this reader can hold",
                           (unsigned long long)v[2]);
        h->count = (size_t)v[2];
    } else {
        uint64_t cnt;
        if (h->symmetry == MM_SYMMETRIC) /* lower triangle n (n + 1) / 2; n < 2^32 */
            cnt = (v[0] % 2 == 0) ? (v[0] / 2) * (v[0] + 1) : v[0] * ((v[0] + 1) / 2);
        else
            cnt = v[0] * v[1]; /* both < 2^32: no overflow */
        if (cnt > max_entries || v[0] * v[1] > max_entries)
            return set_err(r->err, r->name, r->line, KRY_ERANGE,
                           "a dense %llu x %llu array is more than this reader can hold",
                           (unsigned long long)v[0], (unsigned long long)v[1]);
        h->count = (size_t)cnt;
    }
    return KRY_OK;
}

/* ---- Entries ---- */

/* Grows the entry arrays (any of which may be NULL = not used) to hold one more entry,
   doubling up to the declared count. */
typedef struct entries {
    uint32_t *row, *col;
    double *val;
    size_t len, cap;
} entries;

static void entries_free(entries *e)
{
    free(e->row);
    free(e->col);
    free(e->val);
    memset(e, 0, sizeof *e);
}

static kry_status entries_reserve(entries *e, size_t limit, int with_index)
{
    if (e->len < e->cap)
        return KRY_OK;
    size_t cap = e->cap ? 2 * e->cap : 4096;
    if (cap > limit)
        cap = limit;
    if (with_index) {
        uint32_t *r = realloc(e->row, cap * sizeof *r);
        if (r == NULL)
            return KRY_ENOMEM;
        e->row = r;
        uint32_t *c = realloc(e->col, cap * sizeof *c);
        if (c == NULL)
            return KRY_ENOMEM;
        e->col = c;
    }
    double *v = realloc(e->val, cap * sizeof *v);
    if (v == NULL)
        return KRY_ENOMEM;
    e->val = v;
    e->cap = cap;
    return KRY_OK;
}

static kry_status premature_eof(reader *r, const mm_header *h, size_t found)
{
    return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                   "unexpected end of file: the size line (line %zu) declares %zu %s, "
                   "but only %zu were found", h->size_line, h->count,
                   h->format == MM_COORDINATE ? "entries" : "values", found);
}

static kry_status check_no_more(reader *r, const mm_header *h)
{
    kry_status st = KRY_OK;
    int got = next_data_line(r, &st);
    if (got < 0)
        return st;
    if (got > 0)
        return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                       "too many %s: the size line (line %zu) declares %zu",
                       h->format == MM_COORDINATE ? "entries" : "values", h->size_line,
                       h->count);
    return KRY_OK;
}

static kry_status read_coordinate(reader *r, const mm_header *h, entries *e)
{
    kry_status st = KRY_OK;
    const size_t want_tok = (h->field == MM_PATTERN) ? 2 : 3;
    while (e->len < h->count) {
        int got = next_data_line(r, &st);
        if (got < 0)
            return st;
        if (got == 0)
            return premature_eof(r, h, e->len);
        if (r->ntok < want_tok)
            return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                           "expected '%s', found %zu token%s",
                           want_tok == 2 ? "ROW COLUMN" : "ROW COLUMN VALUE", r->ntok,
                           r->ntok == 1 ? "" : "s");
        if (r->ntok > want_tok)
            return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                           "unexpected extra token '%s' after the %s",
                           quote(r->tok[want_tok]).s,
                           want_tok == 2 ? "column index ('pattern' files have no values)"
                                         : "value");
        uint32_t i, j;
        double v = 1.0;
        KRY_TRY(parse_index(r, r->tok[0], "row", h->m, &i));
        KRY_TRY(parse_index(r, r->tok[1], "column", h->n, &j));
        if (h->field != MM_PATTERN)
            KRY_TRY(parse_value(r, r->tok[2], h->field, &v));
        if (h->symmetry == MM_SYMMETRIC && j > i)
            return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                           "entry (%lu, %lu) is above the diagonal, but a symmetric file "
                           "stores only the lower triangle", (unsigned long)i + 1,
                           (unsigned long)j + 1);
        if (entries_reserve(e, h->count, 1) != KRY_OK)
            return set_err(r->err, r->name, 0, KRY_ENOMEM, "out of memory");
        e->row[e->len] = i;
        e->col[e->len] = j;
        e->val[e->len] = v;
        e->len++;
    }
    return check_no_more(r, h);
}

static kry_status read_array_values(reader *r, const mm_header *h, entries *e)
{
    kry_status st = KRY_OK;
    while (e->len < h->count) {
        int got = next_data_line(r, &st);
        if (got < 0)
            return st;
        if (got == 0)
            return premature_eof(r, h, e->len);
        if (r->ntok != 1)
            return set_err(r->err, r->name, r->line, KRY_EFORMAT,
                           "expected one value per line in an 'array' file, found %zu "
                           "tokens", r->ntok);
        double v;
        KRY_TRY(parse_value(r, r->tok[0], h->field, &v));
        if (entries_reserve(e, h->count, 0) != KRY_OK)
            return set_err(r->err, r->name, 0, KRY_ENOMEM, "out of memory");
        e->val[e->len++] = v;
    }
    return check_no_more(r, h);
}

/* Expands the values of an array file into a full column-major m x n array. */
static kry_status array_to_dense(const mm_header *h, entries *e, double **out)
{
    if (h->symmetry == MM_GENERAL) {
        *out = e->val; /* already column-major, exactly m * n values */
        e->val = NULL;
        return KRY_OK;
    }
    const size_t n = h->n;
    double *a = malloc(n * n * sizeof *a);
    if (a == NULL)
        return KRY_ENOMEM;
    size_t p = 0;
    for (size_t j = 0; j < n; ++j)
        for (size_t i = j; i < n; ++i) {
            a[j * n + i] = e->val[p];
            a[i * n + j] = e->val[p];
            ++p;
        }
    *out = a;
    return KRY_OK;
}

/* CSR of a dense column-major array, without its zero entries. */
static kry_status dense_to_csr(size_t m, size_t n, const double *a, kry_csr **out)
{
    size_t nnz = 0;
    for (size_t k = 0; k < m * n; ++k)
        nnz += (a[k] != 0.0);
    kry_csr *c = NULL;
    KRY_TRY(kry_csr_alloc(m, n, nnz, &c));
    size_t p = 0;
    for (size_t i = 0; i < m; ++i) {
        for (size_t j = 0; j < n; ++j) {
            double v = a[j * m + i];
            if (v != 0.0) {
                c->colind[p] = (uint32_t)j;
                c->val[p] = v;
                ++p;
            }
        }
        c->rowptr[i + 1] = p;
    }
    *out = c;
    return KRY_OK;
}

/* Position of column j in row i of a, or -1 (binary search in the sorted row). */
static ptrdiff_t csr_find(const kry_csr *a, size_t i, size_t j)
{
    size_t lo = a->rowptr[i], hi = a->rowptr[i + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->colind[mid] < j)
            lo = mid + 1;
        else if (a->colind[mid] > j)
            hi = mid;
        else
            return (ptrdiff_t)mid;
    }
    return -1;
}

static kry_status check_symmetric(reader *r, const kry_csr *a)
{
    double maxabs = 0.0, maxd = 0.0;
    size_t bi = 0, bj = 0;
    int any = 0;
    for (size_t k = 0; k < a->nnz; ++k)
        maxabs = fmax(maxabs, fabs(a->val[k]));
    for (size_t i = 0; i < a->n_rows; ++i) {
        for (size_t k = a->rowptr[i]; k < a->rowptr[i + 1]; ++k) {
            size_t j = a->colind[k];
            if (j == i)
                continue;
            ptrdiff_t t = csr_find(a, j, i);
            if (j < i && t >= 0)
                continue; /* the pair was measured from its upper-triangle entry */
            double d = fabs(a->val[k] - (t >= 0 ? a->val[t] : 0.0));
            if (!any || d > maxd) {
                maxd = d;
                bi = i;
                bj = j;
                any = 1;
            }
        }
    }
    const double tol = KRY_MTX_SYM_RTOL * maxabs;
    if (any && maxd > tol)
        return set_err(r->err, r->name, 0, KRY_ENOTSYM,
                       "not symmetric: |a(%zu,%zu) - a(%zu,%zu)| = %.6g at (%zu, %zu), "
                       "above the tolerance %.3g (%g * max|a|)", bi + 1, bj + 1, bj + 1,
                       bi + 1, maxd, bi + 1, bj + 1, tol, KRY_MTX_SYM_RTOL);
    return KRY_OK;
}

static void reader_init(reader *r, FILE *f, const char *name, kry_mtx_error *err)
{
    r->f = f;
    r->name = name != NULL ? name : "<stream>";
    r->err = err;
    r->line = 0;
    r->eof = 0;
    r->ntok = 0;
}

/* The body of the CSR readers, with f locked. */
static kry_status read_csr_locked(reader *r, unsigned flags, kry_csr **out)
{
    kry_status st = KRY_OK;
    mm_header h;
    entries e = {0};
    double *dense = NULL;
    kry_csr *a = NULL;

    KRY_TRY_GOTO(st, read_header(r, &h, flags, WANT_ANY));
    if (h.format == MM_COORDINATE) {
        KRY_TRY_GOTO(st, read_coordinate(r, &h, &e));
        st = kry_csr_from_triplets(h.m, h.n, e.len, e.row, e.col, e.val,
                                   h.symmetry == MM_SYMMETRIC ? KRY_CSR_MIRROR : 0u, &a);
        if (st == KRY_ENONFINITE)
            st = set_err(r->err, r->name, 0, st,
                         "duplicate entries sum to a value that overflows a double");
    } else {
        KRY_TRY_GOTO(st, read_array_values(r, &h, &e));
        st = array_to_dense(&h, &e, &dense);
        if (st == KRY_OK)
            st = dense_to_csr(h.m, h.n, dense, &a);
    }
    entries_free(&e);
    if (st == KRY_ENOMEM)
        st = set_err(r->err, r->name, 0, st, "out of memory");
    else if (st == KRY_ERANGE)
        st = set_err(r->err, r->name, 0, st, "the matrix is too large to store");
    if (st != KRY_OK)
        goto fail;
    if ((flags & KRY_MTX_REQUIRE_SYMMETRIC) && h.symmetry == MM_GENERAL)
        KRY_TRY_GOTO(st, check_symmetric(r, a));
    free(dense);
    *out = a;
    return KRY_OK;

fail:
    entries_free(&e);
    free(dense);
    kry_csr_free(a);
    return st;
}

kry_status kry_mtx_read_csr_stream(FILE *f, const char *name, unsigned flags,
                                   kry_csr **out, kry_mtx_error *err)
{
    err_clear(err);
    if (out != NULL)
        *out = NULL;
    if (name == NULL)
        name = "<stream>";
    if (f == NULL || out == NULL || (flags & ~(unsigned)KRY_MTX_REQUIRE_SYMMETRIC) != 0)
        return set_err(err, name, 0, KRY_EINVAL, "invalid argument");
    reader r;
    reader_init(&r, f, name, err);
    flockfile(f);
    kry_status st = read_csr_locked(&r, flags, out);
    funlockfile(f);
    return st;
}

kry_status kry_mtx_read_csr(const char *path, unsigned flags, kry_csr **out,
                            kry_mtx_error *err)
{
    err_clear(err);
    if (out != NULL)
        *out = NULL;
    if (path == NULL || out == NULL)
        return set_err(err, path ? path : "(null)", 0, KRY_EINVAL, "invalid argument");
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int e = errno;
        return set_err(err, path, 0, KRY_EIO, "cannot open: %s", errno_text(e).s);
    }
    kry_status st = kry_mtx_read_csr_stream(f, path, flags, out, err);
    fclose(f);
    return st;
}

kry_status kry_mtx_read_array_stream(FILE *f, const char *name, size_t *m, size_t *n,
                                     double **a, kry_mtx_error *err)
{
    err_clear(err);
    if (m != NULL)
        *m = 0;
    if (n != NULL)
        *n = 0;
    if (a != NULL)
        *a = NULL;
    if (name == NULL)
        name = "<stream>";
    if (f == NULL || m == NULL || n == NULL || a == NULL)
        return set_err(err, name, 0, KRY_EINVAL, "invalid argument");
    reader r;
    reader_init(&r, f, name, err);
    mm_header h;
    entries e = {0};
    double *dense = NULL;
    flockfile(f);
    kry_status st = read_header(&r, &h, 0, WANT_ARRAY);
    if (st == KRY_OK)
        st = read_array_values(&r, &h, &e);
    funlockfile(f);
    if (st == KRY_OK) {
        st = array_to_dense(&h, &e, &dense);
        if (st == KRY_ENOMEM)
            st = set_err(err, name, 0, st, "out of memory");
    }
    entries_free(&e);
    if (st != KRY_OK)
        return st;
    *m = h.m;
    *n = h.n;
    *a = dense;
    return KRY_OK;
}

kry_status kry_mtx_read_array(const char *path, size_t *m, size_t *n, double **a,
                              kry_mtx_error *err)
{
    err_clear(err);
    if (path == NULL)
        return kry_mtx_read_array_stream(NULL, "(null)", m, n, a, err);
    if (m != NULL)
        *m = 0;
    if (n != NULL)
        *n = 0;
    if (a != NULL)
        *a = NULL;
    if (m == NULL || n == NULL || a == NULL)
        return set_err(err, path, 0, KRY_EINVAL, "invalid argument");
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int e = errno;
        return set_err(err, path, 0, KRY_EIO, "cannot open: %s", errno_text(e).s);
    }
    kry_status st = kry_mtx_read_array_stream(f, path, m, n, a, err);
    fclose(f);
    return st;
}

/* ---- Writing ---- */

/* Writes header, comment, size line and values to f; returns 0 or -1 (errno set). */
static int write_body(FILE *f, size_t m, size_t n, const double *a, size_t lda,
                      const char *comment)
{
    if (fputs("%%MatrixMarket matrix array real general\n", f) < 0)
        return -1;
    if (comment != NULL && comment[0] != '\0') {
        const char *p = comment;
        for (;;) {
            size_t len = strcspn(p, "\n");
            if (fputs("% ", f) < 0 || fwrite(p, 1, len, f) != len || fputc('\n', f) < 0)
                return -1;
            if (p[len] == '\0' || p[len + 1] == '\0')
                break;
            p += len + 1;
        }
    }
    if (fprintf(f, "%zu %zu\n", m, n) < 0)
        return -1;
    for (size_t j = 0; j < n; ++j)
        for (size_t i = 0; i < m; ++i)
            if (fprintf(f, "%.17g\n", a[j * lda + i]) < 0)
                return -1;
    return fflush(f) == 0 ? 0 : -1;
}

kry_status kry_mtx_write_array(const char *path, size_t m, size_t n, const double *a,
                               size_t lda, const char *comment, kry_mtx_error *err)
{
    err_clear(err);
    const char *name = path != NULL ? path : "(null)";
    if (path == NULL || a == NULL || m == 0 || n == 0 || lda < m)
        return set_err(err, name, 0, KRY_EINVAL, "invalid argument");
    if (m > UINT32_MAX || n > UINT32_MAX)
        return set_err(err, name, 0, KRY_ERANGE, "%zu x %zu array is too large", m, n);
    for (size_t j = 0; j < n; ++j)
        for (size_t i = 0; i < m; ++i)
            if (!isfinite(a[j * lda + i]))
                return set_err(err, name, 0, KRY_ENONFINITE,
                               "refusing to write a non-finite value at (%zu, %zu)", i + 1,
                               j + 1);

    const size_t cap = strlen(path) + 64;
    char *tmp = malloc(cap);
    if (tmp == NULL)
        return set_err(err, name, 0, KRY_ENOMEM, "out of memory");
    /* O_EXCL with a per-process name, retried on collisions with other writers. */
    int fd = -1, e = 0;
    for (unsigned k = 0; k < 100 && fd < 0; ++k) {
        snprintf(tmp, cap, "%s.kry-tmp-%ld-%u", path, (long)getpid(), k);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        e = errno;
        if (fd < 0 && e != EEXIST)
            break;
    }
    if (fd < 0) {
        kry_status st = set_err(err, name, 0, KRY_EIO, "cannot create a temporary file "
                                "next to it: %s", errno_text(e).s);
        free(tmp);
        return st;
    }
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        e = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        return set_err(err, name, 0, KRY_EIO, "cannot write: %s", errno_text(e).s);
    }
    const char *step = "cannot write";
    int rc = write_body(f, m, n, a, lda, comment);
    e = errno;
    if (rc == 0 && fsync(fileno(f)) != 0) {
        rc = -1;
        e = errno;
    }
    if (fclose(f) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        e = errno;
        step = "cannot replace it";
    }
    if (rc != 0) {
        unlink(tmp);
        free(tmp);
        return set_err(err, name, 0, KRY_EIO, "%s: %s", step, errno_text(e).s);
    }
    free(tmp);
    return KRY_OK;
}
