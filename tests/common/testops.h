/* testops.h — test operators with known spectra, independent of kry's own operator
   constructors (naive loops, so they serve as references), plus LAPACK references and
   the shared Check main. */
#ifndef KRY_TESTOPS_H
#define KRY_TESTOPS_H

#include <check.h>
#include <pthread.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kry/operator.h"

/* A dense row-major n x n matrix used through a naive matvec. */
typedef struct test_dense {
    size_t n;
    double *a; /* owned, n*n */
    size_t matvecs;
} test_dense;

/* Diagonal matrix diag(d). */
typedef struct test_diag {
    size_t n;
    double *d; /* owned */
    size_t matvecs;
} test_diag;

/* Returns a malloc'd symmetric n x n matrix U diag(lam) U^T with U a random orthogonal
   matrix drawn from seed (Householder QR of a Gaussian matrix). */
double *test_random_symmetric(size_t n, const double *lam, uint64_t seed);

/* Returns a malloc'd symmetric matrix with i.i.d. N(0,1) entries (upper copied down). */
double *test_random_gaussian_symmetric(size_t n, uint64_t seed);

/* Operators over the structs above. The structs must outlive the operators. */
kry_operator test_dense_op(test_dense *t);
kry_operator test_diag_op(test_diag *t);
int test_dense_matvec(void *ctx, const double *restrict x, double *restrict y);

/* Analytic spectra, ascending: 1-D Laplacian tridiag(-1, 2, -1) of size n, and 2-D
   Laplacian on an m x p grid (5-point stencil, Dirichlet). out has n (or m*p) entries. */
void test_laplace1d_eigs(size_t n, double *out);
void test_laplace2d_eigs(size_t m, size_t p, double *out);

/* Builds the dense row-major 1-D / 2-D Laplacians (malloc'd). */
double *test_laplace1d_dense(size_t n);
double *test_laplace2d_dense(size_t m, size_t p);

/* All eigenvalues ascending of a dense symmetric row-major matrix via LAPACKE_dsyevr
   (the matrix is copied). Vectors: if z != NULL, n x n column-major eigenvectors.
   Returns 0 on success. */
int test_dsyevr(size_t n, const double *a, double *w, double *z);

/* max_{i,j} |(Q^T Q - I)_{ij}| for Q n x k column-major. */
double test_orth_error(size_t n, size_t k, const double *q, size_t ldq);

int test_cmp_double(const void *a, const void *b);

/* |a - b| <= tol * max(1, |b|) with a readable failure message. */
#define ck_assert_close(a, b, tol)                                                      \
    do {                                                                                \
        double ck_a_ = (a), ck_b_ = (b), ck_t_ = (tol);                                 \
        ck_assert_msg(fabs(ck_a_ - ck_b_) <= ck_t_ * fmax(1.0, fabs(ck_b_)),            \
                      "%s = %.17g, expected %.17g (tol %g)", #a, ck_a_, ck_b_, ck_t_); \
    } while (0)

/* A zeroed vector of n doubles (at least one), failing the test when out of memory. */
double *test_vec_alloc(size_t n);
/* A new N(0,1) vector of length n from seed (test stream, global indices 0..n). */
double *test_randvec(size_t n, uint64_t seed);
/* x^T y by a plain loop (an independent reference for BLAS-based code). */
double test_dot(size_t n, const double *x, const double *y);

/* Simulated processes for reduction-hook tests: two ranks are two threads of one team,
   and the allreduce sums the ranks' buffers in rank order (so every rank gets bit-identical
   results) through a barrier. A rank's context must start with a test_rank, which is what
   the hook receives as ctx. Buffers longer than TEST_TEAM_MAX fail the hook (and set
   overflow). */
#define TEST_TEAM_MAX 512
typedef struct test_team {
    pthread_barrier_t bar;
    double part[2][TEST_TEAM_MAX];
    int overflow;
} test_team;

typedef struct test_rank {
    test_team *team;
    int rank;
} test_rank;

/* Zeroes t and initialises its barrier for two ranks; 0 on success. */
int test_team_init(test_team *t);
void test_team_destroy(test_team *t);
/* A kry_allreduce_fn over the team; ctx points to the calling rank's test_rank. */
int test_team_allreduce(void *ctx, double *buf, size_t count);

/* The main of every test program: runs one suite with TAP output, returns nonzero on
   any failure. */
#define KRY_CHECK_MAIN(suite_fn)                          \
    int main(void)                                        \
    {                                                     \
        SRunner *sr = srunner_create(suite_fn());         \
        srunner_run_all(sr, CK_ENV);                      \
        int failed = srunner_ntests_failed(sr);           \
        srunner_free(sr);                                 \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE; \
    }

#endif /* KRY_TESTOPS_H */
