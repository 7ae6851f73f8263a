/* kry/mlp.h — a small multilayer perceptron with an exact gradient (backpropagation) and
   an exact Hessian-vector product (Pearlmutter's R-operator, forward-over-reverse; see
   MATH.md section 5), for Hessian-spectrum experiments on real data.

   Model. Layer sizes n_0 (inputs), n_1, ..., n_L (classes), L >= 1 weight layers:
       z_l = W_l a_{l-1} + b_l,   a_0 = x,   a_l = act(z_l) for 1 <= l < L,
   with act = tanh or ReLU on the hidden layers and softmax on the output z_L. The loss
   of N rows (x_r, y_r) is the mean cross-entropy plus an optional L2 penalty:
       L(theta) = (1/N) sum_r [ logsumexp(z_L(x_r)) - z_L(x_r)[y_r] ] + (lambda/2)|theta|^2,
   with the log-sum-exp evaluated stably (shifted by the row maximum). The penalty covers
   every parameter, biases included, so it adds exactly lambda I to the Hessian.

   Parameters are one flat vector theta of length kry_mlp_n_params(): for each layer
   l = 1..L in order, W_l row-major (n_l rows of n_{l-1}), then b_l (n_l entries). This
   is the order `kry hessian --save-params` writes. Inputs X are rows x n_0 row-major;
   labels y are ints in [0, n_L).

   Memory. A kry_mlp_ws (for a model and a maximum chunk of rows) holds every activation
   and R-activation; loss, gradient and HVP calls never allocate. Batches with more rows
   than the workspace holds are processed in chunks of at most max_rows rows, summed in
   order: the result then differs from a one-chunk evaluation only by rounding, and it is
   deterministic for a given workspace size. Layer products use BLAS dgemm.

   Errors common to the compute functions: KRY_EINVAL (NULL pointer, rows == 0, a label
   outside [0, n_L)), KRY_EDIM (workspace made for a model of other layer sizes),
   KRY_ERANGE (rows * n_0 overflows size_t), KRY_ENONFINITE (NaN/Inf in theta, X or v,
   or a non-finite loss, gradient or product, e.g. from overflowing ReLU activations).
   Objects are not shared between threads unless said otherwise: a workspace serves one
   call at a time; a model is read-only after kry_mlp_alloc and may be shared. */
#ifndef KRY_MLP_H
#define KRY_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "kry/export.h"
#include "kry/operator.h"
#include "kry/rng.h"
#include "kry/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Model ---- */

/* Activation of the hidden layers. */
typedef enum kry_mlp_act {
    KRY_MLP_TANH = 0, /* tanh; smooth, so the Hessian is continuous in theta */
    KRY_MLP_RELU,     /* max(z, 0); the R-operator uses act'' = 0 (exact off the kinks) */
    KRY_MLP_ACT_COUNT /* number of activations; not an activation */
} kry_mlp_act;

typedef struct kry_mlp_params {
    kry_mlp_act act; /* hidden activation; default KRY_MLP_TANH */
    double l2;       /* lambda >= 0 of the penalty (lambda/2)|theta|^2; default 0 */
} kry_mlp_params;

/* Returns the defaults: tanh, no L2 penalty. */
KRY_API kry_mlp_params kry_mlp_params_default(void);

/* Opaque model description (layer sizes, activation, lambda). It holds no parameters. */
typedef struct kry_mlp kry_mlp;

/* Creates a model with n_sizes >= 2 layer sizes sizes[0] = inputs, ..., sizes[n_sizes-1]
   = classes (copied), e.g. {64, 16, 10}; n_sizes == 2 is softmax regression. params NULL
   means defaults. Errors: KRY_EINVAL (NULL out or sizes, n_sizes < 2, a size of 0, act
   out of range, lambda < 0), KRY_ENONFINITE (lambda NaN/Inf), KRY_ERANGE (a size or the
   parameter count exceeds a BLAS int), KRY_ENOMEM. On error *out is NULL. */
KRY_API KRY_NODISCARD kry_status kry_mlp_alloc(size_t n_sizes, const size_t *sizes,
                                               const kry_mlp_params *params, kry_mlp **out);

/* Releases a model. NULL is a no-op. */
KRY_API void kry_mlp_free(kry_mlp *model);

