/* mlp.c — a small multilayer perceptron: softmax cross-entropy loss, its gradient by
   backpropagation, and the exact Hessian-vector product by Pearlmutter's R-operator
   (forward-over-reverse, written by hand), plus the Hessian operators built on them and
   minimal SGD / Adam training.

   References: B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural
   Computation 6(1):147-160, 1994; N. N. Schraudolph, "Fast curvature matrix-vector
   products for second-order gradient descent", Neural Computation 14(7), 2002;
   X. Glorot and Y. Bengio (AISTATS 2010) and K. He et al. (ICCV 2015) for the initial
   scales; D. P. Kingma and J. Ba, "Adam: a method for stochastic optimization", ICLR 2015.

   Notation (batch rows are rows of row-major matrices): Z_l = A_{l-1} W_l^T + 1 b_l^T,
   A_l = act(Z_l), P = softmax(Z_L) by rows, Delta_L = (P - Y) / N, and going down
   G = Delta_l W_l, Delta_{l-1} = act'(Z_{l-1}) .* G, grad W_l = Delta_l^T A_{l-1}.
   The R-operator R{f} = d/dt f(theta + t v) at t = 0 applied to each line gives
   R{Z_l} = A_{l-1} V_l^T + 1 c_l^T + R{A_{l-1}} W_l^T  (V_l, c_l: v's parts),
   R{A_l} = act'(Z_l) .* R{Z_l},  R{P} = P .* (R{Z_L} - rowsum(P .* R{Z_L})),
   R{Delta_L} = R{P} / N,  R{G} = R{Delta_l} W_l + Delta_l V_l,
   R{Delta_{l-1}} = act'' .* R{Z_{l-1}} .* G + act' .* R{G},
   (H v)_{W_l} = R{Delta_l}^T A_{l-1} + Delta_l^T R{A_{l-1}},  (H v)_{b_l} = colsum R{Delta_l}.
   For tanh act' = 1 - a^2 and act'' R{z} = -2 a act' R{z} = -2 a R{a}, so only A and
   R{A} need storing; for ReLU act' = [a > 0] and act'' = 0. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "internal.h"
#include "vmath.h"
#include "kry/mlp.h"
#include "kry/rng.h"
#include "vec.h"

struct kry_mlp {
    size_t L;         /* weight layers */
    size_t *sizes;    /* L + 1 layer sizes */
    size_t *w_off;    /* w_off[l - 1]: offset of W_l in theta */
    size_t *b_off;    /* b_off[l - 1]: offset of b_l */
    size_t P;         /* parameter count */
    size_t max_width; /* max of sizes[1..L] */
    kry_mlp_act act;
    double l2;
};

struct kry_mlp_ws {
    size_t L, max_rows, P, max_width;
    size_t *sizes; /* copy of the model's, to check agreement */
    double **a;    /* a[l], 1 <= l <= L: activations (a[L]: logits, then probabilities) */
    double **ra;   /* ra[l]: R-activations (ra[L]: R-logits, then R-probabilities) */
    double *d, *rd, *dn, *rdn; /* max_rows x max_width: Delta and R{Delta}, two levels */
    double *pv1, *pv2;         /* P each: unit vectors and columns of the dense Hessian */
    double *block;             /* owns every double above */
};

struct kry_mlp_trainer {
    const kry_mlp *model;
    kry_mlp_train_params p;
    size_t t;
    double *g, *m1, *m2, *Xb; /* P, P, P (Adam only), batch x n_0 */
    int *yb;
};

/* ------------------------------------------------------------------ model */

kry_mlp_params kry_mlp_params_default(void)
{
    kry_mlp_params p = {KRY_MLP_TANH, 0.0};
    return p;
}

kry_status kry_mlp_alloc(size_t n_sizes, const size_t *sizes, const kry_mlp_params *params,
                         kry_mlp **out)
{
    KRY_REQUIRE(out != NULL, KRY_EINVAL);
    *out = NULL;
    KRY_REQUIRE(sizes != NULL && n_sizes >= 2, KRY_EINVAL);
    kry_mlp_params p = params ? *params : kry_mlp_params_default();
    KRY_REQUIRE((int)p.act >= 0 && p.act < KRY_MLP_ACT_COUNT, KRY_EINVAL);
    KRY_REQUIRE(isfinite(p.l2), KRY_ENONFINITE);
    KRY_REQUIRE(p.l2 >= 0.0, KRY_EINVAL);
    for (size_t i = 0; i < n_sizes; ++i)
        KRY_REQUIRE(sizes[i] >= 1, KRY_EINVAL);
    size_t P = 0, maxw = 0;
    for (size_t i = 0; i < n_sizes; ++i)
        KRY_REQUIRE(kry_fits_blas_int(sizes[i]), KRY_ERANGE);
    for (size_t l = 1; l < n_sizes; ++l) {
        /* Each size is below 2^31, so n_l (n_{l-1} + 1) cannot overflow size_t. */
        size_t layer = sizes[l] * (sizes[l - 1] + 1);
        P += layer;
        KRY_REQUIRE(kry_fits_blas_int(P), KRY_ERANGE);
        if (sizes[l] > maxw)
            maxw = sizes[l];
    }

    kry_status st = KRY_ENOMEM;
    kry_mlp *m = calloc(1, sizeof *m);
    if (m == NULL)
        goto fail;
    m->L = n_sizes - 1;
    m->sizes = malloc(n_sizes * sizeof *m->sizes);
    m->w_off = malloc(m->L * sizeof *m->w_off);
    m->b_off = malloc(m->L * sizeof *m->b_off);
    if (m->sizes == NULL || m->w_off == NULL || m->b_off == NULL)
        goto fail;
    memcpy(m->sizes, sizes, n_sizes * sizeof *sizes);
    size_t off = 0;
    for (size_t l = 1; l <= m->L; ++l) {
        m->w_off[l - 1] = off;
        off += sizes[l] * sizes[l - 1];
        m->b_off[l - 1] = off;
        off += sizes[l];
    }
    m->P = P;
    m->max_width = maxw;
    m->act = p.act;
    m->l2 = p.l2;
    *out = m;
    return KRY_OK;
fail:
    kry_mlp_free(m);
    return st;
}

