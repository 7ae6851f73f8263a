/* eigmodel.c — the eigenvalue-model layer y = lambda_k(tridiag(E x + e0, D x + d0,
   E x + e0)) (module eigmodel; MATH.md section 4).

   Forward builds the batch of diagonals and off-diagonals (batch-major), then calls
   kry_tridiag_eigvals or kry_tridiag_eigpairs. Backward uses d lambda/d d_i = q_i^2 and
   d lambda/d e_i = 2 q_i q_{i+1}: with G_d[b][i] = gy_b q_bi^2 and
   G_e[b][i] = 2 gy_b q_bi q_b,i+1,
       dD = G_d^T X, dd0 = sum_b G_d[b], dE = G_e^T X, de0 = sum_b G_e[b],
       dx_b = D^T G_d[b] + E^T G_e[b].
   The two products with X are one small matrix product each over the whole batch
   (smallmm.h: for these shapes a BLAS call costs several times its arithmetic); the
   rest are short loops. Rows of the batch-by-outputs arrays have a stride rounded up
   to 8 doubles (zero padding), so the products run on full SIMD vectors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kry/eigmodel.h"
#include "kry/rng.h"
#include "smallmm.h"


struct kry_eigmodel {
    size_t n, p, k, cap, nparams;
    size_t ld;                 /* row stride of dt, out and buf: 2n - 1 rounded up to 8 */
    double *theta;
    double *lam, *q;           /* batch, batch x n */
    unsigned char *tied;       /* batch */
    double *dt;                /* Wt and Gt, p x (2n-1) each (forward, backward) */
    double *out;               /* batch x (2n-1): outputs (forward), their gradients */
    double *buf;               /* 2n - 1: the biases (forward), their gradients */
    kry_tridiag_ws *ws;
    kry_tridiag_params tp;
    size_t last_batch; /* batch of the last forward with gradients; 0: none */
};

kry_eigmodel *kry_eigmodel_alloc(size_t n, size_t p, size_t k, size_t batch_max)
{
    if (n == 0 || p == 0 || k >= n || batch_max == 0)
        return NULL;
    kry_eigmodel *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->n = n;
    m->p = p;
    m->k = k;
    m->cap = batch_max;
    m->nparams = n * p + n + (n - 1) * p + (n - 1);
    m->ld = (2 * n - 1 + 7) / 8 * 8;
    m->theta = calloc(m->nparams, sizeof(double));
    m->lam = malloc(sizeof(double) * batch_max);
    m->q = malloc(sizeof(double) * batch_max * n);
    m->tied = malloc(batch_max);
    /* Zeroed: the padding columns stay zero (forward writes bias 0 + X * 0 there). */
    m->dt = calloc(2 * p * m->ld, sizeof(double));
    m->out = calloc(batch_max * m->ld, sizeof(double));
    m->buf = calloc(m->ld, sizeof(double));
    m->ws = kry_tridiag_ws_alloc(n, batch_max);
    m->tp = kry_tridiag_params_default();
    if (!m->theta || !m->lam || !m->q || !m->tied || !m->dt || !m->out || !m->buf ||
        !m->ws) {
        kry_eigmodel_free(m);
        return NULL;
    }
    return m;
}

void kry_eigmodel_free(kry_eigmodel *m)
{
    if (m == NULL)
        return;
    free(m->theta);
    free(m->lam);
    free(m->q);
    free(m->tied);
    free(m->dt);
    free(m->out);
    free(m->buf);
    kry_tridiag_ws_free(m->ws);
    free(m);
}

size_t kry_eigmodel_nparams(const kry_eigmodel *m) { return m ? m->nparams : 0; }

double *kry_eigmodel_params(kry_eigmodel *m) { return m ? m->theta : NULL; }

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

kry_status kry_eigmodel_init(kry_eigmodel *m, uint64_t seed, double scale)
{
    KRY_REQUIRE(m != NULL && isfinite(scale) && scale > 0.0, KRY_EINVAL);
    size_t n = m->n, p = m->p;
    double *D = m->theta, *d0 = D + n * p, *E = d0 + n, *e0 = E + (n - 1) * p;
    double sp = scale / sqrt((double)p);
    kry_rng_fill_normal(seed, KRY_RNG_STREAM_USER + 1, 0, n * p, D);
    kry_rng_fill_normal(seed, KRY_RNG_STREAM_USER + 2, 0, n, d0);
    kry_rng_fill_normal(seed, KRY_RNG_STREAM_USER + 3, 0, (n - 1) * p, E);
    kry_rng_fill_normal(seed, KRY_RNG_STREAM_USER + 4, 0, n - 1, e0);
    for (size_t i = 0; i < n * p; ++i)
        D[i] *= sp;
    for (size_t i = 0; i < (n - 1) * p; ++i)
        E[i] *= sp;
    for (size_t i = 0; i < n; ++i)
        d0[i] *= scale;
    qsort(d0, n, sizeof(double), cmp_double);
    for (size_t i = 0; i + 1 < n; ++i)
        e0[i] *= 0.5 * scale;
    m->last_batch = 0;
    return KRY_OK;
}

kry_status kry_eigmodel_set_tridiag(kry_eigmodel *m, const kry_tridiag_params *p)
{
    KRY_REQUIRE(m != NULL && p != NULL, KRY_EINVAL);
    m->tp = *p;
    return KRY_OK;
}

