/* hessian.c — `kry hessian`: the top of the spectrum (and the trace) of the Hessian of a
   small MLP's mean cross-entropy loss on a real data set, computed through
   Hessian-vector products only, at the initial parameters and after training.

   Data: the digits data set (1797 rows of 64 pixels 0..16 and a label, from scikit-learn's
   Debian package, fetched by scripts/fetch-data into $KRY_DATA_DIR or ~/.cache/kry/data),
   pixels scaled by 1/16; or any CSV file whose last column is an integer class label.
   Model: kry/mlp.h (tanh or ReLU hidden layers, softmax cross-entropy, exact gradient by
   backpropagation and exact HVP by Pearlmutter's R-operator; or an FD-HVP of the exact
   gradient, kry_operator_hvp_fd). Eigenvalues: the thick-restart Lanczos top-k driver
   (kry/topk.h) with the residual test of MATH.md section 3; its multiplicity check is off
   by default (--verify turns it on): on the digits demo it adds 12 HVPs to 26-38, and
   exactly repeated eigenvalues are not expected at the top of a loss Hessian at generic
   parameters. --check recomputes true residuals (one more HVP per pair). Trace: Hutchinson's
   estimator with Rademacher probes and its standard error (kry_trace_hutchinson).
   Spectral density: stochastic Lanczos quadrature (kry_slq_nodes, kry_density_eval),
   before and after training on one grid with one broadening.

   The Hessian is that of the mean loss over the first --hessian-rows rows of the data
   file; training uses all rows. Everything is deterministic given --seed (the initial
   parameters, the minibatches, the Lanczos start vector and the probes use separate
   streams of the same seed). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kry/kry.h"
#include "kry/topk.h"

#define CMD "hessian"
#define MAX_HIDDEN 16
#define MAX_LABEL 9999
#define MAX_CHUNK 4096 /* rows per chunk of the Hessian workspace */
#define MAX_PARAMS 50000000 /* parameter files describing more are rejected */

static const char hessian_usage[] =
    "usage: kry hessian [options]\n"
    "\n"
    "Top eigenvalues (and trace, spectral density) of the Hessian of an MLP's mean\n"
    "cross-entropy loss, through Hessian-vector products only, before and after training.\n"
    "\n"
    "data and model:\n"
    "  --data D              digits (default: $KRY_DATA_DIR/digits.csv, default directory\n"
    "                        ~/.cache/kry/data, filled by scripts/fetch-data; pixels / 16)\n"
    "                        or FILE.csv (numbers; the last column is an integer class\n"
    "                        label 0..9999; an optional header line is skipped)\n"
    "  --standardize         standardise the feature columns (mean 0, std 1 over all rows)\n"
    "  --hidden H[,H...]     hidden layer sizes (default 16; 'none': softmax regression)\n"
    "  --act A               tanh (default) or relu\n"
    "  --l2 X                L2 penalty (X/2)|theta|^2 (default 0)\n"
    "  --load-params FILE    start from saved parameters instead of a random initialisation\n"
    "                        (the hidden sizes come from the file unless --hidden is given)\n"
    "  --save-params FILE    write the parameters after training: a line with the layer\n"
    "                        sizes, then for each layer W row-major (out x in) then b, one\n"
    "                        number per line (%.17g: reloading is bit for bit)\n"
    "training (all rows):\n"
    "  --steps N             training steps between the two analyses (default 200; 0: only\n"
    "                        the initial parameters are analysed)\n"
    "  --optimizer O         sgd (default) or adam\n"
    "  --lr X                step size (default 0.1)\n"
    "  --batch N             minibatch rows, sampled with replacement (default 64; 0: all)\n"
    "  --seed S              seed of the initialisation, minibatches, Lanczos start vector\n"
    "                        and trace/density probes (default 1)\n"
    "Hessian:\n";

/* Second half of the usage (ISO C caps string literals at 4095 characters). */
static const char hessian_usage2[] =
    "  --hessian-rows N      the Hessian of the mean loss over the first N rows (default 500,\n"
    "                        or all rows when the file has fewer)\n"
    "  -k K                  number of eigenvalues (default 10)\n"
    "  --which W             LA largest algebraic (default), LM largest magnitude, BE both\n"
    "                        ends, SA smallest algebraic\n"
    "  --hvp H               exact (default; R-operator) or fd (central differences of the\n"
    "                        exact gradient, 2 gradients per product)\n"
    "  --tol T               relative residual tolerance of the eigenpairs (default 1e-4;\n"
    "                        the eigenvalue error is about T^2 |lambda|^2 / gap)\n"
    "  --max-hvps M          HVP budget of each eigenvalue solve (default: the driver's,\n"
    "                        max(100 m, 2 P) for a basis of m vectors)\n"
    "  --verify              run the driver's multiplicity check after convergence (finds\n"
    "                        missed copies of repeated eigenvalues; about 12 more HVPs)\n"
    "  --check               recompute true residuals |Hy - theta y| (k more HVPs, counted\n"
    "                        apart) and the orthogonality of the eigenvectors\n"
    "  --trace               also estimate tr(H) (Hutchinson, Rademacher probes) with its\n"
    "                        standard error\n"
    "  --probes N            probes of the trace estimate (default 100, at least 2)\n"
    "  --density FILE.csv    spectral density by stochastic Lanczos quadrature, written as\n"
    "                        t,density_before[,density_after] (normalised to integrate to 1)\n"
    "  --density-probes N    SLQ probes (default 10)\n"
    "  --density-steps K     Lanczos steps per probe (default 40; K HVPs per probe)\n"
    "  --sigma S             Gaussian broadening (default: the larger of the two analyses'\n"
    "                        (largest - smallest node) / K)\n"
    "  --points N            grid points (default 400)\n"
    "output:\n"
    "  --format F            table (default) or json (objects before and after, each with\n"
    "                        eigenvalues, residuals, converged, hvps, loss, accuracy and\n"
    "                        trace/trace_stderr and density_hvps when asked; plus seconds)\n"
    "  --plot FILE.png       gnuplot chart of the top-k before vs after training (and the\n"
    "                        density when --density is given)\n"
    "  --quiet               no progress lines on stderr\n"
    "\n"
    "Exit codes: 0 success, 1 some eigenpair not converged within the budget (results\n"
    "still printed), 2 usage error, 3 bad or missing data, 4 internal or numerical failure.\n";

enum hvp_kind { HVP_EXACT, HVP_FD };
enum out_format { OUT_TABLE, OUT_JSON };

typedef struct hopts {
    const char *data, *density, *plot, *save, *load;
    size_t hidden[MAX_HIDDEN], n_hidden;
    int hidden_set;
    kry_mlp_act act;
    double l2, lr, tol;
    size_t steps, batch, hrows, k, max_hvps, probes, dprobes, dsteps, points;
    double sigma;
    int hrows_set, trace, standardize, quiet, verify, check;
    kry_mlp_optimizer optimizer;
    uint64_t seed;
    kry_which which;
    enum hvp_kind hvp;
    enum out_format format;
} hopts;

typedef struct dataset {
    size_t rows, dim, classes;
    double *X; /* rows x dim, row-major */
    int *y;
    char path[1200];
} dataset;