void kry_mlp_free(kry_mlp *model)
{
    if (model == NULL)
        return;
    free(model->sizes);
    free(model->w_off);
    free(model->b_off);
    free(model);
}

size_t kry_mlp_n_params(const kry_mlp *model) { return model ? model->P : 0; }

size_t kry_mlp_n_layers(const kry_mlp *model) { return model ? model->L : 0; }

size_t kry_mlp_size(const kry_mlp *model, size_t i)
{
    return (model != NULL && i <= model->L) ? model->sizes[i] : 0;
}

kry_mlp_act kry_mlp_activation(const kry_mlp *model)
{
    return model ? model->act : KRY_MLP_TANH;
}

double kry_mlp_l2(const kry_mlp *model) { return model ? model->l2 : 0.0; }

kry_status kry_mlp_layer_offsets(const kry_mlp *model, size_t l, size_t *w_offset,
                                 size_t *b_offset)
{
    KRY_REQUIRE(model != NULL && l >= 1 && l <= model->L, KRY_EINVAL);
    if (w_offset != NULL)
        *w_offset = model->w_off[l - 1];
    if (b_offset != NULL)
        *b_offset = model->b_off[l - 1];
    return KRY_OK;
}

kry_status kry_mlp_init_params(const kry_mlp *model, uint64_t seed, double *theta)
{
    KRY_REQUIRE(model != NULL && theta != NULL, KRY_EINVAL);
    for (size_t l = 1; l <= model->L; ++l) {
        double fan_in = (double)model->sizes[l - 1], fan_out = (double)model->sizes[l];
        int he = model->act == KRY_MLP_RELU && l < model->L;
        double sd = he ? sqrt(2.0 / fan_in) : sqrt(2.0 / (fan_in + fan_out));
        size_t w0 = model->w_off[l - 1], b0 = model->b_off[l - 1];
        for (size_t i = w0; i < b0; ++i)
            theta[i] = sd * kry_rng_normal(seed, KRY_MLP_RNG_STREAM_INIT, (uint64_t)i);
        memset(theta + b0, 0, model->sizes[l] * sizeof *theta);
    }
    return KRY_OK;
}

/* -------------------------------------------------------------- workspace */

/* Number of doubles of a workspace, 0 on overflow. */
static size_t ws_doubles(const kry_mlp *m, size_t max_rows)
{
    size_t width_sum = 0; /* sum_{l=1..L} n_l, twice (a and ra), plus 4 max widths */
    for (size_t l = 1; l <= m->L; ++l)
        width_sum += m->sizes[l];
    size_t per_row = 2 * width_sum + 4 * m->max_width; /* sizes < 2^31: no overflow */
    if (max_rows > (SIZE_MAX - 2 * m->P) / per_row)
        return 0;
    return per_row * max_rows + 2 * m->P;
}

size_t kry_mlp_ws_bytes(const kry_mlp *model, size_t max_rows)
{
    if (model == NULL || max_rows == 0)
        return 0;
    size_t nd = ws_doubles(model, max_rows);
    if (nd == 0 || nd > SIZE_MAX / sizeof(double))
        return 0;
    size_t ptrs = 2 * (model->L + 1) * sizeof(double *);
    return sizeof(kry_mlp_ws) + (model->L + 1) * sizeof(size_t) + ptrs + nd * sizeof(double);
}

