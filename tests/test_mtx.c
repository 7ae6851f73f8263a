/* test_mtx.c — Matrix Market I/O, CSR matrices and operator, built-in problems.

   References are independent of the code under test: the dense matrices each file in
   tests/data is known to contain (typed in below), naive dense products, LAPACK dsyevr on
   the dense Laplacians from tests/common, and the closed-form spectra. Runs with the
   working directory set to tests/ (paths "data/..."). */
#include <dirent.h>
#include <float.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kry/mtx.h"
#include "kry/problems.h"
#include "kry/rng.h"
#include "testops.h"

#if defined(__SANITIZE_ADDRESS__)
#  define TEST_HAVE_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define TEST_HAVE_ASAN 1
#  endif
#endif

/* ---- Helpers ---- */

/* y = A x for a dense row-major m x n matrix. */
static void dense_mv(size_t m, size_t n, const double *a, const double *x, double *y)
{
    for (size_t i = 0; i < m; ++i) {
        double s = 0.0;
        for (size_t j = 0; j < n; ++j)
            s += a[i * n + j] * x[j];
        y[i] = s;
    }
}

/* Checks that a holds exactly the dense row-major m x n matrix d: the product with every
   unit vector reproduces each column exactly, and random products agree to rounding. */
static void assert_csr_equals_dense(const kry_csr *a, size_t m, size_t n, const double *d)
{
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->n_rows, m);
    ck_assert_uint_eq(a->n_cols, n);
    ck_assert_int_eq(kry_csr_check(a), KRY_OK);
    double *x = calloc(n, sizeof *x), *y = malloc(m * sizeof *y), *z = malloc(m * sizeof *z);
    ck_assert(x && y && z);
    for (size_t j = 0; j < n; ++j) {
        x[j] = 1.0;
        kry_csr_matvec(a, x, y);
        for (size_t i = 0; i < m; ++i)
            ck_assert_msg(y[i] == d[i * n + j], "a(%zu,%zu) = %.17g, expected %.17g", i + 1,
                          j + 1, y[i], d[i * n + j]);
        x[j] = 0.0;
    }
    for (uint64_t seed = 11; seed < 14; ++seed) {
        kry_rng_fill_normal(seed, KRY_RNG_STREAM_TEST, 0, n, x);
        kry_csr_matvec(a, x, y);
        dense_mv(m, n, d, x, z);
        for (size_t i = 0; i < m; ++i)
            ck_assert_close(y[i], z[i], 1e-14);
    }
    free(x);
    free(y);
    free(z);
}

static void assert_read_equals(const char *path, unsigned flags, size_t m, size_t n,
                               const double *d, size_t nnz)
{
    kry_csr *a = NULL;
    kry_mtx_error err;
    kry_status st = kry_mtx_read_csr(path, flags, &a, &err);
    ck_assert_msg(st == KRY_OK, "%s: status %d: %s", path, (int)st, err.message);
    ck_assert_uint_eq(err.line, 0);
    ck_assert_str_eq(err.message, "");
    assert_csr_equals_dense(a, m, n, d);
    ck_assert_uint_eq(a->nnz, nnz);
    kry_csr_free(a);
}

/* Reads path, expecting status st with the message "path:line: ..." (or "path: ..." for
   line 0) that also contains `what`. */
static void expect_read_error(const char *path, unsigned flags, kry_status st, size_t line,
                              const char *what)
{
    kry_csr *a = (kry_csr *)&a; /* any non-NULL value: must come back NULL */
    kry_mtx_error err;
    kry_status got = kry_mtx_read_csr(path, flags, &a, &err);
    ck_assert_msg(got == st, "%s: status %d (%s), expected %d; message: %s", path, (int)got,
                  kry_strerror(got), (int)st, err.message);
    ck_assert_ptr_null(a);
    ck_assert_msg(err.line == line, "%s: line %zu, expected %zu (%s)", path, err.line, line,
                  err.message);
    char prefix[256];
    if (line > 0)
        snprintf(prefix, sizeof prefix, "%s:%zu: ", path, line);
    else
        snprintf(prefix, sizeof prefix, "%s: ", path);
    ck_assert_msg(strncmp(err.message, prefix, strlen(prefix)) == 0,
                  "message '%s' does not start with '%s'", err.message, prefix);
    ck_assert_msg(strstr(err.message, what) != NULL, "message '%s' lacks '%s'", err.message,
                  what);
    ck_assert_ptr_null(strchr(err.message, '\n'));
}

