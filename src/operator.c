/* operator.c — the operator interface: checks, the guarded apply, destroy, and the
   plain user-callback constructor. Concrete operators live in src/op_*.c. */
#include <string.h>

#include "internal.h"
#include "kry/operator.h"
#include "vec.h"

kry_status kry_operator_check(const kry_operator *op)
{
    KRY_REQUIRE(op != NULL, KRY_EINVAL);
    KRY_REQUIRE(op->n >= 1 && op->matvec != NULL, KRY_EINVAL);
    return KRY_OK;
}

kry_status kry_operator_apply(const kry_operator *op, const double *restrict x,
                              double *restrict y)
{
    KRY_TRY(kry_operator_check(op));
    KRY_REQUIRE(x != NULL && y != NULL, KRY_EINVAL);
    if (op->matvec(op->ctx, x, y) != 0)
        return KRY_ECALLBACK;
    return kry_vec_isfinite(op->n, y) ? KRY_OK : KRY_ENONFINITE;
}

void kry_operator_destroy(kry_operator *op)
{
    if (op == NULL)
        return;
    if (op->destroy != NULL)
        op->destroy(op->ctx);
    memset(op, 0, sizeof *op);
}

kry_status kry_operator_callback(size_t n, kry_matvec_fn *matvec, void *ctx,
                                 kry_operator *out)
{
    KRY_REQUIRE(out != NULL && matvec != NULL && n >= 1, KRY_EINVAL);
    memset(out, 0, sizeof *out);
    out->n = n;
    out->matvec = matvec;
    out->ctx = ctx;
    return KRY_OK;
}
