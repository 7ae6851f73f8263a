/* test_mlp.c — the MLP: loss against a naive reference forward pass, gradient against
   central differences of the loss, exact HVP against central differences of the
   gradient, linearity and symmetry, the dense Hessian (symmetry, LAPACK eigenvalues,
   null directions of the softmax, the closed-form softmax-regression Hessian), L2,
   chunking, the operators, training, and every error status. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kry/lanczos.h"
#include "kry/mlp.h"
#include "kry/ritz.h"
#include "kry/rng.h"
#include "kry/topk.h"
#include "testops.h"

/* Huge requests must fail with NULL under ASan too (the KRY_ENOMEM test). */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

/* ------------------------------------------------------------------ helpers */

typedef struct fixture {
    size_t ns;
    size_t sizes[8];
    kry_mlp_act act;
    double l2;
    size_t rows;
    kry_mlp *m;
    kry_mlp_ws *ws;
    size_t P;
    double *theta, *X;
    int *y;
} fixture;

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(p);
    return p;
}

static double *dvec(size_t n) { return xmalloc(n * sizeof(double)); }

/* Builds model, data and parameters: Glorot/He init from seed plus biases drawn
   N(0, 0.3^2) so that no unit starts symmetric or dead. */
static void fx_make(fixture *f, size_t ns, const size_t *sizes, kry_mlp_act act, double l2,
                    size_t rows, size_t max_rows, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    f->ns = ns;
    memcpy(f->sizes, sizes, ns * sizeof *sizes);
    f->act = act;
    f->l2 = l2;
    f->rows = rows;
    kry_mlp_params p = kry_mlp_params_default();
    p.act = act;
    p.l2 = l2;
    ck_assert_int_eq(kry_mlp_alloc(ns, sizes, &p, &f->m), KRY_OK);
    ck_assert_int_eq(kry_mlp_ws_alloc(f->m, max_rows ? max_rows : rows, &f->ws), KRY_OK);
    f->P = kry_mlp_n_params(f->m);
    f->theta = dvec(f->P);
    ck_assert_int_eq(kry_mlp_init_params(f->m, seed, f->theta), KRY_OK);
    size_t off = 0;
    for (size_t l = 1; l < ns; ++l) {
        off += sizes[l] * sizes[l - 1];
        for (size_t k = 0; k < sizes[l]; ++k)
            f->theta[off + k] = 0.3 * kry_rng_normal(seed + 7, KRY_RNG_STREAM_TEST, off + k);
        off += sizes[l];
    }
    f->X = dvec(rows * sizes[0]);
    f->y = xmalloc(rows * sizeof *f->y);
    for (size_t i = 0; i < rows * sizes[0]; ++i)
        f->X[i] = 1.37 * kry_rng_normal(seed + 11, KRY_RNG_STREAM_TEST, i);
    for (size_t r = 0; r < rows; ++r)
        f->y[r] = (int)(kry_rng_u64(seed + 13, KRY_RNG_STREAM_TEST, r) % sizes[ns - 1]);
}

static void fx_free(fixture *f)
{
    kry_mlp_ws_free(f->ws);
    kry_mlp_free(f->m);
    free(f->theta);
    free(f->X);
    free(f->y);
}

/* Naive reference forward pass written from the documented layout, independent of the
   library: returns the mean loss (with the L2 term); *min_abs_z (may be NULL) gets the
   smallest |pre-activation| of the hidden layers; logits (may be NULL, rows x C) and
   probs (may be NULL) get the outputs. */
static double ref_loss(const fixture *f, const double *theta, double *min_abs_z,
                       double *logits, double *probs)
{
    size_t ns = f->ns, L = ns - 1, C = f->sizes[L], maxw = 0;
    for (size_t i = 0; i < ns; ++i)
        maxw = f->sizes[i] > maxw ? f->sizes[i] : maxw;
    double *cur = dvec(maxw), *nxt = dvec(maxw);
    double total = 0.0, minz = INFINITY;
    for (size_t r = 0; r < f->rows; ++r) {
        for (size_t j = 0; j < f->sizes[0]; ++j)
            cur[j] = f->X[r * f->sizes[0] + j];
        size_t off = 0;
        for (size_t l = 1; l <= L; ++l) {
            size_t nin = f->sizes[l - 1], nout = f->sizes[l];
            const double *W = theta + off, *b = theta + off + nout * nin;
            for (size_t i = 0; i < nout; ++i) {
                double s = b[i];
                for (size_t j = 0; j < nin; ++j)
                    s += W[i * nin + j] * cur[j];
                if (l < L) {
                    minz = fmin(minz, fabs(s));
                    s = f->act == KRY_MLP_TANH ? tanh(s) : (s > 0 ? s : 0);
                }
                nxt[i] = s;
            }
            off += nout * (nin + 1);
            double *t = cur;
            cur = nxt;
            nxt = t;
        }
        double mx = -INFINITY, s = 0.0;
        for (size_t k = 0; k < C; ++k)
            mx = fmax(mx, cur[k]);
        for (size_t k = 0; k < C; ++k)
            s += exp(cur[k] - mx);
        total += mx + log(s) - cur[f->y[r]];
        for (size_t k = 0; k < C; ++k) {
            if (logits)
                logits[r * C + k] = cur[k];
            if (probs)
                probs[r * C + k] = exp(cur[k] - mx) / s;
        }
    }
    double pen = 0.0;
    for (size_t i = 0; i < f->P; ++i)
        pen += theta[i] * theta[i];
    free(cur);
    free(nxt);
    if (min_abs_z)
        *min_abs_z = minz;
    return total / (double)f->rows + 0.5 * f->l2 * pen;
}

static double loss_at(const fixture *f, const double *theta)
{
    double v = 0.0;
    ck_assert_int_eq(kry_mlp_loss(f->m, theta, f->X, f->y, f->rows, f->ws, &v), KRY_OK);
    return v;
}

static void grad_at(const fixture *f, const double *theta, double *g)
{
    ck_assert_int_eq(kry_mlp_loss_grad(f->m, theta, f->X, f->y, f->rows, f->ws, NULL, g),
                     KRY_OK);
}

static double max_abs(size_t n, const double *x)
{
    double m = 0.0;
    for (size_t i = 0; i < n; ++i)
        m = fmax(m, fabs(x[i]));
    return m;
}

static double max_abs_diff(size_t n, const double *x, const double *y)
{
    double m = 0.0;
    for (size_t i = 0; i < n; ++i)
        m = fmax(m, fabs(x[i] - y[i]));
    return m;
}

/* Fourth-order central difference of the loss along coordinate i. */
static double fd_grad_i(const fixture *f, double *t, size_t i, double h)
{
    double t0 = t[i];
    t[i] = t0 + h;
    double p1 = loss_at(f, t);
    t[i] = t0 - h;
    double m1 = loss_at(f, t);
    t[i] = t0 + 2 * h;
    double p2 = loss_at(f, t);
    t[i] = t0 - 2 * h;
    double m2 = loss_at(f, t);
    t[i] = t0;
    return (8.0 * (p1 - m1) - (p2 - m2)) / (12.0 * h);
}

/* Fourth-order central difference of the exact gradient along v: approx H v. */
static void fd_hvp(const fixture *f, const double *v, double h, double *out)
{
    size_t P = f->P;
    double *t = dvec(P), *g = dvec(P);
    double c[4] = {h, -h, 2 * h, -2 * h}, w[4] = {8.0, -8.0, -1.0, 1.0};
    memset(out, 0, P * sizeof *out);
    for (int s = 0; s < 4; ++s) {
        for (size_t i = 0; i < P; ++i)
            t[i] = f->theta[i] + c[s] * v[i];
        grad_at(f, t, g);
        for (size_t i = 0; i < P; ++i)
            out[i] += w[s] * g[i];
    }
    for (size_t i = 0; i < P; ++i)
        out[i] /= 12.0 * h;
    free(t);
    free(g);
}

static void rand_vec(size_t n, uint64_t seed, double *v)
{
    kry_rng_fill_normal(seed, KRY_RNG_STREAM_TEST, 0, n, v);
}

/* For ReLU: finds a seed whose pre-activations all stay at least margin from the kink. */
static void fx_make_relu(fixture *f, size_t ns, const size_t *sizes, double l2, size_t rows,
                         double margin)
{
    for (uint64_t seed = 100; seed < 200; ++seed) {
        fx_make(f, ns, sizes, KRY_MLP_RELU, l2, rows, 0, seed);
        double minz;
        ref_loss(f, f->theta, &minz, NULL, NULL);
        if (minz > margin)
            return;
        fx_free(f);
    }
    ck_abort_msg("no seed keeps the ReLU pre-activations away from 0");
}

static const size_t S543[] = {5, 4, 3};
static const size_t S8664[] = {8, 6, 6, 4};

/* -------------------------------------------------------------------- core */

