"""Matrices whose rows are ordered by their first column, as Stan's ``ordered`` vector.

Used by the mixture's ``ordered=True`` against label switching: the rows of ``mu`` (one per
component) are restricted to ``mu[0, 0] < mu[1, 0] < ... < mu[K-1, 0]`` while the stated prior
density is kept (restricted to that region, so normalised up to the constant K! when the prior
is exchangeable over components).
"""

import jax.numpy as jnp
import numpyro.distributions as dist
from numpyro.distributions import constraints
from numpyro.distributions.transforms import OrderedTransform, Transform, biject_to


class _FirstColumnOrdered(constraints.Constraint):
    event_dim = 2

    def __call__(self, x):
        first = x[..., 0]
        return jnp.all(first[..., 1:] > first[..., :-1], axis=-1) & jnp.all(jnp.isfinite(x), axis=(-2, -1))

    def feasible_like(self, prototype):
        rows = jnp.arange(prototype.shape[-2], dtype=prototype.dtype)
        return jnp.zeros_like(prototype).at[..., 0].set(rows)

    def tree_flatten(self):
        return (), ((), dict())


first_column_ordered = _FirstColumnOrdered()


class FirstColumnOrderedTransform(Transform):
    """Real (K, D) matrices to matrices with increasing first column; other columns untouched."""

    domain = constraints.independent(constraints.real, 2)
    codomain = first_column_ordered

    def __call__(self, x):
        x = jnp.asarray(x)
        return x.at[..., 0].set(OrderedTransform()(x[..., 0]))

    def _inverse(self, y):
        y = jnp.asarray(y)
        return y.at[..., 0].set(OrderedTransform().inv(y[..., 0]))

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return OrderedTransform().log_abs_det_jacobian(x[..., 0], y[..., 0])

    def tree_flatten(self):
        return (), ((), dict())

    def __eq__(self, other):
        return isinstance(other, FirstColumnOrderedTransform)


@biject_to.register(_FirstColumnOrdered)
def _transform_to_first_column_ordered(constraint):
    return FirstColumnOrderedTransform()


class FirstColumnOrdered(dist.Distribution):
    """``base`` (an event of shape (K, D)) restricted to rows ordered by their first column.

    ``log_prob`` is the base log density; ``sample`` sorts the rows of base draws by the first
    column, which draws from the restricted law exactly when the base is exchangeable over rows.
    """

    support = first_column_ordered

    def __init__(self, base, *, validate_args=None):
        self.base = base
        super().__init__(base.batch_shape, base.event_shape, validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        x = self.base.sample(key, sample_shape)
        order = jnp.argsort(x[..., 0], axis=-1)
        return jnp.take_along_axis(x, order[..., None], axis=-2)

    def log_prob(self, value):
        return self.base.log_prob(value)
