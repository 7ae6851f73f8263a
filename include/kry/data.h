/* kry/data.h — small numeric data sets: a CSV loader with precise error reports,
   column standardisation, and seeded shuffles / train-validation splits.

   The loader reads plain text: one row per line, fields separated by a delimiter
   (',' by default; ' ' means any run of blanks or tabs), every row with the same
   number of fields, every field a finite decimal number. Blank lines are skipped and a
   trailing '\r' is ignored. An optional first line is a header and is skipped. Gzip is
   not read: decompress first (scripts/fetch-data does). */
#ifndef KRY_DATA_H
#define KRY_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "kry/export.h"
#include "kry/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A dense table, row-major: value (r, c) at v[r * cols + c]. Owned by the table. */
typedef struct kry_table {
    size_t rows, cols;
    double *v;
} kry_table;

/* Where and why loading failed: the 1-based line and field, and one line of text
   naming the file ("FILE:LINE: message"). */
typedef struct kry_data_error {
    size_t line, field;
    char msg[256];
} kry_data_error;

typedef struct kry_csv_params {
    char delim;  /* field separator; ' ' means runs of blanks/tabs. Default ',' */
    int header;  /* 1: skip the first line; 0: none; -1 (default): skip it only when
                    it does not parse as numbers */
} kry_csv_params;

/* Returns the defaults: delim ',', header -1 (auto). */
KRY_API kry_csv_params kry_csv_params_default(void);

/* Loads the file at path into *out (which the caller frees with kry_table_free).
   params NULL means defaults; err (may be NULL) receives the position and text of a
   failure. Errors: KRY_EINVAL (NULL path/out), KRY_EIO (cannot open or read),
   KRY_EFORMAT (a malformed or non-numeric field, a row of the wrong length, no data
   rows), KRY_ENONFINITE (NaN or Inf in a field), KRY_ENOMEM. On failure *out is
   zeroed. */
KRY_API KRY_NODISCARD kry_status kry_data_load_csv(const char *path,
                                                   const kry_csv_params *params,
                                                   kry_table *out, kry_data_error *err);

/* Releases t->v and zeroes *t; NULL is a no-op. */
KRY_API void kry_table_free(kry_table *t);

/* Column means and standard deviations (population, divisor rows) of the rows listed
   in idx[0..m) (idx NULL: rows 0..m-1) of a row-major rows x cols matrix x with
   leading dimension ldx >= cols. A column with zero spread gets std 1, so that
   standardising it gives zeros. Errors: KRY_EINVAL (NULL pointers, m == 0,
   ldx < cols). */
KRY_API KRY_NODISCARD kry_status kry_data_moments(size_t m, size_t cols, const double *x,
                                                  size_t ldx, const size_t *idx,
                                                  double *mean, double *std);

/* x[r][c] = (x[r][c] - mean[c]) / std[c] for rows r < rows. Errors: KRY_EINVAL. */
KRY_API KRY_NODISCARD kry_status kry_data_standardize(size_t rows, size_t cols, double *x,
                                                      size_t ldx, const double *mean,
                                                      const double *std);

/* idx = a random permutation of 0..n-1 (Fisher–Yates driven by kry_rng_u64(seed,
   stream, i)). */
KRY_API void kry_data_shuffle(size_t n, uint64_t seed, uint64_t stream, size_t *idx);

/* Seeded split: idx becomes a permutation of 0..n-1 whose first *ntrain entries are the
   training rows and the rest the validation rows, *ntrain = round(train_frac * n)
   clamped to [1, n-1]. Errors: KRY_EINVAL (n < 2, train_frac not in (0, 1)). */
KRY_API KRY_NODISCARD kry_status kry_data_split(size_t n, double train_frac, uint64_t seed,
                                                size_t *idx, size_t *ntrain);

#ifdef __cplusplus
}
#endif
#endif /* KRY_DATA_H */