START_TEST(test_loss_matches_reference)
{
    const size_t *shapes[2] = {S543, S8664};
    size_t nss[2] = {3, 4};
    for (int s = 0; s < 2; ++s)
        for (int a = 0; a < 2; ++a)
            for (int q = 0; q < 2; ++q) {
                fixture f;
                fx_make(&f, nss[s], shapes[s], a ? KRY_MLP_RELU : KRY_MLP_TANH,
                        q ? 0.0173 : 0.0, 9, 0, 21 + (uint64_t)(4 * s + 2 * a + q));
                double ref = ref_loss(&f, f.theta, NULL, NULL, NULL);
                ck_assert_close(loss_at(&f, f.theta), ref, 1e-13);
                double *g = dvec(f.P), lg = 0.0;
                ck_assert_int_eq(
                    kry_mlp_loss_grad(f.m, f.theta, f.X, f.y, f.rows, f.ws, &lg, g), KRY_OK);
                ck_assert_close(lg, ref, 1e-13);
                free(g);
                fx_free(&f);
            }
}
END_TEST

static void check_grad_fd(fixture *f, double h, double tol)
{
    double *g = dvec(f->P), *gf = dvec(f->P), *t = dvec(f->P);
    grad_at(f, f->theta, g);
    memcpy(t, f->theta, f->P * sizeof *t);
    for (size_t i = 0; i < f->P; ++i)
        gf[i] = fd_grad_i(f, t, i, h);
    double err = max_abs_diff(f->P, g, gf) / max_abs(f->P, gf);
    ck_assert_msg(err <= tol, "gradient vs FD: relative error %g", err);
    free(g);
    free(gf);
    free(t);
}

START_TEST(test_grad_vs_fd_tanh)
{
    fixture f;
    fx_make(&f, 3, S543, KRY_MLP_TANH, 0.0, 7, 0, 31);
    check_grad_fd(&f, 1e-3, 1e-9);
    fx_free(&f);
    fx_make(&f, 4, S8664, KRY_MLP_TANH, 0.0241, 11, 0, 32);
    check_grad_fd(&f, 1e-3, 1e-9);
    fx_free(&f);
}
END_TEST

START_TEST(test_grad_vs_fd_relu)
{
    fixture f;
    /* A step of 2h on one parameter moves a pre-activation by far less than 0.02. */
    fx_make_relu(&f, 3, S543, 0.0, 7, 0.02);
    check_grad_fd(&f, 1e-4, 1e-8);
    fx_free(&f);
    fx_make_relu(&f, 4, S8664, 0.0119, 6, 0.02);
    check_grad_fd(&f, 1e-4, 1e-8);
    fx_free(&f);
}
END_TEST

static void check_hvp_fd(fixture *f, double h, double tol, uint64_t seed)
{
    double *v = dvec(f->P), *hv = dvec(f->P), *hf = dvec(f->P);
    rand_vec(f->P, seed, v);
    double nv = 0.0;
    for (size_t i = 0; i < f->P; ++i)
        nv += v[i] * v[i];
    for (size_t i = 0; i < f->P; ++i)
        v[i] /= sqrt(nv);
    ck_assert_int_eq(kry_mlp_hvp(f->m, f->theta, f->X, f->y, f->rows, f->ws, v, hv), KRY_OK);
    fd_hvp(f, v, h, hf);
    double err = max_abs_diff(f->P, hv, hf) / max_abs(f->P, hf);
    ck_assert_msg(err <= tol, "HVP vs FD of the gradient: relative error %g", err);
    free(v);
    free(hv);
    free(hf);
}

START_TEST(test_hvp_vs_fd_gradient)
{
    fixture f;
    fx_make(&f, 3, S543, KRY_MLP_TANH, 0.0, 7, 0, 41);
    check_hvp_fd(&f, 1e-3, 1e-8, 1);
    fx_free(&f);
    fx_make(&f, 4, S8664, KRY_MLP_TANH, 0.0307, 10, 0, 42);
    check_hvp_fd(&f, 1e-3, 1e-8, 2);
    fx_free(&f);
    /* Along a unit v, 2h moves each pre-activation by at most 2h |x| sum |...|: small. */
    fx_make_relu(&f, 3, S543, 0.0, 7, 0.02);
    check_hvp_fd(&f, 1e-4, 1e-7, 3);
    fx_free(&f);
    fx_make_relu(&f, 4, S8664, 0.0, 6, 0.02);
    check_hvp_fd(&f, 1e-4, 1e-7, 4);
    fx_free(&f);
}
END_TEST

START_TEST(test_hvp_linear_and_symmetric)
{
    for (int a = 0; a < 2; ++a) {
        fixture f;
        fx_make(&f, 4, S8664, a ? KRY_MLP_RELU : KRY_MLP_TANH, 0.0113, 12, 0, 51);
        size_t P = f.P;
        double *u = dvec(P), *v = dvec(P), *w = dvec(P), *hu = dvec(P), *hv = dvec(P),
               *hw = dvec(P);
        rand_vec(P, 5, u);
        rand_vec(P, 6, v);
        double al = 2.385, be = -0.731;
        for (size_t i = 0; i < P; ++i)
            w[i] = al * u[i] + be * v[i];
        ck_assert_int_eq(kry_mlp_hvp(f.m, f.theta, f.X, f.y, f.rows, f.ws, u, hu), KRY_OK);
        ck_assert_int_eq(kry_mlp_hvp(f.m, f.theta, f.X, f.y, f.rows, f.ws, v, hv), KRY_OK);
        ck_assert_int_eq(kry_mlp_hvp(f.m, f.theta, f.X, f.y, f.rows, f.ws, w, hw), KRY_OK);
        double scale = 0.0, uhv = 0.0, vhu = 0.0;
        for (size_t i = 0; i < P; ++i) {
            scale = fmax(scale, fabs(al * hu[i]) + fabs(be * hv[i]));
            uhv += u[i] * hv[i];
            vhu += v[i] * hu[i];
        }
        for (size_t i = 0; i < P; ++i)
            ck_assert_double_le(fabs(hw[i] - al * hu[i] - be * hv[i]), 1e-13 * scale);
        double nu = 0, nv = 0, nhu = 0, nhv = 0;
        for (size_t i = 0; i < P; ++i) {
            nu += u[i] * u[i];
            nv += v[i] * v[i];
            nhu += hu[i] * hu[i];
            nhv += hv[i] * hv[i];
        }
        double rel = fabs(uhv - vhu) / (sqrt(nu * nhv) + sqrt(nv * nhu));
        ck_assert_msg(rel <= 1e-14, "u'Hv vs v'Hu: %g", rel);
        free(u);
        free(v);
        free(w);
        free(hu);
        free(hv);
        free(hw);
        fx_free(&f);
    }
}
END_TEST

/* Dense Hessian and symmetrised copy; returns max|H - H^T| / max|H|. */
static double dense_hessian(fixture *f, double *H, double *Hs)
{
    size_t P = f->P;
    ck_assert_int_eq(kry_mlp_dense_hessian(f->m, f->theta, f->X, f->y, f->rows, f->ws, H, P),
                     KRY_OK);
    double asym = 0.0;
    for (size_t i = 0; i < P; ++i)
        for (size_t j = 0; j < P; ++j) {
            asym = fmax(asym, fabs(H[i * P + j] - H[j * P + i]));
            if (Hs)
                Hs[i * P + j] = 0.5 * (H[i * P + j] + H[j * P + i]);
        }
    return asym / max_abs(P * P, H);
}

START_TEST(test_dense_hessian_symmetric_and_eigs)
{
    fixture f;
    fx_make(&f, 4, S8664, KRY_MLP_TANH, 0.0, 10, 0, 61);
    size_t P = f.P;
    ck_assert_uint_eq(P, 124);
    double *H = dvec(P * P), *Hs = dvec(P * P), *Hf = dvec(P * P), *e = dvec(P),
           *col = dvec(P), *w = dvec(P), *wf = dvec(P);
    double asym = dense_hessian(&f, H, Hs);
    ck_assert_msg(asym <= 1e-12, "max|H - H^T| / max|H| = %g", asym);
    /* Independent reference: the Hessian by FD of the exact gradient, column by column. */
    memset(e, 0, P * sizeof *e);
    for (size_t j = 0; j < P; ++j) {
        e[j] = 1.0;
        fd_hvp(&f, e, 1e-3, col);
        e[j] = 0.0;
        for (size_t i = 0; i < P; ++i)
            Hf[i * P + j] = col[i];
    }
    for (size_t i = 0; i < P; ++i)
        for (size_t j = i; j < P; ++j)
            Hf[i * P + j] = Hf[j * P + i] = 0.5 * (Hf[i * P + j] + Hf[j * P + i]);
    ck_assert_int_eq(test_dsyevr(P, Hs, w, NULL), 0);
    ck_assert_int_eq(test_dsyevr(P, Hf, wf, NULL), 0);
    double lmax = fmax(fabs(w[0]), fabs(w[P - 1]));
    for (size_t i = 0; i < P; ++i)
        ck_assert_double_le(fabs(w[i] - wf[i]), 1e-8 * lmax);
    /* The softmax ignores a shift common to all logits: the output-layer directions
       V_L = 1 u^T, c_L = s 1 span a null space of dimension n_{L-1} + 1 = 7. */
    size_t nzero = 0;
    for (size_t i = 0; i < P; ++i)
        nzero += fabs(w[i]) <= 1e-13 * lmax;
    ck_assert_uint_ge(nzero, 7);
    /* ...and the Hessian is indefinite away from a minimum. */
    ck_assert_double_lt(w[0], -1e-6 * lmax);
    free(H);
    free(Hs);
    free(Hf);
    free(e);
    free(col);
    free(w);
    free(wf);
    fx_free(&f);
}
END_TEST

