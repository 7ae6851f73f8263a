/* funm.c — `kry funm`, `kry logdet`, `kry trace`, `kry density`: matrix functions and
   stochastic Lanczos quadrature on a Matrix Market file or a built-in problem
   (kry/funm.h). */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kry/adjoint.h"
#include "kry/funm.h"
#include "kry/kry.h"

enum cmd { CMD_FUNM, CMD_LOGDET, CMD_TRACE, CMD_DENSITY };

static const char *const cmd_names[] = {"funm", "logdet", "trace", "density"};

static const char common_help[] =
    "  --mtx FILE            Matrix Market file of a symmetric matrix\n"
    "  --problem SPEC        built-in matrix: laplace1d:N, laplace2d:MxN, diag:LO:HI:N\n"
    "  --steps K             Lanczos steps (per probe) (default 30, at most n)\n"
    "  --reorth R            none or full (default full)\n"
    "  --quiet               no progress line on stderr\n";

static const char slq_help[] =
    "  --probes N            number of probe vectors (default 30)\n"
    "  --probe P             rademacher (default) or gaussian\n"
    "  --seed S              seed of the probes (default 1)\n";

static const char funm_usage[] =
    "usage: kry funm (--mtx FILE | --problem SPEC) --f F [options]\n"
    "\n"
    "y = f(A) v by K Lanczos steps from v: y ~ |v| Q f(T) e_0 (and v^T f(A) v).\n"
    "\n"
    "  --f F                 exp (exp(t x)), log, sqrt or inv (1/x)\n"
    "  --t T                 the scale t of exp (default 1)\n"
    "  --vector FILE         v as an n x 1 Matrix Market array (default: all ones)\n"
    "  --out FILE            write y = f(A) v as an n x 1 Matrix Market array\n"
    "  --format F            text (default) or json\n";

static const char logdet_usage[] =
    "usage: kry logdet (--mtx FILE | --problem SPEC) [options]\n"
    "\n"
    "log det A of a symmetric positive definite A by stochastic Lanczos quadrature.\n"
    "\n"
    "  --format F            text (default) or json\n";

static const char trace_usage[] =
    "usage: kry trace (--mtx FILE | --problem SPEC) [--f F] [options]\n"
    "\n"
    "tr f(A) by stochastic Lanczos quadrature; for f = x Hutchinson's estimator\n"
    "(one product per probe, --steps is not used).\n"
    "\n"
    "  --f F                 x (default: tr A), exp (exp(t x)), log, sqrt or inv\n"
    "  --t T                 the scale t of exp (default 1)\n"
    "  --format F            text (default) or json\n";

static const char density_usage[] =
    "usage: kry density (--mtx FILE | --problem SPEC) [options]\n"
    "\n"
    "Spectral density of A (normalised to integrate to 1) by stochastic Lanczos\n"
    "quadrature with Gaussian broadening: CSV lines \"t,density\".\n"
    "\n"
    "  --sigma S             broadening (default: (largest - smallest node) / K)\n"
    "  --points P            grid points (default 200)\n"
    "  --range LO:HI         grid range (default: the Ritz range widened by 3 sigma)\n"
    "  --out FILE            write the CSV to FILE (default: standard output)\n"
    "  --nodes FILE          also write the raw quadrature nodes and weights as CSV\n"
    "  --png FILE            also plot the density with gnuplot (needs FILE via --out)\n";

static const char exit_help[] =
    "\n"
    "JSON keys: estimate, stderr, matvecs, seconds (plus a few descriptive ones).\n"
    "log and sqrt need a positive definite matrix: a non-positive Ritz value is reported\n"
    "as an error (exit 3), never as NaN.\n"
    "Exit codes: 0 success, 2 usage error, 3 bad input data, 4 internal failure.\n";