kry_status kry_eigmodel_forward(kry_eigmodel *m, size_t batch, const double *X, size_t ldx,
                                int want_grad, double *y, size_t *ntied)
{
    KRY_REQUIRE(m != NULL && X != NULL && y != NULL && batch > 0 && ldx >= m->p, KRY_EINVAL);
    KRY_REQUIRE(batch <= m->cap, KRY_EDIM);
    m->last_batch = 0;
    const size_t n = m->n, p = m->p;
    const double *D = m->theta, *d0 = D + n * p, *E = d0 + n, *e0 = E + (n - 1) * p;
    /* The n + (n-1) outputs of all samples in one product, Out (batch x no) =
       1 bias^T + X (batch x p) Wt (p x no), with Wt = [D^T E^T]; then the kernel reads
       the diagonals and off-diagonals in place. (Per-sample axpys or dot products of
       length 17 ran at a fraction of this speed.) */
    const size_t ld = m->ld;
    double *Wt = m->dt, *Out = m->out, *bias = m->buf;
    for (size_t j = 0; j < p; ++j) {
        for (size_t i = 0; i < n; ++i)
            Wt[j * ld + i] = D[i * p + j];
        for (size_t i = 0; i + 1 < n; ++i)
            Wt[j * ld + n + i] = E[i * p + j];
    }
    for (size_t i = 0; i < n; ++i)
        bias[i] = d0[i];
    for (size_t i = 0; i + 1 < n; ++i)
        bias[n + i] = e0[i];
    kry_mm_nn(batch, ld, p, X, ldx, Wt, ld, bias, Out, ld);
    /* The kernel reads the diagonals and off-diagonals in place, strided. */
    kry_tridiag_batch B = {n, batch, Out, ld, n > 1 ? Out + n : NULL, n > 1 ? ld : 1};
    kry_status st;
    if (want_grad) {
        st = kry_tridiag_eigpairs(m->ws, &B, m->k, NULL, &m->tp, y, m->q, n, m->tied, NULL);
        if (st != KRY_OK)
            return st;
        if (ntied) {
            size_t nt = 0;
            for (size_t b = 0; b < batch; ++b)
                nt += m->tied[b];
            *ntied = nt;
        }
        m->last_batch = batch;
    } else {
        st = kry_tridiag_eigvals(m->ws, &B, m->k, NULL, &m->tp, y, NULL);
        if (st != KRY_OK)
            return st;
        if (ntied)
            *ntied = 0;
    }
    return KRY_OK;
}

kry_status kry_eigmodel_backward(kry_eigmodel *m, size_t batch, const double *X, size_t ldx,
                                 const double *gy, double *gtheta, double *gx, size_t ldgx)
{
    KRY_REQUIRE(m != NULL && X != NULL && gy != NULL && gtheta != NULL, KRY_EINVAL);
    KRY_REQUIRE(ldx >= m->p && (gx == NULL || ldgx >= m->p), KRY_EINVAL);
    KRY_REQUIRE(m->last_batch != 0 && batch == m->last_batch, KRY_EINVAL);
    const size_t n = m->n, p = m->p;
    const double *D = m->theta, *E = D + n * p + n;
    double *gD = gtheta, *gd0 = gD + n * p, *gE = gd0 + n, *ge0 = gE + (n - 1) * p;
    memset(gtheta, 0, sizeof(double) * m->nparams);
    /* The output gradients Gm[b] = (gy_b q_i^2, 2 gy_b q_i q_{i+1}) (batch x no), then
       Gt (p x no) = X^T Gm in one product and the bias gradients as column sums. */
    const size_t no = 2 * n - 1, ld = m->ld;
    double *Gt = m->dt + p * ld, *Gm = m->out, *gsum = m->buf;
    memset(gsum, 0, sizeof(double) * no);
    for (size_t b = 0; b < batch; ++b) {
        const double *q = m->q + b * n;
        const double gb = gy[b];
        double *g = Gm + b * ld;
        for (size_t i = 0; i < n; ++i)
            g[i] = gb * q[i] * q[i];
        for (size_t i = 0; i + 1 < n; ++i)
            g[n + i] = 2.0 * gb * q[i] * q[i + 1];
        for (size_t i = 0; i < no; ++i)
            gsum[i] += g[i];
        if (gx) {
            double *gxb = gx + b * ldgx;
            for (size_t j = 0; j < p; ++j) {
                double acc = 0.0;
                for (size_t i = 0; i < n; ++i)
                    acc += g[i] * D[i * p + j];
                for (size_t i = 0; i + 1 < n; ++i)
                    acc += g[n + i] * E[i * p + j];
                gxb[j] = acc;
            }
        }
    }
    memset(Gt, 0, sizeof(double) * p * ld);
    kry_mm_tn(batch, ld, p, X, ldx, Gm, ld, Gt, ld);
    for (size_t j = 0; j < p; ++j) {
        for (size_t i = 0; i < n; ++i)
            gD[i * p + j] = Gt[j * ld + i];
        for (size_t i = 0; i + 1 < n; ++i)
            gE[i * p + j] = Gt[j * ld + n + i];
    }
    memcpy(gd0, gsum, sizeof(double) * n);
    if (n > 1)
        memcpy(ge0, gsum + n, sizeof(double) * (n - 1));
    return KRY_OK;
}
