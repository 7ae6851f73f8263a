/* ref_slepc.h — SLEPc Krylov–Schur as a reference solver for bench/eigs_compare.
   Built only when Meson finds SLEPc (HAVE_SLEPC). */
#ifndef BENCH_REF_SLEPC_H
#define BENCH_REF_SLEPC_H

#include "eigs_problems.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Initialises SLEPc (and MPI, through PETSc) once per process, ignoring the command
   line. When running as root it sets OMPI_ALLOW_RUN_AS_ROOT=1 and
   OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 first unless they are already set (Open MPI refuses
   to start as root otherwise) and says so in msg. Returns 0 on success. */
int ref_slepc_init(char *msg, size_t msglen);

/* Finalises SLEPc/PETSc/MPI if ref_slepc_init succeeded. */
void ref_slepc_finalize(void);

/* The SLEPc version string, e.g. "SLEPc Release Version 3.18.2, ...". */
const char *ref_slepc_version(void);

/* Solves p with EPSKRYLOVSCHUR: nev = p->k, default ncv and mpd, EPS_LARGEST_REAL or
   EPS_SMALLEST_REAL, tolerance p->tol with EPS_CONV_REL (||r|| / |theta| <= tol, the
   relative test of MATH.md section 3 up to its eps^(2/3)||A|| floor, which no wanted
   eigenvalue here comes near), default maximum iterations, initial space {p->v0} (none
   when p->native_start: SLEPc's own random vector), on a
   MATSHELL whose MatMult is bench_matvec_counted. hep != 0 sets EPS_HEP; hep == 0
   leaves the problem type at SLEPc's default (EPS_NHEP for a matrix it cannot know is
   symmetric). Timed: EPSSetUp + EPSSolve + EPSGetEigenpair (with vectors) for the first
   min(nconv, k) pairs. Returns BENCH_RUN_OK or BENCH_RUN_FAILED. */
int ref_slepc_run(const bench_problem *p, int hep, bench_result *r);

#ifdef __cplusplus
}
#endif
#endif /* BENCH_REF_SLEPC_H */
