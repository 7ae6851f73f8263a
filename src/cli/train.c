/* train.c — `kry train`: trains an eigenvalue model y = lambda_k(tridiag(E x + e0,
   D x + d0, E x + e0)) (kry/eigmodel.h) with Adam or SGD under a one-cycle learning
   rate, on a built-in task or a real data set from scikit-learn's Debian package.

   Tasks:
     toy12          all 4096 binary vectors of length 12, label "sum is 2 or 5",
                    seeded 50/50 split, BCE with logits
     diabetes       442 x 10 regression (diabetes_data_raw.csv, diabetes_target.csv),
                    features and target standardised on the training part, RMSE
     breast_cancer  569 x 30 classification (breast_cancer.csv), features
                    standardised, BCE with logits
   The real data sets are read from $KRY_DATA_DIR (default ~/.cache/kry/data), filled
   by scripts/fetch-data. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kry/data.h"
#include "kry/eigmodel.h"
#include "kry/optim.h"
#include "kry/rng.h"

static const char train_usage[] =
    "usage: kry train [options]\n"
    "\n"
    "Trains an eigenvalue model y = lambda_k(A0 + sum_i x_i A_i) with tridiagonal A_i.\n"
    "\n"
    "options:\n"
    "  --task NAME        toy12 (default), diabetes, breast_cancer\n"
    "  --dim N            matrix size (default 9)\n"
    "  --k K              eigenvalue index, 0-based (default dim/2)\n"
    "  --epochs N         epochs (default 100)\n"
    "  --batch N          mini-batch size (default 64)\n"
    "  --lr X             peak learning rate of the one-cycle schedule (default 0.2)\n"
    "  --optimizer NAME   adam (default) or sgd\n"
    "  --seed N           seed of the split, initialisation and shuffles (default 1)\n"
    "  --patience N       stop after N epochs without validation improvement (default 0:\n"
    "                     never)\n"
    "  --threads N        threads of the eigenvalue kernel (default 1)\n"
    "  --log FILE.csv     per-epoch log: epoch,train_loss,val_loss,lr,seconds\n"
    "  --plot FILE.png    loss curves drawn with gnuplot\n"
    "  --format F         text (default) or json (keys train_loss, val_loss, epochs,\n"
    "                     seconds_per_epoch, ...)\n"
    "  --quiet            no progress lines on stderr\n"
    "\n"
    "Losses: BCE with logits (toy12, breast_cancer), RMSE on the standardised target\n"
    "(diabetes). Data sets: $KRY_DATA_DIR (default ~/.cache/kry/data), filled by\n"
    "scripts/fetch-data.\n";

#define CMD "train"

typedef struct task_data {
    size_t rows, p;
    double *X;       /* rows x p */
    double *t;       /* rows */
    int regression;  /* 1: MSE/RMSE, 0: BCE */
    double t_mean, t_std; /* target standardisation (regression) */
} task_data;

static void task_free(task_data *d)
{
    free(d->X);
    free(d->t);
    d->X = d->t = NULL;
}

static int make_toy12(task_data *d)
{
    d->rows = 4096;
    d->p = 12;
    d->X = malloc(sizeof(double) * 4096 * 12);
    d->t = malloc(sizeof(double) * 4096);
    if (!d->X || !d->t)
        return cli_fail(CMD, KRY_EXIT_INTERNAL, "out of memory");
    for (size_t r = 0; r < 4096; ++r) {
        int s = 0;
        for (size_t j = 0; j < 12; ++j) {
            int bit = (int)((r >> j) & 1u);
            d->X[r * 12 + j] = bit;
            s += bit;
        }
        d->t[r] = (s == 2 || s == 5) ? 1.0 : 0.0;
    }
    d->regression = 0;
    return 0;
}

static void data_dir(char *buf, size_t len)
{
    const char *env = getenv("KRY_DATA_DIR");
    if (env && *env)
        snprintf(buf, len, "%s", env);
    else
        snprintf(buf, len, "%s/.cache/kry/data", getenv("HOME") ? getenv("HOME") : ".");
}

