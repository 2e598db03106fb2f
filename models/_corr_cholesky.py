"""Correlation Cholesky factors without scatters: NumPyro's bijection and LKJ prior, rebuilt.

NumPyro's ``CorrCholeskyTransform`` (biject_to(corr_cholesky), the unconstrained coordinates
of ``corr_chol``) fills its triangle with a ``scatter_add`` and adds its unit diagonal with
another, and its inverse and log-Jacobian gather the triangle back. XLA's CPU backend, with the
emitters the scripts and tests use (:mod:`inference.xla`), expands every scatter into a
``while`` loop, and so does the gradient of every gather. A fit differentiates the transform
up to twice (the Hessian) in every copy of the objective that its program holds: the mixture's
ML on iris (K = 3, full) compiled 57 loops, and 30 with this transform and the components'
diagonal by a mask (:mod:`models._components`); XLA spent a third of its compilation in the
passes that analyse loops (copy insertion, loop-invariant code motion).

:class:`CorrCholeskyTransform` is the same map, written with static slices, padding and
concatenation: every value is NumPyro's to the bit (a test), its derivatives are the same sums
in another order, and its program has no loop. Importing :mod:`models` registers it for
``constraints.corr_cholesky`` in NumPyro's ``biject_to``, for the whole process: every
inference algorithm that maps the constraint (ML, MAP, Laplace, VI, NUTS) takes it.

:class:`LKJCholesky`, the lecture models' default prior on ``corr_chol``, is NumPyro's with the
factor's diagonal read by a mask instead of a gather, for the same reason.
"""

import jax.numpy as jnp
import numpyro.distributions as dist
from jax.nn import softplus
from numpyro.distributions import constraints, transforms
from numpyro.distributions.util import validate_sample


def tril_matrix(t, n, diagonal):
    """The (..., n, n) matrix whose lower triangle below ``diagonal`` (0: with the diagonal,
    -1: without) holds ``t`` (..., m) row by row, zeros elsewhere (NumPy's ``tril_indices``
    order, as ``numpyro.distributions.util.vec_to_tril_matrix``)."""
    rows, start = [], 0
    for i in range(n):
        length = max(0, min(n, i + 1 + diagonal))
        pad = [(0, 0)] * (t.ndim - 1) + [(0, n - length)]
        rows.append(jnp.pad(t[..., start : start + length], pad))
        start += length
    return jnp.stack(rows, axis=-2)


def tril_vector(x, diagonal):
    """The lower triangle of ``x`` (..., n, n) below ``diagonal``, row by row (as
    ``numpyro.distributions.util.matrix_to_tril_vec``)."""
    n = x.shape[-1]
    return jnp.concatenate([x[..., i, : max(0, min(n, i + 1 + diagonal))] for i in range(n)], axis=-1)


def _shifted_right(x):
    """``x`` moved one place along its last axis, a 1 in front (the stick-breaking's remainders)."""
    return jnp.pad(x[..., :-1], [(0, 0)] * (x.ndim - 1) + [(1, 0)], constant_values=1.0)


def _num_rows(num_entries):
    """n for the n (n - 1) / 2 entries below the diagonal."""
    n = round((1 + (1 + 8 * num_entries) ** 0.5) / 2)
    if n * (n - 1) // 2 != num_entries:
        raise ValueError(f"a correlation factor's strict lower triangle has n (n - 1) / 2 entries; got {num_entries}")
    return n


class CorrCholeskyTransform(transforms.CorrCholeskyTransform):
    """NumPyro's map from ``R^(n (n - 1) / 2)`` onto the Cholesky factors of n x n correlation
    matrices (tanh, then a signed stick-breaking of each row; see NumPyro's docstring), with its
    inverse and log-Jacobian, built without scatters or gathers (see the module docstring)."""

    def __call__(self, x):
        eps = jnp.finfo(x.dtype).eps
        t = jnp.clip(jnp.tanh(x), -1 + eps, 1 - eps)  # as NumPyro's: |t| = 1 would give a zero on the diagonal
        r = tril_matrix(t, _num_rows(x.shape[-1]), diagonal=-1)
        shifted = _shifted_right(jnp.cumprod(jnp.sqrt(1 - r**2), axis=-1))
        return (r + jnp.eye(r.shape[-1], dtype=r.dtype)) * shifted

    def _inverse(self, y):
        shifted = _shifted_right(1 - jnp.cumsum(y * y, axis=-1))
        return jnp.arctanh(tril_vector(y, -1) / jnp.sqrt(tril_vector(shifted, -1)))

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        # as NumPyro's: the stick-breaking's log-determinant from the cumulative products below
        # the first subdiagonal, and tanh's
        z1m_cumprod = 1 - jnp.cumsum(y * y, axis=-1)
        stick_breaking_logdet = 0.5 * jnp.sum(jnp.log(tril_vector(z1m_cumprod, -2)), axis=-1)
        tanh_logdet = -2 * jnp.sum(x + softplus(-2 * x) - jnp.log(2.0), axis=-1)
        return stick_breaking_logdet + tanh_logdet


@transforms.biject_to.register(constraints.corr_cholesky)
def _transform_to_corr_cholesky(constraint):
    return CorrCholeskyTransform()


class LKJCholesky(dist.LKJCholesky):
    """NumPyro's ``LKJCholesky`` with the factor's diagonal read by a mask: NumPyro's
    ``log_prob`` gathers it (``value[..., i, i]``), and the gradient of that gather is a scatter,
    a loop in every gradient of the prior (MAP, Laplace, VI, NUTS). The value is NumPyro's to the
    bit: the same unnormalised term, plus NumPyro's own log density at the identity, where that
    term is 0, which is minus its normalising constant."""

    @validate_sample  # as NumPyro's: with validation on, -inf outside the support
    def log_prob(self, value):
        D = self.dimension
        order = 2 * jnp.expand_dims(self.concentration, axis=-1) - ((3 - D) + jnp.arange(1, D))
        diagonal = jnp.sum(jnp.where(jnp.eye(D, dtype=bool), value, 0.0), axis=-1)[..., 1:]
        return jnp.sum(order * jnp.log(diagonal), axis=-1) + super().log_prob(jnp.eye(D))
