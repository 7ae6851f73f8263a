/* eigs.c — `kry eigs`: extreme eigenpairs of a symmetric matrix from a Matrix Market
   file or a built-in problem, by thick-restart Lanczos (default, kry/topk.h),
   unrestarted Lanczos (--restart none), power iteration or deflation. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kry/kry.h"
#include "kry/topk.h"

static const char eigs_usage[] =
    "usage: kry eigs (--mtx FILE | --problem SPEC) [options]\n"
    "\n"
    "Extreme eigenpairs of a symmetric matrix, using only products y = A x.\n"
    "\n"
    "  --mtx FILE            Matrix Market file (coordinate or array; real, integer or\n"
    "                        pattern; general (must be symmetric) or symmetric)\n"
    "  --problem SPEC        built-in matrix with a known spectrum:\n"
    "                          laplace1d:N    tridiag(-1, 2, -1) of size N\n"
    "                          laplace2d:MxN  5-point Dirichlet Laplacian on an M x N grid\n"
    "                          diag:LO:HI:N   diagonal, N evenly spaced values LO..HI\n"
    "  -k K                  number of eigenpairs (default 6)\n"
    "  --which W             LA largest algebraic (default), SA smallest algebraic,\n"
    "                        LM largest magnitude, BE both ends (lanczos only)\n"
    "  --method M            lanczos (default), power (k = 1), deflation\n"
    "  --restart R           lanczos: thick (default; thick-restart Lanczos with locking\n"
    "                        and a check for missed copies of repeated eigenvalues) or\n"
    "                        none (one unrestarted Lanczos run, basis = budget)\n"
    "  --basis N             thick: largest basis (default max(2k + 20, 40), at least\n"
    "                        k + 2 unless it holds the whole space)\n"
    "  --reorth R            --restart none: none, full (default), selective, partial,\n"
    "                        dgks (thick restart always reorthogonalises in full)\n"
    "  --tol T               relative residual tolerance (default 1e-8)\n"
    "  --max-matvecs M       matvec budget (default: thick max(100 basis, 2n);\n"
    "                        --restart none min(n, 3000); power and deflation 10000,\n"
    "                        split evenly over the k pairs)\n"
    "  --seed S              seed of the random start vector (default 1)\n"
    "  --format F            table (default), tsv or json\n"
    "  --vectors FILE        write the eigenvectors (n x k Matrix Market array)\n"
    "  --quiet               no progress lines on stderr\n"
    "\n"
    "Output order follows --which: LA descending, SA ascending, LM by |value| descending.\n"
    "JSON keys: eigenvalues, residuals, converged, matvecs, seconds, reason.\n"
    "For built-in problems the table also shows the analytic eigenvalue and the error.\n"
    "Exit codes: 0 success, 1 not converged within the budget (results still printed),\n"
    "2 usage error, 3 bad input data, 4 internal or numerical failure.\n";

enum method { METHOD_LANCZOS, METHOD_POWER, METHOD_DEFLATION };
enum restart { RESTART_THICK, RESTART_NONE };
enum format { FORMAT_TABLE, FORMAT_TSV, FORMAT_JSON };

typedef struct eigs_opts {
    const char *mtx, *problem, *vectors;
    size_t k, max_matvecs, basis;
    kry_which which;
    enum method method;
    enum restart restart;
    kry_reorth reorth;
    double tol;
    uint64_t seed;
    enum format format;
    int quiet;
} eigs_opts;

/* The solution, whatever method produced it, in output order. */
typedef struct eigs_out {
    size_t k;
    double *values, *resid, *vecs; /* vecs: n x k column-major */
    int *conv;
    size_t matvecs;
    kry_reason reason;
    double seconds;
} eigs_out;