/* Loads DIR/name; fails with the path and the fetch command when it is absent. */
static int load_file(const char *name, char delim, kry_table *t)
{
    char dir[1024], path[1200];
    data_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (access(path, R_OK) != 0)
        return cli_fail(CMD, KRY_EXIT_DATA,
                        "data file %s not found; fetch it with: scripts/fetch-data "
                        "(KRY_DATA_DIR=%s)",
                        path, dir);
    kry_csv_params cp = kry_csv_params_default();
    cp.delim = delim;
    kry_data_error err;
    kry_status st = kry_data_load_csv(path, &cp, t, &err);
    if (st != KRY_OK)
        return cli_fail(CMD, cli_exit_for_status(st, 1), "%s",
                        err.msg[0] ? err.msg : kry_strerror(st));
    return 0;
}

static int make_diabetes(task_data *d)
{
    kry_table X = {0, 0, NULL}, y = {0, 0, NULL};
    int rc = load_file("diabetes_data_raw.csv", ' ', &X);
    if (rc == 0)
        rc = load_file("diabetes_target.csv", ' ', &y);
    if (rc == 0 && (y.cols != 1 || y.rows != X.rows))
        rc = cli_fail(CMD, KRY_EXIT_DATA,
                      "diabetes_target.csv: expected %zu rows of 1 value, found %zu x %zu",
                      X.rows, y.rows, y.cols);
    if (rc != 0) {
        kry_table_free(&X);
        kry_table_free(&y);
        return rc;
    }
    d->rows = X.rows;
    d->p = X.cols;
    d->X = X.v;
    d->t = y.v;
    d->regression = 1;
    return 0;
}

static int make_breast_cancer(task_data *d)
{
    kry_table T = {0, 0, NULL};
    int rc = load_file("breast_cancer.csv", ',', &T);
    if (rc != 0)
        return rc;
    if (T.cols < 2) {
        kry_table_free(&T);
        return cli_fail(CMD, KRY_EXIT_DATA, "breast_cancer.csv: expected features + label");
    }
    d->rows = T.rows;
    d->p = T.cols - 1;
    d->X = malloc(sizeof(double) * d->rows * d->p);
    d->t = malloc(sizeof(double) * d->rows);
    if (!d->X || !d->t) {
        kry_table_free(&T);
        return cli_fail(CMD, KRY_EXIT_INTERNAL, "out of memory");
    }
    for (size_t r = 0; r < d->rows; ++r) {
        memcpy(d->X + r * d->p, T.v + r * T.cols, sizeof(double) * d->p);
        d->t[r] = T.v[r * T.cols + d->p];
        if (d->t[r] != 0.0 && d->t[r] != 1.0) {
            kry_table_free(&T);
            return cli_fail(CMD, KRY_EXIT_DATA, "breast_cancer.csv: row %zu: label %g not 0/1",
                            r + 1, d->t[r]);
        }
    }
    kry_table_free(&T);
    d->regression = 0;
    return 0;
}

static int have_gnuplot(void)
{
    const char *path = getenv("PATH");
    if (path == NULL)
        return 0;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *dir = strtok(buf, ":"); dir; dir = strtok(NULL, ":")) {
        char f[4200];
        snprintf(f, sizeof f, "%s/gnuplot", dir);
        if (access(f, X_OK) == 0)
            return 1;
    }
    return 0;
}

static int plot(const char *png, const char *task, size_t epochs, const double *tr,
                const double *va, const char *ylabel)
{
    FILE *g = popen("gnuplot", "w");
    if (g == NULL)
        return cli_fail(CMD, KRY_EXIT_INTERNAL, "cannot run gnuplot");
    fprintf(g, "set terminal pngcairo size 800,500\nset output '%s'\n", png);
    fprintf(g, "set title 'kry train --task %s'\nset xlabel 'epoch'\nset ylabel '%s'\n", task,
            ylabel);
    fprintf(g, "set logscale y\nset grid\n");
    fprintf(g, "plot '-' with lines lw 2 title 'train', '-' with lines lw 2 title 'validation'\n");
    for (size_t e = 0; e < epochs; ++e)
        fprintf(g, "%zu %.10g\n", e + 1, tr[e]);
    fprintf(g, "e\n");
    for (size_t e = 0; e < epochs; ++e)
        fprintf(g, "%zu %.10g\n", e + 1, va[e]);
    fprintf(g, "e\n");
    int rc = pclose(g);
    if (rc != 0)
        return cli_fail(CMD, KRY_EXIT_INTERNAL, "gnuplot failed writing %s (status %d)", png,
                        rc);
    return 0;
}

