/* ex_heat.c — worked application: recovering diffusion coefficients of the heat equation
   from a noisy snapshot, with exp(T L(kappa)) u0 by Lanczos and its exact gradient by
   the Lanczos adjoint (kry/funm.h, kry/adjoint.h; MATH.md sections 6-7).

   The model. On (0, 1) with u = 0 at both ends, u_t = (kappa(x) u_x)_x. With N interior
   nodes x_i = (i+1) h, h = 1/(N+1), and the conservative finite-difference Laplacian

       (L u)_i = [kappa_{i+1/2} (u_{i+1} - u_i) - kappa_{i-1/2} (u_i - u_{i-1})] / h^2,

   the semi-discrete solution is u(T) = exp(T L) u0. The face coefficients are piecewise
   constant on P zones, kappa_{face} = theta_{zone(face)}, so L is an affine family

       L(theta) = sum_z theta_z B_z,   B_z = the stencil of the faces in zone z,

   each B_z a symmetric tridiagonal matrix: kry_operator_affine over kry_operator_tridiag.
   L is negative definite, and f(x) = exp(T x) is entire, so Lanczos converges fast once
   K exceeds about sqrt(T |L|).

   The inverse problem. Given u_obs = u(T; theta_true) + noise, minimise
       loss(theta) = |u(T; theta) - u_obs|^2.
   The gradient is one adjoint sweep: with ubar = 2 (u(T) - u_obs), kry_adjoint_funm
   returns d(ubar^T exp(T L(theta)) u0)/d(theta) through the affine family's param_vjp,
   at about the cost of a second Lanczos run. We check it against central differences,
   then run gradient descent on s = log(theta) (keeps theta > 0) with an Armijo
   backtracking line search.

   Usage: ex_heat [--small] [--quiet]. --small is the size the test suite runs. The
   program exits nonzero if a check fails: gradient vs central differences (relative
   error <= 1e-6), Lanczos accuracy (K vs 2K steps), and the recovery (loss down to the
   noise level, theta within 5 per cent). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kry/adjoint.h"
#include "kry/funm.h"
#include "kry/kry.h"

typedef struct heat {
    size_t n, p, steps;
    double T;
    double *u0, *uobs;      /* [n] */
    kry_operator *B;        /* [p] zone stencils */
    double **bd, **be;      /* their diagonals / off-diagonals */
    kry_operator L;         /* the affine family */
    kry_lanczos_ws *lws;
    kry_funm_ws *fws;
    kry_adjoint_ws *aws;
    kry_lanczos_params lp;
    double *u, *ubar, *grad; /* scratch */
    size_t matvecs;
} heat;

static int check(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "PASS" : "FAIL", what);
    return ok ? 0 : 1;
}

static void die(const char *what, kry_status st)
{
    fprintf(stderr, "ex_heat: %s: %s\n", what, kry_strerror(st));
    exit(2);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL) {
        fprintf(stderr, "ex_heat: out of memory\n");
        exit(2);
    }
    return p;
}

/* Builds the zone stencils B_z and the affine family L(theta). */
static void heat_init(heat *H, size_t n, size_t p, double T, size_t steps,
                      const double *theta)
{
    memset(H, 0, sizeof *H);
    H->n = n;
    H->p = p;
    H->T = T;
    H->steps = steps;
    const double ih2 = (double)((n + 1) * (n + 1)); /* 1/h^2 */
    H->B = xcalloc(p, sizeof *H->B);
    H->bd = xcalloc(p, sizeof *H->bd);
    H->be = xcalloc(p, sizeof *H->be);
    const kry_operator **terms = xcalloc(p, sizeof *terms);
    for (size_t z = 0; z < p; ++z) {
        H->bd[z] = xcalloc(n, sizeof(double));
        H->be[z] = xcalloc(n, sizeof(double));
    }
    /* Face f = 0..n sits between nodes f-1 and f (node -1 and node n are the boundary). */
    for (size_t f = 0; f <= n; ++f) {
        size_t z = f * p / (n + 1);
        if (f >= 1)
            H->bd[z][f - 1] -= ih2;
        if (f < n)
            H->bd[z][f] -= ih2;
        if (f >= 1 && f < n)
            H->be[z][f - 1] += ih2;
    }
    for (size_t z = 0; z < p; ++z) {
        kry_status st = kry_operator_tridiag(n, H->bd[z], H->be[z], &H->B[z]);
        if (st != KRY_OK)
            die("zone stencil", st);
        terms[z] = &H->B[z];
    }
    kry_status st = kry_operator_affine(n, p, terms, theta, &H->L);
    if (st != KRY_OK)
        die("affine family", st);
    free(terms);
    H->lws = kry_lanczos_ws_alloc(n, steps);
    H->fws = kry_funm_ws_alloc(n, steps);
    H->aws = kry_adjoint_ws_alloc(n, steps);
    if (!H->lws || !H->fws || !H->aws)
        die("workspaces", KRY_ENOMEM);
    H->lp = kry_lanczos_params_default(); /* full reorthogonalisation */
    H->lp.max_steps = steps;
    H->u0 = xcalloc(n, sizeof(double));
    H->uobs = xcalloc(n, sizeof(double));
    H->u = xcalloc(n, sizeof(double));
    H->ubar = xcalloc(n, sizeof(double));
    H->grad = xcalloc(p, sizeof(double));
}