/* One analysis of the Hessian at one parameter vector. */
typedef struct analysis {
    double loss, accuracy;
    double *eig, *resid;
    int *conv;
    size_t nconv, hvps, grads;
    kry_reason reason;
    double seconds;
    double trace, trace_se;
    size_t trace_hvps;
    size_t verify_hvps, restarts;
    double *true_resid; /* --check: true residuals */
    double orth, max_ratio;
    size_t check_hvps;
    double *nodes, *weights; /* SLQ nodes and weights (density) */
    size_t count, density_hvps;
    double ritz_min, ritz_max, sigma;
} analysis;

/* Counts the products of an inner operator (exact or FD-HVP). */
typedef struct counted {
    const kry_operator *inner;
    size_t count;
} counted;

static int counted_matvec(void *ctx, const double *restrict x, double *restrict y)
{
    counted *c = ctx;
    int rc = c->inner->matvec(c->inner->ctx, x, y);
    if (rc == 0)
        c->count++;
    return rc;
}

/* ------------------------------------------------------------------ options */

static int parse_hidden(const char *s, hopts *o)
{
    o->n_hidden = 0;
    o->hidden_set = 1;
    if (strcmp(s, "none") == 0)
        return 0;
    char buf[256];
    if (strlen(s) >= sizeof buf || *s == '\0')
        return -1;
    strcpy(buf, s);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t h;
        if (o->n_hidden == MAX_HIDDEN || cli_parse_size(tok, &h) != 0 || h == 0 || h > 100000)
            return -1;
        o->hidden[o->n_hidden++] = h;
    }
    /* "16,,16" and a trailing comma leave empty fields that strtok skips: reject them. */
    size_t commas = 0;
    for (const char *p = s; *p; ++p)
        commas += *p == ',';
    return commas + 1 == o->n_hidden ? 0 : -1;
}