static int parse_opts(int argc, char **argv, eigs_opts *o)
{
    static const struct option longopts[] = {
        {"mtx", required_argument, 0, 'm'},         {"problem", required_argument, 0, 'p'},
        {"which", required_argument, 0, 'w'},       {"method", required_argument, 0, 'M'},
        {"reorth", required_argument, 0, 'r'},      {"tol", required_argument, 0, 't'},
        {"max-matvecs", required_argument, 0, 'x'}, {"seed", required_argument, 0, 's'},
        {"format", required_argument, 0, 'f'},      {"vectors", required_argument, 0, 'v'},
        {"quiet", no_argument, 0, 'q'},             {"help", no_argument, 0, 'h'},
        {"restart", required_argument, 0, 'R'},     {"basis", required_argument, 0, 'b'},
        {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->k = 6;
    o->which = KRY_WHICH_LA;
    o->method = METHOD_LANCZOS;
    o->reorth = KRY_REORTH_FULL;
    o->tol = 1e-8;
    o->seed = 1;
    o->format = FORMAT_TABLE;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":k:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': o->mtx = optarg; break;
        case 'p': o->problem = optarg; break;
        case 'k':
            if (cli_parse_size(optarg, &o->k) != 0)
                return cli_fail("eigs", KRY_EXIT_USAGE, "-k: '%s' is not a count", optarg);
            break;
        case 'w':
            if (kry_which_parse(optarg, &o->which) != KRY_OK)
                return cli_fail("eigs", KRY_EXIT_USAGE,
                                "--which: '%s' is not one of LA, SA, LM, BE", optarg);
            break;
        case 'M':
            if (strcmp(optarg, "lanczos") == 0)
                o->method = METHOD_LANCZOS;
            else if (strcmp(optarg, "power") == 0)
                o->method = METHOD_POWER;
            else if (strcmp(optarg, "deflation") == 0)
                o->method = METHOD_DEFLATION;
            else
                return cli_fail("eigs", KRY_EXIT_USAGE,
                                "--method: '%s' is not one of lanczos, power, deflation",
                                optarg);
            break;
        case 'R':
            if (strcmp(optarg, "thick") == 0)
                o->restart = RESTART_THICK;
            else if (strcmp(optarg, "none") == 0)
                o->restart = RESTART_NONE;
            else
                return cli_fail("eigs", KRY_EXIT_USAGE,
                                "--restart: '%s' is not one of thick, none", optarg);
            break;
        case 'b':
            if (cli_parse_size(optarg, &o->basis) != 0 || o->basis == 0)
                return cli_fail("eigs", KRY_EXIT_USAGE,
                                "--basis: '%s' is not a positive count", optarg);
            break;
        case 'r':
            if (kry_reorth_parse(optarg, &o->reorth) != KRY_OK)
                return cli_fail("eigs", KRY_EXIT_USAGE,
                                "--reorth: '%s' is not one of none, full, selective, "
                                "partial, dgks",
                                optarg);
            break;
        case 't':
            if (cli_parse_double(optarg, &o->tol) != 0 || !(o->tol > 0.0) || o->tol >= 1.0)
                return cli_fail("eigs", KRY_EXIT_USAGE,
                                "--tol: '%s' is not a number in (0, 1)", optarg);
            break;
        case 'x':
            if (cli_parse_size(optarg, &o->max_matvecs) != 0 || o->max_matvecs == 0)
                return cli_fail("eigs", KRY_EXIT_USAGE,
                                "--max-matvecs: '%s' is not a positive count", optarg);
            break;
        case 's':
            if (cli_parse_u64(optarg, &o->seed) != 0)
                return cli_fail("eigs", KRY_EXIT_USAGE, "--seed: '%s' is not an integer",
                                optarg);
            break;
        case 'f':
            if (strcmp(optarg, "table") == 0)
                o->format = FORMAT_TABLE;
            else if (strcmp(optarg, "tsv") == 0)
                o->format = FORMAT_TSV;
            else if (strcmp(optarg, "json") == 0)
                o->format = FORMAT_JSON;
            else
                return cli_fail("eigs", KRY_EXIT_USAGE,
                                "--format: '%s' is not one of table, tsv, json", optarg);
            break;
        case 'v': o->vectors = optarg; break;
        case 'q': o->quiet = 1; break;
        case 'h': fputs(eigs_usage, stdout); return -1;
        case ':':
            return cli_fail("eigs", KRY_EXIT_USAGE, "option '%s' needs a value",
                            argv[optind - 1]);
        default:
            return cli_fail("eigs", KRY_EXIT_USAGE, "unknown option '%s' (try --help)",
                            argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_fail("eigs", KRY_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
    if ((o->mtx == NULL) == (o->problem == NULL))
        return cli_fail("eigs", KRY_EXIT_USAGE,
                        "give exactly one of --mtx FILE or --problem SPEC (try --help)");
    if (o->k == 0)
        return cli_fail("eigs", KRY_EXIT_USAGE, "-k must be at least 1");
    if (o->method == METHOD_POWER && o->k != 1)
        return cli_fail("eigs", KRY_EXIT_USAGE,
                        "--method power finds one eigenpair: use -k 1 or --method deflation");
    if (o->method != METHOD_LANCZOS && o->which == KRY_WHICH_BE)
        return cli_fail("eigs", KRY_EXIT_USAGE, "--which BE needs --method lanczos");
    if (o->basis != 0 && (o->method != METHOD_LANCZOS || o->restart != RESTART_THICK))
        return cli_fail("eigs", KRY_EXIT_USAGE, "--basis needs --method lanczos --restart thick");
    return 0;
}

static kry_power_which power_which(kry_which w)
{
    return w == KRY_WHICH_LA ? KRY_POWER_LA : w == KRY_WHICH_SA ? KRY_POWER_SA : KRY_POWER_LM;
}

/* Sort key so that ascending key order is `which` order. */
static double which_key(kry_which w, double x)
{
    return w == KRY_WHICH_LA ? -x : w == KRY_WHICH_SA ? x : -fabs(x);
}

/* Puts out->values (and everything attached) into `which` order (insertion sort: k is
   small). */
static void sort_output(eigs_out *out, kry_which which, size_t n)
{
    for (size_t i = 1; i < out->k; ++i)
        for (size_t j = i; j > 0 && which_key(which, out->values[j]) <
                                        which_key(which, out->values[j - 1]);
             --j) {
            double t = out->values[j];
            out->values[j] = out->values[j - 1];
            out->values[j - 1] = t;
            t = out->resid[j];
            out->resid[j] = out->resid[j - 1];
            out->resid[j - 1] = t;
            int c = out->conv[j];
            out->conv[j] = out->conv[j - 1];
            out->conv[j - 1] = c;
            if (out->vecs)
                for (size_t r = 0; r < n; ++r) {
                    t = out->vecs[j * n + r];
                    out->vecs[j * n + r] = out->vecs[(j - 1) * n + r];
                    out->vecs[(j - 1) * n + r] = t;
                }
        }
}

/* Progress of the thick-restart driver on stderr: a line when the number of converged
   pairs changes, when a multiplicity check starts, and every 100 restarts. */
typedef struct progress_ctx {
    size_t last_nconv, last_line;
    int last_phase;
} progress_ctx;

static int progress_line(void *ctx, const kry_topk_progress *p)
{
    progress_ctx *c = ctx;
    if (p->nconv == c->last_nconv && p->phase == c->last_phase &&
        p->restarts < c->last_line + 100)
        return 0;
    c->last_nconv = p->nconv;
    c->last_phase = p->phase;
    c->last_line = p->restarts;
    fprintf(stderr, "kry eigs: restart %zu, %zu matvecs, %zu of %zu converged%s", p->restarts,
            p->matvecs, p->nconv, p->k, p->phase ? " (multiplicity check)" : "");
    if (p->nvals > 0)
        fprintf(stderr, ", worst %.3e", p->bound[p->nvals - 1]);
    fputc('\n', stderr);
    return 0;
}

static kry_status solve_thick(const kry_operator *op, const eigs_opts *o, eigs_out *out)
{
    kry_topk_params p = kry_topk_params_default();
    p.which = o->which;
    p.tol = o->tol;
    p.basis = o->basis;
    p.max_matvecs = o->max_matvecs;
    p.seed = o->seed;
    progress_ctx pc = {(size_t)-1, 0, 0};
    if (!o->quiet) {
        p.monitor = progress_line;
        p.monitor_ctx = &pc;
    }
    kry_topk_ws *ws = kry_topk_ws_alloc(op->n, o->k, o->basis);
    if (ws == NULL)
        return KRY_ENOMEM;
    kry_topk_result res;
    kry_status st = kry_topk_solve(op, o->k, &p, NULL, 0, 0, ws, out->values, out->vecs, op->n,
                                   out->resid, out->conv, &res);
    out->matvecs = res.matvecs;
    out->reason = res.reason;
    if (st == KRY_OK && !o->quiet && (res.verify_rounds > 0 || res.copies_found > 0))
        fprintf(stderr,
                "kry eigs: multiplicity check: %zu round(s), %zu matvecs, %zu missed "
                "cop%s found\n",
                res.verify_rounds, res.verify_matvecs, res.copies_found,
                res.copies_found == 1 ? "y" : "ies");
    kry_topk_ws_free(ws);
    return st;
}

static kry_status solve_lanczos(const kry_operator *op, const eigs_opts *o, eigs_out *out)
{
    kry_lanczos_params p = kry_lanczos_params_default();
    p.reorth = o->reorth;
    p.seed = o->seed;
    p.max_steps = o->max_matvecs;
    p.continue_on_breakdown = 1;
    kry_lanczos_ws *lws = kry_lanczos_ws_alloc(op->n, p.max_steps);
    kry_ritz_ws *rws = kry_ritz_ws_alloc(p.max_steps);
    kry_status st = KRY_ENOMEM;
    if (lws && rws) {
        kry_eigs_result res;
        st = kry_lanczos_eigs(op, o->k, o->which, o->tol, NULL, &p, lws, rws, out->values,
                              out->vecs, op->n, out->resid, out->conv, &res);
        out->matvecs = res.matvecs;
        out->reason = res.reason;
    }
    kry_ritz_ws_free(rws);
    kry_lanczos_ws_free(lws);
    return st;
}

static kry_status solve_power(const kry_operator *op, const eigs_opts *o, eigs_out *out)
{
    kry_status st = KRY_ENOMEM;
    if (o->method == METHOD_POWER) {
        kry_power_params p = kry_power_params_default();
        p.max_iter = o->max_matvecs;
        p.tol = o->tol;
        p.which = power_which(o->which);
        p.seed = o->seed;
        kry_power_ws *ws = kry_power_ws_alloc(op->n, p.max_iter);
        double *v = out->vecs ? out->vecs : malloc(op->n * sizeof *v);
        if (ws && v) {
            kry_power_result res;
            st = kry_power_run(op, NULL, &p, ws, v, &res);
            out->values[0] = res.lambda;
            out->resid[0] = res.resid;
            out->conv[0] = res.reason == KRY_CONVERGED_TOL ||
                           res.reason == KRY_CONVERGED_INVARIANT;
            out->matvecs = res.matvecs;
            out->reason = res.reason;
        }
        if (v != out->vecs)
            free(v);
        kry_power_ws_free(ws);
        return st;
    }
    kry_deflation_params p = kry_deflation_params_default();
    p.power.max_iter = o->max_matvecs / o->k > 0 ? o->max_matvecs / o->k : 1;
    p.power.tol = o->tol;
    p.power.which = power_which(o->which);
    p.power.seed = o->seed;
    kry_deflation_ws *ws = kry_deflation_ws_alloc(op->n, o->k, p.power.max_iter);
    double *V = out->vecs ? out->vecs : malloc(op->n * o->k * sizeof *V);
    if (ws && V) {
        kry_deflation_result res;
        st = kry_deflation_run(op, o->k, &p, ws, out->values, V, op->n, out->resid, out->conv,
                               &res);
        out->matvecs = res.matvecs;
        out->reason = res.reason;
    }
    if (V != out->vecs)
        free(V);
    kry_deflation_ws_free(ws);
    return st;
}

/* Analytic reference for built-in problems, in output order; NULL when unknown. For
   BE (and as a fallback) each computed value is matched to the nearest exact one. */
static double *reference_values(const eigs_opts *o, size_t n, const eigs_out *out)
{
    if (o->problem == NULL)
        return NULL;
    double *ev = malloc(n * sizeof *ev), *ref = malloc(out->k * sizeof *ref);
    if (!ev || !ref || kry_problem_eigenvalues(o->problem, ev, n) != KRY_OK) {
        free(ev);
        free(ref);
        return NULL;
    }
    for (size_t i = 0; i < out->k; ++i) {
        size_t best = 0;
        if (o->which == KRY_WHICH_LA)
            best = n - 1 - i;
        else if (o->which == KRY_WHICH_SA)
            best = i;
        else
            for (size_t j = 1; j < n; ++j)
                if (fabs(ev[j] - out->values[i]) < fabs(ev[best] - out->values[i]))
                    best = j;
        ref[i] = ev[best];
    }
    if (o->which == KRY_WHICH_LM) {
        /* The i-th largest |lambda|: merge from both ends of the ascending list. */
        size_t lo = 0, hi = n - 1;
        for (size_t i = 0; i < out->k; ++i)
            ref[i] = fabs(ev[lo]) > fabs(ev[hi]) ? ev[lo++] : ev[hi--];
    }
    free(ev);
    return ref;
}

static void print_output(const eigs_opts *o, const eigs_out *out, const double *ref)
{
    if (o->format == FORMAT_JSON) {
        printf("{\n  \"eigenvalues\": [");
        for (size_t i = 0; i < out->k; ++i) {
            printf(i ? ", " : "");
            cli_json_double(stdout, out->values[i]);
        }
        printf("],\n  \"residuals\": [");
        for (size_t i = 0; i < out->k; ++i) {
            printf(i ? ", " : "");
            cli_json_double(stdout, out->resid[i]);
        }
        printf("],\n  \"converged\": [");
        for (size_t i = 0; i < out->k; ++i)
            printf("%s%s", i ? ", " : "", out->conv[i] ? "true" : "false");
        printf("],\n  \"matvecs\": %zu,\n  \"seconds\": %.6f,\n  \"reason\": \"%s\"\n}\n",
               out->matvecs, out->seconds, kry_reason_str(out->reason));
        return;
    }
    if (o->format == FORMAT_TSV) {
        printf("index\teigenvalue\tresidual\tconverged%s\n", ref ? "\texact\terror" : "");
        for (size_t i = 0; i < out->k; ++i) {
            printf("%zu\t%.17g\t%.3e\t%d", i, out->values[i], out->resid[i], out->conv[i]);
            if (ref)
                printf("\t%.17g\t%.3e", ref[i], fabs(out->values[i] - ref[i]));
            putchar('\n');
        }
        return;
    }
    printf("%4s  %24s  %10s  %9s", "#", "eigenvalue", "residual", "converged");
    if (ref)
        printf("  %24s  %10s", "analytic", "|error|");
    putchar('\n');
    for (size_t i = 0; i < out->k; ++i) {
        printf("%4zu  %24.16f  %10.3e  %9s", i, out->values[i], out->resid[i],
               out->conv[i] ? "yes" : "no");
        if (ref)
            printf("  %24.16f  %10.3e", ref[i], fabs(out->values[i] - ref[i]));
        putchar('\n');
    }
    printf("matvecs %zu, %.3f s, %s\n", out->matvecs, out->seconds,
           kry_reason_str(out->reason));
}

int cli_eigs(int argc, char **argv)
{
    eigs_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? KRY_EXIT_OK : rc;

    kry_csr *a = NULL;
    kry_operator op;
    memset(&op, 0, sizeof op);
    eigs_out out;
    memset(&out, 0, sizeof out);
    double *ref = NULL;
    const char *name = o.mtx ? o.mtx : o.problem;
    kry_status st;

    if (o.mtx) {
        kry_mtx_error err;
        st = kry_mtx_read_csr(o.mtx, KRY_MTX_REQUIRE_SYMMETRIC, &a, &err);
        if (st != KRY_OK)
            return cli_fail("eigs", cli_exit_for_status(st, 1), "%s",
                            err.message[0] ? err.message : kry_strerror(st));
    } else {
        char msg[256] = "";
        st = kry_problem_build(o.problem, &a, msg, sizeof msg);
        if (st != KRY_OK)
            return cli_fail("eigs", st == KRY_EINVAL ? KRY_EXIT_USAGE : KRY_EXIT_INTERNAL,
                            "--problem: %s", msg[0] ? msg : kry_strerror(st));
    }
    size_t n = a->n_rows;
    if (o.k > n) {
        rc = cli_fail("eigs", KRY_EXIT_USAGE, "-k %zu exceeds the matrix dimension %zu", o.k,
                      n);
        goto done;
    }
    st = kry_operator_csr(a, &op);
    if (st != KRY_OK) {
        rc = cli_fail("eigs", cli_exit_for_status(st, 1), "%s: %s", name, kry_strerror(st));
        goto done;
    }
    const int thick = o.method == METHOD_LANCZOS && o.restart == RESTART_THICK;
    const int unrestarted = o.method == METHOD_LANCZOS && o.restart == RESTART_NONE;
    if (thick && o.basis != 0 && o.basis < n && o.basis < o.k + 2) {
        rc = cli_fail("eigs", KRY_EXIT_USAGE,
                      "--basis %zu is below its minimum k + 2 = %zu (or the dimension %zu)",
                      o.basis, o.k + 2, n);
        goto done;
    }
    if (thick && o.basis > n)
        o.basis = n; /* the whole space */
    if (o.max_matvecs == 0 && !thick)
        o.max_matvecs = unrestarted ? (n < 3000 ? n : 3000) : 10000;
    if (unrestarted && o.max_matvecs > n)
        o.max_matvecs = n; /* a Krylov space cannot outgrow the dimension */

    out.k = o.k;
    out.values = calloc(o.k, sizeof *out.values);
    out.resid = calloc(o.k, sizeof *out.resid);
    out.conv = calloc(o.k, sizeof *out.conv);
    out.vecs = o.vectors ? calloc(n * o.k, sizeof *out.vecs) : NULL;
    if (!out.values || !out.resid || !out.conv || (o.vectors && !out.vecs)) {
        rc = cli_fail("eigs", KRY_EXIT_INTERNAL, "out of memory");
        goto done;
    }
    if (!o.quiet) {
        char how[96];
        size_t basis = o.basis ? o.basis : (2 * o.k + 20 > 40 ? 2 * o.k + 20 : 40);
        if (thick)
            snprintf(how, sizeof how, "thick-restart lanczos, basis %zu", basis < n ? basis : n);
        else if (unrestarted)
            snprintf(how, sizeof how, "lanczos, no restart, reorth %s",
                     kry_reorth_name(o.reorth));
        else
            snprintf(how, sizeof how, "%s", o.method == METHOD_POWER ? "power" : "deflation");
        char budget[48];
        if (o.max_matvecs)
            snprintf(budget, sizeof budget, "%zu matvecs", o.max_matvecs);
        else
            snprintf(budget, sizeof budget, "default");
        fprintf(stderr,
                "kry eigs: %s (n = %zu, nnz = %zu): %s, k = %zu, which %s, tol %g, "
                "budget %s\n",
                name, n, a->nnz, how, o.k, kry_which_name(o.which), o.tol, budget);
    }

    double t0 = cli_now();
    st = thick         ? solve_thick(&op, &o, &out)
         : unrestarted ? solve_lanczos(&op, &o, &out)
                       : solve_power(&op, &o, &out);
    out.seconds = cli_now() - t0;
    if (st != KRY_OK) {
        rc = cli_fail("eigs", KRY_EXIT_INTERNAL, "%s: solver failed: %s", name,
                      kry_strerror(st));
        goto done;
    }
    if (o.method != METHOD_LANCZOS) /* Lanczos already returns `which` order */
        sort_output(&out, o.which, n);
    ref = reference_values(&o, n, &out);
    print_output(&o, &out, ref);

    size_t nconv = 0;
    for (size_t i = 0; i < o.k; ++i)
        nconv += out.conv[i] != 0;
    if (!o.quiet)
        fprintf(stderr, "kry eigs: %zu of %zu converged, %zu matvecs, %.3f s (%s)\n", nconv,
                o.k, out.matvecs, out.seconds, kry_reason_str(out.reason));
    rc = nconv == o.k ? KRY_EXIT_OK : KRY_EXIT_NOT_CONVERGED;

    if (o.vectors) {
        kry_mtx_error err;
        memset(&err, 0, sizeof err);
        st = kry_mtx_write_array(o.vectors, n, o.k, out.vecs, n,
                                 "eigenvectors from kry eigs, one column per eigenvalue", &err);
        if (st != KRY_OK)
            rc = cli_fail("eigs", KRY_EXIT_USAGE, "--vectors: %s",
                          err.message[0] ? err.message : kry_strerror(st));
    }
done:
    free(ref);
    free(out.values);
    free(out.resid);
    free(out.conv);
    free(out.vecs);
    kry_operator_destroy(&op);
    kry_csr_free(a);
    return rc;
}
