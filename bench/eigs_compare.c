/* eigs_compare.c — issue 3's benchmark: kry's top-k eigensolver against SLEPc's
   Krylov–Schur (its defaults, and with EPS_HEP) and ARPACK's dsaupd (ncv = 2k+1 and
   ncv = 4k), all in one run, on matrix-free problems with analytic spectra.

   Every solver gets the same operator (bench_matvec_counted: products counted and timed
   at the operator), the same start vector (kry_rng_fill_normal(seed, KRY_RNG_STREAM_START,
   0, n)), the same k, end and tolerance with a relative residual test (MATH.md section 3),
   and is scored by bench_score against the analytic spectrum. Each solver runs `reps`
   times (default 3); wall and matvec times are medians, matvec counts must agree.
   OpenBLAS runs single-threaded (openblas_set_num_threads(1)); SLEPc/PETSc and ARPACK
   reach the same libopenblas through libblas.so.3 on Debian, so the setting covers them.

   Usage: eigs_compare [--reps N] [--rep-limit S] [--problems ID,ID,...] [--seed S]
                       [--native-start] [--matvec stencil|csr] [--help]
   The last line of the output is one JSON object with every figure. */
#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eigs_problems.h"
#include "kry/topk.h"

#ifdef HAVE_SLEPC
#include "ref_slepc.h"
#endif
#ifdef HAVE_ARPACK
#include "ref_arpack.h"
#endif

/* =====================================================================================
   kry entry point — the ONE function to replace when kry's top-k driver lands.

   Contract (what the reference solvers do too):
   - Build the operator with bench_problem_operator(p, &ctx, &op) so every product goes
     through bench_matvec_counted; afterwards ctx.count.matvecs / ctx.count.seconds are
     the matvecs and the time inside them.
   - Solve for p->k eigenvalues at p->which (BENCH_LA / BENCH_SA), tolerance p->tol with
     MATH.md section 3's relative test, kry's DEFAULT basis size and other defaults, start
     vector p->v0 (as a user start / warm-start vector, or make the driver draw the same
     vector: kry_rng_fill_normal(p->seed, KRY_RNG_STREAM_START, 0, p->n)).
   - r->wall_s: bench_now() around the whole solve (workspace allocation, driver call,
     eigenvector extraction); r->matvecs, r->matvec_s from ctx.count; r->nconv; the
     first min(nconv, k) eigenvalues in r->vals[0..r->nvals) in wanted order;
     r->iterations (restarts); r->max_true_resid = max over returned pairs of
     bench_true_resid(p, x_i, theta_i, work) (outside the timed region); r->note (e.g.
     basis size and stop reason).
   - Return BENCH_RUN_OK, BENCH_RUN_FAILED (note says why) or BENCH_RUN_UNAVAILABLE.
   ===================================================================================== */