static int parse_opts(int argc, char **argv, hopts *o)
{
    enum {
        O_DATA = 256, O_HIDDEN, O_ACT, O_L2, O_STEPS, O_LR, O_BATCH, O_SEED, O_HROWS, O_WHICH,
        O_HVP, O_TOL, O_MAXHVPS, O_TRACE, O_PROBES, O_DENSITY, O_PLOT, O_SAVE, O_LOAD,
        O_FORMAT, O_QUIET, O_OPT, O_STD, O_DPROBES, O_DSTEPS, O_SIGMA, O_POINTS, O_VERIFY,
        O_CHECK
    };
    static const struct option longopts[] = {
        {"data", required_argument, 0, O_DATA},       {"hidden", required_argument, 0, O_HIDDEN},
        {"act", required_argument, 0, O_ACT},         {"l2", required_argument, 0, O_L2},
        {"steps", required_argument, 0, O_STEPS},     {"lr", required_argument, 0, O_LR},
        {"batch", required_argument, 0, O_BATCH},     {"seed", required_argument, 0, O_SEED},
        {"hessian-rows", required_argument, 0, O_HROWS},
        {"which", required_argument, 0, O_WHICH},     {"hvp", required_argument, 0, O_HVP},
        {"tol", required_argument, 0, O_TOL},         {"max-hvps", required_argument, 0, O_MAXHVPS},
        {"trace", no_argument, 0, O_TRACE},           {"probes", required_argument, 0, O_PROBES},
        {"density", required_argument, 0, O_DENSITY}, {"plot", required_argument, 0, O_PLOT},
        {"save-params", required_argument, 0, O_SAVE},
        {"load-params", required_argument, 0, O_LOAD},
        {"format", required_argument, 0, O_FORMAT},   {"quiet", no_argument, 0, O_QUIET},
        {"optimizer", required_argument, 0, O_OPT},   {"standardize", no_argument, 0, O_STD},
        {"density-probes", required_argument, 0, O_DPROBES},
        {"density-steps", required_argument, 0, O_DSTEPS},
        {"sigma", required_argument, 0, O_SIGMA},     {"points", required_argument, 0, O_POINTS},
        {"verify", no_argument, 0, O_VERIFY},         {"check", no_argument, 0, O_CHECK},
        {"help", no_argument, 0, 'h'},                {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->data = "digits";
    o->hidden[0] = 16;
    o->n_hidden = 1;
    o->act = KRY_MLP_TANH;
    o->steps = 200;
    o->lr = 0.1;
    o->batch = 64;
    o->seed = 1;
    o->hrows = 500;
    o->k = 10;
    o->which = KRY_WHICH_LA;
    o->hvp = HVP_EXACT;
    o->tol = 1e-4;
    o->probes = 100;
    o->dprobes = 10;
    o->dsteps = 40;
    o->points = 400;
    o->optimizer = KRY_MLP_SGD;
    o->format = OUT_TABLE;
    opterr = 0;
    optind = 1;
    int c, li = -1;
    while ((c = getopt_long(argc, argv, ":k:h", longopts, &li)) != -1) {
        const char *v = optarg;
        int bad = 0;
        switch (c) {
        case O_DATA: o->data = v; break;
        case O_HIDDEN: bad = parse_hidden(v, o); break;
        case O_ACT:
            if (strcmp(v, "tanh") == 0)
                o->act = KRY_MLP_TANH;
            else if (strcmp(v, "relu") == 0)
                o->act = KRY_MLP_RELU;
            else
                bad = 1;
            break;
        case O_L2: bad = cli_parse_double(v, &o->l2) || o->l2 < 0.0; break;
        case O_STEPS: bad = cli_parse_size(v, &o->steps); break;
        case O_LR: bad = cli_parse_double(v, &o->lr) || !(o->lr > 0.0); break;
        case O_BATCH: bad = cli_parse_size(v, &o->batch); break;
        case O_SEED: bad = cli_parse_u64(v, &o->seed); break;
        case O_HROWS:
            bad = cli_parse_size(v, &o->hrows) || o->hrows == 0;
            o->hrows_set = 1;
            break;
        case 'k': bad = cli_parse_size(v, &o->k) || o->k == 0; break;
        case O_WHICH: bad = kry_which_parse(v, &o->which) != KRY_OK; break;
        case O_HVP:
            if (strcmp(v, "exact") == 0)
                o->hvp = HVP_EXACT;
            else if (strcmp(v, "fd") == 0)
                o->hvp = HVP_FD;
            else
                bad = 1;
            break;
        case O_TOL: bad = cli_parse_double(v, &o->tol) || !(o->tol > 0.0) || o->tol >= 1.0; break;
        case O_MAXHVPS: bad = cli_parse_size(v, &o->max_hvps) || o->max_hvps == 0; break;
        case O_TRACE: o->trace = 1; break;
        case O_PROBES: bad = cli_parse_size(v, &o->probes) || o->probes < 2; break;
        case O_DENSITY: o->density = v; break;
        case O_PLOT: o->plot = v; break;
        case O_SAVE: o->save = v; break;
        case O_LOAD: o->load = v; break;
        case O_FORMAT:
            if (strcmp(v, "table") == 0)
                o->format = OUT_TABLE;
            else if (strcmp(v, "json") == 0)
                o->format = OUT_JSON;
            else
                bad = 1;
            break;
        case O_QUIET: o->quiet = 1; break;
        case O_OPT:
            if (strcmp(v, "sgd") == 0)
                o->optimizer = KRY_MLP_SGD;
            else if (strcmp(v, "adam") == 0)
                o->optimizer = KRY_MLP_ADAM;
            else
                bad = 1;
            break;
        case O_STD: o->standardize = 1; break;
        case O_VERIFY: o->verify = 1; break;
        case O_CHECK: o->check = 1; break;
        case O_DPROBES: bad = cli_parse_size(v, &o->dprobes) || o->dprobes == 0; break;
        case O_DSTEPS: bad = cli_parse_size(v, &o->dsteps) || o->dsteps == 0; break;
        case O_SIGMA: bad = cli_parse_double(v, &o->sigma) || !(o->sigma > 0.0); break;
        case O_POINTS:
            bad = cli_parse_size(v, &o->points) || o->points < 2 || o->points > 10000000;
            break;
        case 'h':
            fputs(hessian_usage, stdout);
            fputs(hessian_usage2, stdout);
            return -1;
        case ':':
            return cli_fail(CMD, KRY_EXIT_USAGE, "option '%s' needs a value",
                            argv[optind - 1]);
        default:
            return cli_fail(CMD, KRY_EXIT_USAGE, "unknown option '%s' (try --help)",
                            argv[optind - 1]);
        }
        if (bad)
            return cli_fail(CMD, KRY_EXIT_USAGE, "invalid value '%s' for %s%s (try --help)", v,
                            c == 'k' ? "-" : "--", c == 'k' ? "k" : longopts[li].name);
        li = -1;
    }
    if (optind < argc)
        return cli_fail(CMD, KRY_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
    return 0;
}

/* ------------------------------------------------------------------ data */

static void data_dir(char *buf, size_t len)
{
    const char *env = getenv("KRY_DATA_DIR");
    if (env && *env)
        snprintf(buf, len, "%s", env);
    else
        snprintf(buf, len, "%s/.cache/kry/data", getenv("HOME") ? getenv("HOME") : ".");
}

static void dataset_free(dataset *d)
{
    free(d->X);
    free(d->y);
    d->X = NULL;
    d->y = NULL;
}

static int load_data(const hopts *o, dataset *d)
{
    int digits = strcmp(o->data, "digits") == 0;
    if (digits) {
        char dir[1024];
        data_dir(dir, sizeof dir);
        snprintf(d->path, sizeof d->path, "%s/digits.csv", dir);
        if (access(d->path, R_OK) != 0)
            return cli_fail(CMD, KRY_EXIT_DATA,
                            "digits data set not found at %s; fetch it with: "
                            "scripts/fetch-data (KRY_DATA_DIR=%s)",
                            d->path, dir);
    } else {
        snprintf(d->path, sizeof d->path, "%s", o->data);
        if (access(d->path, R_OK) != 0)
            return cli_fail(CMD, KRY_EXIT_DATA, "cannot read %s: %s", d->path, strerror(errno));
    }
    kry_table t = {0, 0, NULL};
    kry_data_error err;
    memset(&err, 0, sizeof err);
    kry_status st = kry_data_load_csv(d->path, NULL, &t, &err);
    if (st != KRY_OK)
        return cli_fail(CMD, cli_exit_for_status(st, 1), "%s",
                        err.msg[0] ? err.msg : kry_strerror(st));
    int rc = 0;
    if (t.cols < 2 || (digits && t.cols != 65)) {
        rc = cli_fail(CMD, KRY_EXIT_DATA,
                      "%s: expected %s feature columns and a label column, found %zu columns",
                      d->path, digits ? "64" : "one or more", t.cols);
        goto out;
    }
    d->rows = t.rows;
    d->dim = t.cols - 1;
    d->X = malloc(d->rows * d->dim * sizeof *d->X);
    d->y = malloc(d->rows * sizeof *d->y);
    if (!d->X || !d->y) {
        rc = cli_fail(CMD, KRY_EXIT_INTERNAL, "out of memory");
        goto out;
    }
    int maxlab = 0;
    for (size_t r = 0; r < d->rows; ++r) {
        double lab = t.v[r * t.cols + d->dim];
        if (!(lab >= 0.0 && lab <= MAX_LABEL && lab == floor(lab))) {
            rc = cli_fail(CMD, KRY_EXIT_DATA,
                          "%s: data row %zu: label %.17g is not an integer in [0, %d]",
                          d->path, r + 1, lab, MAX_LABEL);
            goto out;
        }
        d->y[r] = (int)lab;
        maxlab = d->y[r] > maxlab ? d->y[r] : maxlab;
        for (size_t j = 0; j < d->dim; ++j)
            d->X[r * d->dim + j] = digits ? t.v[r * t.cols + j] / 16.0 : t.v[r * t.cols + j];
    }
    d->classes = (size_t)maxlab + 1;
    if (o->standardize) {
        double *mean = malloc(d->dim * sizeof *mean), *sd = malloc(d->dim * sizeof *sd);
        if (!mean || !sd ||
            kry_data_moments(d->rows, d->dim, d->X, d->dim, NULL, mean, sd) != KRY_OK ||
            kry_data_standardize(d->rows, d->dim, d->X, d->dim, mean, sd) != KRY_OK)
            rc = cli_fail(CMD, KRY_EXIT_INTERNAL, "standardising %s failed", d->path);
        free(mean);
        free(sd);
    }
out:
    kry_table_free(&t);
    return rc;
}

/* ------------------------------------------------------------------ parameters file */

static int save_params(const char *path, const kry_mlp *m, const double *theta)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return cli_fail(CMD, KRY_EXIT_USAGE, "--save-params: cannot write %s: %s", path,
                        strerror(errno));
    size_t L = kry_mlp_n_layers(m), P = kry_mlp_n_params(m);
    for (size_t l = 0; l <= L; ++l)
        fprintf(f, "%s%zu", l ? " " : "", kry_mlp_size(m, l));
    fputc('\n', f);
    /* theta's layout is exactly the file's: W_l row-major, then b_l, layer by layer. */
    for (size_t i = 0; i < P; ++i)
        fprintf(f, "%.17g\n", theta[i]);
    if (ferror(f) | (fclose(f) != 0))
        return cli_fail(CMD, KRY_EXIT_USAGE, "--save-params: error writing %s", path);
    return 0;
}

/* Reads a parameter file: the layer sizes (sizes[0..*ns)) and the *P values. */
static int load_params(const char *path, size_t *sizes, size_t *ns, double **theta, size_t *P)
{
    *theta = NULL;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return cli_fail(CMD, KRY_EXIT_DATA, "--load-params: cannot read %s: %s", path,
                        strerror(errno));
    char *line = NULL;
    size_t cap = 0, lineno = 0, got = 0;
    int rc = 0;
    *ns = 0;
    *P = 0;
    while (getline(&line, &cap, f) >= 0) {
        ++lineno;
        char *s = line;
        while (*s == ' ' || *s == '\t')
            ++s;
        size_t len = strlen(s);
        while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ' ||
                           s[len - 1] == '\t'))
            s[--len] = '\0';
        if (len == 0)
            continue;
        if (*ns == 0) { /* the header: layer sizes */
            char *save = NULL;
            for (char *tok = strtok_r(s, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
                size_t v;
                if (*ns == MAX_HIDDEN + 2 || cli_parse_size(tok, &v) != 0 || v == 0 ||
                    v > 100000) {
                    rc = cli_fail(CMD, KRY_EXIT_DATA,
                                  "%s:%zu: expected the layer sizes (2 to %d positive "
                                  "integers), found '%s'",
                                  path, lineno, MAX_HIDDEN + 2, tok);
                    goto out;
                }
                sizes[(*ns)++] = v;
            }
            if (*ns < 2) {
                rc = cli_fail(CMD, KRY_EXIT_DATA, "%s:%zu: expected at least 2 layer sizes",
                              path, lineno);
                goto out;
            }
            for (size_t l = 1; l < *ns; ++l)
                *P += sizes[l] * (sizes[l - 1] + 1);
            if (*P > MAX_PARAMS) {
                rc = cli_fail(CMD, KRY_EXIT_DATA,
                              "%s:%zu: the layer sizes imply %zu parameters (more than %d)",
                              path, lineno, *P, MAX_PARAMS);
                goto out;
            }
            *theta = malloc(*P * sizeof **theta);
            if (*theta == NULL) {
                rc = cli_fail(CMD, KRY_EXIT_INTERNAL, "out of memory");
                goto out;
            }
            continue;
        }
        char *end = NULL;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v)) {
            rc = cli_fail(CMD, KRY_EXIT_DATA, "%s:%zu: '%s' is not a finite number", path,
                          lineno, s);
            goto out;
        }
        if (got == *P) {
            rc = cli_fail(CMD, KRY_EXIT_DATA,
                          "%s:%zu: more than the %zu parameters the layer sizes imply", path,
                          lineno, *P);
            goto out;
        }
        (*theta)[got++] = v;
    }
    if (ferror(f))
        rc = cli_fail(CMD, KRY_EXIT_DATA, "--load-params: error reading %s", path);
    else if (*ns == 0)
        rc = cli_fail(CMD, KRY_EXIT_DATA, "%s: empty file (expected the layer sizes)", path);
    else if (got < *P)
        rc = cli_fail(CMD, KRY_EXIT_DATA,
                      "%s: %zu parameters, but the layer sizes imply %zu", path, got, *P);