/* Number of parameters P = sum_l n_l (n_{l-1} + 1). 0 for NULL. */
KRY_API size_t kry_mlp_n_params(const kry_mlp *model);

/* Number of weight layers L = n_sizes - 1. 0 for NULL. */
KRY_API size_t kry_mlp_n_layers(const kry_mlp *model);

/* Layer size n_i for i <= L (n_0 = inputs, n_L = classes); 0 for NULL or i > L. */
KRY_API size_t kry_mlp_size(const kry_mlp *model, size_t i);

/* The hidden activation and lambda the model was made with (TANH and 0 for NULL). */
KRY_API kry_mlp_act kry_mlp_activation(const kry_mlp *model);
KRY_API double kry_mlp_l2(const kry_mlp *model);

/* Offsets into theta of W_l (n_l x n_{l-1}, row-major) and b_l for layer l, 1 <= l <= L.
   Either output may be NULL. Errors: KRY_EINVAL (NULL model, l out of range). */
KRY_API KRY_NODISCARD kry_status kry_mlp_layer_offsets(const kry_mlp *model, size_t l,
                                                       size_t *w_offset,
                                                       size_t *b_offset);

/* RNG streams of this module (below KRY_RNG_STREAM_USER, clear of the core's). */
enum {
    KRY_MLP_RNG_STREAM_INIT = KRY_RNG_STREAM_USER - 16, /* parameter initialisation */
    KRY_MLP_RNG_STREAM_BATCH = KRY_RNG_STREAM_USER - 15 /* minibatch sampling */
};

/* Deterministic initialisation from seed: W_l entries are normal with standard deviation
   sqrt(2 / (n_{l-1} + n_l)) (Glorot) for tanh hidden layers and the output layer, and
   sqrt(2 / n_{l-1}) (He) for ReLU hidden layers; biases are 0. Entry i of theta is drawn
   from kry_rng_normal(seed, KRY_MLP_RNG_STREAM_INIT, i), so it depends on nothing else.
   Errors: KRY_EINVAL (NULL model or theta). */
KRY_API KRY_NODISCARD kry_status kry_mlp_init_params(const kry_mlp *model, uint64_t seed,
                                                     double *theta);

/* ---- Workspace ---- */

typedef struct kry_mlp_ws kry_mlp_ws;

/* Bytes kry_mlp_ws_alloc(model, max_rows) allocates (0 for NULL model, max_rows == 0 or
   overflow). About (2 sum_{0<l<L} n_l + 2 n_L + 4 max_l n_l) max_rows + 2P doubles. */
KRY_API size_t kry_mlp_ws_bytes(const kry_mlp *model, size_t max_rows);

/* Allocates a workspace for chunks of up to max_rows rows of this model (or of any model
   with the same layer sizes). Errors: KRY_EINVAL (NULL model or out, max_rows == 0),
   KRY_ERANGE (max_rows exceeds a BLAS int or the size overflows), KRY_ENOMEM.
   On error *out is NULL. */
KRY_API KRY_NODISCARD kry_status kry_mlp_ws_alloc(const kry_mlp *model, size_t max_rows,
                                                  kry_mlp_ws **out);

/* Releases a workspace. NULL is a no-op. */
KRY_API void kry_mlp_ws_free(kry_mlp_ws *ws);

/* The max_rows the workspace was made for (0 for NULL). */
KRY_API size_t kry_mlp_ws_max_rows(const kry_mlp_ws *ws);

/* ---- Loss, gradient, Hessian-vector product ---- */

/* *loss = L(theta) on rows rows of X, y. One forward pass. Common errors (see top). */
KRY_API KRY_NODISCARD kry_status kry_mlp_loss(const kry_mlp *model, const double *theta,
                                              const double *X, const int *y, size_t rows,
                                              kry_mlp_ws *ws, double *loss);

/* *loss = L(theta) (loss may be NULL) and grad[0..P) = grad L(theta), by backpropagation.
   One forward and one backward pass (3 dgemm per layer). grad must not alias theta.
   Common errors (see top). */
KRY_API KRY_NODISCARD kry_status kry_mlp_loss_grad(const kry_mlp *model, const double *theta,
                                                   const double *X, const int *y,
                                                   size_t rows, kry_mlp_ws *ws, double *loss,
                                                   double *grad);

