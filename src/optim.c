/* optim.c — SGD with momentum, Adam (Kingma & Ba, "Adam: a method for stochastic
   optimization", ICLR 2015), the one-cycle learning-rate schedule (Smith & Topin,
   "Super-convergence", 2017; here with linear warm-up and linear decay), early
   stopping, and the BCE-with-logits and MSE losses (module optim). */
#include <math.h>
#include <stdlib.h>

#include "internal.h"
#include "vmath.h"
#include "kry/optim.h"

struct kry_optim {
    size_t n, total, t;
    kry_optim_params p;
    double *m, *v; /* first and second moments (SGD uses m only) */
};

kry_optim_params kry_optim_params_default(void)
{
    kry_optim_params p;
    p.kind = KRY_OPTIM_ADAM;
    p.lr_max = 0.05;
    p.warmup_frac = 0.3;
    p.div_start = 25.0;
    p.div_final = 1e4;
    p.momentum = 0.9;
    p.beta1 = 0.9;
    p.beta2 = 0.999;
    p.eps = 1e-8;
    p.weight_decay = 0.0;
    return p;
}

kry_optim *kry_optim_alloc(size_t n, size_t total_steps, const kry_optim_params *params)
{
    kry_optim_params p = params ? *params : kry_optim_params_default();
    if (n == 0 || total_steps == 0 || !(p.lr_max > 0.0) || !(p.warmup_frac >= 0.0) ||
        !(p.warmup_frac <= 1.0) || !(p.div_start >= 1.0) || !(p.div_final >= 1.0) ||
        !(p.momentum >= 0.0 && p.momentum < 1.0) || !(p.beta1 >= 0.0 && p.beta1 < 1.0) ||
        !(p.beta2 >= 0.0 && p.beta2 < 1.0) || !(p.eps > 0.0) || !(p.weight_decay >= 0.0) ||
        (p.kind != KRY_OPTIM_ADAM && p.kind != KRY_OPTIM_SGD))
        return NULL;
    kry_optim *o = calloc(1, sizeof *o);
    if (o == NULL)
        return NULL;
    o->n = n;
    o->total = total_steps;
    o->p = p;
    o->m = calloc(n, sizeof(double));
    o->v = calloc(n, sizeof(double));
    if (o->m == NULL || o->v == NULL) {
        kry_optim_free(o);
        return NULL;
    }
    return o;
}

void kry_optim_free(kry_optim *o)
{
    if (o == NULL)
        return;
    free(o->m);
    free(o->v);
    free(o);
}

double kry_optim_lr(const kry_optim *o, size_t step)
{
    if (o == NULL)
        return 0.0;
    double top = o->p.lr_max, start = top / o->p.div_start, end = top / o->p.div_final;
    double T = (double)o->total, tw = floor(o->p.warmup_frac * T);
    double s = (double)step;
    if (s >= T - 1.0)
        return T <= 1.0 ? top : end;
    if (s < tw)
        return start + (top - start) * s / tw;
    double span = T - 1.0 - tw;
    return span > 0.0 ? top + (end - top) * (s - tw) / span : top;
}

kry_status kry_optim_step(kry_optim *o, double *x, const double *grad, double *lr_used)
{
    KRY_REQUIRE(o != NULL && x != NULL && grad != NULL, KRY_EINVAL);
    double lr = kry_optim_lr(o, o->t);
    double wd = o->p.weight_decay * lr;
    if (o->p.kind == KRY_OPTIM_SGD) {
        for (size_t i = 0; i < o->n; ++i)
            if (!isfinite(grad[i]))
                return KRY_ENONFINITE;
        double mu = o->p.momentum;
        for (size_t i = 0; i < o->n; ++i) {
            o->m[i] = mu * o->m[i] + grad[i];
            x[i] -= lr * o->m[i] + wd * x[i];
        }
    } else {
        double b1 = o->p.beta1, b2 = o->p.beta2, t = (double)(o->t + 1);
        double c1 = 1.0 - pow(b1, t), c2 = 1.0 - pow(b2, t);
        /* (vmath.h: the same formulas, vectorised; it checks grad first.) */
        if (kry_adam_update(o->n, x, o->m, o->v, grad, b1, b2, lr / c1, 1.0 / c2, o->p.eps,
                            wd) != 0)
            return KRY_ENONFINITE;
    }
    ++o->t;
    if (lr_used)
        *lr_used = lr;
    return KRY_OK;
}

kry_early_stop kry_early_stop_init(size_t patience, double min_delta)
{
    kry_early_stop es;
    es.patience = patience;
    es.min_delta = min_delta;
    es.best = INFINITY;
    es.best_epoch = 0;
    es.bad_epochs = 0;
    return es;
}

int kry_early_stop_update(kry_early_stop *es, size_t epoch, double loss, int *improved)
{
    int imp = loss < es->best - es->min_delta;
    if (imp) {
        es->best = loss;
        es->best_epoch = epoch;
        es->bad_epochs = 0;
    } else {
        ++es->bad_epochs;
    }
    if (improved)
        *improved = imp;
    return es->patience > 0 && es->bad_epochs >= es->patience;
}

double kry_optim_loss_bce(size_t m, const double *y, const double *t, double *grad)
{
    /* log(1 + exp(y)) - t y without overflow, and sigmoid(y) into grad (vmath.h). */
    double s = kry_bce_terms(m, y, t, grad);
    if (grad)
        for (size_t i = 0; i < m; ++i)
            grad[i] = (grad[i] - t[i]) / (double)m;
    return s / (double)m;
}

double kry_optim_loss_mse(size_t m, const double *y, const double *t, double *grad)
{
    double s = 0.0;
    for (size_t i = 0; i < m; ++i) {
        double r = y[i] - t[i];
        s += r * r;
        if (grad)
            grad[i] = 2.0 * r / (double)m;
    }
    return s / (double)m;
}