out:
    free(line);
    fclose(f);
    if (rc != 0) {
        free(*theta);
        *theta = NULL;
    }
    return rc;
}

/* ------------------------------------------------------------------ analysis */

typedef struct hctx {
    const hopts *o;
    const dataset *d;
    const kry_mlp *model;
    kry_mlp_ws *hws; /* Hessian rows (one chunk up to MAX_CHUNK rows) */
    size_t hrows, P;
    size_t dsteps; /* Lanczos steps per SLQ probe (at most P) */
    kry_topk_ws *tws;     /* top-k driver */
    double *vecs;         /* P x k eigenvectors (--check) */
    kry_lanczos_ws *lws;  /* SLQ (density) */
    kry_funm_ws *fws;     /* trace and density */
} hctx;

static int analysis_alloc(analysis *a, size_t k, size_t cap)
{
    memset(a, 0, sizeof *a);
    a->eig = calloc(k, sizeof *a->eig);
    a->resid = calloc(k, sizeof *a->resid);
    a->conv = calloc(k, sizeof *a->conv);
    a->trace = a->trace_se = a->ritz_min = a->ritz_max = a->sigma = NAN;
    a->orth = a->max_ratio = NAN;
    a->true_resid = calloc(k, sizeof *a->true_resid);
    if (a->true_resid == NULL)
        return -1;
    if (cap) {
        a->nodes = calloc(cap, sizeof *a->nodes);
        a->weights = calloc(cap, sizeof *a->weights);
        if (!a->nodes || !a->weights)
            return -1;
    }
    return a->eig && a->resid && a->conv ? 0 : -1;
}

static void analysis_free(analysis *a)
{
    free(a->eig);
    free(a->resid);
    free(a->conv);
    free(a->true_resid);
    free(a->nodes);
    free(a->weights);
}

/* Why an HVP failed, for the error message. */
static kry_status hvp_failure(const hopts *o, const kry_operator *op, const kry_mlp_batch *b,
                              kry_status st)
{
    if (st != KRY_ECALLBACK)
        return st;
    kry_status last = st;
    if (o->hvp == HVP_EXACT) {
        if (kry_mlp_hvp_last_status(op, &last) != KRY_OK)
            last = st;
    } else {
        last = b->status;
    }
    return last != KRY_OK ? last : st;
}