/* hv[0..P) = H v, H the exact Hessian of L at theta (lambda I included), by the
   R-operator: forward pass with R-forward, then backward with R-backward (3 dgemm for
   the first layer, 8 for each other; about 1.3 gradients' worth on a 64-16-10 MLP). Linear in v and symmetric to rounding. For
   ReLU, the Hessian of the piecewise-smooth loss on the current activation pattern.
   hv must not alias theta or v. Common errors (see top). */
KRY_API KRY_NODISCARD kry_status kry_mlp_hvp(const kry_mlp *model, const double *theta,
                                             const double *X, const int *y, size_t rows,
                                             kry_mlp_ws *ws, const double *v, double *hv);

/* Dense Hessian for small models, column j = H e_j by P exact HVPs:
   H[i * ldh + j] = (H e_j)_i, row-major P x P with ldh >= P. Not symmetrised, so
   |H - H^T| measures the rounding of the HVP. Uses the workspace's P-vectors, no
   allocation. Common errors (see top), plus KRY_EINVAL (NULL H, ldh < P), KRY_ERANGE
   (ldh * P overflows size_t). */
KRY_API KRY_NODISCARD kry_status kry_mlp_dense_hessian(const kry_mlp *model,
                                                       const double *theta, const double *X,
                                                       const int *y, size_t rows,
                                                       kry_mlp_ws *ws, double *H, size_t ldh);

/* labels[r] = argmax of the logits of row r (the lowest index among ties). y is not
   needed; common errors apart from labels. */
KRY_API KRY_NODISCARD kry_status kry_mlp_predict(const kry_mlp *model, const double *theta,
                                                 const double *X, size_t rows,
                                                 kry_mlp_ws *ws, int *labels);

/* *accuracy = fraction of rows whose predicted label equals y[r], in [0, 1]. */
KRY_API KRY_NODISCARD kry_status kry_mlp_accuracy(const kry_mlp *model, const double *theta,
                                                  const double *X, const int *y,
                                                  size_t rows, kry_mlp_ws *ws,
                                                  double *accuracy);

/* ---- Hessian operators ---- */

/* A batch (model, data, workspace) for the gradient callback. The pointers are
   referenced, not copied: X, y, model and ws must outlive its use, and neither the
   input fields nor the contents of X and y may change after kry_mlp_batch_init, which
   validates them once (callbacks then check only theta and their output). The output
   fields are updated by every callback. */
typedef struct kry_mlp_batch {
    const kry_mlp *model;
    const double *X; /* rows x n_0, row-major */
    const int *y;    /* rows labels */
    size_t rows;
    kry_mlp_ws *ws;
    /* outputs */
    double loss;       /* loss at the last successful gradient call */
    kry_status status; /* status of the last call (KRY_OK or why it failed) */
    size_t n_grads;    /* number of successful gradient calls */
} kry_mlp_batch;

/* Fills *batch and validates the inputs once (model/ws agreement, labels, finite X).
   Errors: the common errors that do not involve theta. */
KRY_API KRY_NODISCARD kry_status kry_mlp_batch_init(kry_mlp_batch *batch, const kry_mlp *model,
                                                    const double *X, const int *y,
                                                    size_t rows, kry_mlp_ws *ws);

/* A kry_grad_fn: ctx is a kry_mlp_batch * filled by kry_mlp_batch_init; g = grad L(theta)
   as kry_mlp_loss_grad computes it. Returns 0 on success, 1 on failure (the status is in
   batch->status: KRY_ENONFINITE for NaN/Inf in theta or a non-finite result, KRY_EINVAL
   for NULL pointers or a batch that was never initialised). Use it with
   kry_operator_hvp_fd(kry_mlp_n_params(model), kry_mlp_grad_fn, &batch, theta, ...). */
KRY_API int kry_mlp_grad_fn(void *ctx, const double *restrict theta, double *restrict g);

/* Exact HVP operator v -> H(theta) v of dimension P (kry_mlp_hvp). model, theta, X, y
   and ws are referenced, not copied, and must outlive the operator; the contents of
   theta may change between products (e.g. between training steps), those of X and y
   must not. Everything is validated now; each product then checks theta, v and H v for
   NaN/Inf (not X again). A failing product returns nonzero (KRY_ECALLBACK at
   kry_operator_apply) and kry_mlp_hvp_last_status tells why.
   Allocates a small context; release with kry_operator_destroy. Not for distributed use.
   Errors: the common errors (no v), KRY_ENOMEM. */