kry_status kry_mlp_ws_alloc(const kry_mlp *model, size_t max_rows, kry_mlp_ws **out)
{
    KRY_REQUIRE(out != NULL, KRY_EINVAL);
    *out = NULL;
    KRY_REQUIRE(model != NULL && max_rows >= 1, KRY_EINVAL);
    KRY_REQUIRE(kry_fits_blas_int(max_rows), KRY_ERANGE);
    size_t nd = ws_doubles(model, max_rows);
    KRY_REQUIRE(nd != 0 && nd <= SIZE_MAX / sizeof(double), KRY_ERANGE);

    kry_status st = KRY_ENOMEM;
    kry_mlp_ws *ws = calloc(1, sizeof *ws);
    if (ws == NULL)
        goto fail;
    size_t L = model->L;
    ws->L = L;
    ws->max_rows = max_rows;
    ws->P = model->P;
    ws->max_width = model->max_width;
    ws->sizes = malloc((L + 1) * sizeof *ws->sizes);
    ws->a = calloc(L + 1, sizeof *ws->a);
    ws->ra = calloc(L + 1, sizeof *ws->ra);
    ws->block = malloc(nd * sizeof *ws->block);
    if (ws->sizes == NULL || ws->a == NULL || ws->ra == NULL || ws->block == NULL)
        goto fail;
    memcpy(ws->sizes, model->sizes, (L + 1) * sizeof *ws->sizes);
    double *p = ws->block;
    for (size_t l = 1; l <= L; ++l) {
        ws->a[l] = p;
        p += max_rows * model->sizes[l];
        ws->ra[l] = p;
        p += max_rows * model->sizes[l];
    }
    size_t blk = max_rows * model->max_width;
    ws->d = p;
    ws->rd = p + blk;
    ws->dn = p + 2 * blk;
    ws->rdn = p + 3 * blk;
    p += 4 * blk;
    ws->pv1 = p;
    ws->pv2 = p + model->P;
    *out = ws;
    return KRY_OK;
fail:
    kry_mlp_ws_free(ws);
    return st;
}

void kry_mlp_ws_free(kry_mlp_ws *ws)
{
    if (ws == NULL)
        return;
    free(ws->sizes);
    free(ws->a);
    free(ws->ra);
    free(ws->block);
    free(ws);
}

size_t kry_mlp_ws_max_rows(const kry_mlp_ws *ws) { return ws ? ws->max_rows : 0; }

/* ------------------------------------------------------------- validation */

/* Checks everything about a batch except theta: pointers, rows, model/workspace
   agreement, labels (when y != NULL or need_y), finite X. */
static kry_status check_batch(const kry_mlp *m, const double *X, const int *y, int need_y,
                              size_t rows, const kry_mlp_ws *ws)
{
    KRY_REQUIRE(m != NULL && X != NULL && ws != NULL, KRY_EINVAL);
    KRY_REQUIRE(y != NULL || !need_y, KRY_EINVAL);
    KRY_REQUIRE(rows >= 1, KRY_EINVAL);
    KRY_REQUIRE(ws->L == m->L, KRY_EDIM);
    for (size_t i = 0; i <= m->L; ++i)
        KRY_REQUIRE(ws->sizes[i] == m->sizes[i], KRY_EDIM);
    KRY_REQUIRE(rows <= SIZE_MAX / m->sizes[0], KRY_ERANGE);
    if (y != NULL) {
        size_t C = m->sizes[m->L];
        for (size_t r = 0; r < rows; ++r)
            KRY_REQUIRE(y[r] >= 0 && (size_t)y[r] < C, KRY_EINVAL);
    }
    KRY_REQUIRE(kry_vec_isfinite(rows * m->sizes[0], X), KRY_ENONFINITE);
    return KRY_OK;
}

static kry_status check_theta(const kry_mlp *m, const double *theta)
{
    KRY_REQUIRE(theta != NULL, KRY_EINVAL);
    KRY_REQUIRE(kry_vec_isfinite(m->P, theta), KRY_ENONFINITE);
    return KRY_OK;
}

/* ------------------------------------------------------------------ kernels */

/* OUT (c x nout) = IN (c x nin) W^T (+ OUT if beta == 1), W nout x nin row-major. */
static void gemm_nt(size_t c, size_t nout, size_t nin, const double *in, const double *W,
                    double beta, double *out)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c, (int)nout, (int)nin, 1.0, in,
                (int)nin, W, (int)nin, beta, out, (int)nout);
}

/* GW (nout x nin) += D^T (c x nout)^T IN (c x nin). */
static void gemm_tn_acc(size_t c, size_t nout, size_t nin, const double *D, const double *in,
                        double *GW)
{
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nout, (int)nin, (int)c, 1.0, D,
                (int)nout, in, (int)nin, 1.0, GW, (int)nin);
}

/* OUT (c x nin) = D (c x nout) W (nout x nin) (+ OUT if beta == 1). */
static void gemm_nn(size_t c, size_t nout, size_t nin, const double *D, const double *W,
                    double beta, double *out)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)c, (int)nin, (int)nout, 1.0, D,
                (int)nout, W, (int)nin, beta, out, (int)nin);
}

static void fill_rows(size_t c, size_t n, const double *b, double *out)
{
    for (size_t r = 0; r < c; ++r)
        memcpy(out + r * n, b, n * sizeof *b);
}

static void colsum_acc(size_t c, size_t n, const double *D, double *g)
{
    for (size_t r = 0; r < c; ++r)
        for (size_t k = 0; k < n; ++k)
            g[k] += D[r * n + k];
}

