/* kry/mtx.h — compressed sparse row (CSR) matrices, the CSR operator, and Matrix Market
   file input/output.

   Matrix Market (NIST, Boisvert, Pozo & Remington, "The Matrix Market Exchange Formats:
   Initial Design", 1996) files start with a banner

       %%MatrixMarket matrix FORMAT FIELD SYMMETRY

   with FORMAT coordinate|array, FIELD real|integer|pattern|complex and SYMMETRY
   general|symmetric|skew-symmetric|hermitian (all matched case-insensitively), then
   comment lines starting with '%', a size line ("ROWS COLS ENTRIES" for coordinate,
   "ROWS COLS" for array), then the entries: "I J [VALUE]" with 1-based indices for
   coordinate, one value per line in column-major order for array (a symmetric array file
   holds the lower triangle, column by column).

   What kry's reader accepts and decides, beyond the letter of the format:
   - Blank lines and '%' comment lines are skipped anywhere after the banner.
   - Lines may end in LF or CRLF; tokens are separated by spaces or tabs.
   - A line may hold at most KRY_MTX_LINE_MAX characters; a longer comment line is skipped,
     a longer data line is an error (KRY_EFORMAT). A NUL byte is an error.
   - Numbers are parsed in the "C" locale conventions of strtod (decimal point '.').
   - Sizes must be >= 1 (KRY_EFORMAT otherwise); rows and columns must not exceed
     UINT32_MAX and the entry count must fit memory arithmetic (KRY_ERANGE otherwise).
   - Coordinate files: duplicate entries are summed (in file order); explicit zeros are
     kept as stored entries. A `symmetric` coordinate file must list only the lower
     triangle (row >= column), as the format prescribes: an entry above the diagonal is
     rejected with KRY_EFORMAT (accepting it would silently double entries of files that
     list both triangles). Each off-diagonal entry (i, j) is stored at (i, j) and (j, i).
   - Array files: zero values are not stored in the CSR result.
   - `integer` values must be integer tokens (no '.', no exponent) within int64 range.
   - Values that are NaN or Inf, or that overflow a double (e.g. 1e999), give
     KRY_ENONFINITE naming the line.
   - complex, hermitian and skew-symmetric files give KRY_EUNSUPPORTED (kry works with
     real symmetric operators).

   Errors carry a kry_mtx_error whose message has the form "FILE:LINE: what is wrong",
   or "FILE: what is wrong" (with line 0) when no single line is to blame. */
#ifndef KRY_MTX_H
#define KRY_MTX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kry/export.h"
#include "kry/operator.h"
#include "kry/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest line (without its line terminator) the reader accepts for data lines. */
#define KRY_MTX_LINE_MAX 4096

/* Relative tolerance of the symmetry test of KRY_MTX_REQUIRE_SYMMETRIC: a general matrix
   is accepted as symmetric when max_{i,j} |a(i,j) - a(j,i)| <= KRY_MTX_SYM_RTOL *
   max_{i,j} |a(i,j)| (a missing entry counts as 0). 1e-14 is about 45 ulps: exact
   equality would reject matrices whose two triangles were computed separately and
   written with 16-17 significant digits, while any real asymmetry is far larger. The
   matrix is returned as read: asymmetries below the tolerance are not averaged away. */
#define KRY_MTX_SYM_RTOL 1e-14

/* A sparse matrix in compressed sparse row form. Both triangles of a symmetric matrix
   are stored. Row i holds entries rowptr[i] .. rowptr[i+1]-1 of colind/val, with column
   indices 0-based, strictly increasing within each row (sorted, no duplicates), and
   < n_cols. rowptr[0] == 0 and rowptr[n_rows] == nnz. Values are finite.
   Matrices from kry functions are released with kry_csr_free. */
typedef struct kry_csr {
    size_t n_rows, n_cols, nnz;
    size_t *rowptr;   /* [n_rows + 1] */
    uint32_t *colind; /* [nnz] (never NULL, even when nnz == 0) */
    double *val;      /* [nnz] (never NULL, even when nnz == 0) */
} kry_csr;

/* Detail of a Matrix Market error. line is the 1-based line number the error refers to,
   or 0 when it is not tied to one line (cannot open, not symmetric, empty file, ...).
   message is NUL-terminated, one line, starting with the file name. */
