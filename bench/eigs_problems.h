/* eigs_problems.h — the problems of bench/eigs_compare (issue 3) as matrix-free
   operators with analytic spectra, shared result records, and the scoring helper.

   Every solver in the comparison (kry, SLEPc, ARPACK) sees a problem only through
   bench_matvec_counted(), which counts the products and times them with
   clock_gettime(CLOCK_MONOTONIC), so "matvecs" and "time outside matvecs" mean the same
   thing for all of them. Every solver starts from the same vector, p->v0.

   Problem specs use the notation of `kry eigs --problem`:
     laplace2d:MxN   5-point Dirichlet Laplacian on an M x N grid, grid point (i, j) has
                     index i*N + j, diagonal 4, -1 to each grid neighbour; eigenvalues
                     4 sin^2(i pi / (2(M+1))) + 4 sin^2(j pi / (2(N+1))), i <= M, j <= N
                     (the same numbers as 4 - 2cos(i pi/(M+1)) - 2cos(j pi/(N+1)), written
                     without cancellation at the small end).
     diag:LO:HI:N    diag(d_0..d_{N-1}), d_k = LO + (HI - LO) k / (N - 1) (exact for the
                     integers 1..10000 of P3). */
#ifndef BENCH_EIGS_PROBLEMS_H
#define BENCH_EIGS_PROBLEMS_H

#include <stddef.h>
#include <stdint.h>

#include "kry/operator.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which end of the spectrum is wanted. */
typedef enum bench_which {
    BENCH_LA = 0, /* largest algebraic */
    BENCH_SA = 1  /* smallest algebraic */
} bench_which;

typedef enum bench_kind { BENCH_LAPLACE2D = 0, BENCH_DIAG = 1 } bench_kind;

/* A row of the problem table: what eigs_compare runs. */
typedef struct bench_problem_def {
    const char *id;   /* "P1", "P1-SA", ... */
    const char *spec; /* "laplace2d:100x101", "diag:1:10000:10000" */
    size_t k;         /* number of wanted eigenvalues */
    bench_which which;
    double tol;       /* relative residual tolerance given to every solver */
} bench_problem_def;

/* A problem ready to run. Built by bench_problem_init, released by bench_problem_free. */
typedef struct bench_problem {
    char id[16];
    char spec[64];
    bench_kind kind;
    size_t grid_m, grid_n; /* laplace2d: grid shape (M rows of N points) */
    double *d;             /* diag: the diagonal, length n (owned) */
    size_t n;              /* order */
    size_t k;
    bench_which which;
    double tol;
    uint64_t seed;   /* v0 = kry_rng_fill_normal(seed, KRY_RNG_STREAM_START, 0, n) */
    double *eigs;    /* the whole analytic spectrum, ascending, length n (owned) */
    double *wanted;  /* the k wanted analytic values, in wanted order (LA: descending,
                        SA: ascending), repeated eigenvalues repeated (owned) */
    double norm;     /* ||A||_2 = max |eigenvalue| */
    double *v0;      /* common start vector, length n, not normalised (owned) */
    int native_start; /* nonzero: solvers ignore v0 and draw their own default start
                         vector (to reproduce figures quoted from default runs) */
    /* CSR copy of A (both triangles), set by bench_problem_use_csr; when present,
       bench_matvec uses it instead of the stencil / diagonal loop (owned). */
    size_t *csr_rowptr;
    uint32_t *csr_col;
    double *csr_val;
} bench_problem;

/* The standard problem list of issue 3 (P1, P3, P4 with LA, then their SA variants).
   Sets *count and returns a static array. */
const bench_problem_def *bench_problem_defs(size_t *count);

/* Builds problem def with start-vector seed `seed`: parses the spec, computes the
   analytic spectrum (sorted), the wanted values and v0. Returns 0 on success; on failure
   returns -1, leaves *p freed and writes a one-line message to err (if errlen > 0). */
int bench_problem_init(bench_problem *p, const bench_problem_def *def, uint64_t seed,
                       char *err, size_t errlen);