/* Forward pass of c rows: ws->a[l] = activations, ws->a[L] = logits. */
static void forward(const kry_mlp *m, const double *theta, const double *Xc, size_t c,
                    kry_mlp_ws *ws)
{
    for (size_t l = 1; l <= m->L; ++l) {
        size_t nin = m->sizes[l - 1], nout = m->sizes[l];
        const double *in = l == 1 ? Xc : ws->a[l - 1];
        double *out = ws->a[l];
        fill_rows(c, nout, theta + m->b_off[l - 1], out);
        gemm_nt(c, nout, nin, in, theta + m->w_off[l - 1], 1.0, out);
        if (l == m->L)
            break;
        size_t n = c * nout;
        if (m->act == KRY_MLP_TANH) {
            for (size_t i = 0; i < n; ++i)
                out[i] = tanh(out[i]);
        } else {
            for (size_t i = 0; i < n; ++i)
                out[i] = out[i] > 0.0 ? out[i] : 0.0;
        }
    }
}

/* Turns the logits in z (c x C) into probabilities, row by row, and returns the sum of
   the row losses logsumexp(z) - z[y] (y may be NULL: returns 0). */
static double softmax_rows(size_t c, size_t C, const int *yc, double *z)
{
    double sum = 0.0;
    for (size_t r = 0; r < c; ++r) {
        double *zr = z + r * C;
        double mx = zr[0];
        for (size_t k = 1; k < C; ++k)
            mx = zr[k] > mx ? zr[k] : mx;
        /* logsumexp(z) - z_y = log(sum exp(z - mx)) - (z_y - mx): every exponent is
           <= 0, so nothing overflows, and s >= 1 keeps the log accurate. */
        double zy = yc != NULL ? zr[yc[r]] - mx : 0.0;
        double s = 0.0;
        for (size_t k = 0; k < C; ++k) {
            zr[k] = exp(zr[k] - mx);
            s += zr[k];
        }
        if (yc != NULL)
            sum += log(s) - zy;
        double inv = 1.0 / s;
        for (size_t k = 0; k < C; ++k)
            zr[k] *= inv;
    }
    return sum;
}

/* Multiplies dn by act'(a) elementwise (n entries). */
static void times_act_deriv(kry_mlp_act act, size_t n, const double *a, double *dn)
{
    if (act == KRY_MLP_TANH) {
        for (size_t i = 0; i < n; ++i)
            dn[i] *= 1.0 - a[i] * a[i];
    } else {
        for (size_t i = 0; i < n; ++i)
            dn[i] = a[i] > 0.0 ? dn[i] : 0.0;
    }
}

/* Delta_L = (P - Y) / N into d (c x C), P the probabilities in p. */
static void output_delta(size_t c, size_t C, const int *yc, double inv_n, const double *p,
                         double *d)
{
    for (size_t r = 0; r < c; ++r) {
        for (size_t k = 0; k < C; ++k)
            d[r * C + k] = p[r * C + k] * inv_n;
        d[r * C + (size_t)yc[r]] -= inv_n;
    }
}

/* Loss sum over the chunk and, if grad != NULL, its gradient contribution (accumulated). */
static double loss_grad_chunk(const kry_mlp *m, const double *theta, const double *Xc,
                              const int *yc, size_t c, double inv_n, kry_mlp_ws *ws,
                              double *grad)
{
    size_t L = m->L, C = m->sizes[L];
    forward(m, theta, Xc, c, ws);
    double sum = softmax_rows(c, C, yc, ws->a[L]);
    if (grad == NULL)
        return sum;
    double *d = ws->d, *dn = ws->dn;
    output_delta(c, C, yc, inv_n, ws->a[L], d);
    for (size_t l = L; l >= 1; --l) {
        size_t nin = m->sizes[l - 1], nout = m->sizes[l];
        const double *in = l == 1 ? Xc : ws->a[l - 1];
        const double *W = theta + m->w_off[l - 1];
        gemm_tn_acc(c, nout, nin, d, in, grad + m->w_off[l - 1]);
        colsum_acc(c, nout, d, grad + m->b_off[l - 1]);
        if (l == 1)
            break;
        gemm_nn(c, nout, nin, d, W, 0.0, dn);
        times_act_deriv(m->act, c * nin, ws->a[l - 1], dn);
        double *t = d;
        d = dn;
        dn = t;
    }
    return sum;
}

/* Whole-batch loss (and gradient when grad != NULL), no validation. */
static double loss_grad_all(const kry_mlp *m, const double *theta, const double *X,
                            const int *y, size_t rows, kry_mlp_ws *ws, double *grad)
{
    size_t n0 = m->sizes[0];
    double inv_n = 1.0 / (double)rows, sum = 0.0;
    if (grad != NULL)
        memset(grad, 0, m->P * sizeof *grad);
    for (size_t r0 = 0; r0 < rows; r0 += ws->max_rows) {
        size_t c = rows - r0 < ws->max_rows ? rows - r0 : ws->max_rows;
        sum += loss_grad_chunk(m, theta, X + r0 * n0, y + r0, c, inv_n, ws, grad);
    }
    double loss = sum * inv_n;
    if (m->l2 > 0.0) {
        loss += 0.5 * m->l2 * cblas_ddot((int)m->P, theta, 1, theta, 1);
        if (grad != NULL)
            cblas_daxpy((int)m->P, m->l2, theta, 1, grad, 1);
    }
    return loss;
}

