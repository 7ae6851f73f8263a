/* ref_arpack.h — ARPACK's implicitly restarted Lanczos (dsaupd/dseupd) as a reference
   solver for bench/eigs_compare. Built only when Meson finds ARPACK (HAVE_ARPACK). */
#ifndef BENCH_REF_ARPACK_H
#define BENCH_REF_ARPACK_H

#include "eigs_problems.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Solves p with dsaupd/dseupd in regular mode (bmat = "I", mode 1, exact shifts):
   which = "LA" or "SA", nev = p->k, the given ncv (p->k < ncv <= n), tol = p->tol
   (ARPACK's test ||r_i|| <= tol max(eps^(2/3), |theta_i|), the relative test of MATH.md
   section 3 with ARPACK's absolute floor), at most 100000 restarts, start vector p->v0
   (info = 1; with p->native_start, info = 0: ARPACK's own random vector, whose seed
   ARPACK keeps across calls, so repeated runs differ). Timed: workspace allocation +
   the reverse-communication loop + dseupd with eigenvectors (rvec = 1). Eigenvalues are
   stored in wanted order (LA descending, SA ascending). Returns BENCH_RUN_OK or
   BENCH_RUN_FAILED (note says why). */
int ref_arpack_run(const bench_problem *p, size_t ncv, bench_result *r);

#ifdef __cplusplus
}
#endif
#endif /* BENCH_REF_ARPACK_H */