static void heat_free(heat *H)
{
    kry_operator_destroy(&H->L);
    for (size_t z = 0; z < H->p; ++z) {
        kry_operator_destroy(&H->B[z]);
        free(H->bd[z]);
        free(H->be[z]);
    }
    free(H->B);
    free(H->bd);
    free(H->be);
    kry_lanczos_ws_free(H->lws);
    kry_funm_ws_free(H->fws);
    kry_adjoint_ws_free(H->aws);
    free(H->u0);
    free(H->uobs);
    free(H->u);
    free(H->ubar);
    free(H->grad);
}

/* u = exp(T L(theta)) u0 with K steps. */
static void forward(heat *H, const double *theta, size_t steps, double *u)
{
    kry_status st = kry_affine_set_theta(&H->L, theta);
    if (st != KRY_OK)
        die("set theta", st);
    kry_funm_fn f = kry_funm_exp(H->T);
    kry_lanczos_params lp = H->lp;
    lp.max_steps = steps;
    kry_lanczos_result info;
    st = kry_funm_apply(&H->L, &f, H->u0, &lp, H->lws, H->fws, u, &info);
    if (st != KRY_OK)
        die("exp(T L) u0", st);
    H->matvecs += info.matvecs;
}

/* loss(theta) = |u(T) - u_obs|^2. */
static double loss(heat *H, const double *theta)
{
    forward(H, theta, H->steps, H->u);
    double s = 0.0;
    for (size_t i = 0; i < H->n; ++i)
        s += (H->u[i] - H->uobs[i]) * (H->u[i] - H->uobs[i]);
    return s;
}

/* loss and its gradient in theta (H->grad), by one forward and one adjoint sweep. */
static double loss_grad(heat *H, const double *theta)
{
    double l = loss(H, theta);
    for (size_t i = 0; i < H->n; ++i)
        H->ubar[i] = 2.0 * (H->u[i] - H->uobs[i]);
    memset(H->grad, 0, H->p * sizeof(double));
    kry_status st = kry_affine_set_theta(&H->L, theta);
    if (st != KRY_OK)
        die("set theta", st);
    kry_funm_fn f = kry_funm_exp(H->T);
    kry_adjoint_params ap = kry_adjoint_params_default();
    ap.matvec_vjp = kry_affine_matvec_vjp; /* share B_z lambda between u and theta_bar */
    st = kry_adjoint_funm(&H->L, &f, H->u0, H->ubar, &H->lp, &ap, H->lws, H->fws, H->aws,
                          NULL, H->grad, NULL);
    if (st != KRY_OK)
        die("adjoint", st);
    H->matvecs += 2 * H->steps;
    return l;
}