START_TEST(test_softmax_shift_null_directions)
{
    fixture f;
    double lam = 0.0271;
    fx_make(&f, 3, S543, KRY_MLP_TANH, lam, 8, 0, 62);
    size_t P = f.P, wo, bo;
    ck_assert_int_eq(kry_mlp_layer_offsets(f.m, 2, &wo, &bo), KRY_OK);
    ck_assert_uint_eq(wo, 24);
    ck_assert_uint_eq(bo, 36);
    double *v = dvec(P), *hv = dvec(P);
    memset(v, 0, P * sizeof *v);
    double u[4] = {0.613, -1.27, 0.0911, 2.02}, s = -0.457;
    for (size_t c = 0; c < 3; ++c) {
        for (size_t j = 0; j < 4; ++j)
            v[wo + c * 4 + j] = u[j];
        v[bo + c] = s;
    }
    ck_assert_int_eq(kry_mlp_hvp(f.m, f.theta, f.X, f.y, f.rows, f.ws, v, hv), KRY_OK);
    for (size_t i = 0; i < P; ++i)
        ck_assert_double_le(fabs(hv[i] - lam * v[i]), 1e-15 * 4.0);
    free(v);
    free(hv);
    fx_free(&f);
}
END_TEST

START_TEST(test_l2_adds_lambda_identity)
{
    fixture f0, f1;
    double lam = 0.0377;
    fx_make(&f0, 4, S8664, KRY_MLP_TANH, 0.0, 9, 0, 71);
    fx_make(&f1, 4, S8664, KRY_MLP_TANH, lam, 9, 0, 71);
    size_t P = f0.P;
    double *H0 = dvec(P * P), *H1 = dvec(P * P), *g0 = dvec(P), *g1 = dvec(P);
    dense_hessian(&f0, H0, NULL);
    dense_hessian(&f1, H1, NULL);
    double hmax = max_abs(P * P, H0);
    for (size_t i = 0; i < P; ++i)
        for (size_t j = 0; j < P; ++j)
            ck_assert_double_le(fabs(H1[i * P + j] - H0[i * P + j] - (i == j ? lam : 0.0)),
                                1e-15 * (hmax + lam));
    double l0, l1, pen = 0.0;
    ck_assert_int_eq(kry_mlp_loss_grad(f0.m, f0.theta, f0.X, f0.y, 9, f0.ws, &l0, g0), KRY_OK);
    ck_assert_int_eq(kry_mlp_loss_grad(f1.m, f1.theta, f1.X, f1.y, 9, f1.ws, &l1, g1), KRY_OK);
    for (size_t i = 0; i < P; ++i) {
        pen += f0.theta[i] * f0.theta[i];
        ck_assert_double_le(fabs(g1[i] - g0[i] - lam * f0.theta[i]), 1e-15);
    }
    ck_assert_close(l1 - l0, 0.5 * lam * pen, 1e-13);
    free(H0);
    free(H1);
    free(g0);
    free(g1);
    fx_free(&f0);
    fx_free(&f1);
}
END_TEST

START_TEST(test_init_deterministic_and_scaled)
{
    const size_t sizes[] = {64, 16, 10};
    for (int a = 0; a < 2; ++a) {
        kry_mlp_params p = kry_mlp_params_default();
        p.act = a ? KRY_MLP_RELU : KRY_MLP_TANH;
        kry_mlp *m;
        ck_assert_int_eq(kry_mlp_alloc(3, sizes, &p, &m), KRY_OK);
        size_t P = kry_mlp_n_params(m);
        ck_assert_uint_eq(P, 16 * 65 + 10 * 17);
        double *t1 = dvec(P), *t2 = dvec(P), *t3 = dvec(P);
        ck_assert_int_eq(kry_mlp_init_params(m, 2024, t1), KRY_OK);
        ck_assert_int_eq(kry_mlp_init_params(m, 2024, t2), KRY_OK);
        ck_assert_int_eq(kry_mlp_init_params(m, 2025, t3), KRY_OK);
        ck_assert_mem_eq(t1, t2, P * sizeof *t1);
        size_t same = 0;
        for (size_t i = 0; i < P; ++i)
            same += t1[i] == t3[i];
        ck_assert_uint_eq(same, 16 + 10); /* the zero biases only */
        /* Entry i is N(0, 1) * sd from (seed, stream, i). */
        double sd1 = a ? sqrt(2.0 / 64) : sqrt(2.0 / 80);
        ck_assert_double_eq(t1[5], sd1 * kry_rng_normal(2024, KRY_MLP_RNG_STREAM_INIT, 5));
        double ss = 0.0;
        for (size_t i = 0; i < 1024; ++i)
            ss += t1[i] * t1[i];
        ck_assert_double_le(fabs(sqrt(ss / 1024) / sd1 - 1.0), 0.1);
        size_t bo;
        ck_assert_int_eq(kry_mlp_layer_offsets(m, 1, NULL, &bo), KRY_OK);
        for (size_t i = bo; i < bo + 16; ++i)
            ck_assert_double_eq(t1[i], 0.0);
        ss = 0.0; /* output layer: Glorot for both activations */
        for (size_t i = 1040; i < 1040 + 160; ++i)
            ss += t1[i] * t1[i];
        ck_assert_double_le(fabs(sqrt(ss / 160) / sqrt(2.0 / 26) - 1.0), 0.25);
        free(t1);
        free(t2);
        free(t3);
        kry_mlp_free(m);
    }
}
END_TEST

START_TEST(test_accessors)
{
    kry_mlp_params p = kry_mlp_params_default();
    ck_assert_int_eq(p.act, KRY_MLP_TANH);
    ck_assert_double_eq(p.l2, 0.0);
    p.act = KRY_MLP_RELU;
    p.l2 = 0.125;
    kry_mlp *m;
    ck_assert_int_eq(kry_mlp_alloc(4, S8664, &p, &m), KRY_OK);
    ck_assert_uint_eq(kry_mlp_n_layers(m), 3);
    ck_assert_uint_eq(kry_mlp_size(m, 0), 8);
    ck_assert_uint_eq(kry_mlp_size(m, 3), 4);
    ck_assert_uint_eq(kry_mlp_size(m, 4), 0);
    ck_assert_int_eq(kry_mlp_activation(m), KRY_MLP_RELU);
    ck_assert_double_eq(kry_mlp_l2(m), 0.125);
    size_t wo, bo;
    ck_assert_int_eq(kry_mlp_layer_offsets(m, 3, &wo, &bo), KRY_OK);
    ck_assert_uint_eq(wo, 54 + 42);
    ck_assert_uint_eq(bo, 54 + 42 + 24);
    kry_mlp_ws *ws;
    ck_assert_int_eq(kry_mlp_ws_alloc(m, 17, &ws), KRY_OK);
    ck_assert_uint_eq(kry_mlp_ws_max_rows(ws), 17);
    ck_assert_uint_gt(kry_mlp_ws_bytes(m, 17), 17 * (2 * 16 + 4 * 6) * sizeof(double));
    ck_assert_uint_eq(kry_mlp_ws_bytes(m, 0), 0);
    ck_assert_uint_eq(kry_mlp_ws_bytes(NULL, 3), 0);
    ck_assert_uint_eq(kry_mlp_n_params(NULL), 0);
    ck_assert_uint_eq(kry_mlp_n_layers(NULL), 0);
    ck_assert_uint_eq(kry_mlp_ws_max_rows(NULL), 0);
    ck_assert_int_eq(kry_mlp_activation(NULL), KRY_MLP_TANH);
    ck_assert_double_eq(kry_mlp_l2(NULL), 0.0);
    kry_mlp_ws_free(ws);
    kry_mlp_free(m);
    kry_mlp_free(NULL);
    kry_mlp_ws_free(NULL);
    kry_mlp_trainer_free(NULL);
}
END_TEST

START_TEST(test_chunking_matches_one_chunk)
{
    fixture f;
    fx_make(&f, 4, S8664, KRY_MLP_TANH, 0.0093, 13, 0, 81);
    size_t P = f.P;
    double *g = dvec(P), *gc = dvec(P), *v = dvec(P), *hv = dvec(P), *hc = dvec(P);
    rand_vec(P, 9, v);
    double l, lc, acc, accc;
    ck_assert_int_eq(kry_mlp_loss_grad(f.m, f.theta, f.X, f.y, 13, f.ws, &l, g), KRY_OK);
    ck_assert_int_eq(kry_mlp_hvp(f.m, f.theta, f.X, f.y, 13, f.ws, v, hv), KRY_OK);
    ck_assert_int_eq(kry_mlp_accuracy(f.m, f.theta, f.X, f.y, 13, f.ws, &acc), KRY_OK);
    size_t chunks[3] = {1, 4, 5};
    for (int k = 0; k < 3; ++k) {
        kry_mlp_ws *ws;
        ck_assert_int_eq(kry_mlp_ws_alloc(f.m, chunks[k], &ws), KRY_OK);
        ck_assert_int_eq(kry_mlp_loss_grad(f.m, f.theta, f.X, f.y, 13, ws, &lc, gc), KRY_OK);
        ck_assert_int_eq(kry_mlp_hvp(f.m, f.theta, f.X, f.y, 13, ws, v, hc), KRY_OK);
        ck_assert_int_eq(kry_mlp_accuracy(f.m, f.theta, f.X, f.y, 13, ws, &accc), KRY_OK);
        ck_assert_close(lc, l, 1e-14);
        ck_assert_double_le(max_abs_diff(P, g, gc), 1e-14 * max_abs(P, g));
        ck_assert_double_le(max_abs_diff(P, hv, hc), 1e-14 * max_abs(P, hv));
        ck_assert_double_eq(acc, accc);
        kry_mlp_ws_free(ws);
    }
    free(g);
    free(gc);
    free(v);
    free(hv);
    free(hc);
    fx_free(&f);
}
END_TEST