/* Switches p's matvec to a general CSR product on an assembled copy of A (row pointers
   size_t, column indices uint32_t, values double: about 12 bytes per entry), the cost a
   user with a sparse matrix pays, instead of the fused stencil / diagonal loop. Same
   matrix, same spectrum. Returns 0, or -1 when out of memory or n > UINT32_MAX. */
int bench_problem_use_csr(bench_problem *p);

/* Releases what bench_problem_init allocated and zeroes *p. NULL-safe. */
void bench_problem_free(bench_problem *p);

/* y = A x (uncounted: for residual checks outside the timed region). */
void bench_matvec(const bench_problem *p, const double *restrict x, double *restrict y);

/* Matvec counter: number of products and seconds spent inside them. */
typedef struct bench_counter {
    size_t matvecs;
    double seconds;
} bench_counter;

/* y = A x, adding one to c->matvecs and the elapsed time to c->seconds. */
void bench_matvec_counted(const bench_problem *p, bench_counter *c,
                          const double *restrict x, double *restrict y);

/* Context of the counted kry_operator below; owned by the caller, must outlive the op. */
typedef struct bench_op_ctx {
    const bench_problem *p;
    bench_counter count;
} bench_op_ctx;

/* Fills *op (no destroy hook, serial) so that kry_operator_apply(op, ...) runs
   bench_matvec_counted on ctx->count. ctx->count is reset to zero. For run_kry(). */
void bench_problem_operator(const bench_problem *p, bench_op_ctx *ctx, kry_operator *op);

/* Monotonic wall clock in seconds. */
double bench_now(void);

/* ||A x - theta x|| / (||x|| max(|theta|, eps^(2/3) ||A||)): the true relative residual
   in the units of the convergence test (MATH.md section 3). work has length n. One
   uncounted matvec. */
double bench_true_resid(const bench_problem *p, const double *x, double theta,
                        double *work);

/* Scores computed eigenvalues vals[0..nvals) (any order; only the first p->k are used
   if more are given) against the analytic spectrum:
   *max_rel_err = max over the values of |val - nearest analytic eigenvalue| / ||A||
                  (0 when nvals == 0);
   *missed      = how many of the k wanted analytic values (counted with multiplicity)
                  are matched by no returned value, a match being |val - exact| <=
                  match_tol ||A|| with each returned value used once (so returning one
                  copy of a double eigenvalue where two are wanted counts 1 missed, and
                  returning fewer than k values counts the shortfall).
   missed_vals, if not NULL, receives the *missed unmatched wanted values (room for k). */
void bench_score(const bench_problem *p, const double *vals, size_t nvals,
                 double match_tol, double *max_rel_err, size_t *missed,
                 double *missed_vals);

/* The match tolerance eigs_compare uses for bench_score (relative to ||A||). */
#define BENCH_MATCH_TOL 1e-8

/* Outcome of one solver run. */
enum {
    BENCH_RUN_OK = 0,
    BENCH_RUN_UNAVAILABLE = 1, /* solver not built in or not implemented yet */
    BENCH_RUN_FAILED = 2       /* the solver reported an error (see note) */
};

#define BENCH_MAX_VALS 64

/* What one run of one solver on one problem reports. The run functions fill everything
   but max_rel_err and missed, which the driver computes with bench_score. */
typedef struct bench_result {
    char note[200];          /* free text: settings, reason, or why unavailable */
    size_t matvecs;          /* products with A (counted at the operator) */
    double wall_s;           /* solve wall time (what is included: see the solver) */
    double matvec_s;         /* time inside the products */
    size_t nconv;            /* number of converged pairs the solver reports */
    size_t iterations;       /* restarts / outer iterations as the solver counts them */
    size_t nvals;            /* eigenvalues stored in vals (min(nconv, k)) */
    double vals[BENCH_MAX_VALS];
    double max_true_resid;   /* max of bench_true_resid over the returned pairs */
    double max_rel_err;      /* from bench_score */
    size_t missed;           /* from bench_score */
    double missed_vals[BENCH_MAX_VALS]; /* the missed wanted values, from bench_score */
} bench_result;

/* Clears *r (all zero, empty note). */
void bench_result_clear(bench_result *r);

#ifdef __cplusplus
}
#endif
#endif /* BENCH_EIGS_PROBLEMS_H */