/* H v contribution of one chunk, accumulated into hv. */
static void hvp_chunk(const kry_mlp *m, const double *theta, const double *v,
                      const double *Xc, const int *yc, size_t c, double inv_n,
                      kry_mlp_ws *ws, double *hv)
{
    size_t L = m->L, C = m->sizes[L];
    forward(m, theta, Xc, c, ws);
    /* R-forward: ra[l] = R{A_l} (R{Z_L} at the top). */
    for (size_t l = 1; l <= L; ++l) {
        size_t nin = m->sizes[l - 1], nout = m->sizes[l];
        const double *in = l == 1 ? Xc : ws->a[l - 1];
        double *rout = ws->ra[l];
        fill_rows(c, nout, v + m->b_off[l - 1], rout);
        gemm_nt(c, nout, nin, in, v + m->w_off[l - 1], 1.0, rout);
        if (l > 1)
            gemm_nt(c, nout, nin, ws->ra[l - 1], theta + m->w_off[l - 1], 1.0, rout);
        if (l < L)
            times_act_deriv(m->act, c * nout, ws->a[l], rout);
    }
    softmax_rows(c, C, NULL, ws->a[L]);
    const double *p = ws->a[L];
    double *d = ws->d, *rd = ws->rd, *dn = ws->dn, *rdn = ws->rdn;
    output_delta(c, C, yc, inv_n, p, d);
    for (size_t r = 0; r < c; ++r) {
        const double *pr = p + r * C, *rz = ws->ra[L] + r * C;
        double s = 0.0;
        for (size_t k = 0; k < C; ++k)
            s += pr[k] * rz[k];
        for (size_t k = 0; k < C; ++k)
            rd[r * C + k] = pr[k] * (rz[k] - s) * inv_n;
    }
    /* Backward with R-backward. */
    for (size_t l = L; l >= 1; --l) {
        size_t nin = m->sizes[l - 1], nout = m->sizes[l];
        const double *in = l == 1 ? Xc : ws->a[l - 1];
        const double *W = theta + m->w_off[l - 1], *VW = v + m->w_off[l - 1];
        double *hW = hv + m->w_off[l - 1];
        gemm_tn_acc(c, nout, nin, rd, in, hW);
        if (l > 1)
            gemm_tn_acc(c, nout, nin, d, ws->ra[l - 1], hW);
        colsum_acc(c, nout, rd, hv + m->b_off[l - 1]);
        if (l == 1)
            break;
        gemm_nn(c, nout, nin, d, W, 0.0, dn);   /* G */
        gemm_nn(c, nout, nin, rd, W, 0.0, rdn); /* R{G} = R{Delta} W + Delta V */
        gemm_nn(c, nout, nin, d, VW, 1.0, rdn);
        const double *a = ws->a[l - 1], *ra = ws->ra[l - 1];
        size_t n = c * nin;
        if (m->act == KRY_MLP_TANH) {
            for (size_t i = 0; i < n; ++i) {
                double s1 = 1.0 - a[i] * a[i], g = dn[i];
                rdn[i] = s1 * rdn[i] - 2.0 * a[i] * ra[i] * g;
                dn[i] = s1 * g;
            }
        } else {
            for (size_t i = 0; i < n; ++i) {
                if (!(a[i] > 0.0))
                    dn[i] = rdn[i] = 0.0;
            }
        }
        double *t = d;
        d = dn;
        dn = t;
        t = rd;
        rd = rdn;
        rdn = t;
    }
}

/* Whole-batch H v, no validation. */
static void hvp_all(const kry_mlp *m, const double *theta, const double *X, const int *y,
                    size_t rows, kry_mlp_ws *ws, const double *v, double *hv)
{
    size_t n0 = m->sizes[0];
    double inv_n = 1.0 / (double)rows;
    memset(hv, 0, m->P * sizeof *hv);
    for (size_t r0 = 0; r0 < rows; r0 += ws->max_rows) {
        size_t c = rows - r0 < ws->max_rows ? rows - r0 : ws->max_rows;
        hvp_chunk(m, theta, v, X + r0 * n0, y + r0, c, inv_n, ws, hv);
    }
    if (m->l2 > 0.0)
        cblas_daxpy((int)m->P, m->l2, v, 1, hv, 1);
}

/* ------------------------------------------------------------ public calls */

kry_status kry_mlp_loss(const kry_mlp *model, const double *theta, const double *X,
                        const int *y, size_t rows, kry_mlp_ws *ws, double *loss)
{
    KRY_REQUIRE(loss != NULL, KRY_EINVAL);
    KRY_TRY(check_batch(model, X, y, 1, rows, ws));
    KRY_TRY(check_theta(model, theta));
    double f = loss_grad_all(model, theta, X, y, rows, ws, NULL);
    KRY_REQUIRE(isfinite(f), KRY_ENONFINITE);
    *loss = f;
    return KRY_OK;
}