static int analyse(hctx *c, const double *theta, const char *label, analysis *a)
{
    const hopts *o = c->o;
    kry_status st = kry_mlp_loss(c->model, theta, c->d->X, c->d->y, c->hrows, c->hws, &a->loss);
    if (st == KRY_OK)
        st = kry_mlp_accuracy(c->model, theta, c->d->X, c->d->y, c->d->rows, c->hws,
                              &a->accuracy);
    if (st != KRY_OK)
        return cli_fail(CMD, cli_exit_for_status(st, 0), "%s: loss evaluation failed: %s",
                        label, kry_strerror(st));
    kry_operator inner, op;
    memset(&inner, 0, sizeof inner);
    kry_mlp_batch batch;
    memset(&batch, 0, sizeof batch);
    if (o->hvp == HVP_EXACT) {
        st = kry_operator_mlp_hvp(c->model, theta, c->d->X, c->d->y, c->hrows, c->hws, &inner);
    } else {
        st = kry_mlp_batch_init(&batch, c->model, c->d->X, c->d->y, c->hrows, c->hws);
        if (st == KRY_OK)
            st = kry_operator_hvp_fd(c->P, kry_mlp_grad_fn, &batch, theta, NULL, &inner);
    }
    if (st != KRY_OK)
        return cli_fail(CMD, cli_exit_for_status(st, 0), "%s: HVP operator: %s", label,
                        kry_strerror(st));
    counted cnt = {&inner, 0};
    int rc = 0;
    if (kry_operator_callback(c->P, counted_matvec, &cnt, &op) != KRY_OK) {
        rc = cli_fail(CMD, KRY_EXIT_INTERNAL, "operator set-up failed");
        goto out;
    }

    kry_topk_params p = kry_topk_params_default();
    p.which = o->which;
    p.tol = o->tol;
    p.max_matvecs = o->max_hvps;
    p.verify = o->verify;
    p.seed = o->seed;
    kry_topk_result res;
    memset(&res, 0, sizeof res);
    double t0 = cli_now();
    st = kry_topk_solve(&op, o->k, &p, NULL, 0, 0, c->tws, a->eig, c->vecs, c->P, a->resid,
                        a->conv, &res);
    a->seconds = cli_now() - t0;
    if (st != KRY_OK) {
        st = hvp_failure(o, &inner, &batch, st);
        rc = cli_fail(CMD, KRY_EXIT_INTERNAL, "%s: eigenvalue solve failed after %zu HVPs: %s",
                      label, cnt.count, kry_strerror(st));
        goto out;
    }
    a->hvps = cnt.count;
    a->nconv = res.nconv;
    a->reason = res.reason;
    a->verify_hvps = res.verify_matvecs;
    a->restarts = res.restarts;
    if (o->check && res.nconv == o->k) { /* unconverged entries may be NaN */
        kry_topk_check chk;
        size_t before = cnt.count;
        st = kry_topk_check_solution(&op, c->tws, o->k, a->eig, c->vecs, c->P, a->resid,
                                     res.anorm, a->true_resid, &chk);
        if (st != KRY_OK) {
            st = hvp_failure(o, &inner, &batch, st);
            rc = cli_fail(CMD, KRY_EXIT_INTERNAL, "%s: residual check failed: %s", label,
                          kry_strerror(st));
            goto out;
        }
        a->orth = chk.orth;
        a->max_ratio = chk.max_ratio;
        a->check_hvps = cnt.count - before;
    } else if (o->check) {
        for (size_t i = 0; i < o->k; ++i)
            a->true_resid[i] = NAN;
    }

    if (o->trace) {
        /* Hutchinson: tr H = E[v^T H v] for Rademacher v, one HVP per probe. */
        kry_slq_params sp = kry_slq_params_default();
        sp.probes = o->probes;
        sp.seed = o->seed;
        kry_slq_result sr;
        size_t before = cnt.count;
        t0 = cli_now();
        st = kry_trace_hutchinson(&op, &sp, c->fws, &sr);
        a->seconds += cli_now() - t0;
        if (st != KRY_OK) {
            st = hvp_failure(o, &inner, &batch, st);
            rc = cli_fail(CMD, KRY_EXIT_INTERNAL, "%s: trace estimate failed: %s", label,
                          kry_strerror(st));
            goto out;
        }
        a->trace = sr.estimate;
        a->trace_se = sr.std_error;
        a->trace_hvps = cnt.count - before;
    }
    if (o->density) {
        /* SLQ: Gauss nodes and weights of dprobes Lanczos runs of dsteps steps. */
        kry_slq_params sp = kry_slq_params_default();
        sp.probes = o->dprobes;
        sp.seed = o->seed;
        sp.lanczos.max_steps = c->dsteps;
        sp.lanczos.seed = o->seed;
        kry_slq_result sr;
        size_t before = cnt.count;
        t0 = cli_now();
        st = kry_slq_nodes(&op, &sp, c->lws, c->fws, a->nodes, a->weights,
                           o->dprobes * c->dsteps, &a->count, &sr);
        a->seconds += cli_now() - t0;
        if (st != KRY_OK) {
            st = hvp_failure(o, &inner, &batch, st);
            rc = cli_fail(CMD, KRY_EXIT_INTERNAL, "%s: spectral density failed: %s", label,
                          kry_strerror(st));
            goto out;
        }
        a->density_hvps = cnt.count - before;
        a->ritz_min = sr.ritz_min;
        a->ritz_max = sr.ritz_max;
        a->sigma = kry_density_sigma_default(a->nodes, a->count, c->dsteps);
    }
    if (o->hvp == HVP_FD && kry_hvp_fd_grad_count(&inner, &a->grads) != KRY_OK)
        a->grads = 0;
    if (!o->quiet) {
        fprintf(stderr, "kry hessian: %s: loss %.6f, accuracy %.4f; top %zu (%s) in %zu HVPs, "
                        "%zu/%zu converged, %.3f s",
                label, a->loss, a->accuracy, o->k, kry_which_name(o->which), a->hvps, a->nconv,
                o->k, a->seconds);
        if (o->verify)
            fprintf(stderr, " (multiplicity check %zu HVPs)", a->verify_hvps);
        if (o->check && a->check_hvps)
            fprintf(stderr, "; true/bound residual <= %.3g, |Y'Y - I| %.2g", a->max_ratio,
                    a->orth);
        if (o->trace)
            fprintf(stderr, "; trace %.6g +- %.2g (%zu probes)", a->trace, a->trace_se,
                    o->probes);
        if (o->density)
            fprintf(stderr, "; density: %zu nodes in [%.4g, %.4g], %zu HVPs", a->count,
                    a->ritz_min, a->ritz_max, a->density_hvps);
        fputc('\n', stderr);
    }
out:
    kry_operator_destroy(&inner);
    return rc;
}

/* ------------------------------------------------------------------ density */

/* Both densities on one grid with one broadening. */
typedef struct density {
    double sigma, lo, hi;
    size_t points;
    double *t, *before, *after;
} density;

static void density_free(density *g)
{
    free(g->t);
    free(g->before);
    free(g->after);
}

/* Grid over the Ritz range of both analyses widened by 3 sigma; sigma = --sigma or the
   larger of the two default broadenings. Writes t,density_before[,density_after]. */
static int density_write(const hopts *o, const analysis *before, const analysis *after,
                         density *g)
{
    g->sigma = o->sigma > 0.0 ? o->sigma
                              : (after ? fmax(before->sigma, after->sigma) : before->sigma);
    double lo = before->ritz_min, hi = before->ritz_max;
    if (after) {
        lo = fmin(lo, after->ritz_min);
        hi = fmax(hi, after->ritz_max);
    }
    g->lo = lo - 3.0 * g->sigma;
    g->hi = hi + 3.0 * g->sigma;
    g->points = o->points;
    g->t = malloc(g->points * sizeof *g->t);
    g->before = malloc(g->points * sizeof *g->before);
    g->after = after ? malloc(g->points * sizeof *g->after) : NULL;
    if (!g->t || !g->before || (after && !g->after))
        return cli_fail(CMD, KRY_EXIT_INTERNAL, "out of memory");
    for (size_t i = 0; i < g->points; ++i)
        g->t[i] = g->lo + (g->hi - g->lo) * (double)i / (double)(g->points - 1);
    kry_status st = kry_density_eval(before->nodes, before->weights, before->count, g->sigma,
                                      g->t, g->points, g->before);
    if (st == KRY_OK && after)
        st = kry_density_eval(after->nodes, after->weights, after->count, g->sigma, g->t,
                              g->points, g->after);
    if (st != KRY_OK)
        return cli_fail(CMD, KRY_EXIT_INTERNAL, "density evaluation failed: %s",
                        kry_strerror(st));
    FILE *f = fopen(o->density, "w");
    if (f == NULL)
        return cli_fail(CMD, KRY_EXIT_USAGE, "--density: cannot write %s: %s", o->density,
                        strerror(errno));
    fprintf(f, "t,density_before%s\n", after ? ",density_after" : "");
    for (size_t i = 0; i < g->points; ++i) {
        fprintf(f, "%.10g,%.10g", g->t[i], g->before[i]);
        if (after)
            fprintf(f, ",%.10g", g->after[i]);
        fputc('\n', f);
    }
    if (ferror(f) | (fclose(f) != 0))
        return cli_fail(CMD, KRY_EXIT_USAGE, "--density: error writing %s", o->density);
    return 0;
}

/* ------------------------------------------------------------------ output */