static int run_kry(const bench_problem *p, bench_result *r)
{
    /* kry_topk_solve with its defaults (basis, keep, multiplicity check); the start
       vector is the one every solver gets: the driver draws
       kry_rng_fill_normal(seed, KRY_RNG_STREAM_START, 0, n) from params.seed. */
    bench_result_clear(r);
    bench_op_ctx ctx;
    kry_operator op;
    bench_problem_operator(p, &ctx, &op);
    kry_topk_params par = kry_topk_params_default();
    par.which = p->which == BENCH_LA ? KRY_WHICH_LA : KRY_WHICH_SA;
    par.tol = p->tol;
    if (!p->native_start)
        par.seed = p->seed;
    const size_t n = p->n, k = p->k;
    double *theta = malloc(k * sizeof *theta), *vecs = NULL, *work = NULL;
    int status = BENCH_RUN_FAILED;
    kry_topk_result res;
    memset(&res, 0, sizeof res);
    if (theta == NULL) {
        snprintf(r->note, sizeof r->note, "out of memory");
        return BENCH_RUN_FAILED;
    }
    double t0 = bench_now();
    kry_topk_ws *ws = kry_topk_ws_alloc(n, k, 0);
    vecs = malloc(n * k * sizeof *vecs);
    kry_status st = KRY_ENOMEM;
    if (ws != NULL && vecs != NULL)
        st = kry_topk_solve(&op, k, &par, NULL, 0, 0, ws, theta, vecs, n, NULL, NULL, &res);
    r->wall_s = bench_now() - t0;
    r->matvecs = ctx.count.matvecs;
    r->matvec_s = ctx.count.seconds;
    if (st != KRY_OK) {
        snprintf(r->note, sizeof r->note, "kry_topk_solve: %s", kry_strerror(st));
        goto done;
    }
    r->nconv = res.nconv;
    r->iterations = res.restarts;
    r->nvals = res.nconv < k ? res.nconv : k;
    if (r->nvals > BENCH_MAX_VALS)
        r->nvals = BENCH_MAX_VALS;
    for (size_t i = 0; i < r->nvals; ++i)
        r->vals[i] = theta[i];
    work = malloc(n * sizeof *work);
    if (work != NULL)
        for (size_t i = 0; i < r->nvals; ++i)
            r->max_true_resid =
                fmax(r->max_true_resid, bench_true_resid(p, vecs + i * n, theta[i], work));
    snprintf(r->note, sizeof r->note,
             "thick-restart basis=%zu tol=%.1e(rel) restarts=%zu reason=%s; multiplicity "
             "check: %zu round(s), %zu matvecs, %zu cop%s found",
             res.basis, par.tol, res.restarts, kry_reason_str(res.reason), res.verify_rounds,
             res.verify_matvecs, res.copies_found, res.copies_found == 1 ? "y" : "ies");
    status = BENCH_RUN_OK;
done:
    kry_topk_ws_free(ws);
    free(theta);
    free(vecs);
    free(work);
    return status;
}
/* ================================ end of the kry entry ============================== */

static int run_slepc_default(const bench_problem *p, bench_result *r)
{
#ifdef HAVE_SLEPC
    return ref_slepc_run(p, 0, r);
#else
    (void)p;
    bench_result_clear(r);
    snprintf(r->note, sizeof r->note, "skipped: built without SLEPc");
    return BENCH_RUN_UNAVAILABLE;
#endif
}

static int run_slepc_hep(const bench_problem *p, bench_result *r)
{
#ifdef HAVE_SLEPC
    return ref_slepc_run(p, 1, r);
#else
    (void)p;
    bench_result_clear(r);
    snprintf(r->note, sizeof r->note, "skipped: built without SLEPc");
    return BENCH_RUN_UNAVAILABLE;
#endif
}

static int run_arpack_2k1(const bench_problem *p, bench_result *r)
{
#ifdef HAVE_ARPACK
    return ref_arpack_run(p, 2 * p->k + 1, r);
#else
    (void)p;
    bench_result_clear(r);
    snprintf(r->note, sizeof r->note, "skipped: built without ARPACK");
    return BENCH_RUN_UNAVAILABLE;
#endif
}

static int run_arpack_4k(const bench_problem *p, bench_result *r)
{
#ifdef HAVE_ARPACK
    return ref_arpack_run(p, 4 * p->k, r);
#else
    (void)p;
    bench_result_clear(r);
    snprintf(r->note, sizeof r->note, "skipped: built without ARPACK");
    return BENCH_RUN_UNAVAILABLE;
#endif
}

typedef int bench_run_fn(const bench_problem *p, bench_result *r);

typedef struct solver_entry {
    const char *key;   /* JSON key */
    const char *label; /* table label */
    bench_run_fn *run;
} solver_entry;

enum { S_KRY = 0, S_SLEPC, S_SLEPC_HEP, S_ARPACK_2K1, S_ARPACK_4K, S_COUNT };

static const solver_entry solvers[S_COUNT] = {
    [S_KRY] = {"kry", "kry", run_kry},
    [S_SLEPC] = {"slepc_ks", "SLEPc KS (defaults)", run_slepc_default},
    [S_SLEPC_HEP] = {"slepc_ks_hep", "SLEPc KS (EPS_HEP)", run_slepc_hep},
    [S_ARPACK_2K1] = {"arpack_ncv2k1", "ARPACK ncv=2k+1", run_arpack_2k1},
    [S_ARPACK_4K] = {"arpack_ncv4k", "ARPACK ncv=4k", run_arpack_4k},
};