START_TEST(test_hvp_operator)
{
    fixture f;
    fx_make(&f, 3, S543, KRY_MLP_TANH, 0.011, 8, 0, 91);
    size_t P = f.P;
    kry_operator op;
    ck_assert_int_eq(kry_operator_mlp_hvp(f.m, f.theta, f.X, f.y, 8, f.ws, &op), KRY_OK);
    ck_assert_uint_eq(op.n, P);
    double *x = dvec(P), *y1 = dvec(P), *y2 = dvec(P), *z = dvec(P), *hz = dvec(P);
    rand_vec(P, 10, x);
    rand_vec(P, 11, z);
    ck_assert_int_eq(kry_operator_apply(&op, x, y1), KRY_OK);
    ck_assert_int_eq(kry_mlp_hvp(f.m, f.theta, f.X, f.y, 8, f.ws, x, y2), KRY_OK);
    ck_assert_mem_eq(y1, y2, P * sizeof *y1);
    ck_assert_int_eq(kry_operator_apply(&op, z, hz), KRY_OK);
    double xhz = 0, zhx = 0;
    for (size_t i = 0; i < P; ++i) {
        xhz += x[i] * hz[i];
        zhx += z[i] * y1[i];
    }
    ck_assert_double_le(fabs(xhz - zhx), 1e-13 * fabs(xhz) + 1e-15);
    size_t count;
    kry_status last;
    ck_assert_int_eq(kry_mlp_hvp_count(&op, &count), KRY_OK);
    ck_assert_uint_eq(count, 2);
    /* theta is referenced: changing it changes the next product. */
    f.theta[3] += 0.5;
    ck_assert_int_eq(kry_operator_apply(&op, x, y1), KRY_OK);
    ck_assert_int_eq(kry_mlp_hvp(f.m, f.theta, f.X, f.y, 8, f.ws, x, y2), KRY_OK);
    ck_assert_mem_eq(y1, y2, P * sizeof *y1);
    /* A failing product: ECALLBACK at the operator level, the reason kept. */
    x[2] = NAN;
    ck_assert_int_eq(kry_operator_apply(&op, x, y1), KRY_ECALLBACK);
    ck_assert_int_eq(kry_mlp_hvp_last_status(&op, &last), KRY_OK);
    ck_assert_int_eq(last, KRY_ENONFINITE);
    ck_assert_int_eq(kry_mlp_hvp_count(&op, &count), KRY_OK);
    ck_assert_uint_eq(count, 3);
    kry_operator_destroy(&op);
    ck_assert_ptr_null(op.ctx);
    free(x);
    free(y1);
    free(y2);
    free(z);
    free(hz);
    fx_free(&f);
}
END_TEST

START_TEST(test_grad_callback)
{
    fixture f;
    fx_make(&f, 4, S8664, KRY_MLP_TANH, 0.0, 9, 0, 101);
    size_t P = f.P;
    kry_mlp_batch b;
    ck_assert_int_eq(kry_mlp_batch_init(&b, f.m, f.X, f.y, 9, f.ws), KRY_OK);
    kry_grad_fn *gfn = kry_mlp_grad_fn;
    double *g = dvec(P), *g2 = dvec(P), l;
    ck_assert_int_eq(gfn(&b, f.theta, g), 0);
    ck_assert_int_eq(kry_mlp_loss_grad(f.m, f.theta, f.X, f.y, 9, f.ws, &l, g2), KRY_OK);
    ck_assert_mem_eq(g, g2, P * sizeof *g);
    ck_assert_double_eq(b.loss, l);
    ck_assert_uint_eq(b.n_grads, 1);
    ck_assert_int_eq(b.status, KRY_OK);
    /* Central differences of the callback along v = exact HVP (what FD-HVP computes). */
    double *v = dvec(P), *t = dvec(P), *gp = dvec(P), *hv = dvec(P);
    rand_vec(P, 12, v);
    double h = 1e-5;
    for (size_t i = 0; i < P; ++i)
        t[i] = f.theta[i] + h * v[i];
    ck_assert_int_eq(gfn(&b, t, gp), 0);
    for (size_t i = 0; i < P; ++i)
        t[i] = f.theta[i] - h * v[i];
    ck_assert_int_eq(gfn(&b, t, g), 0);
    for (size_t i = 0; i < P; ++i)
        gp[i] = (gp[i] - g[i]) / (2 * h);
    ck_assert_int_eq(kry_mlp_hvp(f.m, f.theta, f.X, f.y, 9, f.ws, v, hv), KRY_OK);
    ck_assert_double_le(max_abs_diff(P, gp, hv), 1e-7 * max_abs(P, hv));
    ck_assert_uint_eq(b.n_grads, 3);
    /* Failure: nonzero return, status recorded, counter unchanged. */
    t[0] = INFINITY;
    ck_assert_int_ne(gfn(&b, t, g), 0);
    ck_assert_int_eq(b.status, KRY_ENONFINITE);
    ck_assert_uint_eq(b.n_grads, 3);
    ck_assert_int_ne(gfn(NULL, f.theta, g), 0);
    kry_mlp_batch z;
    memset(&z, 0, sizeof z);
    ck_assert_int_ne(gfn(&z, f.theta, g), 0);
    ck_assert_int_eq(z.status, KRY_EINVAL);
    ck_assert_int_ne(gfn(&b, f.theta, NULL), 0);
    ck_assert_int_eq(b.status, KRY_EINVAL);
    free(g);
    free(g2);
    free(v);
    free(t);
    free(gp);
    free(hv);
    fx_free(&f);
}
END_TEST

START_TEST(test_predict_accuracy)
{
    fixture f;
    fx_make(&f, 4, S8664, KRY_MLP_RELU, 0.0, 23, 5, 111);
    double *logits = dvec(23 * 4);
    ref_loss(&f, f.theta, NULL, logits, NULL);
    int lab[23];
    ck_assert_int_eq(kry_mlp_predict(f.m, f.theta, f.X, 23, f.ws, lab), KRY_OK);
    size_t hits = 0;
    for (size_t r = 0; r < 23; ++r) {
        int best = 0;
        for (int k = 1; k < 4; ++k)
            if (logits[r * 4 + (size_t)k] > logits[r * 4 + (size_t)best])
                best = k;
        ck_assert_int_eq(lab[r], best);
        hits += best == f.y[r];
    }
    double acc;
    ck_assert_int_eq(kry_mlp_accuracy(f.m, f.theta, f.X, f.y, 23, f.ws, &acc), KRY_OK);
    ck_assert_double_eq(acc, (double)hits / 23.0);
    free(logits);
    fx_free(&f);
}
END_TEST

/* Well-separated synthetic classes: class k has mean 2.1 e_k in 5 dimensions. */
static void separable_data(size_t rows, double *X, int *y)
{
    for (size_t r = 0; r < rows; ++r) {
        y[r] = (int)(r % 3);
        for (size_t j = 0; j < 5; ++j)
            X[r * 5 + j] = 0.6 * kry_rng_normal(5, KRY_RNG_STREAM_TEST, r * 5 + j) +
                           (j == (size_t)y[r] ? 2.1 : 0.0);
    }
}

