/* funm_impl.h — private layout of the matrix-function workspace, shared by funm.c and
   adjoint.c (never installed). */
#ifndef KRY_FUNM_IMPL_H
#define KRY_FUNM_IMPL_H

#include <stddef.h>

#include "kry/funm.h"
#include "vec.h"

struct kry_funm_ws {
    size_t n;       /* length of the n-vectors (0: tridiagonal layer only) */
    size_t cap;     /* largest order m of T */
    size_t m;       /* order of the current decomposition (0: none) */
    int valid;      /* decomposition and f, f' at the nodes are valid */
    kry_funm_fn f;  /* the function evaluated at the nodes */
    double *block;  /* the one allocation everything below points into */
    double *theta;  /* [cap] nodes, ascending */
    double *wts;    /* [cap] weights S_{0i}^2 */
    double *fv;     /* [cap] f(theta_i) */
    double *dfv;    /* [cap] f'(theta_i) */
    double *e;      /* [cap] off-diagonal copy destroyed by dstev */
    double *p, *q;  /* [cap] S^T a, S^T b */
    double *y;      /* [cap] scratch: f(T) e_0, cotangent vectors of T */
    double *work;   /* [2 cap] dstev work */
    double *S;      /* [cap^2] eigenvectors of T, column-major */
    double *F;      /* [cap^2] scratch: F o (p q^T) */
    double *W;      /* [cap^2] scratch: S (F o (p q^T)) */
    double *v1, *v2; /* [n] probe and scratch vectors (NULL when n == 0) */
};

/* The allocation behind the funm and adjoint workspaces: a zeroed struct of `bytes`
   bytes and a zeroed block of `doubles` doubles (into *block), or NULL with nothing
   allocated when either fails or doubles is 0. */
void *kry_ws_with_block(size_t bytes, size_t doubles, double **block);

/* Validates f (non-NULL, known kind, callback present, finite t). */
kry_status kry_funm_check_fn(const kry_funm_fn *f);

/* out[0..m) = f(T) e_0, resp. f'(T) e_0, for the current decomposition of ws (out must
   not be ws->y, which they use as scratch). */
void kry_funm_fe0(kry_funm_ws *ws, double *out);
void kry_funm_dfe0(kry_funm_ws *ws, double *out);

/* Lanczos from v (kry_lanczos_run with lp), then kry_funm_tridiag on the T it made:
   *quad and fe0 as there (either may be NULL). info (may be NULL) gets the Lanczos
   summary even on failure. */
kry_status kry_funm_forward(const kry_operator *op, const kry_funm_fn *f, const double *v,
                            const kry_lanczos_params *lp, kry_lanczos_ws *lws,
                            kry_funm_ws *fws, double *quad, double *fe0,
                            kry_lanczos_result *info);

/* SLQ plumbing shared with the adjoint module. kry_slq_check validates the arguments
   and resolves the probe count; kry_slq_probe fills probe j; kry_slq_one runs probe j
   (probe in fws->v1) and returns its term |v|^2 e_0^T f(T) e_0; the result helpers
   initialise, record the Ritz range, and set estimate and standard error from a
   Welford mean and sum of squared deviations. */
kry_status kry_slq_check(const kry_operator *op, const kry_slq_params *p,
                         const kry_funm_ws *fws, size_t *probes);
void kry_slq_probe(const kry_operator *op, const kry_slq_params *p, size_t j, double *v);
kry_status kry_slq_one(const kry_operator *op, const kry_funm_fn *f,
                       const kry_slq_params *p, size_t j, kry_lanczos_ws *lws,
                       kry_funm_ws *fws, kry_slq_result *r, double *term);
void kry_slq_result_init(kry_slq_result *r);
void kry_slq_note_ritz(kry_slq_result *r, const kry_funm_ws *fws);
void kry_slq_finish(kry_slq_result *r, double mean, double m2);

#endif /* KRY_FUNM_IMPL_H */