/* One solver on one problem, over all repetitions. */
typedef struct run_summary {
    int status;          /* BENCH_RUN_* of the first repetition (or the first failure) */
    bench_result first;  /* figures of the first repetition, scored */
    int reps;            /* repetitions that ran */
    double wall_med, matvec_s_med, outside_med;
    size_t matvecs_min, matvecs_max;
} run_summary;

static double median(double *x, int n)
{
    for (int i = 1; i < n; ++i)
        for (int j = i; j > 0 && x[j - 1] > x[j]; --j) {
            double t = x[j];
            x[j] = x[j - 1];
            x[j - 1] = t;
        }
    if (n == 0)
        return NAN;
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

#define MAX_REPS 15

/* Runs s on p reps times; stops repeating once a run took longer than rep_limit
   seconds (rep_limit <= 0: no limit), since such runs are long against timer noise. */
static void run_solver(const solver_entry *s, const bench_problem *p, int reps,
                       double rep_limit, run_summary *out)
{
    double wall[MAX_REPS], mv[MAX_REPS], outside[MAX_REPS];
    bench_result r;
    memset(out, 0, sizeof *out);
    for (int rep = 0; rep < reps; ++rep) {
        int st = s->run(p, &r);
        if (rep == 0) {
            out->status = st;
            out->first = r;
            out->matvecs_min = out->matvecs_max = r.matvecs;
        }
        if (st != BENCH_RUN_OK) {
            if (rep > 0) {
                out->status = st;
                out->first = r;
            }
            break;
        }
        wall[rep] = r.wall_s;
        mv[rep] = r.matvec_s;
        outside[rep] = r.wall_s - r.matvec_s;
        if (r.matvecs < out->matvecs_min)
            out->matvecs_min = r.matvecs;
        if (r.matvecs > out->matvecs_max)
            out->matvecs_max = r.matvecs;
        out->reps = rep + 1;
        if (rep_limit > 0 && r.wall_s > rep_limit)
            break;
    }
    if (out->status == BENCH_RUN_OK) {
        out->wall_med = median(wall, out->reps);
        out->matvec_s_med = median(mv, out->reps);
        out->outside_med = median(outside, out->reps);
        bench_score(p, out->first.vals, out->first.nvals, BENCH_MATCH_TOL,
                    &out->first.max_rel_err, &out->first.missed, out->first.missed_vals);
    }
}

static const char *which_str(bench_which w)
{
    return w == BENCH_LA ? "LA" : "SA";
}

static void print_header(void)
{
    printf("  %-22s %8s %9s %10s %6s %5s %11s %6s %11s\n", "solver", "matvecs", "wall s",
           "outside s", "out%", "nconv", "max rel err", "missed", "true resid");
}

static void print_row(const solver_entry *s, const run_summary *u, int reps)
{
    if (u->status == BENCH_RUN_UNAVAILABLE) {
        printf("  %s: (%s)\n", s->label, u->first.note);
        return;
    }
    if (u->status != BENCH_RUN_OK) {
        printf("  %s: FAILED (%s)\n", s->label, u->first.note);
        return;
    }
    const bench_result *r = &u->first;
    printf("  %-22s %8zu %9.4f %10.4f %5.1f%% %5zu %11.2e %6zu %11.2e\n", s->label,
           r->matvecs, u->wall_med, u->outside_med,
           u->wall_med > 0 ? 100.0 * u->outside_med / u->wall_med : 0.0, r->nconv,
           r->max_rel_err, r->missed, r->max_true_resid);
    printf("  %-22s   %s", "", r->note);
    if (u->matvecs_min != u->matvecs_max)
        printf("; MATVECS VARY over repetitions: %zu..%zu", u->matvecs_min, u->matvecs_max);
    if (u->reps < reps)
        printf("; %d run(s) only (--rep-limit)", u->reps);
    printf("\n");
    if (r->missed > 0) {
        printf("  %-22s   missed:", "");
        for (size_t i = 0; i < r->missed; ++i)
            printf(" %.12g", r->missed_vals[i]);
        printf("\n");
    }
}

/* Appends printf-style text to a growing buffer; on allocation failure the buffer is
   marked broken and later appends do nothing. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    int broken;
} sbuf;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->broken)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int w = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->broken = 1;
            return;
        }
        if ((size_t)w < room) {
            b->len += (size_t)w;
            return;
        }
        size_t cap = (b->cap ? 2 * b->cap : 4096) + (size_t)w;
        char *t = realloc(b->s, cap);
        if (t == NULL) {
            b->broken = 1;
            return;
        }
        b->s = t;
        b->cap = cap;
    }
}

static void sb_num(sbuf *b, double x, const char *fmt)
{
    if (isfinite(x))
        sb_printf(b, fmt, x);
    else
        sb_printf(b, "null");
}

static void sb_str(sbuf *b, const char *s)
{
    sb_printf(b, "\"");
    for (; *s; ++s) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            sb_printf(b, "\\%c", c);
        else if (c < 0x20)
            sb_printf(b, "\\u%04x", c);
        else
            sb_printf(b, "%c", c);
    }
    sb_printf(b, "\"");
}

static void json_solver(sbuf *b, const solver_entry *s, const run_summary *u)
{
    const bench_result *r = &u->first;
    sb_str(b, s->key);
    sb_printf(b, ":{\"available\":%s,\"ok\":%s,\"note\":",
              u->status == BENCH_RUN_UNAVAILABLE ? "false" : "true",
              u->status == BENCH_RUN_OK ? "true" : "false");
    sb_str(b, r->note);
    if (u->status == BENCH_RUN_OK) {
        sb_printf(b, ",\"matvecs\":%zu,\"matvecs_vary\":%s,\"reps\":%d,\"wall_s\":",
                  r->matvecs, u->matvecs_min != u->matvecs_max ? "true" : "false", u->reps);
        sb_num(b, u->wall_med, "%.6g");
        sb_printf(b, ",\"matvec_s\":");
        sb_num(b, u->matvec_s_med, "%.6g");
        sb_printf(b, ",\"outside_s\":");
        sb_num(b, u->outside_med, "%.6g");
        sb_printf(b, ",\"outside_frac\":");
        sb_num(b, u->wall_med > 0 ? u->outside_med / u->wall_med : NAN, "%.4f");
        sb_printf(b, ",\"nconv\":%zu,\"iterations\":%zu,\"max_rel_err\":", r->nconv,
                  r->iterations);
        sb_num(b, r->max_rel_err, "%.3e");
        sb_printf(b, ",\"missed\":%zu,\"missed_values\":[", r->missed);
        for (size_t i = 0; i < r->missed; ++i) {
            if (i)
                sb_printf(b, ",");
            sb_num(b, r->missed_vals[i], "%.17g");
        }
        sb_printf(b, "],\"max_true_resid\":");
        sb_num(b, r->max_true_resid, "%.3e");
        sb_printf(b, ",\"eigenvalues\":[");
        for (size_t i = 0; i < r->nvals; ++i) {
            if (i)
                sb_printf(b, ",");
            sb_num(b, r->vals[i], "%.17g");
        }
        sb_printf(b, "]");
    }
    sb_printf(b, "}");
}

/* kry / reference ratio of matvecs and wall time, when both ran. */
static int ratio(const run_summary *a, const run_summary *b, double *mv, double *wall)
{
    if (a->status != BENCH_RUN_OK || b->status != BENCH_RUN_OK || b->first.matvecs == 0
        || !(b->wall_med > 0))
        return 0;
    *mv = (double)a->first.matvecs / (double)b->first.matvecs;
    *wall = a->wall_med / b->wall_med;
    return 1;
}

/* Issue 3's targets for kry, checked when kry ran. Returns the number of failures. */
static int check_targets(const bench_problem *p, const run_summary *u, sbuf *js)
{
    const run_summary *k = &u[S_KRY];
    int fails = 0;
    size_t cap = 0;
    if (strcmp(p->id, "P1") == 0)
        cap = 790;
    else if (strcmp(p->id, "P3") == 0)
        cap = 1190;
    sb_printf(js, ",\"targets\":{");
    if (cap) {
        int ok = k->first.matvecs <= cap;
        fails += !ok;
        printf("  target: kry matvecs %zu <= %zu: %s\n", k->first.matvecs, cap,
               ok ? "met" : "NOT met");
        sb_printf(js, "\"matvecs_le_%zu\":%s,", cap, ok ? "true" : "false");
    }
    int ok = k->first.max_rel_err <= 1e-12;
    fails += !ok;
    printf("  target: max rel error %.2e <= 1e-12: %s\n", k->first.max_rel_err,
           ok ? "met" : "NOT met");
    sb_printf(js, "\"err_le_1e-12\":%s", ok ? "true" : "false");
    ok = k->first.missed == 0;
    fails += !ok;
    printf("  target: no missed multiplicity (%zu missed): %s\n", k->first.missed,
           ok ? "met" : "NOT met");
    sb_printf(js, ",\"no_missed\":%s", ok ? "true" : "false");
    if (strcmp(p->id, "P4") == 0) {
        /* Against the faster of the two SLEPc runs (defaults / EPS_HEP). */
        double mv, wr, best = -INFINITY; /* the larger kry/SLEPc wall ratio */
        if (ratio(k, &u[S_SLEPC], &mv, &wr))
            best = fmax(best, wr);
        if (ratio(k, &u[S_SLEPC_HEP], &mv, &wr))
            best = fmax(best, wr);
        if (isfinite(best)) {
            ok = best <= 0.5;
            fails += !ok;
            printf("  target: wall <= 0.5 x faster SLEPc run (%.3f): %s\n", best,
                   ok ? "met" : "NOT met");
            sb_printf(js, ",\"wall_le_half_slepc\":%s", ok ? "true" : "false");
        }
        double frac = k->wall_med > 0 ? k->outside_med / k->wall_med : 1.0;
        ok = frac <= 0.30;
        fails += !ok;
        printf("  target: outside matvecs %.1f%% <= 30%%: %s\n", 100 * frac,
               ok ? "met" : "NOT met");
        sb_printf(js, ",\"outside_le_30pct\":%s", ok ? "true" : "false");
    }
    sb_printf(js, "}");
    return fails;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: eigs_compare [--reps N] [--rep-limit S] [--problems ID,ID,...]\n"
            "                    [--seed S] [--native-start] [--matvec stencil|csr]\n"
            "  --reps N       repetitions per solver; wall times are medians\n"
            "                 (default 3, max %d)\n"
            "  --rep-limit S  no further repetitions after a run longer than S seconds\n"
            "                 (default 20; 0: always --reps)\n"
            "  --problems L   comma-separated problem ids (default: all of",
            MAX_REPS);
    size_t np;
    const bench_problem_def *defs = bench_problem_defs(&np);
    for (size_t i = 0; i < np; ++i)
        fprintf(f, " %s", defs[i].id);
    fprintf(f, ")\n"
               "  --seed S       seed of the common start vector (default 1)\n"
               "  --native-start every solver draws its own default start vector instead\n"
               "                 of the common one (SLEPc's, ARPACK's random vectors)\n"
               "  --matvec M     stencil (default): fused 5-point / diagonal loop;\n"
               "                 csr: general CSR product on the assembled matrix\n"
               "The last output line is a JSON object with all figures.\n");
}