/* Prints s as a JSON string (quotes, backslashes and control characters escaped). */
static void json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; ++p) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void json_array(const double *x, size_t n)
{
    putchar('[');
    for (size_t i = 0; i < n; ++i) {
        if (i)
            fputs(", ", stdout);
        cli_json_double(stdout, x[i]);
    }
    putchar(']');
}

static void json_analysis(const hopts *o, const char *name, const analysis *a, int last)
{
    printf("  \"%s\": {\n    \"loss\": ", name);
    cli_json_double(stdout, a->loss);
    printf(",\n    \"accuracy\": ");
    cli_json_double(stdout, a->accuracy);
    printf(",\n    \"eigenvalues\": ");
    json_array(a->eig, o->k);
    printf(",\n    \"residuals\": ");
    json_array(a->resid, o->k);
    printf(",\n    \"converged\": [");
    for (size_t i = 0; i < o->k; ++i)
        printf("%s%s", i ? ", " : "", a->conv[i] ? "true" : "false");
    printf("],\n    \"hvps\": %zu,\n    \"restarts\": %zu,\n    \"reason\": \"%s\"", a->hvps,
           a->restarts, kry_reason_str(a->reason));
    if (o->verify)
        printf(",\n    \"verify_hvps\": %zu", a->verify_hvps);
    if (o->check) {
        printf(",\n    \"true_residuals\": ");
        json_array(a->true_resid, o->k);
        printf(",\n    \"orthogonality\": ");
        cli_json_double(stdout, a->orth);
        printf(",\n    \"check_hvps\": %zu", a->check_hvps);
    }
    if (o->hvp == HVP_FD)
        printf(",\n    \"gradients\": %zu", a->grads);
    if (o->trace) {
        printf(",\n    \"trace\": ");
        cli_json_double(stdout, a->trace);
        printf(",\n    \"trace_stderr\": ");
        cli_json_double(stdout, a->trace_se);
        printf(",\n    \"trace_hvps\": %zu", a->trace_hvps);
    }
    if (o->density)
        printf(",\n    \"density_hvps\": %zu", a->density_hvps);
    printf(",\n    \"seconds\": %.6f\n  }%s\n", a->seconds, last ? "" : ",");
}

static void print_json(const hopts *o, const dataset *d, const kry_mlp *m, size_t hrows,
                       const analysis *before, const analysis *after, const density *g,
                       double seconds)
{
    printf("{\n  \"data\": ");
    json_string(strcmp(o->data, "digits") == 0 ? "digits" : d->path);
    printf(",\n  \"rows\": %zu,\n  \"inputs\": %zu,\n  \"classes\": %zu,\n", d->rows, d->dim,
           d->classes);
    printf("  \"layers\": [");
    for (size_t l = 0; l <= kry_mlp_n_layers(m); ++l)
        printf("%s%zu", l ? ", " : "", kry_mlp_size(m, l));
    printf("],\n  \"activation\": \"%s\",\n  \"parameters\": %zu,\n  \"hessian_rows\": %zu,\n",
           o->act == KRY_MLP_TANH ? "tanh" : "relu", kry_mlp_n_params(m), hrows);
    printf("  \"k\": %zu,\n  \"which\": \"%s\",\n  \"hvp\": \"%s\",\n  \"tol\": %.17g,\n"
           "  \"steps\": %zu,\n",
           o->k, kry_which_name(o->which), o->hvp == HVP_EXACT ? "exact" : "fd", o->tol,
           o->steps);
    if (o->density) {
        printf("  \"density\": {\"file\": ");
        json_string(o->density);
        printf(", \"probes\": %zu, \"steps\": %zu, \"sigma\": ", o->dprobes, o->dsteps);
        cli_json_double(stdout, g->sigma);
        printf(", \"lo\": ");
        cli_json_double(stdout, g->lo);
        printf(", \"hi\": ");
        cli_json_double(stdout, g->hi);
        printf(", \"points\": %zu},\n", g->points);
    }
    json_analysis(o, "before", before, 0);
    if (after)
        json_analysis(o, "after", after, 0);
    printf("  \"seconds\": %.6f\n}\n", seconds);
}

static void print_table(const hopts *o, const dataset *d, const kry_mlp *m, size_t hrows,
                        const analysis *before, const analysis *after, const density *g,
                        double seconds)
{
    printf("MLP ");
    for (size_t l = 0; l <= kry_mlp_n_layers(m); ++l)
        printf("%s%zu", l ? "-" : "", kry_mlp_size(m, l));
    printf(" %s (%zu parameters) on %s (%zu rows); Hessian of the mean loss over the first "
           "%zu rows\n",
           o->act == KRY_MLP_TANH ? "tanh" : "relu", kry_mlp_n_params(m),
           strcmp(o->data, "digits") == 0 ? "digits" : d->path, d->rows, hrows);
    printf("top %zu (%s) by thick-restart Lanczos, %s HVP, relative residual tolerance %g\n\n",
           o->k,
           kry_which_name(o->which), o->hvp == HVP_EXACT ? "exact" : "finite-difference",
           o->tol);
    char after_head[64];
    snprintf(after_head, sizeof after_head, "after %zu steps", o->steps);
    if (after)
        printf("%4s  %34s  %34s\n", "", o->load ? "loaded parameters" : "at initialisation",
               after_head);
    printf("%4s  %22s  %10s", "#", "eigenvalue", "residual");
    if (after)
        printf("  %22s  %10s", "eigenvalue", "residual");
    putchar('\n');
    for (size_t i = 0; i < o->k; ++i) {
        printf("%4zu  %22.15g  %10.2e", i, before->eig[i], before->resid[i]);
        if (after)
            printf("%c %22.15g  %10.2e", before->conv[i] ? ' ' : '*', after->eig[i],
                   after->resid[i]);
        if (after ? !after->conv[i] : !before->conv[i])
            putchar('*');
        putchar('\n');
    }
    const analysis *an[2] = {before, after};
    size_t na = after ? 2 : 1;
    char cell[2][64];
    putchar('\n');
#define SUMMARY_ROW(name, ...)                                           \
    do {                                                                 \
        for (size_t i = 0; i < na; ++i)                                  \
            snprintf(cell[i], sizeof cell[i], __VA_ARGS__);              \
        printf("%-22s  %22s", name, cell[0]);                            \
        if (na > 1)                                                      \
            printf("  %10s %22s", "", cell[1]);                          \
        putchar('\n');                                                  \
    } while (0)
    SUMMARY_ROW("loss (Hessian rows)", "%.6f", an[i]->loss);
    SUMMARY_ROW("accuracy (all rows)", "%.4f", an[i]->accuracy);
    SUMMARY_ROW("HVPs (top-k)", "%zu", an[i]->hvps);
    SUMMARY_ROW("converged", "%zu/%zu", an[i]->nconv, o->k);
    if (o->check) {
        SUMMARY_ROW("max true/bound resid", "%.3g", an[i]->max_ratio);
        SUMMARY_ROW("max |Y'Y - I|", "%.2g", an[i]->orth);
    }
    if (o->trace)
        SUMMARY_ROW("trace (Hutchinson)", "%.6g +- %.2g", an[i]->trace, an[i]->trace_se);
    if (o->density)
        SUMMARY_ROW("density HVPs (SLQ)", "%zu", an[i]->density_hvps);
    SUMMARY_ROW("seconds", "%.3f", an[i]->seconds);
#undef SUMMARY_ROW
    if (o->density)
        printf("\ndensity: %s (%zu probes x %zu steps, sigma %.4g, [%.4g, %.4g])\n",
               o->density, o->dprobes, o->dsteps, g->sigma, g->lo, g->hi);
    printf("\ntotal %.3f s%s\n", seconds,
           before->nconv < o->k || (after && after->nconv < o->k)
               ? "; * = not converged within the HVP budget"
               : "");
}