START_TEST(test_sgd_and_adam_updates)
{
    fixture f;
    fx_make(&f, 3, S543, KRY_MLP_TANH, 0.0, 10, 0, 121);
    size_t P = f.P;
    double *g = dvec(P), *t0 = dvec(P), l0, lstep;
    memcpy(t0, f.theta, P * sizeof *t0);
    ck_assert_int_eq(kry_mlp_loss_grad(f.m, f.theta, f.X, f.y, 10, f.ws, &l0, g), KRY_OK);
    kry_mlp_train_params tp = kry_mlp_train_params_default();
    ck_assert_int_eq(tp.method, KRY_MLP_SGD);
    ck_assert_double_eq(tp.lr, 0.1);
    ck_assert_uint_eq(tp.batch, 64); /* >= rows: full batch here */
    tp.lr = 0.0731;
    kry_mlp_trainer *tr;
    ck_assert_int_eq(kry_mlp_trainer_alloc(f.m, &tp, &tr), KRY_OK);
    ck_assert_int_eq(kry_mlp_trainer_step(tr, f.theta, f.X, f.y, 10, f.ws, &lstep), KRY_OK);
    ck_assert_double_eq(lstep, l0);
    ck_assert_uint_eq(kry_mlp_trainer_steps(tr), 1);
    for (size_t i = 0; i < P; ++i)
        ck_assert_double_le(fabs(f.theta[i] - (t0[i] - 0.0731 * g[i])),
                            4e-16 * fmax(1.0, fabs(t0[i])));
    kry_mlp_trainer_free(tr);
    /* Adam's first step: bias-corrected moments are g and g^2, so the step is
       lr g / (|g| + eps). */
    tp.method = KRY_MLP_ADAM;
    tp.lr = 0.00313;
    ck_assert_int_eq(kry_mlp_trainer_alloc(f.m, &tp, &tr), KRY_OK);
    memcpy(f.theta, t0, P * sizeof *t0);
    ck_assert_int_eq(kry_mlp_trainer_update(tr, g, f.theta), KRY_OK);
    for (size_t i = 0; i < P; ++i)
        ck_assert_double_le(fabs(f.theta[i] - (t0[i] - 0.00313 * g[i] / (fabs(g[i]) + 1e-8))),
                            1e-17 + 1e-15 * fabs(t0[i]));
    kry_mlp_trainer_free(tr);
    free(g);
    free(t0);
    fx_free(&f);
}
END_TEST

START_TEST(test_minibatch_training_decreases_loss)
{
    size_t rows = 120;
    double *X = dvec(rows * 5);
    int *y = xmalloc(rows * sizeof *y);
    separable_data(rows, X, y);
    kry_mlp *m;
    kry_mlp_ws *ws;
    ck_assert_int_eq(kry_mlp_alloc(3, S543, NULL, &m), KRY_OK);
    ck_assert_int_eq(kry_mlp_ws_alloc(m, 64, &ws), KRY_OK);
    size_t P = kry_mlp_n_params(m);
    double *t1 = dvec(P), *t2 = dvec(P);
    for (int method = 0; method < 2; ++method) {
        kry_mlp_train_params tp = kry_mlp_train_params_default();
        tp.method = (kry_mlp_optimizer)method;
        tp.lr = method ? 0.02 : 0.3;
        tp.batch = 16;
        tp.seed = 77;
        double before, after, acc, after2;
        ck_assert_int_eq(kry_mlp_init_params(m, 3, t1), KRY_OK);
        ck_assert_int_eq(kry_mlp_loss(m, t1, X, y, rows, ws, &before), KRY_OK);
        for (int run = 0; run < 2; ++run) {
            double *t = run ? t2 : t1;
            if (run)
                ck_assert_int_eq(kry_mlp_init_params(m, 3, t2), KRY_OK);
            kry_mlp_trainer *tr;
            ck_assert_int_eq(kry_mlp_trainer_alloc(m, &tp, &tr), KRY_OK);
            for (int s = 0; s < 150; ++s)
                ck_assert_int_eq(kry_mlp_trainer_step(tr, t, X, y, rows, ws, NULL), KRY_OK);
            kry_mlp_trainer_free(tr);
        }
        ck_assert_mem_eq(t1, t2, P * sizeof *t1); /* deterministic from the seed */
        ck_assert_int_eq(kry_mlp_loss(m, t1, X, y, rows, ws, &after), KRY_OK);
        ck_assert_int_eq(kry_mlp_accuracy(m, t1, X, y, rows, ws, &acc), KRY_OK);
        ck_assert_double_lt(after, 0.3 * before);
        ck_assert_double_ge(acc, 0.95);
        /* Another seed gives another path. */
        tp.seed = 78;
        kry_mlp_trainer *tr;
        ck_assert_int_eq(kry_mlp_init_params(m, 3, t2), KRY_OK);
        ck_assert_int_eq(kry_mlp_trainer_alloc(m, &tp, &tr), KRY_OK);
        for (int s = 0; s < 150; ++s)
            ck_assert_int_eq(kry_mlp_trainer_step(tr, t2, X, y, rows, ws, NULL), KRY_OK);
        kry_mlp_trainer_free(tr);
        ck_assert_int_eq(kry_mlp_loss(m, t2, X, y, rows, ws, &after2), KRY_OK);
        ck_assert_double_ne(after2, after);
    }
    free(t1);
    free(t2);
    free(X);
    free(y);
    kry_mlp_ws_free(ws);
    kry_mlp_free(m);
}
END_TEST

/* -------------------------------------------------------------------- args */