static int wanted(const char *list, const char *id)
{
    if (list == NULL)
        return 1;
    size_t len = strlen(id);
    for (const char *s = list; *s;) {
        const char *e = strchr(s, ',');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (l == len && strncmp(s, id, l) == 0)
            return 1;
        if (!e)
            break;
        s = e + 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int reps = 3, native_start = 0, use_csr = 0;
    double rep_limit = 20.0;
    unsigned long long seed = 1;
    const char *plist = NULL;
    for (int i = 1; i < argc; ++i) {
        char *end;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            long v = strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < 1 || v > MAX_REPS) {
                fprintf(stderr, "eigs_compare: --reps must be 1..%d\n", MAX_REPS);
                return 2;
            }
            reps = (int)v;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], &end, 10);
            if (*end != '\0') {
                fprintf(stderr, "eigs_compare: bad --seed\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--matvec") == 0 && i + 1 < argc) {
            ++i;
            if (strcmp(argv[i], "csr") == 0) {
                use_csr = 1;
            } else if (strcmp(argv[i], "stencil") == 0) {
                use_csr = 0;
            } else {
                fprintf(stderr, "eigs_compare: --matvec must be stencil or csr\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--rep-limit") == 0 && i + 1 < argc) {
            rep_limit = strtod(argv[++i], &end);
            if (*end != '\0' || !(rep_limit >= 0.0)) {
                fprintf(stderr, "eigs_compare: bad --rep-limit\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--native-start") == 0) {
            native_start = 1;
        } else if (strcmp(argv[i], "--problems") == 0 && i + 1 < argc) {
            plist = argv[++i];
        } else {
            fprintf(stderr, "eigs_compare: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }

    size_t np;
    const bench_problem_def *defs = bench_problem_defs(&np);
    if (plist != NULL) {
        size_t hits = 0;
        for (size_t i = 0; i < np; ++i)
            hits += (size_t)wanted(plist, defs[i].id);
        if (hits == 0) {
            fprintf(stderr, "eigs_compare: no known problem in '%s'\n", plist);
            usage(stderr);
            return 2;
        }
    }

    openblas_set_num_threads(1);
    printf("eigs_compare: kry top-k vs SLEPc Krylov-Schur and ARPACK (issue 3)\n");
    printf("OpenBLAS threads: %d (set with openblas_set_num_threads(1); %s)\n",
           openblas_get_num_threads(), openblas_get_config());
    if (native_start)
        printf("start vector: each solver's own default (--native-start); ");
    else
        printf("start vector: kry_rng_fill_normal(seed=%llu, stream=KRY_RNG_STREAM_START) "
               "for every solver; ", seed);
    printf("%d repetition(s) (fewer after a run > %g s), median wall times\n", reps,
           rep_limit);
    printf("matvec: %s\n", use_csr ? "CSR product on the assembled matrix (--matvec csr)"
                                   : "fused 5-point stencil / diagonal loop");
    printf("errors: |computed - nearest analytic eigenvalue| / ||A||; missed: wanted "
           "analytic values (with multiplicity) matched by no returned value within "
           "%.0e ||A||; true resid: ||Ax - theta x|| / (||x|| max(|theta|, "
           "eps^(2/3)||A||))\n", BENCH_MATCH_TOL);

    int have_slepc = 0, have_arpack = 0;
#ifdef HAVE_SLEPC
    char slepc_msg[256] = "";
    if (getenv("PETSC_OPTIONS") != NULL)
        printf("warning: PETSC_OPTIONS is set; SLEPc may not run with its defaults\n");
    if (ref_slepc_init(slepc_msg, sizeof slepc_msg) == 0) {
        have_slepc = 1;
        printf("SLEPc: %s\n", ref_slepc_version());
        if (slepc_msg[0])
            printf("note: %s\n", slepc_msg);
    } else {
        printf("SLEPc: initialisation failed; SLEPc references skipped\n");
    }
#else
    printf("SLEPc: not found at configure time; SLEPc references skipped\n");
#endif
#ifdef HAVE_ARPACK
    have_arpack = 1;
    printf("ARPACK: dsaupd/dseupd from libarpack\n");
#else
    printf("ARPACK: not found at configure time; ARPACK references skipped\n");
#endif
    printf("timed: SLEPc EPSSetUp+EPSSolve+EPSGetEigenpair(vectors); ARPACK workspace+"
           "dsaupd loop+dseupd(vectors); kry: see run_kry\n");

    run_summary(*all)[S_COUNT] = calloc(np, sizeof *all);
    sbuf js = {NULL, 0, 0, 0};
    int target_fails = 0, kry_ran = 0, exit_code = 0;
    if (all == NULL) {
        fprintf(stderr, "eigs_compare: out of memory\n");
        return 4;
    }
    sb_printf(&js, "{\"bench\":\"eigs_compare\",\"issue\":3,\"openblas_threads\":%d,"
                   "\"seed\":%llu,\"native_start\":%s,\"matvec\":\"%s\",\"reps\":%d,"
                   "\"rep_limit_s\":%g,\"match_tol\":%g,\"slepc\":%s,\"arpack\":%s,"
                   "\"problems\":[",
              openblas_get_num_threads(), seed, native_start ? "true" : "false",
              use_csr ? "csr" : "stencil", reps, rep_limit, BENCH_MATCH_TOL,
              have_slepc ? "true" : "false", have_arpack ? "true" : "false");
    int first_problem = 1;
    for (size_t ip = 0; ip < np; ++ip) {
        if (!wanted(plist, defs[ip].id))
            continue;
        bench_problem p;
        char err[200];
        if (bench_problem_init(&p, &defs[ip], seed, err, sizeof err) != 0) {
            fprintf(stderr, "eigs_compare: %s\n", err);
            exit_code = 4;
            continue;
        }
        p.native_start = native_start;
        if (use_csr && bench_problem_use_csr(&p) != 0) {
            fprintf(stderr, "eigs_compare: %s: cannot assemble CSR\n", p.id);
            bench_problem_free(&p);
            exit_code = 4;
            continue;
        }
        printf("\n== %s  %s  n=%zu  k=%zu %s  tol=%.0e  ||A||=%.6g  wanted: %.10g .. "
               "%.10g\n", p.id, p.spec, p.n, p.k, which_str(p.which), p.tol, p.norm,
               p.wanted[0], p.wanted[p.k - 1]);
        print_header();
        fflush(stdout);
        for (int s = 0; s < S_COUNT; ++s) {
            run_solver(&solvers[s], &p, reps, rep_limit, &all[ip][s]);
            print_row(&solvers[s], &all[ip][s], reps);
            fflush(stdout);
        }

        sb_printf(&js, "%s{\"id\":", first_problem ? "" : ",");
        first_problem = 0;
        sb_str(&js, p.id);
        sb_printf(&js, ",\"spec\":");
        sb_str(&js, p.spec);
        sb_printf(&js, ",\"n\":%zu,\"k\":%zu,\"which\":\"%s\",\"tol\":%g,\"norm\":%.17g,"
                       "\"wanted\":[", p.n, p.k, which_str(p.which), p.tol, p.norm);
        for (size_t i = 0; i < p.k; ++i)
            sb_printf(&js, "%s%.17g", i ? "," : "", p.wanted[i]);
        sb_printf(&js, "],\"solvers\":{");
        for (int s = 0; s < S_COUNT; ++s) {
            if (s)
                sb_printf(&js, ",");
            json_solver(&js, &solvers[s], &all[ip][s]);
        }
        sb_printf(&js, "},\"ratios\":{");
        int first_ratio = 1;
        for (int s = S_SLEPC; s < S_COUNT; ++s) {
            double mv, wr;
            if (!ratio(&all[ip][S_KRY], &all[ip][s], &mv, &wr))
                continue;
            printf("  ratio kry/%-20s matvecs %.3f  wall %.3f\n", solvers[s].label, mv, wr);
            sb_printf(&js, "%s\"kry/%s\":{\"matvecs\":%.4f,\"wall\":%.4f}",
                      first_ratio ? "" : ",", solvers[s].key, mv, wr);
            first_ratio = 0;
        }
        sb_printf(&js, "}");
        if (all[ip][S_KRY].status == BENCH_RUN_OK) {
            kry_ran = 1;
            target_fails += check_targets(&p, all[ip], &js);
        }
        sb_printf(&js, "}");
        bench_problem_free(&p);
    }
    sb_printf(&js, "],\"kry_available\":%s", kry_ran ? "true" : "false");
    if (kry_ran)
        sb_printf(&js, ",\"target_failures\":%d", target_fails);
    sb_printf(&js, "}");

    /* Matvec summary over all problems. */
    printf("\nmatvecs:  %-8s", "problem");
    for (int s = 0; s < S_COUNT; ++s)
        printf(" %15s", solvers[s].key);
    printf("\n");
    for (size_t ip = 0; ip < np; ++ip) {
        if (!wanted(plist, defs[ip].id))
            continue;
        printf("          %-8s", defs[ip].id);
        for (int s = 0; s < S_COUNT; ++s) {
            const run_summary *u = &all[ip][s];
            if (u->status == BENCH_RUN_OK)
                printf(" %11zu%s", u->first.matvecs,
                       u->first.missed ? " (m)" : "    ");
            else
                printf(" %15s", u->status == BENCH_RUN_UNAVAILABLE ? "-" : "failed");
        }
        printf("\n");
    }
    printf("          (m): missed at least one wanted eigenvalue or copy\n");
    if (kry_ran)
        printf("targets of issue 3: %d not met\n", target_fails);

#ifdef HAVE_SLEPC
    ref_slepc_finalize();
#endif
    fflush(stdout);
    if (js.broken) {
        fprintf(stderr, "eigs_compare: out of memory building the JSON line\n");
        exit_code = 4;
    } else {
        printf("%s\n", js.s);
    }
    free(js.s);
    free(all);
    return exit_code;
}
