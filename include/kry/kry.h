/* kry/kry.h — umbrella header: includes every public kry header.

   kry is a matrix-free Krylov toolkit: solvers see a symmetric operator only through
   y = A x (kry/operator.h). Every fallible function returns a kry_status
   (kry/status.h); solvers report why they stopped in a kry_reason. */
#ifndef KRY_KRY_H
#define KRY_KRY_H

#include "kry/export.h"
#include "kry/status.h"
#include "kry/rng.h"
#include "kry/operator.h"
#include "kry/mtx.h"
#include "kry/problems.h"
#include "kry/power.h"
#include "kry/deflation.h"
#include "kry/lanczos.h"
#include "kry/ritz.h"
#include "kry/topk.h"
#include "kry/funm.h"
#include "kry/adjoint.h"
#include "kry/tridiag.h"
#include "kry/eigmodel.h"
#include "kry/optim.h"
#include "kry/data.h"
#include "kry/mlp.h"

#endif /* KRY_KRY_H */