static int have_gnuplot(void)
{
    const char *path = getenv("PATH");
    if (path == NULL)
        return 0;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char f[4200];
        snprintf(f, sizeof f, "%s/gnuplot", dir);
        if (access(f, X_OK) == 0)
            return 1;
    }
    return 0;
}

static int plot(const hopts *o, const kry_mlp *m, const analysis *before,
                const analysis *after, const density *dg)
{
    FILE *g = popen("gnuplot", "w");
    if (g == NULL)
        return cli_fail(CMD, KRY_EXIT_INTERNAL, "cannot run gnuplot");
    char arch[256] = "";
    size_t len = 0;
    for (size_t l = 0; l <= kry_mlp_n_layers(m) && len < sizeof arch - 16; ++l)
        len += (size_t)snprintf(arch + len, sizeof arch - len, "%s%zu", l ? "-" : "",
                                kry_mlp_size(m, l));
    /* In a gnuplot single-quoted string, '' stands for one quote. */
    fprintf(g, "set terminal pngcairo size %d,560\nset output '", o->density ? 1500 : 900);
    for (const char *p = o->plot; *p; ++p) {
        if (*p == '\'')
            fputc('\'', g);
        fputc(*p, g);
    }
    fputs("'\n", g);
    if (o->density)
        fputs("set multiplot layout 1,2\n", g);
    fprintf(g, "set title 'Hessian top %zu (%s), MLP %s %s on %s'\n", o->k,
            kry_which_name(o->which), arch, o->act == KRY_MLP_TANH ? "tanh" : "relu",
            strcmp(o->data, "digits") == 0 ? "digits" : "data");
    fprintf(g, "set xlabel 'index'\nset ylabel 'eigenvalue'\nset grid\nset key top right\n");
    fprintf(g, "set xrange [-0.5:%g]\n", (double)o->k - 0.5);
    fprintf(g, "plot '-' with linespoints lw 2 pt 7 title '%s'",
            o->load ? "loaded parameters" : "at initialisation");
    if (after)
        fprintf(g, ", '-' with linespoints lw 2 pt 5 title 'after %zu steps'", o->steps);
    fputc('\n', g);
    for (size_t i = 0; i < o->k; ++i)
        fprintf(g, "%zu %.17g\n", i, before->eig[i]);
    fputs("e\n", g);
    if (after) {
        for (size_t i = 0; i < o->k; ++i)
            fprintf(g, "%zu %.17g\n", i, after->eig[i]);
        fputs("e\n", g);
    }
    if (o->density) {
        /* Log scale (the outliers carry a tiny fraction of the mass), floored at 1e-7. */
        fprintf(g, "set title 'spectral density (SLQ, %zu probes x %zu steps, sigma %.3g)'\n",
                o->dprobes, o->dsteps, dg->sigma);
        fprintf(g, "set xlabel 'eigenvalue'\nset ylabel 'density'\nset logscale y\n"
                   "set xrange [*:*]\nset yrange [1e-7:*]\nset format y '10^{%%L}'\n");
        fprintf(g, "plot '-' with lines lw 2 title '%s'",
                o->load ? "loaded parameters" : "at initialisation");
        if (after)
            fprintf(g, ", '-' with lines lw 2 title 'after %zu steps'", o->steps);
        fputc('\n', g);
        for (size_t i = 0; i < dg->points; ++i)
            fprintf(g, "%.10g %.10g\n", dg->t[i], fmax(dg->before[i], 1e-12));
        fputs("e\n", g);
        if (after) {
            for (size_t i = 0; i < dg->points; ++i)
                fprintf(g, "%.10g %.10g\n", dg->t[i], fmax(dg->after[i], 1e-12));
            fputs("e\n", g);
        }
        fputs("unset multiplot\n", g);
    }
    int rc = pclose(g);
    if (rc != 0)
        return cli_fail(CMD, KRY_EXIT_INTERNAL, "gnuplot failed writing %s (status %d)",
                        o->plot, rc);
    return 0;
}

/* ------------------------------------------------------------------ main */

