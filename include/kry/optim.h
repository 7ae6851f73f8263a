/* kry/optim.h — first-order optimisers for small models: SGD with momentum and Adam,
   a one-cycle learning-rate schedule (linear warm-up, then linear decay), early
   stopping on a validation loss, and the two losses the trainers use.

   Parameters and gradients are flat arrays of length n; the optimiser state (momenta)
   lives in a kry_optim object. */
#ifndef KRY_OPTIM_H
#define KRY_OPTIM_H

#include <stddef.h>

#include "kry/export.h"
#include "kry/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kry_optim_kind {
    KRY_OPTIM_ADAM = 0, /* Kingma & Ba 2015, with bias correction */
    KRY_OPTIM_SGD       /* heavy-ball momentum: v = mu v + g, x -= lr v */
} kry_optim_kind;

typedef struct kry_optim_params {
    kry_optim_kind kind; /* default KRY_OPTIM_ADAM */
    double lr_max;       /* peak learning rate; default 0.05 */
    double warmup_frac;  /* fraction of the steps spent warming up; default 0.3 */
    double div_start;    /* lr at step 0 = lr_max / div_start; default 25 */
    double div_final;    /* lr at the last step = lr_max / div_final; default 1e4 */
    double momentum;     /* SGD momentum mu; default 0.9 */
    double beta1, beta2, eps; /* Adam; defaults 0.9, 0.999, 1e-8 */
    double weight_decay; /* decoupled (AdamW-style) decay per step times lr; default 0 */
} kry_optim_params;

/* Returns the defaults listed above. */
KRY_API kry_optim_params kry_optim_params_default(void);

typedef struct kry_optim kry_optim;

/* Creates an optimiser for n parameters that will take total_steps steps (the length
   of the one-cycle schedule; further steps keep the final rate). params NULL means
   defaults. NULL on n == 0, total_steps == 0, invalid params or no memory. */
KRY_API kry_optim *kry_optim_alloc(size_t n, size_t total_steps, const kry_optim_params *params);

/* Releases o; NULL is a no-op. */
KRY_API void kry_optim_free(kry_optim *o);

/* The one-cycle learning rate at a given step (0-based). */
KRY_API double kry_optim_lr(const kry_optim *o, size_t step);

/* One step: x[0..n) -= update(grad) at the current step's rate, then advances the
   step counter. *lr_used (may be NULL) receives the rate. Errors: KRY_EINVAL (NULL),
   KRY_ENONFINITE (a NaN or Inf in grad; x is left unchanged). */
KRY_API KRY_NODISCARD kry_status kry_optim_step(kry_optim *o, double *x, const double *grad,
                                                double *lr_used);

/* Early stopping: call after every epoch with the validation loss. */
typedef struct kry_early_stop {
    size_t patience;   /* epochs without improvement tolerated; 0 disables stopping */
    double min_delta;  /* an improvement must beat best - min_delta */
    double best;       /* best loss so far (start at +Inf) */
    size_t best_epoch; /* epoch of best */
    size_t bad_epochs; /* epochs since the last improvement */
} kry_early_stop;

/* Returns a tracker with the given patience and min_delta, best = +Inf. */
KRY_API kry_early_stop kry_early_stop_init(size_t patience, double min_delta);

/* Records epoch's loss; returns 1 when training should stop, 0 otherwise. Sets
   *improved (may be NULL) to 1 when this epoch is the new best. */
KRY_API int kry_early_stop_update(kry_early_stop *es, size_t epoch, double loss,
                                  int *improved);

/* Mean binary cross-entropy with logits y[0..m) and labels t in {0, 1} (or any
   probability), computed stably; grad (may be NULL) receives dLoss/dy_i (= (sigma(y_i)
   - t_i)/m). */
KRY_API double kry_optim_loss_bce(size_t m, const double *y, const double *t, double *grad);

/* Mean squared error (1/m) sum (y_i - t_i)^2; grad (may be NULL) receives
   2 (y_i - t_i)/m. */
KRY_API double kry_optim_loss_mse(size_t m, const double *y, const double *t, double *grad);

#ifdef __cplusplus
}
#endif
#endif /* KRY_OPTIM_H */
