"""Triangular solves and Cholesky factors on CPU that cannot deadlock (jaxlib 0.10).

jaxlib 0.10's CPU LAPACK kernels split a batch of matrices into tasks on XLA's intra-op thread
pool and block until they finish (``jax::ParallelBatchMap`` -> ``BlockingCounter::Wait``). When
XLA runs as many such calls at once as the pool has threads (two on a 2-core machine), every
thread waits for tasks that no thread is left to run, and the program hangs for ever. This was
seen in ``lapack_dtrsm_ffi`` (the classifier's ML Hessian at N = 1e4, one fit in two) and is
reported for ``lapack_dpotrf_ffi``. jaxlib 0.11 compiles that parallel path out, but it is not
served for Python 3.11.

So, on jaxlib < 0.11, ``triangular_solve`` and ``cholesky`` on CPU lower to XLA's own HLO ops
(the rules JAX uses on other platforms), which XLA expands into loops and matrix products with
no LAPACK call. The matrices here are small (D x D covariances), where the two agree to
round-off. Importing :mod:`models` applies it, before anything is traced.
"""

import jaxlib
from jax._src.interpreters import mlir
from jax._src.lax import linalg
from jax._src.lib.mlir import ir
from jax._src.lib.mlir.dialects import chlo, hlo

AFFECTED = tuple(int(part) for part in jaxlib.__version__.split(".")[:2]) < (0, 11)


def _triangular_solve(ctx, a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    """JAX's non-LAPACK rule for ``triangular_solve`` (as in ``linalg._triangular_solve_cpu_lower``)."""
    if conjugate_a and not transpose_a:
        a = chlo.conj(a)
        conjugate_a = False
    transpose = ("ADJOINT" if conjugate_a else "TRANSPOSE") if transpose_a else "NO_TRANSPOSE"
    return [hlo.triangular_solve(a, b, ir.BoolAttr.get(left_side), ir.BoolAttr.get(lower),
                                 ir.BoolAttr.get(unit_diagonal), hlo.TransposeAttr.get(transpose))]


if AFFECTED:
    mlir.register_lowering(linalg.triangular_solve_p, _triangular_solve, platform="cpu")
    mlir.register_lowering(linalg.cholesky_p, linalg._cholesky_lowering, platform="cpu")