KRY_API KRY_NODISCARD kry_status kry_operator_mlp_hvp(const kry_mlp *model,
                                                      const double *theta, const double *X,
                                                      const int *y, size_t rows,
                                                      kry_mlp_ws *ws, kry_operator *out);

/* Number of successful products of an exact-HVP operator so far.
   Errors: KRY_EINVAL (NULL pointers, op not made by kry_operator_mlp_hvp). */
KRY_API KRY_NODISCARD kry_status kry_mlp_hvp_count(const kry_operator *op, size_t *count);

/* Status of the last product of an exact-HVP operator (KRY_OK before the first).
   Errors: KRY_EINVAL (NULL pointers, op not made by kry_operator_mlp_hvp). */
KRY_API KRY_NODISCARD kry_status kry_mlp_hvp_last_status(const kry_operator *op,
                                                         kry_status *last);

/* ---- Training (minimal; may later move to a shared optimiser module) ---- */

typedef enum kry_mlp_optimizer {
    KRY_MLP_SGD = 0, /* theta -= lr g */
    KRY_MLP_ADAM,    /* Kingma & Ba (2015), bias-corrected moments */
    KRY_MLP_OPTIMIZER_COUNT
} kry_mlp_optimizer;

typedef struct kry_mlp_train_params {
    kry_mlp_optimizer method; /* default KRY_MLP_SGD */
    double lr;                /* step size > 0; default 0.1 */
    double beta1, beta2;      /* Adam moment decays in [0, 1); defaults 0.9, 0.999 */
    double eps;               /* Adam denominator guard > 0; default 1e-8 */
    size_t batch;             /* minibatch rows; 0 or >= rows: full batch; default 64 */
    uint64_t seed;            /* minibatch sampling; default 0 */
} kry_mlp_train_params;

/* Returns the defaults listed above. */
KRY_API kry_mlp_train_params kry_mlp_train_params_default(void);

/* Optimiser state: Adam moments, step counter, gradient and minibatch buffers. */
typedef struct kry_mlp_trainer kry_mlp_trainer;

/* Allocates a trainer for model with params (NULL: defaults; copied). The model is
   referenced and must outlive the trainer. Errors:
   KRY_EINVAL (NULL model or out, lr <= 0, betas outside [0, 1), eps <= 0, method out of
   range), KRY_ENONFINITE (NaN/Inf parameter), KRY_ERANGE (batch too large), KRY_ENOMEM. */
KRY_API KRY_NODISCARD kry_status kry_mlp_trainer_alloc(const kry_mlp *model,
                                                       const kry_mlp_train_params *params,
                                                       kry_mlp_trainer **out);

/* Releases a trainer. NULL is a no-op. */
KRY_API void kry_mlp_trainer_free(kry_mlp_trainer *tr);

/* Number of steps taken (kry_mlp_trainer_step and kry_mlp_trainer_update). */
KRY_API size_t kry_mlp_trainer_steps(const kry_mlp_trainer *tr);

/* One optimiser update of theta (length P) with a caller's gradient g.
   Errors: KRY_EINVAL (NULL pointers), KRY_ENONFINITE (NaN/Inf in g). */
KRY_API KRY_NODISCARD kry_status kry_mlp_trainer_update(kry_mlp_trainer *tr, const double *g,
                                                        double *theta);

/* One training step on the data (rows rows of X, y): draws the minibatch of step t (the
   t-th step of this trainer) as batch rows sampled uniformly with replacement, row i of
   it being floor(u * rows) with u = kry_rng_uniform(seed, KRY_MLP_RNG_STREAM_BATCH,
   t * batch + i); or uses all rows when batch is 0 or >= rows. Then the gradient of the
   minibatch loss and one update. *loss (may be NULL) = the minibatch loss before the
   update. ws must be for the trainer's model. Common errors (see top). */
KRY_API KRY_NODISCARD kry_status kry_mlp_trainer_step(kry_mlp_trainer *tr, double *theta,
                                                      const double *X, const int *y,
                                                      size_t rows, kry_mlp_ws *ws,
                                                      double *loss);

#ifdef __cplusplus
}
#endif
#endif /* KRY_MLP_H */