/* Loss of the model on data rows [r0, r0 + m), in chunks of `cap`. guess (per data
   row) holds each row's previous output, the kernel's warm start, and is updated in
   place. */
static kry_status eval_loss(kry_eigmodel *mdl, const task_data *d, size_t r0, size_t m,
                            size_t cap, double *guess, double *loss, double *acc)
{
    double s = 0.0;
    size_t correct = 0;
    for (size_t a = r0; a < r0 + m; a += cap) {
        size_t nb = r0 + m - a < cap ? r0 + m - a : cap;
        double *y = guess + a;
        const double *t = d->t + a;
        kry_status st = kry_eigmodel_forward(mdl, nb, d->X + a * d->p, d->p, 0, y, NULL);
        if (st != KRY_OK)
            return st;
        double l = d->regression ? kry_optim_loss_mse(nb, y, t, NULL)
                                 : kry_optim_loss_bce(nb, y, t, NULL);
        s += l * (double)nb;
        for (size_t b = 0; b < nb; ++b)
            correct += (y[b] > 0.0) == (t[b] > 0.5);
    }
    *loss = d->regression ? sqrt(s / (double)m) : s / (double)m;
    *acc = (double)correct / (double)m;
    return KRY_OK;
}

/* Reorders the data rows as idx lists them (training rows first), so that each part
   is contiguous; idx becomes the identity. */
static int reorder_rows(task_data *d, size_t *idx)
{
    double *X = malloc(sizeof(double) * d->rows * d->p), *t = malloc(sizeof(double) * d->rows);
    if (X == NULL || t == NULL) {
        free(X), free(t);
        return -1;
    }
    for (size_t r = 0; r < d->rows; ++r) {
        memcpy(X + r * d->p, d->X + idx[r] * d->p, sizeof(double) * d->p);
        t[r] = d->t[idx[r]];
        idx[r] = r;
    }
    free(d->X), free(d->t);
    d->X = X;
    d->t = t;
    return 0;
}