typedef struct kry_mtx_error {
    size_t line;
    char message[320];
} kry_mtx_error;

/* Flags for the readers. */
enum {
    /* The matrix must be square and symmetric. A `general` file is then checked with the
       relative tolerance KRY_MTX_SYM_RTOL (KRY_ENOTSYM when it fails, naming the largest
       asymmetry); a non-square size line gives KRY_EFORMAT. */
    KRY_MTX_REQUIRE_SYMMETRIC = 1u
};

/* Flags for kry_csr_from_triplets. */
enum {
    /* Each off-diagonal triplet (i, j, v) is also stored at (j, i): give one triangle of a
       symmetric matrix. The matrix must be square (KRY_EDIM otherwise). Giving both
       (i, j) and (j, i) stores their sum at both places, like any other duplicate. */
    KRY_CSR_MIRROR = 1u
};

/* ---- CSR matrices ---- */

/* Allocates an n_rows x n_cols CSR matrix with room for nnz entries: rowptr is
   zero-filled, colind and val are uninitialised, for the caller to fill so that the
   invariants of kry_csr hold (kry_csr_check verifies them).
   Errors: KRY_EINVAL (out NULL, n_rows or n_cols 0), KRY_ERANGE (n_cols > UINT32_MAX,
   or sizes whose byte counts overflow size_t), KRY_ENOMEM. *out is NULL on failure. */
KRY_API KRY_NODISCARD kry_status kry_csr_alloc(size_t n_rows, size_t n_cols, size_t nnz,
                                               kry_csr **out);

/* Releases a matrix from a kry function: its arrays, then the struct. NULL is a no-op. */
KRY_API void kry_csr_free(kry_csr *a);

/* Verifies the kry_csr invariants: n_rows, n_cols >= 1, n_cols <= UINT32_MAX, non-NULL
   arrays, rowptr[0] == 0, non-decreasing rowptr ending at nnz, column indices in range
   and strictly increasing in each row; then that every value is finite.
   Errors: KRY_EINVAL (a structural violation or a NULL pointer), KRY_ENONFINITE. O(nnz). */
KRY_API KRY_NODISCARD kry_status kry_csr_check(const kry_csr *a);

/* Builds a CSR matrix from nnz triplets (row[k], col[k], val[k]) with 0-based indices,
   in any order. Duplicates are summed in the order given; zeros are kept as entries.
   flags: 0 or KRY_CSR_MIRROR. The inputs are not modified and may be freed afterwards.
   nnz may be 0 (row, col and val may then be NULL). O(nnz + n_rows + n_cols) time
   (two counting sorts, no comparison sort) and about 24 bytes per stored entry of
   scratch space.
   Errors: KRY_EINVAL (out NULL, NULL arrays with nnz > 0, n_rows or n_cols 0, an index
   out of range), KRY_EDIM (KRY_CSR_MIRROR with n_rows != n_cols), KRY_ERANGE (n_cols >
   UINT32_MAX or too many entries for size_t arithmetic), KRY_ENONFINITE (a value, or a
   sum of duplicates, is NaN or Inf), KRY_ENOMEM. *out is NULL on failure. */
KRY_API KRY_NODISCARD kry_status kry_csr_from_triplets(size_t n_rows, size_t n_cols,
                                                       size_t nnz, const uint32_t *row,
                                                       const uint32_t *col,
                                                       const double *val, unsigned flags,
                                                       kry_csr **out);

/* y = A x for x of length a->n_cols and y of length a->n_rows (x and y must not overlap).
   No checks, no allocation: a must satisfy the kry_csr invariants. */
KRY_API void kry_csr_matvec(const kry_csr *a, const double *restrict x, double *restrict y);

/* ---- The CSR operator ---- */

/* An operator y = A x over the square matrix a, which it *references*: a must stay valid
   and unchanged for the operator's lifetime. destroy is NULL (nothing to release;
   kry_operator_destroy is harmless). Provides matvec and matvec_block; no param_vjp; the
   space is serial. The matvec allocates nothing. Symmetry is not checked here (read with
   KRY_MTX_REQUIRE_SYMMETRIC, or use kry_operator_symmetry).
   Errors: KRY_EINVAL (NULL pointers, or a failing kry_csr_check), KRY_ENONFINITE (a value
   is NaN or Inf), KRY_EDIM (not square). O(nnz) validation at construction. */
