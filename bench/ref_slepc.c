/* ref_slepc.c — SLEPc's Krylov–Schur (EPSKRYLOVSCHUR, Stewart 2001; for symmetric
   problems the same iteration as Wu–Simon thick-restart Lanczos) on a MATSHELL that
   wraps the benchmark's matrix-free matvec, as the reference of bench/eigs_compare.

   Settings are SLEPc's defaults except what the comparison fixes for everyone: nev,
   which end, the tolerance and its relative criterion, and the start vector. Products
   are counted at the shell's MatMult, so any product SLEPc does (including any for
   residuals) is counted. */
#include "ref_slepc.h"

#include <math.h>
#include <slepceps.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Process-wide SLEPc state of this benchmark program (not library code). */
static int slepc_ready = 0;
static char slepc_version[256];

int ref_slepc_init(char *msg, size_t msglen)
{
    if (msglen > 0)
        msg[0] = '\0';
    if (slepc_ready)
        return 0;
    if (geteuid() == 0 && (getenv("OMPI_ALLOW_RUN_AS_ROOT") == NULL
                           || getenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM") == NULL)) {
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
        if (msglen > 0)
            snprintf(msg, msglen, "running as root: set OMPI_ALLOW_RUN_AS_ROOT=1 and "
                                  "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 for Open MPI");
    }
    /* No command line: SLEPc runs with its defaults (PETSC_OPTIONS in the environment
       would still be read; eigs_compare warns if it is set). */
    if (SlepcInitialize(NULL, NULL, NULL, NULL) != 0)
        return -1;
    if (SlepcGetVersion(slepc_version, sizeof slepc_version) != 0)
        snprintf(slepc_version, sizeof slepc_version, "SLEPc (unknown version)");
    slepc_ready = 1;
    return 0;
}

void ref_slepc_finalize(void)
{
    if (slepc_ready) {
        (void)SlepcFinalize();
        slepc_ready = 0;
    }
}

const char *ref_slepc_version(void)
{
    return slepc_ready ? slepc_version : "SLEPc (not initialised)";
}

typedef struct shell_ctx {
    const bench_problem *p;
    bench_counter count;
} shell_ctx;

static PetscErrorCode shell_mult(Mat A, Vec x, Vec y)
{
    shell_ctx *c;
    const PetscScalar *xa;
    PetscScalar *ya;

    PetscFunctionBeginUser;
    PetscCall(MatShellGetContext(A, &c));
    PetscCall(VecGetArrayRead(x, &xa));
    PetscCall(VecGetArrayWrite(y, &ya));
    bench_matvec_counted(c->p, &c->count, xa, ya);
    PetscCall(VecRestoreArrayWrite(y, &ya));
    PetscCall(VecRestoreArrayRead(x, &xa));
    PetscFunctionReturn(0);
}

/* Objects of one solve, released by the caller whatever happens. */
typedef struct slepc_objs {
    Mat A;
    EPS eps;
    Vec v0;
    Vec *X;
    PetscInt nX;
} slepc_objs;

static PetscErrorCode slepc_solve(const bench_problem *p, int hep, bench_result *r,
                                  shell_ctx *ctx, slepc_objs *o, double *work)
{
    PetscInt n = (PetscInt)p->n, k = (PetscInt)p->k, nconv, its, nev, ncv, mpd, maxit;
    PetscScalar *va;
    PetscReal tol;
    EPSConvergedReason reason;
    EPSProblemType ptype;
    double max_imag = 0.0;

    PetscFunctionBeginUser;
    PetscCall(MatCreateShell(PETSC_COMM_SELF, n, n, n, n, ctx, &o->A));
    PetscCall(MatShellSetOperation(o->A, MATOP_MULT, (void (*)(void))shell_mult));
    PetscCall(MatCreateVecs(o->A, &o->v0, NULL));
    PetscCall(VecGetArrayWrite(o->v0, &va));
    memcpy(va, p->v0, p->n * sizeof *va);
    PetscCall(VecRestoreArrayWrite(o->v0, &va));
    PetscCall(VecDuplicateVecs(o->v0, k, &o->X));
    o->nX = k;

    PetscCall(EPSCreate(PETSC_COMM_SELF, &o->eps));
    PetscCall(EPSSetOperators(o->eps, o->A, NULL));
    PetscCall(EPSSetType(o->eps, EPSKRYLOVSCHUR));
    if (hep)
        PetscCall(EPSSetProblemType(o->eps, EPS_HEP));
    PetscCall(EPSSetWhichEigenpairs(o->eps, p->which == BENCH_LA ? EPS_LARGEST_REAL
                                                                 : EPS_SMALLEST_REAL));
    PetscCall(EPSSetDimensions(o->eps, k, PETSC_DEFAULT, PETSC_DEFAULT));
    PetscCall(EPSSetTolerances(o->eps, (PetscReal)p->tol, PETSC_DEFAULT));
    PetscCall(EPSSetConvergenceTest(o->eps, EPS_CONV_REL));
    if (!p->native_start)
        PetscCall(EPSSetInitialSpace(o->eps, 1, &o->v0));

    ctx->count.matvecs = 0;
    ctx->count.seconds = 0.0;
    double t0 = bench_now();
    PetscCall(EPSSetUp(o->eps));
    PetscCall(EPSSolve(o->eps));
    PetscCall(EPSGetConverged(o->eps, &nconv));
    PetscInt m = nconv < k ? nconv : k;
    for (PetscInt i = 0; i < m; ++i) {
        PetscScalar kr, ki;
        PetscCall(EPSGetEigenpair(o->eps, i, &kr, &ki, o->X[i], NULL));
        r->vals[i] = (double)kr;
        if (fabs((double)ki) > max_imag)
            max_imag = fabs((double)ki);
    }
    r->wall_s = bench_now() - t0;
    r->matvecs = ctx->count.matvecs;
    r->matvec_s = ctx->count.seconds;
    r->nconv = (size_t)nconv;
    r->nvals = (size_t)m;

    PetscCall(EPSGetIterationNumber(o->eps, &its));
    PetscCall(EPSGetConvergedReason(o->eps, &reason));
    PetscCall(EPSGetDimensions(o->eps, &nev, &ncv, &mpd));
    PetscCall(EPSGetTolerances(o->eps, &tol, &maxit));
    PetscCall(EPSGetProblemType(o->eps, &ptype));
    r->iterations = (size_t)its;
    snprintf(r->note, sizeof r->note,
             "krylovschur %s nev=%d ncv=%d mpd=%d tol=%.1e(rel) maxit=%d its=%d "
             "reason=%s%s%s",
             ptype == EPS_HEP ? "HEP" : ptype == EPS_NHEP ? "NHEP" : "other", (int)nev,
             (int)ncv, (int)mpd, (double)tol, (int)maxit, (int)its,
             EPSConvergedReasons[reason], max_imag > 0.0 ? " (complex parts seen)" : "",
             p->native_start ? " start=SLEPc's own" : "");

    /* True residuals, outside the timed region and the count. */
    r->max_true_resid = 0.0;
    for (PetscInt i = 0; i < m; ++i) {
        const PetscScalar *xa;
        PetscCall(VecGetArrayRead(o->X[i], &xa));
        double rr = bench_true_resid(p, xa, r->vals[i], work);
        PetscCall(VecRestoreArrayRead(o->X[i], &xa));
        if (rr > r->max_true_resid || rr != rr)
            r->max_true_resid = rr;
    }
    PetscFunctionReturn(0);
}

int ref_slepc_run(const bench_problem *p, int hep, bench_result *r)
{
    shell_ctx ctx = {p, {0, 0.0}};
    slepc_objs o = {NULL, NULL, NULL, NULL, 0};
    bench_result_clear(r);
    if (!slepc_ready) {
        snprintf(r->note, sizeof r->note, "SLEPc not initialised");
        return BENCH_RUN_FAILED;
    }
    double *work = malloc(p->n * sizeof *work);
    if (work == NULL) {
        snprintf(r->note, sizeof r->note, "out of memory");
        return BENCH_RUN_FAILED;
    }
    PetscErrorCode ierr = slepc_solve(p, hep, r, &ctx, &o, work);
    free(work);
    if (o.X != NULL)
        (void)VecDestroyVecs(o.nX, &o.X);
    (void)EPSDestroy(&o.eps);
    (void)VecDestroy(&o.v0);
    (void)MatDestroy(&o.A);
    if (ierr != 0) {
        snprintf(r->note, sizeof r->note, "PETSc/SLEPc error %d", (int)ierr);
        return BENCH_RUN_FAILED;
    }
    return BENCH_RUN_OK;
}
