/* ref_arpack.c — ARPACK (Lehoucq, Sorensen & Yang 1998: implicitly restarted Lanczos
   with exact shifts) driven through its reverse-communication interface, as a reference
   of bench/eigs_compare. Products are counted where the loop computes them. */
#include "ref_arpack.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ARPACK's Fortran 77 entry points (libarpack, default 32-bit integers, gfortran's
   hidden CHARACTER lengths appended as size_t). Declared here rather than taken from
   arpack.h so that only the classic Fortran symbols are needed. */
extern void dsaupd_(int *ido, const char *bmat, const int *n, const char *which,
                    const int *nev, const double *tol, double *resid, const int *ncv,
                    double *v, const int *ldv, int *iparam, int *ipntr, double *workd,
                    double *workl, const int *lworkl, int *info, size_t bmat_len,
                    size_t which_len);
extern void dseupd_(const int *rvec, const char *howmny, int *select, double *d,
                    double *z, const int *ldz, const double *sigma, const char *bmat,
                    const int *n, const char *which, const int *nev, const double *tol,
                    double *resid, const int *ncv, double *v, const int *ldv,
                    int *iparam, int *ipntr, double *workd, double *workl,
                    const int *lworkl, int *info, size_t howmny_len, size_t bmat_len,
                    size_t which_len);

#define ARPACK_MAX_RESTARTS 100000

int ref_arpack_run(const bench_problem *p, size_t ncv_in, bench_result *r)
{
    int rc = BENCH_RUN_FAILED;
    bench_counter cnt = {0, 0.0};
    bench_result_clear(r);
    /* ARPACK's integers are int: 3n (workd) and ncv (ncv + 8) (workl) must fit. */
    if (ncv_in <= p->k || ncv_in > p->n || p->n > (size_t)INT_MAX / 4 || ncv_in > 40000) {
        snprintf(r->note, sizeof r->note, "ncv=%zu out of range (need k < ncv <= n)",
                 ncv_in);
        return BENCH_RUN_FAILED;
    }
    const int n = (int)p->n, nev = (int)p->k, ncv = (int)ncv_in, ldv = n;
    const int lworkl = ncv * (ncv + 8);
    const char *which = p->which == BENCH_LA ? "LA" : "SA";
    const double tol = p->tol, sigma = 0.0;
    int ido = 0, info = p->native_start ? 0 : 1, rvec = 1;
    int iparam[11] = {0}, ipntr[11] = {0};
    double *resid = NULL, *v = NULL, *workd = NULL, *workl = NULL, *d = NULL, *z = NULL;
    double *work = NULL;
    int *select = NULL;

    double t0 = bench_now();
    resid = malloc((size_t)n * sizeof *resid);
    v = malloc((size_t)n * (size_t)ncv * sizeof *v);
    workd = malloc(3 * (size_t)n * sizeof *workd);
    workl = malloc((size_t)lworkl * sizeof *workl);
    d = malloc((size_t)ncv * sizeof *d);
    z = malloc((size_t)n * (size_t)nev * sizeof *z);
    select = calloc((size_t)ncv, sizeof *select);
    if (!resid || !v || !workd || !workl || !d || !z || !select) {
        snprintf(r->note, sizeof r->note, "out of memory");
        goto done;
    }
    memcpy(resid, p->v0, p->n * sizeof *resid);
    iparam[0] = 1;                     /* exact shifts */
    iparam[2] = ARPACK_MAX_RESTARTS;   /* maximum Arnoldi update iterations */
    iparam[3] = 1;                     /* block size (must be 1) */
    iparam[6] = 1;                     /* mode 1: A x = lambda x */

    for (;;) {
        dsaupd_(&ido, "I", &n, which, &nev, &tol, resid, &ncv, v, &ldv, iparam, ipntr,
                workd, workl, &lworkl, &info, 1, 2);
        if (ido == -1 || ido == 1)
            bench_matvec_counted(p, &cnt, workd + ipntr[0] - 1, workd + ipntr[1] - 1);
        else
            break;
    }
    if (info < 0) {
        snprintf(r->note, sizeof r->note, "dsaupd info=%d", info);
        r->wall_s = bench_now() - t0;
        goto done;
    }
    const int saupd_info = info, its = iparam[2], numop = iparam[8];
    dseupd_(&rvec, "A", select, d, z, &ldv, &sigma, "I", &n, which, &nev, &tol, resid,
            &ncv, v, &ldv, iparam, ipntr, workd, workl, &lworkl, &info, 1, 1, 2);
    r->wall_s = bench_now() - t0;
    r->matvecs = cnt.matvecs;
    r->matvec_s = cnt.seconds;
    r->iterations = (size_t)its;
    if (info != 0) {
        snprintf(r->note, sizeof r->note, "dseupd info=%d (dsaupd info=%d)", info,
                 saupd_info);
        goto done;
    }
    int nconv = iparam[4];
    if (nconv < 0)
        nconv = 0;
    if (nconv > nev)
        nconv = nev;
    r->nconv = (size_t)nconv;
    r->nvals = (size_t)nconv;

    /* dseupd returns ascending eigenvalues; residuals first, then wanted order. */
    work = malloc(p->n * sizeof *work);
    if (work == NULL) {
        snprintf(r->note, sizeof r->note, "out of memory");
        goto done;
    }
    r->max_true_resid = 0.0;
    for (int i = 0; i < nconv; ++i) {
        double rr = bench_true_resid(p, z + (size_t)i * p->n, d[i], work);
        if (rr > r->max_true_resid || rr != rr)
            r->max_true_resid = rr;
        r->vals[p->which == BENCH_LA ? nconv - 1 - i : i] = d[i];
    }
    snprintf(r->note, sizeof r->note,
             "dsaupd mode 1 which=%s nev=%d ncv=%d tol=%.1e restarts=%d numop=%d "
             "info=%d%s%s",
             which, nev, ncv, tol, its, numop, saupd_info,
             saupd_info == 1 ? " (max restarts reached)" : "",
             p->native_start ? " start=ARPACK's own" : "");
    rc = BENCH_RUN_OK;

done:
    free(resid);
    free(v);
    free(workd);
    free(workl);
    free(d);
    free(z);
    free(select);
    free(work);
    return rc;
}