/* The gradient once the batch is known to be valid (check_batch): checks theta and the
   output only. The callbacks use it so that a product does not rescan X. */
static kry_status loss_grad_valid_batch(const kry_mlp *m, const double *theta,
                                        const double *X, const int *y, size_t rows,
                                        kry_mlp_ws *ws, double *loss, double *grad)
{
    KRY_REQUIRE(grad != NULL, KRY_EINVAL);
    KRY_TRY(check_theta(m, theta));
    double f = loss_grad_all(m, theta, X, y, rows, ws, grad);
    KRY_REQUIRE(isfinite(f) && kry_vec_isfinite(m->P, grad), KRY_ENONFINITE);
    if (loss != NULL)
        *loss = f;
    return KRY_OK;
}

/* H v once the batch is known to be valid. */
static kry_status hvp_valid_batch(const kry_mlp *m, const double *theta, const double *X,
                                  const int *y, size_t rows, kry_mlp_ws *ws, const double *v,
                                  double *hv)
{
    KRY_REQUIRE(v != NULL && hv != NULL, KRY_EINVAL);
    KRY_TRY(check_theta(m, theta));
    KRY_REQUIRE(kry_vec_isfinite(m->P, v), KRY_ENONFINITE);
    hvp_all(m, theta, X, y, rows, ws, v, hv);
    KRY_REQUIRE(kry_vec_isfinite(m->P, hv), KRY_ENONFINITE);
    return KRY_OK;
}

kry_status kry_mlp_loss_grad(const kry_mlp *model, const double *theta, const double *X,
                             const int *y, size_t rows, kry_mlp_ws *ws, double *loss,
                             double *grad)
{
    KRY_REQUIRE(grad != NULL, KRY_EINVAL);
    KRY_TRY(check_batch(model, X, y, 1, rows, ws));
    return loss_grad_valid_batch(model, theta, X, y, rows, ws, loss, grad);
}

kry_status kry_mlp_hvp(const kry_mlp *model, const double *theta, const double *X,
                       const int *y, size_t rows, kry_mlp_ws *ws, const double *v,
                       double *hv)
{
    KRY_REQUIRE(v != NULL && hv != NULL, KRY_EINVAL);
    KRY_TRY(check_batch(model, X, y, 1, rows, ws));
    return hvp_valid_batch(model, theta, X, y, rows, ws, v, hv);
}

kry_status kry_mlp_dense_hessian(const kry_mlp *model, const double *theta, const double *X,
                                 const int *y, size_t rows, kry_mlp_ws *ws, double *H,
                                 size_t ldh)
{
    KRY_REQUIRE(H != NULL, KRY_EINVAL);
    KRY_TRY(check_batch(model, X, y, 1, rows, ws));
    KRY_TRY(check_theta(model, theta));
    size_t P = model->P;
    KRY_REQUIRE(ldh >= P, KRY_EINVAL);
    KRY_REQUIRE(ldh <= SIZE_MAX / P, KRY_ERANGE);
    double *e = ws->pv1, *col = ws->pv2;
    memset(e, 0, P * sizeof *e);
    for (size_t j = 0; j < P; ++j) {
        e[j] = 1.0;
        hvp_all(model, theta, X, y, rows, ws, e, col);
        e[j] = 0.0;
        KRY_REQUIRE(kry_vec_isfinite(P, col), KRY_ENONFINITE);
        for (size_t i = 0; i < P; ++i)
            H[i * ldh + j] = col[i];
    }
    return KRY_OK;
}

kry_status kry_mlp_predict(const kry_mlp *model, const double *theta, const double *X,
                           size_t rows, kry_mlp_ws *ws, int *labels)
{
    KRY_REQUIRE(labels != NULL, KRY_EINVAL);
    KRY_TRY(check_batch(model, X, NULL, 0, rows, ws));
    KRY_TRY(check_theta(model, theta));
    size_t L = model->L, C = model->sizes[L], n0 = model->sizes[0];
    for (size_t r0 = 0; r0 < rows; r0 += ws->max_rows) {
        size_t c = rows - r0 < ws->max_rows ? rows - r0 : ws->max_rows;
        forward(model, theta, X + r0 * n0, c, ws);
        const double *z = ws->a[L];
        for (size_t r = 0; r < c; ++r) {
            const double *zr = z + r * C;
            KRY_REQUIRE(kry_vec_isfinite(C, zr), KRY_ENONFINITE);
            size_t best = 0;
            for (size_t k = 1; k < C; ++k)
                if (zr[k] > zr[best])
                    best = k;
            labels[r0 + r] = (int)best;
        }
    }
    return KRY_OK;
}