KRY_API KRY_NODISCARD kry_status kry_operator_csr(const kry_csr *a, kry_operator *out);

/* As kry_operator_csr, but the operator takes ownership of a: kry_operator_destroy
   releases it with kry_csr_free. On failure ownership stays with the caller (a is not
   freed). Same errors. */
KRY_API KRY_NODISCARD kry_status kry_operator_csr_owned(kry_csr *a, kry_operator *out);

/* ---- Matrix Market reading ---- */

/* Reads a Matrix Market file (coordinate or array; real, integer or pattern; general or
   symmetric) into a new CSR matrix *out (release with kry_csr_free). flags: 0 or
   KRY_MTX_REQUIRE_SYMMETRIC. err may be NULL; when given it is filled on failure (and
   set to line 0 with an empty message on success).
   Errors: KRY_EINVAL (path or out NULL, unknown flags), KRY_EIO (cannot open or read:
   the message carries strerror text), KRY_EFORMAT (malformed file; a symmetric-required
   matrix that is not square), KRY_EUNSUPPORTED (complex, hermitian, skew-symmetric),
   KRY_ENONFINITE (NaN/Inf/overflowing value, or duplicates summing to Inf), KRY_ENOTSYM
   (with KRY_MTX_REQUIRE_SYMMETRIC), KRY_ERANGE (sizes beyond the limits above),
   KRY_ENOMEM. *out is NULL on failure and nothing leaks. */
KRY_API KRY_NODISCARD kry_status kry_mtx_read_csr(const char *path, unsigned flags,
                                                  kry_csr **out, kry_mtx_error *err);

/* As kry_mtx_read_csr, from an open stream read to its end (not closed). name is used in
   messages in place of the file name (NULL: "<stream>"). */
KRY_API KRY_NODISCARD kry_status kry_mtx_read_csr_stream(FILE *f, const char *name,
                                                         unsigned flags, kry_csr **out,
                                                         kry_mtx_error *err);

/* Reads a dense `array` file (real or integer; general, or symmetric which is expanded
   to both triangles) into a new malloc'd column-major array *a of *m rows and *n
   columns (leading dimension *m; release with free()). Intended for vectors and small
   dense matrices. A coordinate file gives KRY_EFORMAT. Other errors as
   kry_mtx_read_csr (flags are not taken: no symmetry requirement). On failure *a is
   NULL and *m, *n are 0. */
KRY_API KRY_NODISCARD kry_status kry_mtx_read_array(const char *path, size_t *m, size_t *n,
                                                    double **a, kry_mtx_error *err);

/* As kry_mtx_read_array, from an open stream (name as in kry_mtx_read_csr_stream). */
KRY_API KRY_NODISCARD kry_status kry_mtx_read_array_stream(FILE *f, const char *name,
                                                           size_t *m, size_t *n,
                                                           double **a, kry_mtx_error *err);

/* ---- Matrix Market writing ---- */

/* Writes the m x n column-major array a (leading dimension lda >= m) as
   "%%MatrixMarket matrix array real general", then each line of comment (if comment is
   non-NULL and non-empty; every '\n'-separated line becomes a "% ..." line), then
   "m n", then the values column by column, one per line, with %.17g (so reading them
   back gives the same doubles bit for bit). The data go to a temporary file in the
   target's directory ("PATH.kry-tmp-PID-K"), which is flushed, synced and renamed over
   path only when everything succeeded: on any failure the temporary file is removed
   and an existing file at path is left untouched. The new file's permissions follow
   the process umask (as for fopen), not those of a file it replaces; a symbolic link at
   path is replaced by the new file, not followed.
   err may be NULL; on failure it names path and the failing step with strerror text.
   Errors: KRY_EINVAL (NULL path or a, m or n 0, lda < m), KRY_ERANGE (m or n beyond
   UINT32_MAX), KRY_ENONFINITE (a NaN or Inf value; nothing is written), KRY_EIO,
   KRY_ENOMEM. */
KRY_API KRY_NODISCARD kry_status kry_mtx_write_array(const char *path, size_t m, size_t n,
                                                     const double *a, size_t lda,
                                                     const char *comment,
                                                     kry_mtx_error *err);

#ifdef __cplusplus
}
#endif
#endif /* KRY_MTX_H */
