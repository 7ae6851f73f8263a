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

/* Validates f (non-NULL, known kind, callback present, finite t). */
kry_status kry_funm_check_fn(const kry_funm_fn *f);

#endif /* KRY_FUNM_IMPL_H */