kry_status kry_mlp_accuracy(const kry_mlp *model, const double *theta, const double *X,
                            const int *y, size_t rows, kry_mlp_ws *ws, double *accuracy)
{
    KRY_REQUIRE(accuracy != NULL, KRY_EINVAL);
    KRY_TRY(check_batch(model, X, y, 1, rows, ws));
    KRY_TRY(check_theta(model, theta));
    size_t L = model->L, C = model->sizes[L], n0 = model->sizes[0], hits = 0;
    for (size_t r0 = 0; r0 < rows; r0 += ws->max_rows) {
        size_t c = rows - r0 < ws->max_rows ? rows - r0 : ws->max_rows;
        forward(model, theta, X + r0 * n0, c, ws);
        const double *z = ws->a[L];
        for (size_t r = 0; r < c; ++r) {
            const double *zr = z + r * C;
            KRY_REQUIRE(kry_vec_isfinite(C, zr), KRY_ENONFINITE);
            size_t best = 0;
            for (size_t k = 1; k < C; ++k)
                if (zr[k] > zr[best])
                    best = k;
            hits += best == (size_t)y[r0 + r];
        }
    }
    *accuracy = (double)hits / (double)rows;
    return KRY_OK;
}

/* --------------------------------------------------------------- operators */

kry_status kry_mlp_batch_init(kry_mlp_batch *batch, const kry_mlp *model, const double *X,
                              const int *y, size_t rows, kry_mlp_ws *ws)
{
    KRY_REQUIRE(batch != NULL, KRY_EINVAL);
    KRY_TRY(check_batch(model, X, y, 1, rows, ws));
    memset(batch, 0, sizeof *batch);
    batch->model = model;
    batch->X = X;
    batch->y = y;
    batch->rows = rows;
    batch->ws = ws;
    batch->status = KRY_OK;
    return KRY_OK;
}

int kry_mlp_grad_fn(void *ctx, const double *restrict theta, double *restrict g)
{
    kry_mlp_batch *b = ctx;
    if (b == NULL)
        return 1;
    if (b->model == NULL || b->X == NULL || b->y == NULL || b->ws == NULL || b->rows == 0) {
        b->status = KRY_EINVAL; /* not filled by kry_mlp_batch_init */
        return 1;
    }
    double loss = 0.0;
    b->status = loss_grad_valid_batch(b->model, theta, b->X, b->y, b->rows, b->ws, &loss, g);
    if (b->status != KRY_OK)
        return 1;
    b->loss = loss;
    b->n_grads++;
    return 0;
}

typedef struct mlp_hvp_ctx {
    const kry_mlp *model;
    const double *theta, *X;
    const int *y;
    size_t rows;
    kry_mlp_ws *ws;
    size_t count;
    kry_status last;
} mlp_hvp_ctx;

static int mlp_hvp_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    mlp_hvp_ctx *c = ctx;
    c->last = hvp_valid_batch(c->model, c->theta, c->X, c->y, c->rows, c->ws, x, y);
    if (c->last != KRY_OK)
        return 1;
    c->count++;
    return 0;
}

static void mlp_hvp_destroy(void *ctx) { free(ctx); }

kry_status kry_operator_mlp_hvp(const kry_mlp *model, const double *theta, const double *X,
                                const int *y, size_t rows, kry_mlp_ws *ws, kry_operator *out)
{
    KRY_REQUIRE(out != NULL, KRY_EINVAL);
    memset(out, 0, sizeof *out);
    KRY_TRY(check_batch(model, X, y, 1, rows, ws));
    KRY_TRY(check_theta(model, theta));
    mlp_hvp_ctx *c = malloc(sizeof *c);
    KRY_REQUIRE(c != NULL, KRY_ENOMEM);
    c->model = model;
    c->theta = theta;
    c->X = X;
    c->y = y;
    c->rows = rows;
    c->ws = ws;
    c->count = 0;
    c->last = KRY_OK;
    out->n = model->P;
    out->matvec = mlp_hvp_matvec;
    out->ctx = c;
    out->destroy = mlp_hvp_destroy;
    return KRY_OK;
}

static const mlp_hvp_ctx *hvp_ctx_of(const kry_operator *op)
{
    if (op == NULL || op->matvec != mlp_hvp_matvec || op->ctx == NULL)
        return NULL;
    return op->ctx;
}

kry_status kry_mlp_hvp_count(const kry_operator *op, size_t *count)
{
    const mlp_hvp_ctx *c = hvp_ctx_of(op);
    KRY_REQUIRE(c != NULL && count != NULL, KRY_EINVAL);
    *count = c->count;
    return KRY_OK;
}

kry_status kry_mlp_hvp_last_status(const kry_operator *op, kry_status *last)
{
    const mlp_hvp_ctx *c = hvp_ctx_of(op);
    KRY_REQUIRE(c != NULL && last != NULL, KRY_EINVAL);
    *last = c->last;
    return KRY_OK;
}

/* ---------------------------------------------------------------- training */

kry_mlp_train_params kry_mlp_train_params_default(void)
{
    kry_mlp_train_params p = {KRY_MLP_SGD, 0.1, 0.9, 0.999, 1e-8, 64, 0};
    return p;
}