/* A fresh temporary directory (removed with rm_tmpdir). */
static void make_tmpdir(char *dir, size_t len)
{
    snprintf(dir, len, "/tmp/kry_test_mtx_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void rm_tmpdir(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Number of entries in dir other than . and .. */
static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        k += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return k;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char *buf = calloc(1, 1 << 16);
    ck_assert_ptr_nonnull(buf);
    size_t len = fread(buf, 1, (1 << 16) - 1, f);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

/* ---- core: reading every supported kind ---- */

START_TEST(test_read_coordinate_real_general)
{
    static const double d[16] = {2.385,   0, -1.904, 0,    -0.731, 3.5, 0, 0,
                                 0,       0, 0.0625, 0,    1.25e-3, 0,  0, -7.11};
    assert_read_equals("data/coord_real_general.mtx", 0, 4, 4, d, 7);
}
END_TEST

START_TEST(test_read_coordinate_integer_general)
{
    static const double d[15] = {-3, 0, 0, 0, 17, 0, 9, 0, 0, 0, -4, 0, 0, 12, 0};
    assert_read_equals("data/coord_integer_general.mtx", 0, 3, 5, d, 5);
}
END_TEST

START_TEST(test_read_coordinate_pattern_general)
{
    static const double d[9] = {0, 1, 0, 0, 0, 1, 1, 0, 1};
    assert_read_equals("data/coord_pattern_general.mtx", 0, 3, 3, d, 4);
}
END_TEST

START_TEST(test_read_coordinate_real_symmetric)
{
    static const double d[16] = {4.125,  -1.375, 0,      2.0625, -1.375, 0,  0.8125, 0,
                                 0,      0.8125, 5.5,    0,      2.0625, 0,  0,      -3.25};
    assert_read_equals("data/coord_real_symmetric.mtx", 0, 4, 4, d, 9);
    assert_read_equals("data/coord_real_symmetric.mtx", KRY_MTX_REQUIRE_SYMMETRIC, 4, 4, d, 9);
}
END_TEST

START_TEST(test_read_coordinate_integer_symmetric)
{
    static const double d[9] = {7, -2, 0, -2, 0, 5, 0, 5, 11};
    assert_read_equals("data/coord_integer_symmetric.mtx", KRY_MTX_REQUIRE_SYMMETRIC, 3, 3,
                       d, 6);
}
END_TEST

START_TEST(test_read_array_real_general)
{
    static const double d[6] = {1.5, 0.375, -2.25, 4.75, 0, -6.125};
    /* The zero is not stored. */
    assert_read_equals("data/array_real_general.mtx", 0, 3, 2, d, 5);
}
END_TEST

START_TEST(test_read_array_real_symmetric)
{
    static const double d[9] = {2.5, -0.75, 1.125, -0.75, 3.875, 0, 1.125, 0, -4.5};
    assert_read_equals("data/array_real_symmetric.mtx", KRY_MTX_REQUIRE_SYMMETRIC, 3, 3, d,
                       7);
}
END_TEST

START_TEST(test_read_array_integer_general)
{
    static const double d[4] = {3, 8, -1, 5};
    assert_read_equals("data/array_integer_general.mtx", 0, 2, 2, d, 4);
}
END_TEST

START_TEST(test_read_general_symmetric_required)
{
    static const double d[9] = {1.75, -0.625, 0, -0.625, 0.4375, 0, 0, 0, 2.875};
    assert_read_equals("data/general_symmetric.mtx", KRY_MTX_REQUIRE_SYMMETRIC, 3, 3, d, 5);
}
END_TEST

START_TEST(test_read_stream)
{
    static const char text[] = "%%MatrixMarket matrix coordinate real symmetric\n"
                               "2 2 3\n1 1 0.3125\n2 1 -1.6875\n2 2 4.0625\n";
    static const double d[4] = {0.3125, -1.6875, -1.6875, 4.0625};
    FILE *f = fmemopen((void *)text, sizeof text - 1, "r");
    ck_assert_ptr_nonnull(f);
    kry_csr *a = NULL;
    ck_assert_int_eq(kry_mtx_read_csr_stream(f, "mem", KRY_MTX_REQUIRE_SYMMETRIC, &a, NULL),
                     KRY_OK);
    fclose(f);
    assert_csr_equals_dense(a, 2, 2, d);
    kry_csr_free(a);
}
END_TEST

START_TEST(test_read_array_dense)
{
    size_t m = 9, n = 9;
    double *a = NULL;
    kry_mtx_error err;
    ck_assert_int_eq(kry_mtx_read_array("data/array_real_general.mtx", &m, &n, &a, &err),
                     KRY_OK);
    ck_assert_uint_eq(m, 3);
    ck_assert_uint_eq(n, 2);
    static const double want[6] = {1.5, -2.25, 0, 0.375, 4.75, -6.125};
    for (size_t k = 0; k < 6; ++k)
        ck_assert(a[k] == want[k]);
    free(a);
    ck_assert_int_eq(kry_mtx_read_array("data/array_real_symmetric.mtx", &m, &n, &a, &err),
                     KRY_OK);
    ck_assert_uint_eq(m, 3);
    ck_assert_uint_eq(n, 3);
    static const double sym[9] = {2.5, -0.75, 1.125, -0.75, 3.875, 0, 1.125, 0, -4.5};
    for (size_t k = 0; k < 9; ++k)
        ck_assert(a[k] == sym[k]);
    free(a);
}
END_TEST

/* ---- core: writing ---- */

START_TEST(test_write_read_roundtrip_bit_exact)
{
    char dir[64], path[128];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v.mtx", dir);
    const size_t m = 7, n = 5, lda = 9;
    double a[9 * 5];
    kry_rng_fill_normal(2385, KRY_RNG_STREAM_TEST, 0, lda * n, a);
    for (size_t k = 0; k < lda * n; ++k)
        a[k] *= pow(10.0, (double)((int)(k % 13) - 6) * 7.0); /* wide exponent range */
    a[0] = -0.0;
    a[1] = DBL_MAX;
    a[2] = DBL_MIN / 3.0; /* subnormal */
    a[3] = 0.1;
    a[4] = -M_PI;
    a[lda + 2] = 0.0;
    ck_assert_int_eq(kry_mtx_write_array(path, m, n, a, lda, "kry test\nsecond line", NULL),
                     KRY_OK);
    size_t mm = 0, nn = 0;
    double *b = NULL;
    kry_mtx_error err;
    ck_assert_int_eq(kry_mtx_read_array(path, &mm, &nn, &b, &err), KRY_OK);
    ck_assert_uint_eq(mm, m);
    ck_assert_uint_eq(nn, n);
    for (size_t j = 0; j < n; ++j)
        ck_assert_int_eq(memcmp(b + j * m, a + j * lda, m * sizeof *a), 0);
    free(b);
    char *text = read_text(path);
    ck_assert_ptr_eq(strstr(text, "%%MatrixMarket matrix array real general\n"), text);
    ck_assert_ptr_nonnull(strstr(text, "\n% kry test\n% second line\n7 5\n"));
    free(text);
    ck_assert_int_eq(count_files(dir), 1); /* no temporary file left behind */
    rm_tmpdir(dir);
}
END_TEST

START_TEST(test_write_replaces_existing)
{
    char dir[64], path[128];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/x.mtx", dir);
    write_text(path, "old contents\n");
    const double v[3] = {1.875, -2.625, 3.4375};
    ck_assert_int_eq(kry_mtx_write_array(path, 3, 1, v, 3, NULL, NULL), KRY_OK);
    char *text = read_text(path);
    ck_assert_str_eq(text, "%%MatrixMarket matrix array real general\n3 1\n1.875\n-2.625\n"
                           "3.4375\n");
    free(text);
    ck_assert_int_eq(count_files(dir), 1);
    rm_tmpdir(dir);
}
END_TEST

/* ---- core: CSR construction and operator ---- */

START_TEST(test_from_triplets_random)
{
    /* 40 random triplets with many duplicates on a 6 x 4 matrix vs dense accumulation. */
    enum { M = 6, N = 4, K = 40 };
    uint32_t r[K], c[K];
    double v[K], d[M * N] = {0};
    for (size_t k = 0; k < K; ++k) {
        r[k] = (uint32_t)(kry_rng_u64(7, KRY_RNG_STREAM_TEST, 2 * k) % M);
        c[k] = (uint32_t)(kry_rng_u64(7, KRY_RNG_STREAM_TEST, 2 * k + 1) % N);
        v[k] = (double)((int)(kry_rng_u64(8, KRY_RNG_STREAM_TEST, k) % 1000) - 500) / 64.0;
        d[r[k] * N + c[k]] += v[k]; /* multiples of 1/64: sums are exact in any order */
    }
    kry_csr *a = NULL;
    ck_assert_int_eq(kry_csr_from_triplets(M, N, K, r, c, v, 0, &a), KRY_OK);
    assert_csr_equals_dense(a, M, N, d);
    ck_assert_uint_le(a->nnz, M * N);
    kry_csr_free(a);
}
END_TEST

START_TEST(test_from_triplets_mirror)
{
    const uint32_t r[4] = {2, 0, 1, 2}, c[4] = {0, 0, 1, 1};
    const double v[4] = {1.5, 2.25, -3.125, 0.5};
    const double d[9] = {2.25, 0, 1.5, 0, -3.125, 0.5, 1.5, 0.5, 0};
    kry_csr *a = NULL;
    ck_assert_int_eq(kry_csr_from_triplets(3, 3, 4, r, c, v, KRY_CSR_MIRROR, &a), KRY_OK);
    assert_csr_equals_dense(a, 3, 3, d);
    ck_assert_uint_eq(a->nnz, 6);
    kry_csr_free(a);
}
END_TEST

static void check_operator_vs_dense(const char *spec, const double *dense, size_t n)
{
    kry_csr *a = NULL;
    char msg[128];
    ck_assert_int_eq(kry_problem_build(spec, &a, msg, sizeof msg), KRY_OK);
    assert_csr_equals_dense(a, n, n, dense);
    kry_operator op;
    ck_assert_int_eq(kry_operator_csr(a, &op), KRY_OK);
    ck_assert_uint_eq(op.n, n);
    ck_assert(op.destroy == NULL);
    const size_t k = 6, ld = n + 3;
    double *x = malloc(ld * k * sizeof *x), *y = malloc(ld * k * sizeof *y);
    double *z = malloc(n * sizeof *z), *w = malloc(n * sizeof *w);
    ck_assert(x && y && z && w);
    kry_rng_fill_normal(99, KRY_RNG_STREAM_TEST, 0, ld * k, x);
    for (size_t c = 0; c < k; ++c) {
        ck_assert_int_eq(kry_operator_apply(&op, x + c * ld, w), KRY_OK);
        dense_mv(n, n, dense, x + c * ld, z);
        for (size_t i = 0; i < n; ++i)
            ck_assert_close(w[i], z[i], 1e-14);
    }
    /* The block product (four columns at a time, then the rest) vs single products. */
    ck_assert_int_eq(op.matvec_block(op.ctx, k, x, ld, y, ld), 0);
    for (size_t c = 0; c < k; ++c) {
        ck_assert_int_eq(kry_operator_apply(&op, x + c * ld, w), KRY_OK);
        for (size_t i = 0; i < n; ++i)
            ck_assert(y[c * ld + i] == w[i]);
    }
    kry_operator_destroy(&op);
    kry_csr_free(a);
    free(x);
    free(y);
    free(z);
    free(w);
}

START_TEST(test_csr_operator_laplace1d)
{
    double *d = test_laplace1d_dense(37);
    check_operator_vs_dense("laplace1d:37", d, 37);
    free(d);
}
END_TEST

START_TEST(test_csr_operator_laplace2d)
{
    double *d = test_laplace2d_dense(6, 9);
    check_operator_vs_dense("laplace2d:6x9", d, 54);
    free(d);
}
END_TEST

START_TEST(test_csr_operator_owned)
{
    kry_csr *a = NULL;
    ck_assert_int_eq(kry_mtx_read_csr("data/coord_real_symmetric.mtx", 0, &a, NULL), KRY_OK);
    kry_operator op;
    ck_assert_int_eq(kry_operator_csr_owned(a, &op), KRY_OK);
    ck_assert(op.destroy != NULL);
    const double x[4] = {1.25, -0.5, 2.0, 0.75};
    double y[4];
    ck_assert_int_eq(kry_operator_apply(&op, x, y), KRY_OK);
    /* Row 1: 4.125*1.25 - 1.375*(-0.5) + 2.0625*0.75 */
    ck_assert_double_eq(y[0], 4.125 * 1.25 + 1.375 * 0.5 + 2.0625 * 0.75);
    kry_operator_destroy(&op); /* frees a; ASan reports a leak otherwise */
    ck_assert_ptr_null(op.ctx);
}
END_TEST

/* ---- core: problems ---- */

static void check_eigs_vs_lapack(const char *spec, const double *dense, size_t n)
{
    size_t nn = 0;
    ck_assert_int_eq(kry_problem_size(spec, &nn), KRY_OK);
    ck_assert_uint_eq(nn, n);
    double *w = malloc(n * sizeof *w), *ref = malloc(n * sizeof *ref);
    ck_assert(w && ref);
    ck_assert_int_eq(kry_problem_eigenvalues(spec, w, n), KRY_OK);
    ck_assert_int_eq(test_dsyevr(n, dense, ref, NULL), 0);
    for (size_t i = 0; i < n; ++i) {
        ck_assert_close(w[i], ref[i], 1e-12);
        if (i > 0)
            ck_assert_double_le(w[i - 1], w[i]);
    }
    free(w);
    free(ref);
}

START_TEST(test_problem_laplace1d_eigs)
{
    double *d = test_laplace1d_dense(100);
    check_eigs_vs_lapack("laplace1d:100", d, 100);
    free(d);
    /* And against the cosine formula of tests/common. */
    double w[100], ref[100];
    ck_assert_int_eq(kry_problem_eigenvalues("laplace1d:100", w, 100), KRY_OK);
    test_laplace1d_eigs(100, ref);
    for (size_t i = 0; i < 100; ++i)
        ck_assert_close(w[i], ref[i], 1e-13);
}
END_TEST

START_TEST(test_problem_laplace2d_eigs)
{
    double *d = test_laplace2d_dense(7, 11);
    check_eigs_vs_lapack("laplace2d:7x11", d, 77);
    free(d);
    d = test_laplace2d_dense(10, 10); /* many repeated eigenvalues (i, j) <-> (j, i) */
    check_eigs_vs_lapack("laplace2d:10x10", d, 100);
    free(d);
}
END_TEST

START_TEST(test_problem_diag)
{
    const size_t n = 13;
    kry_csr *a = NULL;
    ck_assert_int_eq(kry_problem_build("diag:-2.5:3.75:13", &a, NULL, 0), KRY_OK);
    double d[13 * 13] = {0};
    for (size_t i = 0; i < n; ++i)
        d[i * n + i] = -2.5 + 6.25 * (double)i / 12.0;
    for (size_t i = 0; i < n; ++i) {
        double got = a->val[a->rowptr[i]];
        ck_assert_close(got, d[i * n + i], 4 * DBL_EPSILON);
    }
    ck_assert(a->val[0] == -2.5 && a->val[12] == 3.75); /* end points exact */
    kry_csr_free(a);
    check_eigs_vs_lapack("diag:-2.5:3.75:13", d, n);
    /* HI < LO: the diagonal decreases, the eigenvalues still come out ascending. */
    double w[5];
    ck_assert_int_eq(kry_problem_eigenvalues("diag:9.5:1.5:5", w, 5), KRY_OK);
    const double want[5] = {1.5, 3.5, 5.5, 7.5, 9.5};
    for (size_t i = 0; i < 5; ++i)
        ck_assert_close(w[i], want[i], 1e-15);
    ck_assert_int_eq(kry_problem_build("diag:9.5:1.5:5", &a, NULL, 0), KRY_OK);
    ck_assert(a->val[0] == 9.5 && a->val[4] == 1.5);
    kry_csr_free(a);
}
END_TEST

START_TEST(test_problem_help)
{
    const char *h = kry_problem_help();
    ck_assert_ptr_nonnull(strstr(h, "laplace1d:N"));
    ck_assert_ptr_nonnull(strstr(h, "laplace2d:MxN"));
    ck_assert_ptr_nonnull(strstr(h, "diag:LO:HI:N"));
}
END_TEST

/* ---- args: every reader error with its own file ---- */

START_TEST(test_err_banner)
{
    expect_read_error("data/bad_banner.mtx", 0, KRY_EFORMAT, 1, "missing '%%MatrixMarket'");
    expect_read_error("data/no_banner.mtx", 0, KRY_EFORMAT, 1, "missing '%%MatrixMarket'");
    expect_read_error("data/empty.mtx", 0, KRY_EFORMAT, 0, "empty file");
    expect_read_error("data/short_banner.mtx", 0, KRY_EFORMAT, 1, "incomplete banner");
    expect_read_error("data/banner_extra.mtx", 0, KRY_EFORMAT, 1, "unexpected 'extra'");
    expect_read_error("data/bad_object.mtx", 0, KRY_EFORMAT, 1, "unknown object 'vector'");
    expect_read_error("data/bad_format.mtx", 0, KRY_EFORMAT, 1,
                      "unknown format 'coordinates'");
    expect_read_error("data/bad_field.mtx", 0, KRY_EFORMAT, 1, "unknown field 'double'");
    expect_read_error("data/bad_symmetry.mtx", 0, KRY_EFORMAT, 1,
                      "unknown symmetry 'symetric'");
    expect_read_error("data/array_pattern.mtx", 0, KRY_EFORMAT, 1, "'pattern' field");
}
END_TEST

START_TEST(test_err_unsupported)
{
    expect_read_error("data/complex.mtx", 0, KRY_EUNSUPPORTED, 1,
                      "complex matrices are not supported");
    expect_read_error("data/hermitian.mtx", 0, KRY_EUNSUPPORTED, 1,
                      "hermitian matrices are not supported");
    expect_read_error("data/skew.mtx", 0, KRY_EUNSUPPORTED, 1,
                      "skew-symmetric matrices are not supported");
}
END_TEST

START_TEST(test_err_size_line)
{
    expect_read_error("data/bad_size.mtx", 0, KRY_EFORMAT, 3, "bad size line");
    expect_read_error("data/bad_size_token.mtx", 0, KRY_EFORMAT, 2,
                      "number of entries 'x' is not a non-negative integer");
    expect_read_error("data/zero_size.mtx", 0, KRY_EFORMAT, 2, "at least 1");
    expect_read_error("data/missing_size.mtx", 0, KRY_EFORMAT, 3, "missing the size line");
    expect_read_error("data/nonsquare_sym.mtx", 0, KRY_EFORMAT, 2,
                      "symmetric matrix must be square");
    expect_read_error("data/nonsquare.mtx", KRY_MTX_REQUIRE_SYMMETRIC, KRY_EFORMAT, 2,
                      "3 x 4");
    expect_read_error("data/huge_rows.mtx", 0, KRY_ERANGE, 2,
                      "number of rows 5000000000 exceeds the limit 4294967295");
    expect_read_error("data/huge_nnz.mtx", 0, KRY_ERANGE, 2, "number of entries");
    expect_read_error("data/huge_array.mtx", 0, KRY_ERANGE, 2, "4000000000 x 4000000000");
    /* Without the flag the rectangular matrix reads fine. */
    static const double d[12] = {0, 0, 0, 1.5, 0, 0, 0, 0, 0, -2.5, 0, 0};
    assert_read_equals("data/nonsquare.mtx", 0, 3, 4, d, 2);
}
END_TEST

START_TEST(test_err_entry_count)
{
    expect_read_error("data/too_few.mtx", 0, KRY_EFORMAT, 6,
                      "declares 5 entries, but only 3 were found");
    expect_read_error("data/too_many.mtx", 0, KRY_EFORMAT, 5, "too many entries");
    expect_read_error("data/array_short.mtx", 0, KRY_EFORMAT, 5,
                      "declares 4 values, but only 3 were found");
    expect_read_error("data/array_long.mtx", 0, KRY_EFORMAT, 5, "too many values");
}
END_TEST

START_TEST(test_err_tokens)
{
    expect_read_error("data/bad_number.mtx", 0, KRY_EFORMAT, 4, "'1.5x' is not a number");
    expect_read_error("data/bad_index.mtx", 0, KRY_EFORMAT, 3,
                      "row index 'a' is not an integer");
    expect_read_error("data/index_range.mtx", 0, KRY_EFORMAT, 4,
                      "row index 7 is out of range (must be between 1 and 5)");
    expect_read_error("data/col_range.mtx", 0, KRY_EFORMAT, 3,
                      "column index 0 is out of range (must be between 1 and 3)");
    expect_read_error("data/neg_index.mtx", 0, KRY_EFORMAT, 3, "row index -2 is out of range");
    expect_read_error("data/extra_token.mtx", 0, KRY_EFORMAT, 3, "extra token '7'");
    expect_read_error("data/missing_value.mtx", 0, KRY_EFORMAT, 3, "ROW COLUMN VALUE");
    expect_read_error("data/pattern_value.mtx", 0, KRY_EFORMAT, 3, "extra token '3.0'");
    expect_read_error("data/int_nonint.mtx", 0, KRY_EFORMAT, 3, "'2.5' is not an integer");
    expect_read_error("data/int_overflow.mtx", 0, KRY_EFORMAT, 3, "out of range");
    expect_read_error("data/array_two_per_line.mtx", 0, KRY_EFORMAT, 3, "one value per line");
    expect_read_error("data/long_line.mtx", 0, KRY_EFORMAT, 3, "longer than 4096");
    expect_read_error("data/nul_byte.mtx", 0, KRY_EFORMAT, 3, "NUL byte");
    expect_read_error("data/upper_sym.mtx", 0, KRY_EFORMAT, 4,
                      "entry (1, 3) is above the diagonal");
}
END_TEST

START_TEST(test_err_nonfinite)
{
    expect_read_error("data/nan.mtx", 0, KRY_ENONFINITE, 4, "value 'nan' is not finite");
    expect_read_error("data/inf.mtx", 0, KRY_ENONFINITE, 3, "value '-inf' is not finite");
    expect_read_error("data/overflow.mtx", 0, KRY_ENONFINITE, 3, "overflows a double");
    expect_read_error("data/dup_overflow.mtx", 0, KRY_ENONFINITE, 0, "duplicate entries");
}
END_TEST

START_TEST(test_err_not_symmetric)
{
    expect_read_error("data/notsym.mtx", KRY_MTX_REQUIRE_SYMMETRIC, KRY_ENOTSYM, 0,
                      "not symmetric: |a(2,3) - a(3,2)| = 0.25 at (2, 3)");
    expect_read_error("data/notsym_structural.mtx", KRY_MTX_REQUIRE_SYMMETRIC, KRY_ENOTSYM,
                      0, "not symmetric: |a(1,2) - a(2,1)| = 3.125 at (1, 2)");
    expect_read_error("data/array_notsym.mtx", KRY_MTX_REQUIRE_SYMMETRIC, KRY_ENOTSYM, 0,
                      "not symmetric: |a(1,2) - a(2,1)| = 1 at (1, 2)");
    /* Without the flag, the same file reads. */
    kry_csr *a = NULL;
    ck_assert_int_eq(kry_mtx_read_csr("data/notsym.mtx", 0, &a, NULL), KRY_OK);
    kry_csr_free(a);
}
END_TEST

START_TEST(test_err_io_and_args)
{
    expect_read_error("data/does_not_exist.mtx", 0, KRY_EIO, 0,
                      "cannot open: No such file or directory");
    expect_read_error("data", 0, KRY_EIO, 0, "Is a directory");
    kry_csr *a = NULL;
    kry_mtx_error err;
    ck_assert_int_eq(kry_mtx_read_csr(NULL, 0, &a, &err), KRY_EINVAL);
    ck_assert_int_eq(kry_mtx_read_csr("data/one_by_one.mtx", 0, NULL, &err), KRY_EINVAL);
    ck_assert_int_eq(kry_mtx_read_csr_stream(NULL, "x", 0, &a, &err), KRY_EINVAL);
    FILE *f = fopen("data/one_by_one.mtx", "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(kry_mtx_read_csr_stream(f, NULL, 4u, &a, &err), KRY_EINVAL);
    ck_assert_ptr_null(a);
    ck_assert_str_eq(err.message, "<stream>: invalid argument");
    fclose(f);
    /* Stream messages use the given name, or "<stream>". */
    static const char text[] = "%%MatrixMarket matrix coordinate real general\n2 2 1\n9 1 1\n";
    f = fmemopen((void *)text, sizeof text - 1, "r");
    ck_assert_int_eq(kry_mtx_read_csr_stream(f, NULL, 0, &a, &err), KRY_EFORMAT);
    ck_assert_uint_eq(err.line, 3);
    ck_assert_ptr_eq(strstr(err.message, "<stream>:3: row index 9"), err.message);
    fclose(f);
    /* No error detail requested: the status alone. */
    ck_assert_int_eq(kry_mtx_read_csr("data/nan.mtx", 0, &a, NULL), KRY_ENONFINITE);
}
END_TEST

START_TEST(test_err_read_array)
{
    size_t m = 1, n = 1;
    double *a = (double *)&m;
    kry_mtx_error err;
    ck_assert_int_eq(kry_mtx_read_array("data/coord_real_general.mtx", &m, &n, &a, &err),
                     KRY_EFORMAT);
    ck_assert_ptr_null(a);
    ck_assert_uint_eq(m, 0);
    ck_assert_uint_eq(err.line, 1);
    ck_assert_ptr_nonnull(strstr(err.message, "data/coord_real_general.mtx:1: expected a "
                                              "dense 'array' file"));
    ck_assert_int_eq(kry_mtx_read_array("data/array_short.mtx", &m, &n, &a, &err),
                     KRY_EFORMAT);
    ck_assert_uint_eq(err.line, 5);
    ck_assert_int_eq(kry_mtx_read_array("data/nope.mtx", &m, &n, &a, &err), KRY_EIO);
    ck_assert_int_eq(kry_mtx_read_array(NULL, &m, &n, &a, &err), KRY_EINVAL);
    ck_assert_int_eq(kry_mtx_read_array("data/array_real_general.mtx", NULL, &n, &a, &err),
                     KRY_EINVAL);
    ck_assert_int_eq(kry_mtx_read_array_stream(NULL, NULL, &m, &n, &a, NULL), KRY_EINVAL);
}
END_TEST

START_TEST(test_err_write)
{
    char dir[64], path[128];
    make_tmpdir(dir, sizeof dir);
    const double v[4] = {1.25, NAN, 2.5, 3.75};
    kry_mtx_error err;
    /* Missing directory. */
    snprintf(path, sizeof path, "%s/no/such/dir/x.mtx", dir);
    ck_assert_int_eq(kry_mtx_write_array(path, 2, 1, v + 2, 2, NULL, &err), KRY_EIO);
    ck_assert_ptr_eq(strstr(err.message, path), err.message);
    ck_assert_ptr_nonnull(strstr(err.message, "No such file or directory"));
    /* A NaN: refused before anything is written; the existing target is untouched. */
    snprintf(path, sizeof path, "%s/keep.mtx", dir);
    write_text(path, "precious\n");
    ck_assert_int_eq(kry_mtx_write_array(path, 2, 2, v, 2, NULL, &err), KRY_ENONFINITE);
    ck_assert_ptr_nonnull(strstr(err.message, "(2, 1)"));
    /* The target is a directory: rename fails, the directory and its file survive. */
    char sub[160];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    snprintf(path, sizeof path, "%s/sub/f", dir);
    write_text(path, "inner\n");
    ck_assert_int_eq(kry_mtx_write_array(sub, 1, 1, v, 1, NULL, &err), KRY_EIO);
    ck_assert_ptr_nonnull(strstr(err.message, "cannot replace it"));
    char *t = read_text(path);
    ck_assert_str_eq(t, "inner\n");
    free(t);
    unlink(path);
    rmdir(sub);
    snprintf(path, sizeof path, "%s/keep.mtx", dir);
    t = read_text(path);
    ck_assert_str_eq(t, "precious\n");
    free(t);
    ck_assert_int_eq(count_files(dir), 1);
    /* Arguments. */
    ck_assert_int_eq(kry_mtx_write_array(NULL, 1, 1, v, 1, NULL, &err), KRY_EINVAL);
    ck_assert_int_eq(kry_mtx_write_array(path, 1, 1, NULL, 1, NULL, &err), KRY_EINVAL);
    ck_assert_int_eq(kry_mtx_write_array(path, 0, 1, v, 1, NULL, &err), KRY_EINVAL);
    ck_assert_int_eq(kry_mtx_write_array(path, 2, 1, v, 1, NULL, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_mtx_write_array(path, (size_t)UINT32_MAX + 1, 1, v,
                                         (size_t)UINT32_MAX + 1, NULL, &err),
                     KRY_ERANGE);
    rm_tmpdir(dir);
}
END_TEST

/* A write that fails half-way (file size limit in a child process): KRY_EIO, the
   existing target keeps its contents and no temporary file remains. */
START_TEST(test_err_write_midway_keeps_target)
{
    char dir[64], path[128];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/target.mtx", dir);
    write_text(path, "%%MatrixMarket matrix array real general\n1 1\n42\n");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {4096, 4096};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(10);
        static double big[3000];
        for (size_t i = 0; i < 3000; ++i)
            big[i] = 1.0 / (double)(i + 3);
        kry_mtx_error err;
        kry_status st = kry_mtx_write_array(path, 3000, 1, big, 3000, "big", &err);
        if (st != KRY_EIO)
            _exit(11);
        if (strstr(err.message, path) != err.message || strstr(err.message, "too large") == NULL)
            _exit(12);
        _exit(0);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    char *t = read_text(path);
    ck_assert_str_eq(t, "%%MatrixMarket matrix array real general\n1 1\n42\n");
    free(t);
    ck_assert_int_eq(count_files(dir), 1);
    rm_tmpdir(dir);
}
END_TEST

START_TEST(test_err_csr)
{
    kry_csr *a = NULL;
    ck_assert_int_eq(kry_csr_alloc(0, 3, 0, &a), KRY_EINVAL);
    ck_assert_int_eq(kry_csr_alloc(3, 3, 0, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_csr_alloc(3, (size_t)UINT32_MAX + 1, 0, &a), KRY_ERANGE);
    ck_assert_int_eq(kry_csr_alloc(3, 3, SIZE_MAX / 2, &a), KRY_ERANGE);
    ck_assert_ptr_null(a);

    const uint32_t r[3] = {0, 1, 2}, c[3] = {0, 1, 1};
    const double v[3] = {1.5, 2.5, 3.5};
    ck_assert_int_eq(kry_csr_from_triplets(3, 3, 3, r, c, v, 0, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_csr_from_triplets(3, 3, 3, NULL, c, v, 0, &a), KRY_EINVAL);
    ck_assert_int_eq(kry_csr_from_triplets(0, 3, 3, r, c, v, 0, &a), KRY_EINVAL);
    ck_assert_int_eq(kry_csr_from_triplets(2, 3, 3, r, c, v, 0, &a), KRY_EINVAL);
    ck_assert_int_eq(kry_csr_from_triplets(3, 1, 3, r, c, v, 0, &a), KRY_EINVAL);
    ck_assert_int_eq(kry_csr_from_triplets(3, 3, 3, r, c, v, 8u, &a), KRY_EINVAL);
    ck_assert_int_eq(kry_csr_from_triplets(3, 4, 3, r, c, v, KRY_CSR_MIRROR, &a), KRY_EDIM);
    ck_assert_int_eq(kry_csr_from_triplets((size_t)UINT32_MAX + 1, 3, 3, r, c, v, 0, &a),
                     KRY_ERANGE);
    ck_assert_int_eq(kry_csr_from_triplets(3, 3, SIZE_MAX / 4, r, c, v, 0, &a), KRY_ERANGE);
    const double bad[3] = {1.5, INFINITY, 3.5};
    ck_assert_int_eq(kry_csr_from_triplets(3, 3, 3, r, c, bad, 0, &a), KRY_ENONFINITE);
    const uint32_t rr[2] = {1, 1}, cc[2] = {2, 2};
    const double huge[2] = {DBL_MAX, DBL_MAX};
    ck_assert_int_eq(kry_csr_from_triplets(3, 3, 2, rr, cc, huge, 0, &a), KRY_ENONFINITE);
    ck_assert_ptr_null(a);

    /* kry_csr_check and the operator constructors on broken matrices. */
    ck_assert_int_eq(kry_csr_from_triplets(3, 3, 3, r, c, v, 0, &a), KRY_OK);
    kry_operator op;
    ck_assert_int_eq(kry_operator_csr(NULL, &op), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_csr(a, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_csr_check(NULL), KRY_EINVAL);
    a->colind[2] = 5; /* out of range */
    ck_assert_int_eq(kry_operator_csr(a, &op), KRY_EINVAL);
    ck_assert(op.matvec == NULL);
    a->colind[2] = 1;
    a->rowptr[2] = 1; /* rows 1 and 2 overlap: rowptr not increasing */
    ck_assert_int_eq(kry_csr_check(a), KRY_EINVAL);
    a->rowptr[2] = 2;
    a->rowptr[3] = 2; /* does not end at nnz */
    ck_assert_int_eq(kry_csr_check(a), KRY_EINVAL);
    a->rowptr[3] = 3;
    a->val[1] = NAN;
    ck_assert_int_eq(kry_operator_csr(a, &op), KRY_ENONFINITE);
    ck_assert_int_eq(kry_operator_csr_owned(a, &op), KRY_ENONFINITE); /* a not freed */
    a->val[1] = 2.5;
    ck_assert_int_eq(kry_csr_check(a), KRY_OK);
    kry_csr_free(a);
    /* Unsorted columns within a row. */
    const uint32_t r2[2] = {0, 0}, c2[2] = {0, 2};
    ck_assert_int_eq(kry_csr_from_triplets(1, 3, 2, r2, c2, v, 0, &a), KRY_OK);
    a->colind[0] = 2;
    a->colind[1] = 0;
    ck_assert_int_eq(kry_csr_check(a), KRY_EINVAL);
    a->colind[0] = 0;
    a->colind[1] = 2;
    ck_assert_int_eq(kry_operator_csr(a, &op), KRY_EDIM); /* 1 x 3: not square */
    kry_csr_free(a);
    kry_csr_free(NULL);
}
END_TEST

START_TEST(test_err_problems)
{
    static const struct {
        const char *spec;
        kry_status st;
        const char *what;
    } bad[] = {
        {"", KRY_EINVAL, "unknown problem"},
        {"laplace3d:4", KRY_EINVAL, "unknown problem 'laplace3d:4'"},
        {"laplace1d", KRY_EINVAL, "unknown problem"},
        {"laplace1d:", KRY_EINVAL, "positive integer"},
        {"laplace1d:0", KRY_EINVAL, "at least 1"},
        {"laplace1d:abc", KRY_EINVAL, "positive integer"},
        {"laplace1d:-5", KRY_EINVAL, "positive integer"},
        {"laplace1d:12x", KRY_EINVAL, "unexpected 'x'"},
        {"laplace1d:99999999999999999999999", KRY_ERANGE, "too large"},
        {"laplace1d:4294967296", KRY_ERANGE, "exceeds the limit"},
        {"laplace2d:5", KRY_EINVAL, "MxN"},
        {"laplace2d:0x4", KRY_EINVAL, "at least 1"},
        {"laplace2d:4x", KRY_EINVAL, "positive integer"},
        {"laplace2d:65536x65536", KRY_ERANGE, "exceeds the limit"},
        {"diag:1:2", KRY_EINVAL, "diag:LO:HI:N"},
        {"diag:a:2:3", KRY_EINVAL, "finite numbers"},
        {"diag:nan:2:3", KRY_EINVAL, "finite numbers"},
        {"diag:1:inf:3", KRY_EINVAL, "finite numbers"},
        {"diag:1:2:0", KRY_EINVAL, "at least 1"},
        {"diag::2:3", KRY_EINVAL, "finite numbers"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; ++k) {
        kry_csr *a = (kry_csr *)&a;
        char msg[200] = "untouched";
        kry_status st = kry_problem_build(bad[k].spec, &a, msg, sizeof msg);
        ck_assert_msg(st == bad[k].st, "'%s': status %d, expected %d (%s)", bad[k].spec,
                      (int)st, (int)bad[k].st, msg);
        ck_assert_ptr_null(a);
        ck_assert_msg(strstr(msg, bad[k].what) != NULL, "'%s': message '%s' lacks '%s'",
                      bad[k].spec, msg, bad[k].what);
        size_t n = 7;
        ck_assert_int_eq(kry_problem_size(bad[k].spec, &n), bad[k].st);
        ck_assert_uint_eq(n, 0);
        double w[4];
        ck_assert_int_eq(kry_problem_eigenvalues(bad[k].spec, w, 4), bad[k].st);
    }
    kry_csr *a = NULL;
    char tiny[8];
    ck_assert_int_eq(kry_problem_build("bogus:1", &a, tiny, sizeof tiny), KRY_EINVAL);
    ck_assert_uint_eq(strlen(tiny), 7); /* truncated, terminated */
    ck_assert_int_eq(kry_problem_build(NULL, &a, NULL, 0), KRY_EINVAL);
    ck_assert_int_eq(kry_problem_build("laplace1d:3", NULL, tiny, sizeof tiny), KRY_EINVAL);
    size_t n;
    ck_assert_int_eq(kry_problem_size("laplace1d:3", NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_problem_size(NULL, &n), KRY_EINVAL);
    double w[4];
    ck_assert_int_eq(kry_problem_eigenvalues("laplace1d:3", w, 4), KRY_EDIM);
    ck_assert_int_eq(kry_problem_eigenvalues("laplace1d:3", NULL, 3), KRY_EINVAL);
}
END_TEST

/* Allocation failure: a child process with a tight address-space limit. Skipped under
   AddressSanitizer, whose allocator dies instead of returning NULL and whose shadow
   memory does not mix with RLIMIT_AS. */
START_TEST(test_err_nomem)
{
#ifdef TEST_HAVE_ASAN
    return;
#else
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        long pages = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (f == NULL || fscanf(f, "%ld", &pages) != 1)
            _exit(20);
        fclose(f);
        rlim_t lim = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)64 << 20);
        struct rlimit rl = {lim, lim};
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(21);
        kry_csr *a = NULL;
        char msg[128];
        if (kry_problem_build("laplace1d:100000000", &a, msg, sizeof msg) != KRY_ENOMEM ||
            a != NULL || strstr(msg, "out of memory") == NULL)
            _exit(22);
        if (kry_problem_build("laplace2d:10000x10000", &a, msg, sizeof msg) != KRY_ENOMEM)
            _exit(23);
        if (kry_problem_build("diag:1:2:100000000", &a, msg, sizeof msg) != KRY_ENOMEM)
            _exit(24);
        if (kry_csr_alloc(100000000, 3, 0, &a) != KRY_ENOMEM || a != NULL)
            _exit(25);
        const uint32_t r = 0, c = 0;
        const double v = 1.5;
        if (kry_csr_from_triplets(100000000, 100000000, 1, &r, &c, &v, 0, &a) != KRY_ENOMEM)
            _exit(26);
        kry_mtx_error err;
        if (kry_mtx_read_csr("data/large_dims.mtx", 0, &a, &err) != KRY_ENOMEM ||
            strcmp(err.message, "data/large_dims.mtx: out of memory") != 0)
            _exit(27);
        /* After the failures the library still works within the limit. */
        if (kry_problem_build("laplace1d:1000", &a, msg, sizeof msg) != KRY_OK)
            _exit(28);
        kry_csr_free(a);
        _exit(0);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
#endif
}
END_TEST

/* ---- edge ---- */

START_TEST(test_edge_one_by_one)
{
    static const double d[1] = {-2.718};
    /* Also: no newline after the last line. */
    assert_read_equals("data/one_by_one.mtx", KRY_MTX_REQUIRE_SYMMETRIC, 1, 1, d, 1);
    kry_csr *a = NULL;
    ck_assert_int_eq(kry_problem_build("laplace1d:1", &a, NULL, 0), KRY_OK);
    static const double two[1] = {2.0};
    assert_csr_equals_dense(a, 1, 1, two);
    kry_csr_free(a);
    ck_assert_int_eq(kry_problem_build("laplace2d:1x1", &a, NULL, 0), KRY_OK);
    static const double four[1] = {4.0};
    assert_csr_equals_dense(a, 1, 1, four);
    kry_csr_free(a);
    double w[1];
    ck_assert_int_eq(kry_problem_eigenvalues("laplace1d:1", w, 1), KRY_OK);
    ck_assert_close(w[0], 2.0, 1e-15);
    ck_assert_int_eq(kry_problem_eigenvalues("laplace2d:1x1", w, 1), KRY_OK);
    ck_assert_close(w[0], 4.0, 1e-15);
    ck_assert_int_eq(kry_problem_eigenvalues("diag:3.25:-8:1", w, 1), KRY_OK);
    ck_assert(w[0] == 3.25); /* N = 1: just LO */
    ck_assert_int_eq(kry_problem_build("diag:3.25:-8:1", &a, NULL, 0), KRY_OK);
    ck_assert(a->nnz == 1 && a->val[0] == 3.25);
    kry_operator op;
    ck_assert_int_eq(kry_operator_csr(a, &op), KRY_OK);
    double x = 2.0, y = 0.0;
    ck_assert_int_eq(kry_operator_apply(&op, &x, &y), KRY_OK);
    ck_assert_double_eq(y, 6.5);
    kry_csr_free(a);
    /* A 1 x 1 array round trip. */
    char dir[64], path[128];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/one.mtx", dir);
    const double v = -1.0 / 3.0;
    ck_assert_int_eq(kry_mtx_write_array(path, 1, 1, &v, 1, "", NULL), KRY_OK);
    size_t m, n;
    double *b = NULL;
    ck_assert_int_eq(kry_mtx_read_array(path, &m, &n, &b, NULL), KRY_OK);
    ck_assert(m == 1 && n == 1 && memcmp(b, &v, sizeof v) == 0);
    free(b);
    rm_tmpdir(dir);
}
END_TEST

START_TEST(test_edge_empty_rows)
{
    static const double d[25] = {
        0,    1.75, 0, 0,    0, /* row 1 */
        0,    0,    0, 0,    0, /* row 2: empty */
        0,    0,    0, 0,    0, /* row 3: empty */
        3.25, 0,    0, -0.5, 0, /* row 4 */
        0,    0,    0, 0,    0, /* row 5: empty */
    };
    assert_read_equals("data/empty_rows.mtx", 0, 5, 5, d, 3);
    /* A matrix with no entries at all: y = 0. */
    kry_csr *a = NULL;
    ck_assert_int_eq(kry_mtx_read_csr("data/empty_matrix.mtx", KRY_MTX_REQUIRE_SYMMETRIC, &a,
                                      NULL),
                     KRY_OK);
    ck_assert_uint_eq(a->nnz, 0);
    kry_operator op;
    ck_assert_int_eq(kry_operator_csr(a, &op), KRY_OK);
    const double x[3] = {1.5, 2.5, 3.5};
    double y[3] = {9, 9, 9};
    ck_assert_int_eq(kry_operator_apply(&op, x, y), KRY_OK);
    ck_assert(y[0] == 0.0 && y[1] == 0.0 && y[2] == 0.0);
    kry_csr_free(a);
    ck_assert_int_eq(kry_csr_from_triplets(2, 2, 0, NULL, NULL, NULL, 0, &a), KRY_OK);
    ck_assert_uint_eq(a->nnz, 0);
    ck_assert_int_eq(kry_csr_check(a), KRY_OK);
    kry_csr_free(a);
}
END_TEST

START_TEST(test_edge_duplicates_summed)
{
    static const double d[9] = {0, 0, 2.25, 0, 1.625, 0, 0, 0, 9.5};
    /* (3,1) is an explicit zero: kept as a stored entry, so nnz is 4. */
    assert_read_equals("data/duplicates.mtx", 0, 3, 3, d, 4);
    kry_csr *a = NULL;
    ck_assert_int_eq(kry_mtx_read_csr("data/duplicates.mtx", 0, &a, NULL), KRY_OK);
    ck_assert_uint_eq(a->rowptr[2], 2);
    ck_assert_uint_eq(a->colind[2], 0);
    ck_assert(a->val[2] == 0.0);
    kry_csr_free(a);
}
END_TEST

START_TEST(test_edge_pattern_symmetric)
{
    static const double d[16] = {0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0};
    assert_read_equals("data/coord_pattern_symmetric.mtx", KRY_MTX_REQUIRE_SYMMETRIC, 4, 4, d,
                       7);
}
END_TEST

START_TEST(test_edge_crlf)
{
    static const double d[4] = {1.5, -0.25, -0.25, 2.75};
    assert_read_equals("data/crlf.mtx", KRY_MTX_REQUIRE_SYMMETRIC, 2, 2, d, 4);
}
END_TEST

START_TEST(test_edge_long_comment_and_tolerance)
{
    static const double d[4] = {1.5, 0, 0, 2.5};
    assert_read_equals("data/long_comment.mtx", 0, 2, 2, d, 2);
    static const double s[4] = {1.0, 0.1, 0.10000000000000002, 2.0};
    /* One ulp of asymmetry is within KRY_MTX_SYM_RTOL: accepted and kept as read. */
    assert_read_equals("data/sym_tolerance.mtx", KRY_MTX_REQUIRE_SYMMETRIC, 2, 2, s, 4);
}
END_TEST

START_TEST(test_edge_laplace_degenerate_grids)
{
    /* A 1 x 5 grid is the 1-D Laplacian plus 2 I; its spectrum is shifted by 2. */
    double *d = test_laplace1d_dense(5);
    for (size_t i = 0; i < 5; ++i)
        d[i * 5 + i] += 2.0;
    kry_csr *a = NULL;
    ck_assert_int_eq(kry_problem_build("laplace2d:1x5", &a, NULL, 0), KRY_OK);
    assert_csr_equals_dense(a, 5, 5, d);
    kry_csr_free(a);
    ck_assert_int_eq(kry_problem_build("laplace2d:5x1", &a, NULL, 0), KRY_OK);
    assert_csr_equals_dense(a, 5, 5, d);
    kry_csr_free(a);
    check_eigs_vs_lapack("laplace2d:5x1", d, 5);
    free(d);
    /* Tied eigenvalues: diag:2:2:4 is 2 I. */
    double w[4];
    ck_assert_int_eq(kry_problem_eigenvalues("diag:2:2:4", w, 4), KRY_OK);
    for (size_t i = 0; i < 4; ++i)
        ck_assert(w[i] == 2.0);
    /* Small eigenvalues of a long chain keep relative accuracy (4 sin^2 form):
       lambda_1 = 4 sin^2(pi / (2 (N+1))) ~ (pi / (N+1))^2 (1 - (pi/(N+1))^2 / 12). */
    const size_t n = 1000000;
    double *big = malloc(n * sizeof *big);
    ck_assert_ptr_nonnull(big);
    ck_assert_int_eq(kry_problem_eigenvalues("laplace1d:1000000", big, n), KRY_OK);
    const double h = M_PI / (double)(n + 1);
    ck_assert_close(big[0] / (h * h * (1.0 - h * h / 12.0)), 1.0, 1e-14);
    free(big);
}
END_TEST

static Suite *mtx_suite(void)
{
    Suite *s = suite_create("mtx");
    TCase *core = tcase_create("core"), *args = tcase_create("args"),
          *edge = tcase_create("edge");
    tcase_add_test(core, test_read_coordinate_real_general);
    tcase_add_test(core, test_read_coordinate_integer_general);
    tcase_add_test(core, test_read_coordinate_pattern_general);
    tcase_add_test(core, test_read_coordinate_real_symmetric);
    tcase_add_test(core, test_read_coordinate_integer_symmetric);
    tcase_add_test(core, test_read_array_real_general);
    tcase_add_test(core, test_read_array_real_symmetric);
    tcase_add_test(core, test_read_array_integer_general);
    tcase_add_test(core, test_read_general_symmetric_required);
    tcase_add_test(core, test_read_stream);
    tcase_add_test(core, test_read_array_dense);
    tcase_add_test(core, test_write_read_roundtrip_bit_exact);
    tcase_add_test(core, test_write_replaces_existing);
    tcase_add_test(core, test_from_triplets_random);
    tcase_add_test(core, test_from_triplets_mirror);
    tcase_add_test(core, test_csr_operator_laplace1d);
    tcase_add_test(core, test_csr_operator_laplace2d);
    tcase_add_test(core, test_csr_operator_owned);
    tcase_add_test(core, test_problem_laplace1d_eigs);
    tcase_add_test(core, test_problem_laplace2d_eigs);
    tcase_add_test(core, test_problem_diag);
    tcase_add_test(core, test_problem_help);
    tcase_add_test(args, test_err_banner);
    tcase_add_test(args, test_err_unsupported);
    tcase_add_test(args, test_err_size_line);
    tcase_add_test(args, test_err_entry_count);
    tcase_add_test(args, test_err_tokens);
    tcase_add_test(args, test_err_nonfinite);
    tcase_add_test(args, test_err_not_symmetric);
    tcase_add_test(args, test_err_io_and_args);
    tcase_add_test(args, test_err_read_array);
    tcase_add_test(args, test_err_write);
    tcase_add_test(args, test_err_write_midway_keeps_target);
    tcase_add_test(args, test_err_csr);
    tcase_add_test(args, test_err_problems);
    tcase_add_test(args, test_err_nomem);
    tcase_add_test(edge, test_edge_one_by_one);
    tcase_add_test(edge, test_edge_empty_rows);
    tcase_add_test(edge, test_edge_duplicates_summed);
    tcase_add_test(edge, test_edge_pattern_symmetric);
    tcase_add_test(edge, test_edge_crlf);
    tcase_add_test(edge, test_edge_long_comment_and_tolerance);
    tcase_add_test(edge, test_edge_laplace_degenerate_grids);
    suite_add_tcase(s, core);
    suite_add_tcase(s, args);
    suite_add_tcase(s, edge);
    return s;
}

KRY_CHECK_MAIN(mtx_suite)