int cli_hessian(int argc, char **argv)
{
    hopts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? KRY_EXIT_OK : rc;
    if (o.plot && !have_gnuplot())
        return cli_fail(CMD, KRY_EXIT_USAGE,
                        "--plot needs gnuplot, which is not on PATH (Debian: apt-get install "
                        "gnuplot-nox)");
    double t_start = cli_now();

    dataset d;
    memset(&d, 0, sizeof d);
    kry_mlp *model = NULL;
    kry_mlp_ws *hws = NULL, *tws = NULL;
    kry_mlp_trainer *tr = NULL;
    double *theta = NULL, *loaded = NULL;
    hctx c;
    memset(&c, 0, sizeof c);
    analysis before, after;
    memset(&before, 0, sizeof before);
    memset(&after, 0, sizeof after);
    density dens;
    memset(&dens, 0, sizeof dens);
    size_t sizes[MAX_HIDDEN + 2], ns = 0;

    rc = load_data(&o, &d);
    if (rc != 0)
        goto done;
    /* Architecture: inputs, hidden (from --hidden, else the parameter file), classes. */
    size_t fsizes[MAX_HIDDEN + 2], fns = 0, fP = 0;
    if (o.load) {
        rc = load_params(o.load, fsizes, &fns, &loaded, &fP);
        if (rc != 0)
            goto done;
    }
    sizes[ns++] = d.dim;
    if (o.load && !o.hidden_set)
        for (size_t l = 1; l + 1 < fns; ++l)
            sizes[ns++] = fsizes[l];
    else
        for (size_t l = 0; l < o.n_hidden; ++l)
            sizes[ns++] = o.hidden[l];
    sizes[ns++] = d.classes;
    if (o.load) {
        int same = fns == ns;
        for (size_t l = 0; same && l < ns; ++l)
            same = fsizes[l] == sizes[l];
        if (!same) {
            char want[256] = "", have[256] = "";
            size_t lw = 0, lh = 0;
            for (size_t l = 0; l < ns && lw < sizeof want - 16; ++l)
                lw += (size_t)snprintf(want + lw, sizeof want - lw, "%s%zu", l ? " " : "",
                                       sizes[l]);
            for (size_t l = 0; l < fns && lh < sizeof have - 16; ++l)
                lh += (size_t)snprintf(have + lh, sizeof have - lh, "%s%zu", l ? " " : "",
                                       fsizes[l]);
            rc = cli_fail(CMD, KRY_EXIT_DATA,
                          "%s: layer sizes '%s' do not match the model '%s' (inputs and "
                          "classes come from the data, hidden sizes from --hidden)",
                          o.load, have, want);
            goto done;
        }
    }
    kry_mlp_params mp = kry_mlp_params_default();
    mp.act = o.act;
    mp.l2 = o.l2;
    kry_status st = kry_mlp_alloc(ns, sizes, &mp, &model);
    if (st != KRY_OK) {
        rc = cli_fail(CMD, cli_exit_for_status(st, 0), "model: %s", kry_strerror(st));
        goto done;
    }
    size_t P = kry_mlp_n_params(model);

    size_t hrows = o.hrows;
    if (hrows > d.rows) {
        if (o.hrows_set) {
            rc = cli_fail(CMD, KRY_EXIT_USAGE, "--hessian-rows %zu exceeds the %zu rows of %s",
                          hrows, d.rows, d.path);
            goto done;
        }
        hrows = d.rows;
    }
    if (o.k > P) {
        rc = cli_fail(CMD, KRY_EXIT_USAGE, "-k %zu exceeds the parameter count %zu", o.k, P);
        goto done;
    }

    st = kry_mlp_ws_alloc(model, hrows < MAX_CHUNK ? hrows : MAX_CHUNK, &hws);
    if (st == KRY_OK)
        st = kry_mlp_ws_alloc(model, o.batch && o.batch < d.rows ? o.batch
                                     : d.rows < MAX_CHUNK       ? d.rows
                                                                : MAX_CHUNK,
                              &tws);
    theta = malloc(P * sizeof *theta);
    size_t dsteps = o.dsteps < P ? o.dsteps : P;
    size_t cap = o.density ? o.dprobes * dsteps : 0;
    c.tws = kry_topk_ws_alloc(P, o.k, 0);
    if (o.check)
        c.vecs = malloc(P * o.k * sizeof *c.vecs);
    if (o.density)
        c.lws = kry_lanczos_ws_alloc_reorth(P, dsteps, KRY_REORTH_FULL);
    if (o.trace || o.density)
        c.fws = kry_funm_ws_alloc(P, dsteps);
    if (st != KRY_OK || !theta || !c.tws || (o.check && !c.vecs) || (o.density && !c.lws) ||
        ((o.trace || o.density) && !c.fws) || analysis_alloc(&before, o.k, cap) != 0 ||
        analysis_alloc(&after, o.k, cap) != 0) {
        rc = cli_fail(CMD, KRY_EXIT_INTERNAL, "out of memory (P = %zu)", P);
        goto done;
    }
    if (o.load)
        memcpy(theta, loaded, P * sizeof *theta);
    else if (kry_mlp_init_params(model, o.seed, theta) != KRY_OK) {
        rc = cli_fail(CMD, KRY_EXIT_INTERNAL, "initialisation failed");
        goto done;
    }
    c.o = &o;
    c.d = &d;
    c.model = model;
    c.hws = hws;
    c.hrows = hrows;
    c.P = P;
    c.dsteps = dsteps;

    if (!o.quiet) {
        fprintf(stderr, "kry hessian: %s: %zu rows, %zu inputs, %zu classes\n", d.path, d.rows,
                d.dim, d.classes);
        fprintf(stderr, "kry hessian: MLP");
        for (size_t l = 0; l < ns; ++l)
            fprintf(stderr, "%c%zu", l ? '-' : ' ', sizes[l]);
        fprintf(stderr, " %s, %zu parameters (%s); Hessian over the first %zu rows, %s HVP\n",
                o.act == KRY_MLP_TANH ? "tanh" : "relu", P, o.load ? o.load : "random init",
                hrows, o.hvp == HVP_EXACT ? "exact" : "fd");
    }
    rc = analyse(&c, theta, o.load ? "loaded parameters" : "at initialisation", &before);
    if (rc != 0)
        goto done;

    if (o.steps > 0) {
        kry_mlp_train_params tp = kry_mlp_train_params_default();
        tp.method = o.optimizer;
        tp.lr = o.lr;
        tp.batch = o.batch;
        tp.seed = o.seed;
        st = kry_mlp_trainer_alloc(model, &tp, &tr);
        if (st != KRY_OK) {
            rc = cli_fail(CMD, cli_exit_for_status(st, 0), "trainer: %s", kry_strerror(st));
            goto done;
        }
        size_t every = o.steps >= 10 ? o.steps / 10 : 1;
        double t0 = cli_now(), sum = 0.0;
        size_t nsum = 0;
        for (size_t s = 0; s < o.steps; ++s) {
            double l;
            st = kry_mlp_trainer_step(tr, theta, d.X, d.y, d.rows, tws, &l);
            if (st != KRY_OK) {
                rc = cli_fail(CMD, KRY_EXIT_INTERNAL,
                              "training step %zu failed: %s (try a smaller --lr)", s + 1,
                              kry_strerror(st));
                goto done;
            }
            sum += l;
            ++nsum;
            if (!o.quiet && ((s + 1) % every == 0 || s + 1 == o.steps)) {
                fprintf(stderr, "kry hessian: step %zu/%zu: mean minibatch loss %.6f\n", s + 1,
                        o.steps, sum / (double)nsum);
                sum = 0.0;
                nsum = 0;
            }
        }
        if (!o.quiet)
            fprintf(stderr, "kry hessian: %zu %s steps in %.3f s\n", o.steps,
                    o.optimizer == KRY_MLP_SGD ? "SGD" : "Adam", cli_now() - t0);
        char label[64];
        snprintf(label, sizeof label, "after %zu steps", o.steps);
        rc = analyse(&c, theta, label, &after);
        if (rc != 0)
            goto done;
    }
    if (o.save) {
        rc = save_params(o.save, model, theta);
        if (rc != 0)
            goto done;
    }
    const analysis *ap = o.steps > 0 ? &after : NULL;
    if (o.density) {
        rc = density_write(&o, &before, ap, &dens);
        if (rc != 0)
            goto done;
        if (!o.quiet)
            fprintf(stderr, "kry hessian: wrote %s (sigma %.4g)\n", o.density, dens.sigma);
    }
    double seconds = cli_now() - t_start;
    if (o.format == OUT_JSON)
        print_json(&o, &d, model, hrows, &before, ap, &dens, seconds);
    else
        print_table(&o, &d, model, hrows, &before, ap, &dens, seconds);
    fflush(stdout);
    rc = before.nconv == o.k && (ap == NULL || after.nconv == o.k) ? KRY_EXIT_OK
                                                                    : KRY_EXIT_NOT_CONVERGED;
    if (o.plot) {
        int prc = plot(&o, model, &before, ap, &dens);
        if (prc != 0)
            rc = prc;
        else if (!o.quiet)
            fprintf(stderr, "kry hessian: wrote %s\n", o.plot);
    }
done:
    analysis_free(&before);
    analysis_free(&after);
    density_free(&dens);
    kry_funm_ws_free(c.fws);
    kry_topk_ws_free(c.tws);
    free(c.vecs);
    kry_lanczos_ws_free(c.lws);
    free(theta);
    free(loaded);
    kry_mlp_trainer_free(tr);
    kry_mlp_ws_free(hws);
    kry_mlp_ws_free(tws);
    kry_mlp_free(model);
    dataset_free(&d);
    return rc;
}