START_TEST(test_args_alloc)
{
    kry_mlp *m = (kry_mlp *)&m;
    kry_mlp_params p = kry_mlp_params_default();
    size_t zero[] = {5, 0, 3}, big[] = {5, (size_t)INT_MAX + 1, 3}, wide[] = {65536, 65536};
    ck_assert_int_eq(kry_mlp_alloc(3, S543, NULL, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_alloc(3, NULL, NULL, &m), KRY_EINVAL);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(kry_mlp_alloc(1, S543, NULL, &m), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_alloc(3, zero, NULL, &m), KRY_EINVAL);
    p.act = KRY_MLP_ACT_COUNT;
    ck_assert_int_eq(kry_mlp_alloc(3, S543, &p, &m), KRY_EINVAL);
    p = kry_mlp_params_default();
    p.l2 = -0.01;
    ck_assert_int_eq(kry_mlp_alloc(3, S543, &p, &m), KRY_EINVAL);
    p.l2 = NAN;
    ck_assert_int_eq(kry_mlp_alloc(3, S543, &p, &m), KRY_ENONFINITE);
    p.l2 = INFINITY;
    ck_assert_int_eq(kry_mlp_alloc(3, S543, &p, &m), KRY_ENONFINITE);
    ck_assert_int_eq(kry_mlp_alloc(3, big, NULL, &m), KRY_ERANGE);
    ck_assert_int_eq(kry_mlp_alloc(2, wide, NULL, &m), KRY_ERANGE); /* P > INT_MAX */
    ck_assert_ptr_null(m);

    ck_assert_int_eq(kry_mlp_alloc(3, S543, NULL, &m), KRY_OK);
    kry_mlp_ws *ws = (kry_mlp_ws *)&ws;
    ck_assert_int_eq(kry_mlp_ws_alloc(m, 4, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_ws_alloc(NULL, 4, &ws), KRY_EINVAL);
    ck_assert_ptr_null(ws);
    ck_assert_int_eq(kry_mlp_ws_alloc(m, 0, &ws), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_ws_alloc(m, (size_t)INT_MAX + 1, &ws), KRY_ERANGE);
    ck_assert_ptr_null(ws);
    double th[3];
    ck_assert_int_eq(kry_mlp_init_params(NULL, 1, th), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_init_params(m, 1, NULL), KRY_EINVAL);
    size_t off;
    ck_assert_int_eq(kry_mlp_layer_offsets(m, 0, &off, &off), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_layer_offsets(m, 3, &off, &off), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_layer_offsets(NULL, 1, &off, &off), KRY_EINVAL);
    kry_mlp_free(m);

    /* A model whose workspace cannot be allocated: about 7e18 bytes. */
    size_t huge[] = {1, (size_t)1 << 29};
    ck_assert_int_eq(kry_mlp_alloc(2, huge, NULL, &m), KRY_OK);
    ck_assert_int_eq(kry_mlp_ws_alloc(m, (size_t)1 << 28, &ws), KRY_ENOMEM);
    ck_assert_ptr_null(ws);
    ck_assert_int_eq(kry_mlp_ws_alloc(m, (size_t)1 << 30, &ws), KRY_ERANGE); /* overflow */
    ck_assert_uint_eq(kry_mlp_ws_bytes(m, (size_t)1 << 30), 0);
    kry_mlp_free(m);
}
END_TEST

START_TEST(test_args_compute)
{
    fixture f, g;
    fx_make(&f, 3, S543, KRY_MLP_TANH, 0.0, 6, 0, 131);
    fx_make(&g, 4, S8664, KRY_MLP_TANH, 0.0, 6, 0, 132);
    size_t P = f.P;
    double *v = dvec(P), *hv = dvec(P), *gr = dvec(P), l, *H = dvec(P * P), acc;
    int lab[6];
    rand_vec(P, 13, v);
    const kry_mlp *M = f.m;
    const double *T = f.theta, *X = f.X;
    const int *Y = f.y;
    kry_mlp_ws *W = f.ws;

    /* NULL pointers and rows == 0. */
    ck_assert_int_eq(kry_mlp_loss(NULL, T, X, Y, 6, W, &l), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_loss(M, NULL, X, Y, 6, W, &l), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_loss(M, T, NULL, Y, 6, W, &l), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_loss(M, T, X, NULL, 6, W, &l), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_loss(M, T, X, Y, 6, NULL, &l), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_loss(M, T, X, Y, 6, W, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_loss(M, T, X, Y, 0, W, &l), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_loss_grad(M, T, X, Y, 6, W, &l, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_loss_grad(M, NULL, X, Y, 6, W, &l, gr), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_hvp(M, T, X, Y, 6, W, NULL, hv), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_hvp(M, T, X, Y, 6, W, v, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_hvp(M, T, X, Y, 0, W, v, hv), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_dense_hessian(M, T, X, Y, 6, W, NULL, P), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_dense_hessian(M, T, X, Y, 6, W, H, P - 1), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_dense_hessian(M, T, X, Y, 6, W, H, SIZE_MAX / P + 1),
                     KRY_ERANGE);
    ck_assert_int_eq(kry_mlp_predict(M, T, X, 6, W, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_predict(M, T, NULL, 6, W, lab), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_accuracy(M, T, X, Y, 6, W, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_accuracy(M, T, X, NULL, 6, W, &acc), KRY_EINVAL);

    /* Labels out of range. */
    int bad[6];
    memcpy(bad, Y, sizeof bad);
    bad[4] = 3;
    ck_assert_int_eq(kry_mlp_loss(M, T, X, bad, 6, W, &l), KRY_EINVAL);
    bad[4] = -1;
    ck_assert_int_eq(kry_mlp_hvp(M, T, X, bad, 6, W, v, hv), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_accuracy(M, T, X, bad, 6, W, &acc), KRY_EINVAL);

    /* Workspace of another model; rows * n_0 overflowing. */
    ck_assert_int_eq(kry_mlp_loss(M, T, X, Y, 6, g.ws, &l), KRY_EDIM);
    ck_assert_int_eq(kry_mlp_loss_grad(M, T, X, Y, 6, g.ws, &l, gr), KRY_EDIM);
    ck_assert_int_eq(kry_mlp_hvp(M, T, X, Y, 6, g.ws, v, hv), KRY_EDIM);
    ck_assert_int_eq(kry_mlp_predict(M, T, X, 6, g.ws, lab), KRY_EDIM);
    ck_assert_int_eq(kry_mlp_loss(M, T, X, Y, SIZE_MAX / 2, W, &l), KRY_ERANGE);

    /* Non-finite inputs. */
    double keep = f.X[7];
    f.X[7] = NAN;
    ck_assert_int_eq(kry_mlp_loss(M, T, X, Y, 6, W, &l), KRY_ENONFINITE);
    f.X[7] = -INFINITY;
    ck_assert_int_eq(kry_mlp_predict(M, T, X, 6, W, lab), KRY_ENONFINITE);
    f.X[7] = keep;
    keep = f.theta[11];
    f.theta[11] = INFINITY;
    ck_assert_int_eq(kry_mlp_loss_grad(M, T, X, Y, 6, W, &l, gr), KRY_ENONFINITE);
    ck_assert_int_eq(kry_mlp_dense_hessian(M, T, X, Y, 6, W, H, P), KRY_ENONFINITE);
    f.theta[11] = keep;
    v[3] = NAN;
    ck_assert_int_eq(kry_mlp_hvp(M, T, X, Y, 6, W, v, hv), KRY_ENONFINITE);
    v[3] = 0.5;
    /* Finite inputs whose forward pass overflows (ReLU with enormous weights). */
    {
        fixture r;
        fx_make(&r, 3, S543, KRY_MLP_RELU, 0.0, 6, 0, 133);
        for (size_t i = 0; i < r.P; ++i)
            r.theta[i] = 1e200;
        ck_assert_int_eq(kry_mlp_loss(r.m, r.theta, r.X, r.y, 6, r.ws, &l), KRY_ENONFINITE);
        ck_assert_int_eq(kry_mlp_loss_grad(r.m, r.theta, r.X, r.y, 6, r.ws, &l, gr),
                         KRY_ENONFINITE);
        ck_assert_int_eq(kry_mlp_hvp(r.m, r.theta, r.X, r.y, 6, r.ws, v, hv), KRY_ENONFINITE);
        ck_assert_int_eq(kry_mlp_dense_hessian(r.m, r.theta, r.X, r.y, 6, r.ws, H, P),
                         KRY_ENONFINITE);
        ck_assert_int_eq(kry_mlp_accuracy(r.m, r.theta, r.X, r.y, 6, r.ws, &acc),
                         KRY_ENONFINITE);
        fx_free(&r);
    }
    free(v);
    free(hv);
    free(gr);
    free(H);
    fx_free(&f);
    fx_free(&g);
}
END_TEST

static int dummy_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    (void)ctx;
    y[0] = x[0];
    return 0;
}

START_TEST(test_args_operators)
{
    fixture f, g;
    fx_make(&f, 3, S543, KRY_MLP_TANH, 0.0, 6, 0, 141);
    fx_make(&g, 4, S8664, KRY_MLP_TANH, 0.0, 6, 0, 142);
    kry_operator op;
    ck_assert_int_eq(kry_operator_mlp_hvp(f.m, f.theta, f.X, f.y, 6, f.ws, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_mlp_hvp(f.m, NULL, f.X, f.y, 6, f.ws, &op), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_mlp_hvp(f.m, f.theta, f.X, f.y, 0, f.ws, &op), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_mlp_hvp(f.m, f.theta, f.X, f.y, 6, g.ws, &op), KRY_EDIM);
    f.theta[0] = NAN;
    ck_assert_int_eq(kry_operator_mlp_hvp(f.m, f.theta, f.X, f.y, 6, f.ws, &op),
                     KRY_ENONFINITE);
    f.theta[0] = 0.25;
    ck_assert_msg(op.matvec == NULL, "op zeroed on failure");
    kry_operator other;
    ck_assert_int_eq(kry_operator_callback(1, dummy_matvec, NULL, &other), KRY_OK);
    size_t count;
    kry_status last;
    ck_assert_int_eq(kry_mlp_hvp_count(&other, &count), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_hvp_count(NULL, &count), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_hvp_last_status(&other, &last), KRY_EINVAL);
    ck_assert_int_eq(kry_operator_mlp_hvp(f.m, f.theta, f.X, f.y, 6, f.ws, &op), KRY_OK);
    ck_assert_int_eq(kry_mlp_hvp_count(&op, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_hvp_last_status(&op, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_hvp_last_status(&op, &last), KRY_OK);
    ck_assert_int_eq(last, KRY_OK);
    kry_operator_destroy(&op);

    kry_mlp_batch b;
    int bad[6];
    memcpy(bad, f.y, sizeof bad);
    bad[0] = 7;
    ck_assert_int_eq(kry_mlp_batch_init(NULL, f.m, f.X, f.y, 6, f.ws), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_batch_init(&b, f.m, f.X, bad, 6, f.ws), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_batch_init(&b, f.m, f.X, f.y, 6, g.ws), KRY_EDIM);
    f.X[1] = INFINITY;
    ck_assert_int_eq(kry_mlp_batch_init(&b, f.m, f.X, f.y, 6, f.ws), KRY_ENONFINITE);
    fx_free(&f);
    fx_free(&g);
}
END_TEST

START_TEST(test_args_trainer)
{
    fixture f, g;
    fx_make(&f, 3, S543, KRY_MLP_TANH, 0.0, 6, 0, 151);
    fx_make(&g, 4, S8664, KRY_MLP_TANH, 0.0, 6, 0, 152);
    kry_mlp_trainer *tr = (kry_mlp_trainer *)&tr;
    kry_mlp_train_params p = kry_mlp_train_params_default();
    ck_assert_int_eq(kry_mlp_trainer_alloc(f.m, &p, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_trainer_alloc(NULL, &p, &tr), KRY_EINVAL);
    ck_assert_ptr_null(tr);
    p.lr = 0.0;
    ck_assert_int_eq(kry_mlp_trainer_alloc(f.m, &p, &tr), KRY_EINVAL);
    p.lr = NAN;
    ck_assert_int_eq(kry_mlp_trainer_alloc(f.m, &p, &tr), KRY_ENONFINITE);
    p = kry_mlp_train_params_default();
    p.beta1 = 1.0;
    ck_assert_int_eq(kry_mlp_trainer_alloc(f.m, &p, &tr), KRY_EINVAL);
    p = kry_mlp_train_params_default();
    p.beta2 = -0.1;
    ck_assert_int_eq(kry_mlp_trainer_alloc(f.m, &p, &tr), KRY_EINVAL);
    p = kry_mlp_train_params_default();
    p.eps = 0.0;
    ck_assert_int_eq(kry_mlp_trainer_alloc(f.m, &p, &tr), KRY_EINVAL);
    p = kry_mlp_train_params_default();
    p.method = KRY_MLP_OPTIMIZER_COUNT;
    ck_assert_int_eq(kry_mlp_trainer_alloc(f.m, &p, &tr), KRY_EINVAL);
    p = kry_mlp_train_params_default();
    p.batch = (size_t)INT_MAX + 1;
    ck_assert_int_eq(kry_mlp_trainer_alloc(f.m, &p, &tr), KRY_ERANGE);
    ck_assert_ptr_null(tr);

    ck_assert_int_eq(kry_mlp_trainer_alloc(f.m, NULL, &tr), KRY_OK);
    double *gr = dvec(f.P);
    memset(gr, 0, f.P * sizeof *gr);
    ck_assert_int_eq(kry_mlp_trainer_update(NULL, gr, f.theta), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_trainer_update(tr, NULL, f.theta), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_trainer_update(tr, gr, NULL), KRY_EINVAL);
    gr[2] = NAN;
    ck_assert_int_eq(kry_mlp_trainer_update(tr, gr, f.theta), KRY_ENONFINITE);
    ck_assert_int_eq(kry_mlp_trainer_step(NULL, f.theta, f.X, f.y, 6, f.ws, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_trainer_step(tr, f.theta, f.X, f.y, 0, f.ws, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_trainer_step(tr, f.theta, NULL, f.y, 6, f.ws, NULL), KRY_EINVAL);
    ck_assert_int_eq(kry_mlp_trainer_step(tr, f.theta, f.X, f.y, 6, g.ws, NULL), KRY_EDIM);
    f.X[0] = NAN;
    ck_assert_int_eq(kry_mlp_trainer_step(tr, f.theta, f.X, f.y, 6, f.ws, NULL),
                     KRY_ENONFINITE);
    ck_assert_uint_eq(kry_mlp_trainer_steps(tr), 0);
    ck_assert_uint_eq(kry_mlp_trainer_steps(NULL), 0);
    kry_mlp_trainer_free(tr);
    free(gr);
    fx_free(&f);
    fx_free(&g);
}
END_TEST

/* -------------------------------------------------------------------- edge */

/* Softmax regression Hessian in closed form: with x~ = (x, 1),
   H[(c,j),(c',j')] = (1/N) sum_r (p_c [c = c'] - p_c p_c') x~_j x~_j' + lambda [same]. */
START_TEST(test_softmax_regression_closed_form_psd)
{
    const size_t sizes[] = {4, 3};
    for (int q = 0; q < 2; ++q) {
        fixture f;
        double lam = q ? 0.0521 : 0.0;
        fx_make(&f, 2, sizes, KRY_MLP_TANH, lam, 9, 4, 161);
        size_t P = f.P, n0 = 4, C = 3;
        ck_assert_uint_eq(P, 15);
        double *H = dvec(P * P), *R = dvec(P * P), *p = dvec(9 * C), *w = dvec(P);
        ck_assert_double_le(dense_hessian(&f, H, NULL), 1e-14);
        ref_loss(&f, f.theta, NULL, NULL, p);
        memset(R, 0, P * P * sizeof *R);
        for (size_t r = 0; r < 9; ++r)
            for (size_t c = 0; c < C; ++c)
                for (size_t j = 0; j <= n0; ++j)
                    for (size_t c2 = 0; c2 < C; ++c2)
                        for (size_t j2 = 0; j2 <= n0; ++j2) {
                            size_t i1 = j < n0 ? c * n0 + j : C * n0 + c;
                            size_t i2 = j2 < n0 ? c2 * n0 + j2 : C * n0 + c2;
                            double xj = j < n0 ? f.X[r * n0 + j] : 1.0;
                            double xj2 = j2 < n0 ? f.X[r * n0 + j2] : 1.0;
                            double pc = p[r * C + c], pc2 = p[r * C + c2];
                            R[i1 * P + i2] += ((c == c2 ? pc : 0.0) - pc * pc2) * xj * xj2 / 9.0;
                        }
        for (size_t i = 0; i < P; ++i)
            R[i * P + i] += lam;
        ck_assert_double_le(max_abs_diff(P * P, H, R), 1e-14 * max_abs(P * P, R));
        for (size_t i = 0; i < P; ++i)
            for (size_t j = 0; j < i; ++j)
                H[i * P + j] = H[j * P + i];
        ck_assert_int_eq(test_dsyevr(P, H, w, NULL), 0);
        double lmax = w[P - 1];
        ck_assert_double_ge(w[0], lam - 1e-12 * lmax);
        /* Null directions of the softmax: n_0 + 1 = 5 eigenvalues equal lambda. */
        size_t at_lam = 0;
        for (size_t i = 0; i < P; ++i)
            at_lam += fabs(w[i] - lam) <= 1e-13 * lmax;
        ck_assert_uint_ge(at_lam, 5);
        free(H);
        free(R);
        free(p);
        free(w);
        fx_free(&f);
    }
}
END_TEST

START_TEST(test_single_row)
{
    fixture f;
    fx_make(&f, 4, S8664, KRY_MLP_TANH, 0.0, 1, 0, 171);
    check_grad_fd(&f, 1e-3, 1e-9);
    check_hvp_fd(&f, 1e-3, 1e-8, 14);
    fx_free(&f);
    /* Softmax regression on one row: H = (diag p - p p^T) (x) x~ x~^T has rank C - 1. */
    const size_t sizes[] = {3, 4};
    fx_make(&f, 2, sizes, KRY_MLP_TANH, 0.0, 1, 0, 172);
    size_t P = f.P;
    double *H = dvec(P * P), *w = dvec(P);
    ck_assert_double_le(dense_hessian(&f, H, NULL), 1e-14);
    for (size_t i = 0; i < P; ++i)
        for (size_t j = 0; j < i; ++j)
            H[i * P + j] = H[j * P + i];
    ck_assert_int_eq(test_dsyevr(P, H, w, NULL), 0);
    size_t nonzero = 0;
    for (size_t i = 0; i < P; ++i)
        nonzero += fabs(w[i]) > 1e-13 * w[P - 1];
    ck_assert_uint_eq(nonzero, 3);
    free(H);
    free(w);
    fx_free(&f);
}
END_TEST

START_TEST(test_relu_dead_layer)
{
    /* Biases of the first hidden layer very negative: every ReLU unit is off, so the
       gradient and every Hessian row of the first layer's parameters are zero, and the
       loss does not depend on the data. */
    fixture f;
    double lam = 0.0;
    fx_make(&f, 4, S8664, KRY_MLP_RELU, lam, 7, 0, 181);
    size_t P = f.P, wo2;
    for (size_t k = 0; k < 6; ++k)
        f.theta[48 + k] = -100.0;
    ck_assert_int_eq(kry_mlp_layer_offsets(f.m, 2, &wo2, NULL), KRY_OK);
    ck_assert_uint_eq(wo2, 54);
    double *g = dvec(P), *H = dvec(P * P);
    grad_at(&f, f.theta, g);
    for (size_t i = 0; i < wo2; ++i)
        ck_assert_double_eq(g[i], 0.0);
    dense_hessian(&f, H, NULL);
    for (size_t i = 0; i < wo2; ++i)
        for (size_t j = 0; j < P; ++j) {
            ck_assert_double_eq(H[i * P + j], 0.0);
            ck_assert_double_eq(H[j * P + i], 0.0);
        }
    ck_assert_close(loss_at(&f, f.theta), ref_loss(&f, f.theta, NULL, NULL, NULL), 1e-14);
    free(g);
    free(H);
    fx_free(&f);
}
END_TEST

START_TEST(test_one_class_and_one_input)
{
    /* One class: the softmax is identically 1, the loss is the penalty alone. */
    const size_t sizes[] = {3, 2, 1};
    fixture f;
    double lam = 0.0613;
    fx_make(&f, 3, sizes, KRY_MLP_TANH, lam, 5, 0, 191);
    size_t P = f.P;
    double *g = dvec(P), *v = dvec(P), *hv = dvec(P), l, pen = 0.0;
    ck_assert_int_eq(kry_mlp_loss_grad(f.m, f.theta, f.X, f.y, 5, f.ws, &l, g), KRY_OK);
    for (size_t i = 0; i < P; ++i)
        pen += f.theta[i] * f.theta[i];
    ck_assert_close(l, 0.5 * lam * pen, 1e-14);
    rand_vec(P, 15, v);
    ck_assert_int_eq(kry_mlp_hvp(f.m, f.theta, f.X, f.y, 5, f.ws, v, hv), KRY_OK);
    for (size_t i = 0; i < P; ++i) {
        ck_assert_double_le(fabs(g[i] - lam * f.theta[i]), 1e-16);
        ck_assert_double_le(fabs(hv[i] - lam * v[i]), 1e-16);
    }
    free(g);
    free(v);
    free(hv);
    fx_free(&f);
    /* One input feature, a wide hidden layer. */
    const size_t s1[] = {1, 9, 2};
    fx_make(&f, 3, s1, KRY_MLP_TANH, 0.0, 4, 0, 192);
    check_grad_fd(&f, 1e-3, 1e-9);
    check_hvp_fd(&f, 1e-3, 1e-8, 16);
    fx_free(&f);
}
END_TEST

/* The foundation's FD-HVP operator over kry_mlp_grad_fn against the exact-HVP operator:
   central differences with the automatic step are accurate to ~1e-10 relative
   (MATH.md section 5), and theta is never written. */
START_TEST(test_fd_hvp_operator_vs_exact)
{
    for (int a = 0; a < 2; ++a) {
        fixture f;
        if (a == 0)
            fx_make(&f, 4, S8664, KRY_MLP_TANH, 0.0213, 11, 0, 131);
        else
            fx_make_relu(&f, 3, S543, 0.0, 9, 0.02);
        size_t P = f.P;
        kry_mlp_batch b;
        ck_assert_int_eq(kry_mlp_batch_init(&b, f.m, f.X, f.y, f.rows, f.ws), KRY_OK);
        kry_operator fd, ex;
        ck_assert_int_eq(kry_operator_hvp_fd(P, kry_mlp_grad_fn, &b, f.theta, NULL, &fd),
                         KRY_OK);
        ck_assert_int_eq(kry_operator_mlp_hvp(f.m, f.theta, f.X, f.y, f.rows, f.ws, &ex),
                         KRY_OK);
        double *v = dvec(P), *hf = dvec(P), *he = dvec(P), *t0 = dvec(P);
        memcpy(t0, f.theta, P * sizeof *t0);
        for (uint64_t s = 0; s < 3; ++s) {
            rand_vec(P, 140 + s, v);
            for (size_t i = 0; i < P; ++i)
                v[i] *= 2.385; /* not of unit length: FD scales by |v| */
            ck_assert_int_eq(kry_operator_apply(&fd, v, hf), KRY_OK);
            ck_assert_int_eq(kry_operator_apply(&ex, v, he), KRY_OK);
            double err = max_abs_diff(P, hf, he) / max_abs(P, he);
            ck_assert_msg(err <= 1e-8, "act %d: FD-HVP vs exact HVP: relative error %g", a,
                          err);
        }
        ck_assert_mem_eq(t0, f.theta, P * sizeof *t0);
        size_t grads = 0, hvps = 0;
        ck_assert_int_eq(kry_hvp_fd_grad_count(&fd, &grads), KRY_OK);
        ck_assert_int_eq(kry_mlp_hvp_count(&ex, &hvps), KRY_OK);
        ck_assert_uint_eq(grads, 6); /* central scheme: 2 gradients per product */
        ck_assert_uint_eq(hvps, 3);
        ck_assert_uint_eq(b.n_grads, 6);
        /* v = 0 gives 0 without a gradient. */
        memset(v, 0, P * sizeof *v);
        ck_assert_int_eq(kry_operator_apply(&fd, v, hf), KRY_OK);
        ck_assert_double_eq(max_abs(P, hf), 0.0);
        kry_operator_destroy(&fd);
        kry_operator_destroy(&ex);
        free(v);
        free(hf);
        free(he);
        free(t0);
        fx_free(&f);
    }
}
END_TEST

/* Digits-like data: rows of 64 "pixels" k/16 (k integer in 0..16) around one of 10
   class prototypes, the label being the class. */
static void digits_like(size_t rows, double *X, int *y, uint64_t seed)
{
    for (size_t r = 0; r < rows; ++r) {
        int cls = (int)(kry_rng_u64(seed, KRY_RNG_STREAM_TEST, r) % 10);
        y[r] = cls;
        for (size_t j = 0; j < 64; ++j) {
            double proto = 16.0 * kry_rng_uniform(seed + 1, KRY_RNG_STREAM_TEST,
                                                  (uint64_t)cls * 64 + j);
            double noise = 3.0 * kry_rng_normal(seed + 2, KRY_RNG_STREAM_TEST, r * 64 + j);
            double k = floor(proto + noise + 0.5);
            X[r * 64 + j] = fmin(16.0, fmax(0.0, k)) / 16.0;
        }
    }
}

/* Lanczos top-10 (exact HVP operator, full reorthogonalisation; the unrestarted solver and
   the thick-restart driver kry hessian uses, with its multiplicity check) against LAPACK on the
   dense Hessian of a 64-16-10 tanh MLP (P = 1210) on digits-like data after 30 SGD steps
   (one point: the dense reference costs two thirds of a second per point). */
START_TEST(test_lanczos_top10_vs_lapack_p1210)
{
    static const size_t S[] = {64, 16, 10};
    enum { ROWS = 60, K = 10 };
    fixture f;
    fx_make(&f, 3, S, KRY_MLP_TANH, 0.0, ROWS, 0, 151);
    size_t P = f.P;
    ck_assert_uint_eq(P, 1210);
    digits_like(ROWS, f.X, f.y, 152);
    double *H = dvec(P * P), *w = dvec(P), *theta = dvec(K), *bound = dvec(K);
    int conv[K];
    size_t mmax = 200;
    kry_lanczos_ws *lws = kry_lanczos_ws_alloc_reorth(P, mmax, KRY_REORTH_FULL);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(mmax);
    ck_assert_ptr_nonnull(lws);
    ck_assert_ptr_nonnull(rws);
    kry_mlp_trainer *tr;
    kry_mlp_train_params tp = kry_mlp_train_params_default();
    tp.lr = 0.5;
    tp.batch = 16;
    tp.seed = 153;
    ck_assert_int_eq(kry_mlp_trainer_alloc(f.m, &tp, &tr), KRY_OK);
    for (int s = 0; s < 30; ++s)
        ck_assert_int_eq(kry_mlp_trainer_step(tr, f.theta, f.X, f.y, ROWS, f.ws, NULL), KRY_OK);
    {
        double asym = dense_hessian(&f, H, NULL);
        ck_assert_msg(asym <= 1e-12, "max|H - H^T| / max|H| = %g", asym);
        for (size_t i = 0; i < P; ++i)
            for (size_t j = i + 1; j < P; ++j)
                H[i * P + j] = H[j * P + i] = 0.5 * (H[i * P + j] + H[j * P + i]);
        ck_assert_int_eq(test_dsyevr(P, H, w, NULL), 0);
        kry_operator op;
        ck_assert_int_eq(kry_operator_mlp_hvp(f.m, f.theta, f.X, f.y, ROWS, f.ws, &op), KRY_OK);
        kry_lanczos_params lp = kry_lanczos_params_default();
        lp.max_steps = mmax;
        lp.seed = 154;
        kry_eigs_result res;
        ck_assert_int_eq(kry_lanczos_eigs(&op, K, KRY_WHICH_LA, 1e-10, NULL, &lp, lws, rws,
                                          theta, NULL, P, bound, conv, &res),
                         KRY_OK);
        ck_assert_uint_eq(res.nconv, K);
        ck_assert_uint_lt(res.matvecs, mmax);
        for (size_t i = 0; i < K; ++i) {
            double ref = w[P - 1 - i];
            ck_assert_msg(fabs(theta[i] - ref) <= 1e-8 * fabs(ref),
                          "eigenvalue %zu: Lanczos %.17g vs LAPACK %.17g", i, theta[i], ref);
        }
        kry_topk_ws *tws = kry_topk_ws_alloc(P, K, 0);
        ck_assert_ptr_nonnull(tws);
        kry_topk_params kp = kry_topk_params_default();
        kp.tol = 1e-10;
        kp.seed = 155;
        kry_topk_result tres;
        ck_assert_int_eq(kry_topk_solve(&op, K, &kp, NULL, 0, 0, tws, theta, NULL, 0, bound,
                                        conv, &tres),
                         KRY_OK);
        ck_assert_uint_eq(tres.nconv, K);
        for (size_t i = 0; i < K; ++i) {
            double ref = w[P - 1 - i];
            ck_assert_msg(fabs(theta[i] - ref) <= 1e-8 * fabs(ref),
                          "eigenvalue %zu: top-k driver %.17g vs LAPACK %.17g", i, theta[i],
                          ref);
        }
        kry_topk_ws_free(tws);
        kry_operator_destroy(&op);
    }
    kry_mlp_trainer_free(tr);
    kry_lanczos_ws_free(lws);
    kry_ritz_ws_free(rws);
    free(H);
    free(w);
    free(theta);
    free(bound);
    fx_free(&f);
}
END_TEST

static Suite *mlp_suite(void)
{
    Suite *s = suite_create("mlp");
    TCase *core = tcase_create("core"), *args = tcase_create("args"),
          *edge = tcase_create("edge");
    tcase_add_test(core, test_loss_matches_reference);
    tcase_add_test(core, test_grad_vs_fd_tanh);
    tcase_add_test(core, test_grad_vs_fd_relu);
    tcase_add_test(core, test_hvp_vs_fd_gradient);
    tcase_add_test(core, test_hvp_linear_and_symmetric);
    tcase_add_test(core, test_dense_hessian_symmetric_and_eigs);
    tcase_add_test(core, test_softmax_shift_null_directions);
    tcase_add_test(core, test_l2_adds_lambda_identity);
    tcase_add_test(core, test_init_deterministic_and_scaled);
    tcase_add_test(core, test_accessors);
    tcase_add_test(core, test_chunking_matches_one_chunk);
    tcase_add_test(core, test_hvp_operator);
    tcase_add_test(core, test_grad_callback);
    tcase_add_test(core, test_fd_hvp_operator_vs_exact);
    tcase_add_test(core, test_lanczos_top10_vs_lapack_p1210);
    tcase_add_test(core, test_predict_accuracy);
    tcase_add_test(core, test_sgd_and_adam_updates);
    tcase_add_test(core, test_minibatch_training_decreases_loss);
    tcase_add_test(args, test_args_alloc);
    tcase_add_test(args, test_args_compute);
    tcase_add_test(args, test_args_operators);
    tcase_add_test(args, test_args_trainer);
    tcase_add_test(edge, test_softmax_regression_closed_form_psd);
    tcase_add_test(edge, test_single_row);
    tcase_add_test(edge, test_relu_dead_layer);
    tcase_add_test(edge, test_one_class_and_one_input);
    suite_add_tcase(s, core);
    suite_add_tcase(s, args);
    suite_add_tcase(s, edge);
    return s;
}

KRY_CHECK_MAIN(mlp_suite)