kry_status kry_mlp_trainer_alloc(const kry_mlp *model, const kry_mlp_train_params *params,
                                 kry_mlp_trainer **out)
{
    KRY_REQUIRE(out != NULL, KRY_EINVAL);
    *out = NULL;
    KRY_REQUIRE(model != NULL, KRY_EINVAL);
    kry_mlp_train_params p = params ? *params : kry_mlp_train_params_default();
    KRY_REQUIRE((int)p.method >= 0 && p.method < KRY_MLP_OPTIMIZER_COUNT, KRY_EINVAL);
    KRY_REQUIRE(isfinite(p.lr) && isfinite(p.beta1) && isfinite(p.beta2) && isfinite(p.eps),
                KRY_ENONFINITE);
    KRY_REQUIRE(p.lr > 0.0 && p.eps > 0.0, KRY_EINVAL);
    KRY_REQUIRE(p.beta1 >= 0.0 && p.beta1 < 1.0 && p.beta2 >= 0.0 && p.beta2 < 1.0,
                KRY_EINVAL);
    size_t n0 = model->sizes[0], P = model->P;
    KRY_REQUIRE(kry_fits_blas_int(p.batch), KRY_ERANGE);
    KRY_REQUIRE(p.batch <= SIZE_MAX / sizeof(double) / n0, KRY_ERANGE);

    kry_status st = KRY_ENOMEM;
    kry_mlp_trainer *tr = calloc(1, sizeof *tr);
    if (tr == NULL)
        goto fail;
    tr->model = model;
    tr->p = p;
    tr->g = malloc(P * sizeof *tr->g);
    if (tr->g == NULL)
        goto fail;
    if (p.method == KRY_MLP_ADAM) {
        tr->m1 = calloc(P, sizeof *tr->m1);
        tr->m2 = calloc(P, sizeof *tr->m2);
        if (tr->m1 == NULL || tr->m2 == NULL)
            goto fail;
    }
    if (p.batch > 0) {
        tr->Xb = malloc(p.batch * n0 * sizeof *tr->Xb);
        tr->yb = malloc(p.batch * sizeof *tr->yb);
        if (tr->Xb == NULL || tr->yb == NULL)
            goto fail;
    }
    *out = tr;
    return KRY_OK;
fail:
    kry_mlp_trainer_free(tr);
    return st;
}

void kry_mlp_trainer_free(kry_mlp_trainer *tr)
{
    if (tr == NULL)
        return;
    free(tr->g);
    free(tr->m1);
    free(tr->m2);
    free(tr->Xb);
    free(tr->yb);
    free(tr);
}

size_t kry_mlp_trainer_steps(const kry_mlp_trainer *tr) { return tr ? tr->t : 0; }

static void apply_update(kry_mlp_trainer *tr, const double *g, double *theta)
{
    size_t P = tr->model->P;
    const kry_mlp_train_params *p = &tr->p;
    if (p->method == KRY_MLP_SGD) {
        cblas_daxpy((int)P, -p->lr, g, 1, theta, 1);
    } else {
        /* The same Adam step as kry_optim (vmath.h); g is finite here (both callers
           check it), so the update always happens. */
        double t1 = (double)(tr->t + 1);
        double c1 = 1.0 - pow(p->beta1, t1), c2 = 1.0 - pow(p->beta2, t1);
        (void)kry_adam_update(P, theta, tr->m1, tr->m2, g, p->beta1, p->beta2, p->lr / c1,
                              1.0 / c2, p->eps, 0.0);
    }
    tr->t++;
}

kry_status kry_mlp_trainer_update(kry_mlp_trainer *tr, const double *g, double *theta)
{
    KRY_REQUIRE(tr != NULL && g != NULL && theta != NULL, KRY_EINVAL);
    KRY_REQUIRE(kry_vec_isfinite(tr->model->P, g), KRY_ENONFINITE);
    apply_update(tr, g, theta);
    return KRY_OK;
}

kry_status kry_mlp_trainer_step(kry_mlp_trainer *tr, double *theta, const double *X,
                                const int *y, size_t rows, kry_mlp_ws *ws, double *loss)
{
    KRY_REQUIRE(tr != NULL && theta != NULL && X != NULL && y != NULL && ws != NULL,
                KRY_EINVAL);
    KRY_REQUIRE(rows >= 1, KRY_EINVAL);
    const kry_mlp *m = tr->model;
    const double *Xs = X;
    const int *ys = y;
    size_t n = rows, batch = tr->p.batch, n0 = m->sizes[0];
    if (batch > 0 && batch < rows) {
        KRY_REQUIRE(rows <= SIZE_MAX / n0, KRY_ERANGE);
        uint64_t base = (uint64_t)tr->t * (uint64_t)batch;
        for (size_t i = 0; i < batch; ++i) {
            double u = kry_rng_uniform(tr->p.seed, KRY_MLP_RNG_STREAM_BATCH, base + i);
            size_t r = (size_t)(u * (double)rows);
            if (r >= rows)
                r = rows - 1;
            memcpy(tr->Xb + i * n0, X + r * n0, n0 * sizeof *X);
            tr->yb[i] = y[r];
        }
        Xs = tr->Xb;
        ys = tr->yb;
        n = batch;
    }
    double f = 0.0;
    KRY_TRY(kry_mlp_loss_grad(m, theta, Xs, ys, n, ws, &f, tr->g));
    apply_update(tr, tr->g, theta);
    if (loss != NULL)
        *loss = f;
    return KRY_OK;
}