int cli_train(int argc, char **argv)
{
    const char *task = "toy12", *log_path = NULL, *plot_path = NULL, *format = "text";
    const char *optname = "adam";
    size_t dim = 9, k = (size_t)-1, epochs = 100, batch = 64, patience = 0, threads = 1;
    uint64_t seed = 1;
    double lr = 0.2;
    int quiet = 0;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(train_usage, stdout);
            return KRY_EXIT_OK;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
            continue;
        }
        if (v == NULL)
            return cli_fail(CMD, KRY_EXIT_USAGE, "option %s needs a value (see --help)", a);
        ++i;
        if (strcmp(a, "--task") == 0)
            task = v;
        else if (strcmp(a, "--dim") == 0)
            bad = cli_parse_size(v, &dim) || dim == 0;
        else if (strcmp(a, "--k") == 0)
            bad = cli_parse_size(v, &k);
        else if (strcmp(a, "--epochs") == 0)
            bad = cli_parse_size(v, &epochs) || epochs == 0;
        else if (strcmp(a, "--batch") == 0)
            bad = cli_parse_size(v, &batch) || batch == 0;
        else if (strcmp(a, "--lr") == 0)
            bad = cli_parse_double(v, &lr) || !(lr > 0.0);
        else if (strcmp(a, "--seed") == 0)
            bad = cli_parse_u64(v, &seed);
        else if (strcmp(a, "--patience") == 0)
            bad = cli_parse_size(v, &patience);
        else if (strcmp(a, "--threads") == 0)
            bad = cli_parse_size(v, &threads) || threads == 0 || threads > 64;
        else if (strcmp(a, "--optimizer") == 0)
            optname = v, bad = strcmp(v, "adam") != 0 && strcmp(v, "sgd") != 0;
        else if (strcmp(a, "--log") == 0)
            log_path = v;
        else if (strcmp(a, "--plot") == 0)
            plot_path = v;
        else if (strcmp(a, "--format") == 0)
            format = v, bad = strcmp(v, "text") != 0 && strcmp(v, "json") != 0;
        else
            return cli_fail(CMD, KRY_EXIT_USAGE, "unknown option '%s' (see --help)", a);
        if (bad)
            return cli_fail(CMD, KRY_EXIT_USAGE, "invalid value '%s' for %s", v, a);
    }
    if (k == (size_t)-1)
        k = dim / 2;
    if (k >= dim)
        return cli_fail(CMD, KRY_EXIT_USAGE, "--k %zu must be below --dim %zu", k, dim);
    if (plot_path && !have_gnuplot())
        return cli_fail(CMD, KRY_EXIT_USAGE,
                        "--plot needs gnuplot, which is not on PATH (Debian: apt-get install "
                        "gnuplot-nox)");

    task_data d = {0, 0, NULL, NULL, 0, 0.0, 1.0};
    int rc;
    if (strcmp(task, "toy12") == 0)
        rc = make_toy12(&d);
    else if (strcmp(task, "diabetes") == 0)
        rc = make_diabetes(&d);
    else if (strcmp(task, "breast_cancer") == 0)
        rc = make_breast_cancer(&d);
    else
        return cli_fail(CMD, KRY_EXIT_USAGE,
                        "unknown task '%s' (toy12, diabetes, breast_cancer)", task);
    if (rc != 0) {
        task_free(&d);
        return rc;
    }

    size_t *idx = malloc(sizeof(size_t) * d.rows), ntrain = 0;
    double *xb = NULL, *tb = NULL, *yb = NULL, *gy = NULL, *gth = NULL, *mean = NULL,
           *sd = NULL, *hist_tr = NULL, *hist_va = NULL, *guess = NULL;
    kry_eigmodel *mdl = NULL;
    kry_optim *opt = NULL;
    FILE *logf = NULL;
    rc = KRY_EXIT_INTERNAL;
    if (idx == NULL)
        goto out;
    if (kry_data_split(d.rows, 0.5, seed, idx, &ntrain) != KRY_OK) {
        rc = cli_fail(CMD, KRY_EXIT_DATA, "data set too small to split");
        goto out;
    }
    size_t nval = d.rows - ntrain;
    /* Standardise with the training rows' moments (not for the binary toy task). */
    if (strcmp(task, "toy12") != 0) {
        mean = malloc(sizeof(double) * d.p);
        sd = malloc(sizeof(double) * d.p);
        if (!mean || !sd || kry_data_moments(ntrain, d.p, d.X, d.p, idx, mean, sd) != KRY_OK ||
            kry_data_standardize(d.rows, d.p, d.X, d.p, mean, sd) != KRY_OK)
            goto out;
        if (d.regression) {
            double tm, ts;
            if (kry_data_moments(ntrain, 1, d.t, 1, idx, &tm, &ts) != KRY_OK ||
                kry_data_standardize(d.rows, 1, d.t, 1, &tm, &ts) != KRY_OK)
                goto out;
            d.t_mean = tm;
            d.t_std = ts;
        }
    }
    if (reorder_rows(&d, idx) != 0)
        goto out;
    if (batch > ntrain)
        batch = ntrain;
    size_t cap = nval > batch ? nval : batch;
    mdl = kry_eigmodel_alloc(dim, d.p, k, cap);
    size_t np = kry_eigmodel_nparams(mdl);
    size_t steps_per_epoch = (ntrain + batch - 1) / batch;
    kry_optim_params op = kry_optim_params_default();
    op.lr_max = lr;
    op.kind = strcmp(optname, "sgd") == 0 ? KRY_OPTIM_SGD : KRY_OPTIM_ADAM;
    opt = kry_optim_alloc(np, steps_per_epoch * epochs, &op);
    xb = malloc(sizeof(double) * cap * d.p);
    tb = malloc(sizeof(double) * cap);
    yb = malloc(sizeof(double) * cap);
    gy = malloc(sizeof(double) * cap);
    gth = malloc(sizeof(double) * (np ? np : 1));
    hist_tr = malloc(sizeof(double) * epochs);
    hist_va = malloc(sizeof(double) * epochs);
    guess = malloc(sizeof(double) * d.rows);
    if (!mdl || !opt || !xb || !tb || !yb || !gy || !gth || !hist_tr || !hist_va || !guess) {
        cli_fail(CMD, KRY_EXIT_INTERNAL, "out of memory");
        goto out;
    }
    /* (The training loop calls no BLAS: the layer's products are smallmm.h's.) */
    kry_tridiag_params tpar = kry_tridiag_params_default();
    tpar.nthreads = threads;
    /* Each sample's output in the previous epoch starts the kernel's iteration: the
       parameters move little per epoch, so the guess usually lies next to the
       eigenvalue and Laguerre's iteration converges from the first pass. */
    tpar.warm_start = 1;
    for (size_t r = 0; r < d.rows; ++r)
        guess[r] = NAN;
    if (kry_eigmodel_init(mdl, seed, 1.0) != KRY_OK ||
        kry_eigmodel_set_tridiag(mdl, &tpar) != KRY_OK)
        goto out;
    if (log_path) {
        logf = fopen(log_path, "w");
        if (logf == NULL) {
            rc = cli_fail(CMD, KRY_EXIT_DATA, "cannot write %s: %s", log_path, strerror(errno));
            goto out;
        }
        fprintf(logf, "epoch,train_loss,val_loss,lr,seconds\n");
    }
    const char *lname = d.regression ? "RMSE" : "BCE";
    if (!quiet)
        fprintf(stderr,
                "kry train: task %s (%zu train / %zu validation rows, %zu inputs), dim %zu, "
                "k %zu, %zu parameters, %s, batch %zu, lr %g, %zu epochs\n",
                task, ntrain, nval, d.p, dim, k, np, optname, batch, lr, epochs);

    size_t *perm = malloc(sizeof(size_t) * ntrain);
    if (perm == NULL)
        goto out;
    kry_early_stop es = kry_early_stop_init(patience, 0.0);
    double t_total = 0.0, tr_loss = NAN, va_loss = NAN, va_acc = NAN, lr_now = lr;
    size_t ran = 0, tied_total = 0;
    size_t every = epochs >= 10 ? epochs / 10 : 1;
    kry_status st = KRY_OK;
    for (size_t ep = 0; ep < epochs; ++ep) {
        double t0 = cli_now(), sum = 0.0;
        kry_data_shuffle(ntrain, seed, KRY_RNG_STREAM_USER + 100 + ep, perm);
        for (size_t a = 0; a < ntrain && st == KRY_OK; a += batch) {
            size_t nb = ntrain - a < batch ? ntrain - a : batch;
            for (size_t b = 0; b < nb; ++b) {
                size_t r = perm[a + b];
                for (size_t j = 0; j < d.p; ++j)
                    xb[b * d.p + j] = d.X[r * d.p + j];
                tb[b] = d.t[r];
                yb[b] = guess[r];
            }
            size_t nt = 0;
            st = kry_eigmodel_forward(mdl, nb, xb, d.p, 1, yb, &nt);
            if (st != KRY_OK)
                break;
            for (size_t b = 0; b < nb; ++b)
                guess[perm[a + b]] = yb[b];
            tied_total += nt;
            double l = d.regression ? kry_optim_loss_mse(nb, yb, tb, gy)
                                    : kry_optim_loss_bce(nb, yb, tb, gy);
            sum += l * (double)nb;
            st = kry_eigmodel_backward(mdl, nb, xb, d.p, gy, gth, NULL, 0);
            if (st == KRY_OK)
                st = kry_optim_step(opt, kry_eigmodel_params(mdl), gth, &lr_now);
        }
        if (st == KRY_OK)
            st = eval_loss(mdl, &d, ntrain, nval, cap, guess, &va_loss, &va_acc);
        if (st != KRY_OK) {
            free(perm);
            rc = cli_fail(CMD, KRY_EXIT_INTERNAL, "epoch %zu: %s", ep + 1, kry_strerror(st));
            goto out;
        }
        double dt = cli_now() - t0;
        t_total += dt;
        tr_loss = d.regression ? sqrt(sum / (double)ntrain) : sum / (double)ntrain;
        hist_tr[ep] = tr_loss;
        hist_va[ep] = va_loss;
        ran = ep + 1;
        if (logf)
            fprintf(logf, "%zu,%.10g,%.10g,%.6g,%.6g\n", ep + 1, tr_loss, va_loss, lr_now, dt);
        if (!quiet && (ran % every == 0 || ran == epochs))
            fprintf(stderr, "epoch %4zu/%zu  train %s %.6f  val %s %.6f  lr %.3g  %.3f ms\n",
                    ran, epochs, lname, tr_loss, lname, va_loss, lr_now, 1e3 * dt);
        if (kry_early_stop_update(&es, ep, va_loss, NULL)) {
            if (!quiet)
                fprintf(stderr, "early stop after epoch %zu (best %s %.6f at epoch %zu)\n",
                        ran, lname, es.best, es.best_epoch + 1);
            break;
        }
    }
    free(perm);
    if (logf) {
        if (fclose(logf) != 0) {
            logf = NULL;
            rc = cli_fail(CMD, KRY_EXIT_DATA, "error writing %s", log_path);
            goto out;
        }
        logf = NULL;
    }
    double spe = t_total / (double)ran;
    /* Train accuracy for classification, in one more pass. */
    double tr_acc = NAN, tr_loss_final = NAN;
    if (eval_loss(mdl, &d, 0, ntrain, cap, guess, &tr_loss_final, &tr_acc) != KRY_OK)
        goto out;
    if (strcmp(format, "json") == 0) {
        printf("{\"task\":\"%s\",\"dim\":%zu,\"k\":%zu,\"optimizer\":\"%s\",\"loss\":\"%s\","
               "\"epochs\":%zu,\"train_loss\":",
               task, dim, k, optname, d.regression ? "rmse" : "bce", ran);
        cli_json_double(stdout, tr_loss);
        printf(",\"val_loss\":");
        cli_json_double(stdout, va_loss);
        printf(",\"best_val_loss\":");
        cli_json_double(stdout, es.best);
        printf(",\"seconds_per_epoch\":");
        cli_json_double(stdout, spe);
        if (d.regression) {
            printf(",\"val_rmse_original_units\":");
            cli_json_double(stdout, va_loss * d.t_std);
        } else {
            printf(",\"train_accuracy\":");
            cli_json_double(stdout, tr_acc);
            printf(",\"val_accuracy\":");
            cli_json_double(stdout, va_acc);
        }
        printf(",\"n_train\":%zu,\"n_val\":%zu,\"parameters\":%zu,\"tied_samples\":%zu}\n",
               ntrain, nval, np, tied_total);
    } else {
        printf("task %s  dim %zu  k %zu  epochs %zu\n", task, dim, k, ran);
        printf("train %s %.6g  validation %s %.6g  (best %.6g at epoch %zu)\n", lname, tr_loss,
               lname, va_loss, es.best, es.best_epoch + 1);
        if (d.regression)
            printf("validation RMSE in target units %.6g\n", va_loss * d.t_std);
        else
            printf("accuracy train %.4f  validation %.4f\n", tr_acc, va_acc);
        printf("%.4f ms per epoch\n", 1e3 * spe);
    }
    rc = KRY_EXIT_OK;
    if (plot_path)
        rc = plot(plot_path, task, ran, hist_tr, hist_va, lname);
out:
    if (logf)
        fclose(logf);
    kry_eigmodel_free(mdl);
    kry_optim_free(opt);
    free(idx), free(xb), free(tb), free(yb), free(gy), free(gth), free(mean), free(sd);
    free(hist_tr), free(hist_va), free(guess);
    task_free(&d);
    return rc;
}
