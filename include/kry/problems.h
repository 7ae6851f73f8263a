/* kry/problems.h — built-in test problems with analytic spectra, named by a spec string.

   Specs (no spaces; sizes are decimal integers >= 1, values are strtod numbers):
     laplace1d:N      the N x N matrix tridiag(-1, 2, -1) (1-D Dirichlet Laplacian);
                      eigenvalues 2 - 2 cos(k pi / (N + 1)), k = 1..N.
     laplace2d:MxN    the 5-point Dirichlet Laplacian on an M x N grid: grid point (i, j)
                      has index i*N + j, diagonal 4, -1 to each of its (up to four) grid
                      neighbours; order M*N; eigenvalues
                      4 - 2 cos(i pi / (M + 1)) - 2 cos(j pi / (N + 1)), i = 1..M, j = 1..N.
     diag:LO:HI:N     diag(d_0, ..., d_{N-1}) with N evenly spaced values from LO to HI:
                      d_k = LO (1 - t_k) + HI t_k, t_k = k / (N - 1), so d_0 = LO and
                      d_{N-1} = HI exactly; N = 1 gives just LO. HI < LO is allowed (the
                      diagonal then decreases); LO and HI must be finite.
   The eigenvalues are computed as sums of 4 sin^2(k pi / (2 (N + 1))), which equal the
   cosine formulas above but keep full relative accuracy for the smallest ones (2 - 2 cos
   loses it to cancellation when N is large).

   The order of every problem must be at most UINT32_MAX (the CSR column index type). */
#ifndef KRY_PROBLEMS_H
#define KRY_PROBLEMS_H

#include <stddef.h>

#include "kry/export.h"
#include "kry/mtx.h"
#include "kry/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A static, multi-line description of the specs above, for --help texts. */
KRY_API const char *kry_problem_help(void);

/* Sets *n to the order of the problem named by spec, without building it.
   Errors: KRY_EINVAL (NULL arguments, a malformed spec), KRY_ERANGE (a size that does
   not fit, or an order above UINT32_MAX). */
KRY_API KRY_NODISCARD kry_status kry_problem_size(const char *spec, size_t *n);

/* Builds the problem named by spec as a new CSR matrix *out (both triangles, release
   with kry_csr_free). On failure *out is NULL and, when errbuf != NULL and errlen > 0,
   errbuf holds a one-line message (NUL-terminated, truncated to errlen) naming the spec
   and what is wrong with it. Memory: about 12 bytes per stored entry plus 8 per row
   (nnz = N, 3N - 2 or about 5MN).
   Errors: KRY_EINVAL (NULL spec or out, unknown name, missing/zero/non-numeric size,
   non-finite or non-numeric LO/HI, trailing characters), KRY_ERANGE (order too large),
   KRY_ENOMEM. */
KRY_API KRY_NODISCARD kry_status kry_problem_build(const char *spec, kry_csr **out,
                                                   char *errbuf, size_t errlen);

/* Writes all n eigenvalues of the problem named by spec, in ascending order, to
   out[0..n), from the analytic formulas above (an independent reference, not computed
   from the matrix). n must equal the problem's order. No allocation; O(n log n) for
   the 2-D Laplacian and diag (sorting), O(n) for the 1-D Laplacian.
   Errors: KRY_EINVAL (NULL arguments, malformed spec), KRY_ERANGE, KRY_EDIM (n differs
   from the order). */
KRY_API KRY_NODISCARD kry_status kry_problem_eigenvalues(const char *spec, double *out,
                                                         size_t n);

#ifdef __cplusplus
}
#endif
#endif /* KRY_PROBLEMS_H */