int main(int argc, char **argv)
{
    int small = 0, quiet = 0;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--small") == 0)
            small = 1;
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else {
            fprintf(stderr, "usage: ex_heat [--small] [--quiet]\n");
            return 2;
        }
    }
    const size_t n = small ? 60 : 400, p = small ? 4 : 6, K = small ? 40 : 60;
    const double T = small ? 2e-3 : 1.5e-4;
    const double theta_true[6] = {0.6, 1.4, 0.9, 2.0, 1.1, 0.7};
    double theta[6] = {1.0, 1.0, 1.0, 1.0, 1.0, 1.0};
    heat H;
    heat_init(&H, n, p, T, K, theta_true);
    int fails = 0;

    /* Initial temperature: Gaussian bumps, so that every zone has gradients to diffuse.
       (Not a sum of a few sines: those are eigenvectors of L at constant kappa, the
       starting guess, and Lanczos from u0 would stop on a 4-dimensional invariant
       subspace, which carries u(T) exactly but not its derivative in kappa, see
       kry/adjoint.h.) */
    for (size_t i = 0; i < n; ++i) {
        double x = (double)(i + 1) / (double)(n + 1);
        H.u0[i] = 0.8 * exp(-pow((x - 0.12) / 0.05, 2)) + exp(-pow((x - 0.33) / 0.06, 2)) +
                  0.7 * exp(-pow((x - 0.55) / 0.04, 2)) + 1.2 * exp(-pow((x - 0.8) / 0.07, 2)) +
                  0.4 * x * (1.0 - x);
    }
    /* Synthetic observation: the exact model at theta_true plus 0.1 % noise. */
    forward(&H, theta_true, K, H.uobs);
    double umax = 0.0;
    for (size_t i = 0; i < n; ++i)
        umax = fmax(umax, fabs(H.uobs[i]));
    const double noise = 1e-3 * umax;
    double noise2 = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double e = noise * kry_rng_normal(2385, KRY_RNG_STREAM_USER, i);
        H.uobs[i] += e;
        noise2 += e * e;
    }

    /* Check 1: K Lanczos steps resolve exp(T L) u0 (compare with 2K steps). */
    {
        double *u2 = xcalloc(n, sizeof(double)), *u1 = xcalloc(n, sizeof(double));
        kry_lanczos_ws *lws2 = kry_lanczos_ws_alloc(n, 2 * K);
        kry_funm_ws *fws2 = kry_funm_ws_alloc(n, 2 * K);
        kry_lanczos_params lp2 = kry_lanczos_params_default();
        lp2.max_steps = 2 * K;
        kry_funm_fn f = kry_funm_exp(T);
        forward(&H, theta, K, u1);
        kry_status st = kry_funm_apply(&H.L, &f, H.u0, &lp2, lws2, fws2, u2, NULL);
        if (st != KRY_OK)
            die("reference run", st);
        double d = 0.0, s = 0.0;
        for (size_t i = 0; i < n; ++i) {
            d += (u1[i] - u2[i]) * (u1[i] - u2[i]);
            s += u2[i] * u2[i];
        }
        printf("Lanczos: n = %zu, K = %zu, |u_K - u_2K| / |u_2K| = %.2e\n", n, K,
               sqrt(d / s));
        fails += check(sqrt(d / s) <= 1e-10, "K steps resolve exp(T L) u0 to 1e-10");
        free(u1);
        free(u2);
        kry_lanczos_ws_free(lws2);
        kry_funm_ws_free(fws2);
    }

    /* Check 2: the adjoint gradient against central differences, zone by zone. */
    {
        double l0 = loss_grad(&H, theta), worst = 0.0;
        double *g = xcalloc(p, sizeof(double));
        memcpy(g, H.grad, p * sizeof(double));
        for (size_t z = 0; z < p; ++z) {
            const double h = 1e-6;
            double tp[6], tm[6];
            memcpy(tp, theta, sizeof tp);
            memcpy(tm, theta, sizeof tm);
            tp[z] += h;
            tm[z] -= h;
            double fd = (loss(&H, tp) - loss(&H, tm)) / (2 * h);
            double rel = fabs(g[z] - fd) / fabs(fd);
            worst = fmax(worst, rel);
            if (!quiet)
                printf("  d loss / d theta_%zu: adjoint %+.10e  central diff. %+.10e  "
                       "(rel. diff. %.1e)\n",
                       z, g[z], fd, rel);
        }
        printf("gradient at theta = 1: loss %.6e, worst relative difference %.2e\n", l0,
               worst);
        fails += check(worst <= 1e-6, "adjoint gradient = central differences (<= 1e-6)");
        free(g);
    }

    /* Gradient descent on s = log(theta) with Armijo backtracking: d loss/ds = theta g. */
    double s[6], step = 1e-2, l = loss_grad(&H, theta);
    for (size_t z = 0; z < p; ++z)
        s[z] = log(theta[z]);
    const double l_init = l;
    size_t it = 0, stall = 0;
    const size_t max_it = small ? 500 : 1000;
    for (; it < max_it; ++it) {
        double gs[6], gn2 = 0.0;
        for (size_t z = 0; z < p; ++z) {
            gs[z] = theta[z] * H.grad[z];
            gn2 += gs[z] * gs[z];
        }
        if (gn2 <= 1e-20 * l_init * l_init || stall >= 5)
            break;
        /* Backtrack until the Armijo condition holds; then try a longer step next time. */
        double trial[6], lt;
        for (;;) {
            for (size_t z = 0; z < p; ++z)
                trial[z] = exp(s[z] - step * gs[z]);
            lt = loss(&H, trial);
            if (lt <= l - 1e-4 * step * gn2 || step < 1e-16)
                break;
            step *= 0.5;
        }
        for (size_t z = 0; z < p; ++z) {
            s[z] -= step * gs[z];
            theta[z] = exp(s[z]);
        }
        step *= 2.0;
        double lprev = l;
        l = loss_grad(&H, theta);
        stall = lprev - l <= 1e-7 * l ? stall + 1 : 0; /* stop after 5 flat steps */
        if (!quiet && (it % (small ? 50 : 100) == 0))
            printf("  iteration %4zu: loss %.6e, step %.2e\n", it, l, step);
    }
    double worst = 0.0;
    printf("after %zu iterations: loss %.6e (initial %.6e, noise |e|^2 = %.6e)\n", it, l,
           l_init, noise2);
    for (size_t z = 0; z < p; ++z) {
        double rel = fabs(theta[z] - theta_true[z]) / theta_true[z];
        worst = fmax(worst, rel);
        printf("  theta_%zu = %.5f  (true %.2f, error %.2f %%)\n", z, theta[z], theta_true[z],
               100.0 * rel);
    }
    printf("matvecs used: %zu\n", H.matvecs);
    fails += check(l <= 1.5 * noise2, "loss reduced to the noise level");
    fails += check(worst <= 0.05, "diffusion coefficients recovered within 5 %");
    heat_free(&H);
    return fails == 0 ? 0 : 1;
}