typedef struct fopts {
    enum cmd cmd;
    const char *name; /* command name */
    const char *mtx, *problem, *vector, *out, *nodes, *png;
    const char *fname;
    double t;
    size_t steps, probes, points;
    uint64_t seed;
    kry_reorth reorth;
    kry_probe_kind probe;
    double sigma, lo, hi;
    int have_range, json, quiet, have_t;
} fopts;

static void print_usage(enum cmd c)
{
    const char *u = c == CMD_FUNM     ? funm_usage :
                    c == CMD_LOGDET   ? logdet_usage :
                    c == CMD_TRACE    ? trace_usage :
                                        density_usage;
    fputs(u, stdout);
    fputs(common_help, stdout);
    if (c != CMD_FUNM)
        fputs(slq_help, stdout);
    fputs(exit_help, stdout);
}

/* Parses the options of command c into *o. Returns 0 to go on, -1 after --help, or an
   exit code. */
static int parse_opts(enum cmd c, int argc, char **argv, fopts *o)
{
    static const struct option longopts[] = {
        {"mtx", required_argument, 0, 'm'},     {"problem", required_argument, 0, 'p'},
        {"f", required_argument, 0, 'F'},       {"t", required_argument, 0, 'T'},
        {"steps", required_argument, 0, 'K'},   {"reorth", required_argument, 0, 'r'},
        {"vector", required_argument, 0, 'v'},  {"out", required_argument, 0, 'o'},
        {"probes", required_argument, 0, 'N'},  {"probe", required_argument, 0, 'P'},
        {"seed", required_argument, 0, 's'},    {"format", required_argument, 0, 'f'},
        {"sigma", required_argument, 0, 'S'},   {"points", required_argument, 0, 'G'},
        {"range", required_argument, 0, 'R'},   {"nodes", required_argument, 0, 'n'},
        {"png", required_argument, 0, 'g'},     {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    /* Which options each command takes (by short code). */
    static const char *const allowed[] = {
        "mpFTKrvofqh",      /* funm */
        "mpKrNPsfqh",       /* logdet */
        "mpFTKrNPsfqh",     /* trace */
        "mpKrNPsSGRngoqh"}; /* density */
    memset(o, 0, sizeof *o);
    o->cmd = c;
    o->name = cmd_names[c];
    o->t = 1.0;
    o->steps = 30;
    o->probes = 30;
    o->points = 200;
    o->seed = 1;
    o->reorth = KRY_REORTH_FULL;
    o->probe = KRY_PROBE_RADEMACHER;
    o->fname = c == CMD_TRACE ? "x" : NULL;
    const char *cmd = o->name;
    opterr = 0;
    optind = 1;
    int ch, idx = -1;
    while ((ch = getopt_long(argc, argv, ":h", longopts, &idx)) != -1) {
        if (ch != ':' && ch != '?' && strchr(allowed[c], ch) == NULL)
            return cli_fail(cmd, KRY_EXIT_USAGE, "option '--%s' does not apply to %s",
                            idx >= 0 ? longopts[idx].name : "h", cmd);
        idx = -1;
        switch (ch) {
        case 'm': o->mtx = optarg; break;
        case 'p': o->problem = optarg; break;
        case 'F': o->fname = optarg; break;
        case 'T':
            if (cli_parse_double(optarg, &o->t) != 0)
                return cli_fail(cmd, KRY_EXIT_USAGE, "--t: '%s' is not a number", optarg);
            o->have_t = 1;
            break;
        case 'K':
            if (cli_parse_size(optarg, &o->steps) != 0 || o->steps == 0)
                return cli_fail(cmd, KRY_EXIT_USAGE, "--steps: '%s' is not a positive count",
                                optarg);
            break;
        case 'r':
            if (kry_reorth_parse(optarg, &o->reorth) != KRY_OK ||
                (o->reorth != KRY_REORTH_NONE && o->reorth != KRY_REORTH_FULL))
                return cli_fail(cmd, KRY_EXIT_USAGE, "--reorth: '%s' is not none or full",
                                optarg);
            break;
        case 'v': o->vector = optarg; break;
        case 'o': o->out = optarg; break;
        case 'N':
            if (cli_parse_size(optarg, &o->probes) != 0 || o->probes == 0)
                return cli_fail(cmd, KRY_EXIT_USAGE,
                                "--probes: '%s' is not a positive count", optarg);
            break;
        case 'P':
            if (strcmp(optarg, "rademacher") == 0)
                o->probe = KRY_PROBE_RADEMACHER;
            else if (strcmp(optarg, "gaussian") == 0)
                o->probe = KRY_PROBE_GAUSSIAN;
            else
                return cli_fail(cmd, KRY_EXIT_USAGE,
                                "--probe: '%s' is not rademacher or gaussian", optarg);
            break;
        case 's':
            if (cli_parse_u64(optarg, &o->seed) != 0)
                return cli_fail(cmd, KRY_EXIT_USAGE, "--seed: '%s' is not an integer", optarg);
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0)
                o->json = 1;
            else if (strcmp(optarg, "text") == 0)
                o->json = 0;
            else
                return cli_fail(cmd, KRY_EXIT_USAGE, "--format: '%s' is not text or json",
                                optarg);
            break;
        case 'S':
            if (cli_parse_double(optarg, &o->sigma) != 0 || !(o->sigma > 0.0))
                return cli_fail(cmd, KRY_EXIT_USAGE, "--sigma: '%s' is not a positive number",
                                optarg);
            break;
        case 'G':
            if (cli_parse_size(optarg, &o->points) != 0 || o->points < 2 ||
                o->points > 10000000)
                return cli_fail(cmd, KRY_EXIT_USAGE,
                                "--points: '%s' is not a count in [2, 1e7]", optarg);
            break;
        case 'R': {
            char buf[128];
            const char *colon = strchr(optarg, ':');
            size_t len = colon ? (size_t)(colon - optarg) : 0;
            if (colon == NULL || len >= sizeof buf)
                return cli_fail(cmd, KRY_EXIT_USAGE, "--range: '%s' is not LO:HI", optarg);
            memcpy(buf, optarg, len);
            buf[len] = '\0';
            if (cli_parse_double(buf, &o->lo) != 0 || cli_parse_double(colon + 1, &o->hi) != 0 ||
                !(o->lo < o->hi))
                return cli_fail(cmd, KRY_EXIT_USAGE,
                                "--range: '%s' is not LO:HI with LO < HI", optarg);
            o->have_range = 1;
            break;
        }
        case 'n': o->nodes = optarg; break;
        case 'g': o->png = optarg; break;
        case 'q': o->quiet = 1; break;
        case 'h': print_usage(c); return -1;
        case ':':
            return cli_fail(cmd, KRY_EXIT_USAGE, "option '%s' needs a value",
                            argv[optind - 1]);
        default:
            return cli_fail(cmd, KRY_EXIT_USAGE, "unknown option '%s' (try --help)",
                            argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_fail(cmd, KRY_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
    if ((o->mtx == NULL) == (o->problem == NULL))
        return cli_fail(cmd, KRY_EXIT_USAGE,
                        "give exactly one of --mtx FILE or --problem SPEC (try --help)");
    if (c == CMD_FUNM && o->fname == NULL)
        return cli_fail(cmd, KRY_EXIT_USAGE, "--f is required (exp, log, sqrt or inv)");
    if (o->png != NULL && o->out == NULL)
        return cli_fail(cmd, KRY_EXIT_USAGE, "--png needs the CSV in a file: add --out FILE");
    if (o->png != NULL && (strchr(o->png, '\'') || strchr(o->out, '\'') ||
                           strchr(o->png, '\n') || strchr(o->out, '\n')))
        return cli_fail(cmd, KRY_EXIT_USAGE,
                        "--png: file names with quotes or newlines cannot be passed to gnuplot");
    return 0;
}

static int identity_fn(void *ctx, double x, double *f, double *df)
{
    (void)ctx;
    *f = x;
    *df = 1.0;
    return 0;
}

/* The function named by o->fname ("x" only for trace). Returns 0 or an exit code. */
static int parse_function(const fopts *o, kry_funm_fn *f)
{
    const char *s = o->fname;
    if (strcmp(s, "exp") == 0)
        *f = kry_funm_exp(o->t);
    else if (strcmp(s, "log") == 0)
        *f = kry_funm_log();
    else if (strcmp(s, "sqrt") == 0)
        *f = kry_funm_sqrt();
    else if (strcmp(s, "inv") == 0)
        *f = kry_funm_inv();
    else if (o->cmd == CMD_TRACE && strcmp(s, "x") == 0)
        *f = kry_funm_user(identity_fn, NULL);
    else
        return cli_fail(o->name, KRY_EXIT_USAGE, "--f: '%s' is not one of %s", s,
                        o->cmd == CMD_TRACE ? "x, exp, log, sqrt, inv" : "exp, log, sqrt, inv");
    if (o->have_t && f->kind != KRY_FUNM_EXP)
        return cli_fail(o->name, KRY_EXIT_USAGE, "--t applies to --f exp only");
    return 0;
}

/* Human-readable name of the function, for messages. */
static const char *fn_label(const fopts *o)
{
    return o->cmd == CMD_LOGDET ? "log" : o->cmd == CMD_DENSITY ? "density" : o->fname;
}

/* Loads the matrix into *a (CSR) and the operator *op. Returns 0 or an exit code. */
static int load_matrix(const fopts *o, kry_csr **a, kry_operator *op)
{
    kry_status st;
    if (o->mtx) {
        kry_mtx_error err;
        st = kry_mtx_read_csr(o->mtx, KRY_MTX_REQUIRE_SYMMETRIC, a, &err);
        if (st != KRY_OK)
            return cli_fail(o->name, cli_exit_for_status(st, 1), "%s",
                            err.message[0] ? err.message : kry_strerror(st));
    } else {
        char msg[256] = "";
        st = kry_problem_build(o->problem, a, msg, sizeof msg);
        if (st != KRY_OK)
            return cli_fail(o->name, st == KRY_EINVAL ? KRY_EXIT_USAGE : KRY_EXIT_INTERNAL,
                            "--problem: %s", msg[0] ? msg : kry_strerror(st));
    }
    st = kry_operator_csr(*a, op);
    if (st != KRY_OK)
        return cli_fail(o->name, cli_exit_for_status(st, 1), "%s: %s",
                        o->mtx ? o->mtx : o->problem, kry_strerror(st));
    return 0;
}

/* Reports a failed computation: a domain error names the offending Ritz value. */
static int report_failure(const fopts *o, kry_status st, double ritz_min)
{
    const char *src = o->mtx ? o->mtx : o->problem;
    if (st == KRY_EDOMAIN) {
        if (isfinite(ritz_min))
            return cli_fail(o->name, KRY_EXIT_DATA,
                            "%s: the matrix is not positive definite (Ritz value %.6g <= 0); "
                            "%s needs a symmetric positive definite matrix",
                            src, ritz_min, fn_label(o));
        return cli_fail(o->name, KRY_EXIT_DATA,
                        "%s: a Ritz value is outside the domain of %s", src, fn_label(o));
    }
    return cli_fail(o->name, cli_exit_for_status(st, 0), "%s: %s", src, kry_strerror(st));
}

static void print_slq(const fopts *o, const kry_slq_result *r, size_t steps, double seconds,
                      const char *what)
{
    if (o->json) {
        printf("{\n  \"estimate\": ");
        cli_json_double(stdout, r->estimate);
        printf(",\n  \"stderr\": ");
        cli_json_double(stdout, r->std_error);
        printf(",\n  \"matvecs\": %zu,\n  \"seconds\": %.6f,\n  \"probes\": %zu,\n"
               "  \"steps\": %zu,\n  \"ritz_min\": ",
               r->matvecs, seconds, r->probes, steps);
        cli_json_double(stdout, r->ritz_min);
        printf(",\n  \"ritz_max\": ");
        cli_json_double(stdout, r->ritz_max);
        printf("\n}\n");
        return;
    }
    printf("%s = %.10g +/- %.3g (standard error)\n", what, r->estimate, r->std_error);
    if (isfinite(r->ritz_min))
        printf("probes %zu, steps %zu, matvecs %zu, %.3f s, Ritz values in [%.6g, %.6g]\n",
               r->probes, steps, r->matvecs, seconds, r->ritz_min, r->ritz_max);
    else
        printf("probes %zu (Hutchinson), matvecs %zu, %.3f s\n", r->probes, r->matvecs,
               seconds);
}

static int run_slq(const fopts *o, const kry_operator *op, size_t steps)
{
    kry_funm_fn f;
    if (o->cmd == CMD_LOGDET) {
        f = kry_funm_log();
    } else {
        int rc = parse_function(o, &f);
        if (rc != 0)
            return rc;
    }
    kry_slq_params p = kry_slq_params_default();
    p.probes = o->probes;
    p.probe = o->probe;
    p.seed = o->seed;
    p.lanczos.max_steps = steps;
    p.lanczos.reorth = o->reorth;
    kry_lanczos_ws *lws = kry_lanczos_ws_alloc_reorth(op->n, steps, o->reorth);
    kry_funm_ws *fws = kry_funm_ws_alloc(op->n, steps);
    int rc = KRY_EXIT_OK;
    if (lws == NULL || fws == NULL) {
        rc = cli_fail(o->name, KRY_EXIT_INTERNAL, "out of memory");
        goto done;
    }
    kry_slq_result r;
    double t0 = cli_now();
    /* tr A needs no Lanczos: Hutchinson's estimator, one matvec per probe. */
    const int hutch = f.kind == KRY_FUNM_USER;
    kry_status st = hutch ? kry_trace_hutchinson(op, &p, fws, &r) :
                            kry_slq(op, &f, &p, lws, fws, &r);
    double sec = cli_now() - t0;
    if (hutch)
        steps = 1;
    if (st != KRY_OK) {
        rc = report_failure(o, st, r.ritz_min);
        goto done;
    }
    char what[64];
    if (o->cmd == CMD_LOGDET)
        snprintf(what, sizeof what, "log det A");
    else if (f.kind == KRY_FUNM_EXP)
        snprintf(what, sizeof what, "tr exp(%g A)", o->t);
    else if (f.kind == KRY_FUNM_USER)
        snprintf(what, sizeof what, "tr A");
    else
        snprintf(what, sizeof what, "tr %s(A)", o->fname);
    print_slq(o, &r, steps, sec, what);
    if (!o->quiet)
        fprintf(stderr, "kry %s: %zu probes x %zu %s, %zu matvecs, %.3f s\n", o->name,
                r.probes, steps, hutch ? "product" : "steps", r.matvecs, sec);
done:
    kry_lanczos_ws_free(lws);
    kry_funm_ws_free(fws);
    return rc;
}

static int all_zero(size_t n, const double *v)
{
    for (size_t i = 0; i < n; ++i)
        if (v[i] != 0.0)
            return 0;
    return 1;
}

static int run_funm(const fopts *o, const kry_operator *op, size_t steps)
{
    kry_funm_fn f;
    int rc = parse_function(o, &f);
    if (rc != 0)
        return rc;
    const size_t n = op->n;
    double *v = NULL, *y = malloc(n * sizeof *y), *fe = NULL;
    kry_lanczos_ws *lws = kry_lanczos_ws_alloc_reorth(n, steps, o->reorth);
    kry_funm_ws *fws = kry_funm_ws_alloc(n, steps);
    fe = malloc(steps * sizeof *fe);
    if (!y || !lws || !fws || !fe) {
        rc = cli_fail(o->name, KRY_EXIT_INTERNAL, "out of memory");
        goto done;
    }
    if (o->vector) {
        size_t m = 0, k = 0;
        kry_mtx_error err;
        kry_status st = kry_mtx_read_array(o->vector, &m, &k, &v, &err);
        if (st != KRY_OK) {
            rc = cli_fail(o->name, cli_exit_for_status(st, 1), "%s",
                          err.message[0] ? err.message : kry_strerror(st));
            goto done;
        }
        if (m != n || k != 1) {
            rc = cli_fail(o->name, KRY_EXIT_DATA,
                          "%s: the vector is %zu x %zu, expected %zu x 1", o->vector, m, k, n);
            goto done;
        }
    } else {
        v = malloc(n * sizeof *v);
        if (v == NULL) {
            rc = cli_fail(o->name, KRY_EXIT_INTERNAL, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < n; ++i)
            v[i] = 1.0;
    }
    kry_lanczos_params lp = kry_lanczos_params_default();
    lp.max_steps = steps;
    lp.reorth = o->reorth;
    kry_lanczos_result info;
    double t0 = cli_now();
    kry_status st = kry_funm_apply(op, &f, v, &lp, lws, fws, y, &info);
    double sec = cli_now() - t0;
    if (st != KRY_OK) {
        size_t m;
        const double *nodes = kry_funm_nodes(fws, &m);
        if (all_zero(n, v))
            rc = cli_fail(o->name, KRY_EXIT_DATA, "%s: the vector is zero", o->vector);
        else
            rc = report_failure(o, st, nodes != NULL ? nodes[0] : NAN);
        goto done;
    }
    /* v^T f(A) v, |f(A) v|, and the change from K-1 to K steps as an error estimate:
       |y_K - y_{K-1}| = |v| |f(T_K) e_0 - [f(T_{K-1}) e_0; 0]| (orthonormal Q). */
    double quad = 0.0, ny = 0.0, est = NAN, l = kry_lanczos_v0_norm(lws);
    for (size_t i = 0; i < n; ++i) {
        quad += v[i] * y[i];
        ny += y[i] * y[i];
    }
    ny = sqrt(ny);
    const size_t m = info.steps;
    if (m >= 2) {
        const double *al = kry_lanczos_alpha(lws), *be = kry_lanczos_beta(lws);
        double *fe1 = malloc(m * sizeof *fe1);
        if (fe1 && kry_funm_tridiag(fws, m, al, be, &f, NULL, fe) == KRY_OK &&
            kry_funm_tridiag(fws, m - 1, al, be, &f, NULL, fe1) == KRY_OK) {
            double s = fe[m - 1] * fe[m - 1];
            for (size_t i = 0; i + 1 < m; ++i)
                s += (fe[i] - fe1[i]) * (fe[i] - fe1[i]);
            est = l * sqrt(s);
        }
        free(fe1);
    } else if (info.reason == KRY_CONVERGED_INVARIANT) {
        est = 0.0;
    }
    if (info.reason == KRY_CONVERGED_INVARIANT)
        est = 0.0; /* the Krylov space is invariant: f(A) v is exact up to rounding */
    if (o->json) {
        printf("{\n  \"estimate\": ");
        cli_json_double(stdout, quad);
        printf(",\n  \"stderr\": null,\n  \"matvecs\": %zu,\n  \"seconds\": %.6f,\n",
               info.matvecs, sec);
        printf("  \"steps\": %zu,\n  \"norm\": ", info.steps);
        cli_json_double(stdout, ny);
        printf(",\n  \"error_estimate\": ");
        cli_json_double(stdout, est);
        printf(",\n  \"reason\": \"%s\"\n}\n", kry_reason_str(info.reason));
    } else {
        printf("v^T f(A) v = %.12g\n|f(A) v| = %.12g\n", quad, ny);
        printf("error estimate |y_K - y_(K-1)| = %.3g\n", est);
        printf("steps %zu, matvecs %zu, %.3f s, %s\n", info.steps, info.matvecs, sec,
               kry_reason_str(info.reason));
    }
    if (!o->quiet)
        fprintf(stderr, "kry funm: f = %s, n = %zu, %zu steps (reorth %s), %.3f s\n", o->fname,
                n, info.steps, kry_reorth_name(o->reorth), sec);
    if (o->out) {
        kry_mtx_error err;
        memset(&err, 0, sizeof err);
        char comment[128];
        snprintf(comment, sizeof comment, "f(A) v from kry funm, f = %s, %zu Lanczos steps",
                 o->fname, info.steps);
        st = kry_mtx_write_array(o->out, n, 1, y, n, comment, &err);
        if (st != KRY_OK)
            rc = cli_fail(o->name, KRY_EXIT_USAGE, "--out: %s",
                          err.message[0] ? err.message : kry_strerror(st));
    }
done:
    free(v);
    free(y);
    free(fe);
    kry_lanczos_ws_free(lws);
    kry_funm_ws_free(fws);
    return rc;
}

/* Plots the CSV file with gnuplot into png. Returns 0 or an exit code. */
static int plot_png(const fopts *o, double sigma)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0)
        return cli_fail(o->name, KRY_EXIT_INTERNAL,
                        "--png: gnuplot is not installed (the CSV is in %s; install the "
                        "Debian package gnuplot-nox for plots)",
                        o->out);
    FILE *g = popen("gnuplot", "w");
    if (g == NULL)
        return cli_fail(o->name, KRY_EXIT_INTERNAL, "--png: cannot run gnuplot");
    fprintf(g,
            "set terminal pngcairo size 800,500\nset output '%s'\nset datafile separator ','\n"
            "set xlabel 'eigenvalue'\nset ylabel 'density'\n"
            "set title 'spectral density (SLQ, %zu probes x %zu steps, sigma = %.3g)'\n"
            "plot '%s' using 1:2 every ::1 with lines lw 2 notitle\n",
            o->png, o->probes, o->steps, sigma, o->out);
    int rc = pclose(g);
    if (rc != 0)
        return cli_fail(o->name, KRY_EXIT_INTERNAL, "--png: gnuplot failed (status %d)", rc);
    return 0;
}

static int run_density(const fopts *o, const kry_operator *op, size_t steps)
{
    const size_t n = op->n, cap = o->probes * steps;
    kry_slq_params p = kry_slq_params_default();
    p.probes = o->probes;
    p.probe = o->probe;
    p.seed = o->seed;
    p.lanczos.max_steps = steps;
    p.lanczos.reorth = o->reorth;
    kry_lanczos_ws *lws = kry_lanczos_ws_alloc_reorth(n, steps, o->reorth);
    kry_funm_ws *fws = kry_funm_ws_alloc(n, steps);
    double *nodes = malloc(cap * sizeof *nodes), *w = malloc(cap * sizeof *w);
    double *tg = malloc(o->points * sizeof *tg), *dg = malloc(o->points * sizeof *dg);
    FILE *out = NULL;
    int rc = KRY_EXIT_OK;
    if (!lws || !fws || !nodes || !w || !tg || !dg) {
        rc = cli_fail(o->name, KRY_EXIT_INTERNAL, "out of memory");
        goto done;
    }
    size_t count = 0;
    kry_slq_result r;
    double t0 = cli_now();
    kry_status st = kry_slq_nodes(op, &p, lws, fws, nodes, w, cap, &count, &r);
    if (st != KRY_OK) {
        rc = report_failure(o, st, r.ritz_min);
        goto done;
    }
    double sigma = o->sigma > 0.0 ? o->sigma : kry_density_sigma_default(nodes, count, steps);
    double lo = o->have_range ? o->lo : r.ritz_min - 3.0 * sigma;
    double hi = o->have_range ? o->hi : r.ritz_max + 3.0 * sigma;
    for (size_t k = 0; k < o->points; ++k)
        tg[k] = lo + (hi - lo) * (double)k / (double)(o->points - 1);
    st = kry_density_eval(nodes, w, count, sigma, tg, o->points, dg);
    double sec = cli_now() - t0;
    if (st != KRY_OK) {
        rc = report_failure(o, st, NAN);
        goto done;
    }
    out = o->out ? fopen(o->out, "w") : stdout;
    if (out == NULL) {
        rc = cli_fail(o->name, KRY_EXIT_USAGE, "--out: cannot open %s for writing", o->out);
        goto done;
    }
    fprintf(out, "t,density\n");
    for (size_t k = 0; k < o->points; ++k)
        fprintf(out, "%.10g,%.10g\n", tg[k], dg[k]);
    if (out != stdout && fclose(out) != 0) {
        out = NULL;
        rc = cli_fail(o->name, KRY_EXIT_USAGE, "--out: cannot write %s", o->out);
        goto done;
    }
    out = NULL;
    if (o->nodes) {
        FILE *nf = fopen(o->nodes, "w");
        if (nf == NULL) {
            rc = cli_fail(o->name, KRY_EXIT_USAGE, "--nodes: cannot open %s for writing",
                          o->nodes);
            goto done;
        }
        fprintf(nf, "node,weight\n");
        for (size_t i = 0; i < count; ++i)
            fprintf(nf, "%.17g,%.17g\n", nodes[i], w[i]);
        if (fclose(nf) != 0) {
            rc = cli_fail(o->name, KRY_EXIT_USAGE, "--nodes: cannot write %s", o->nodes);
            goto done;
        }
    }
    if (!o->quiet)
        fprintf(stderr,
                "kry density: %zu probes x %zu steps, %zu nodes, sigma %.4g, range [%.4g, "
                "%.4g], %zu matvecs, %.3f s\n",
                r.probes, steps, count, sigma, lo, hi, r.matvecs, sec);
    if (o->png)
        rc = plot_png(o, sigma);
done:
    if (out != NULL && out != stdout)
        fclose(out);
    kry_lanczos_ws_free(lws);
    kry_funm_ws_free(fws);
    free(nodes);
    free(w);
    free(tg);
    free(dg);
    return rc;
}

static int run(enum cmd c, int argc, char **argv)
{
    fopts o;
    int rc = parse_opts(c, argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? KRY_EXIT_OK : rc;
    if (c != CMD_LOGDET && c != CMD_DENSITY && o.fname != NULL) {
        kry_funm_fn f;
        rc = parse_function(&o, &f);
        if (rc != 0)
            return rc;
    }
    kry_csr *a = NULL;
    kry_operator op;
    memset(&op, 0, sizeof op);
    rc = load_matrix(&o, &a, &op);
    if (rc == 0) {
        size_t steps = o.steps < op.n ? o.steps : op.n;
        if (c == CMD_FUNM)
            rc = run_funm(&o, &op, steps);
        else if (c == CMD_DENSITY)
            rc = run_density(&o, &op, steps);
        else
            rc = run_slq(&o, &op, steps);
    }
    kry_operator_destroy(&op);
    kry_csr_free(a);
    return rc;
}

int cli_funm(int argc, char **argv) { return run(CMD_FUNM, argc, argv); }
int cli_logdet(int argc, char **argv) { return run(CMD_LOGDET, argc, argv); }
int cli_trace(int argc, char **argv) { return run(CMD_TRACE, argc, argv); }
int cli_density(int argc, char **argv) { return run(CMD_DENSITY, argc, argv); }
