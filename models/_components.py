"""The law of ``x`` given a label among K Gaussian components, shared by the classifier and the mixture.

``x | label = k ~ N(mu_k, L_k L_k^T)`` (eq. 1.3 and Example 1.6) with every component's
log-density at every row computed at once: the one computation behind the model's likelihood
(:class:`ComponentNormal`) and EM's E-step for full and tied covariances
(:func:`models._gaussian.em_statistics`).
"""

import jax.numpy as jnp
import numpyro.distributions as dist
from jax import random
from jax.scipy.linalg import solve_triangular
from numpyro.distributions import constraints


def cholesky_log_densities(rows, mu, chol):
    """``log N(x_b | mu_k, L_k L_k^T)`` for the Cholesky factors ``chol`` (K, D, D), shape (B, K).

    Through the precision's factor P (``cov^-1 = P P^T``): the whitened rows ``(x - mu_k) P_k``
    of all K components come from one (B, D) x (D, K D) matrix product. The product subtracts
    ``mu_k P_k`` from ``x P_k``, so callers take rows and means about a common centre.
    """
    K, D = mu.shape
    prec_chol = jnp.swapaxes(solve_triangular(chol, jnp.broadcast_to(jnp.eye(D), (K, D, D)), lower=True), -1, -2)
    weights = jnp.swapaxes(prec_chol, 0, 1).reshape(D, K * D)
    offset = jnp.einsum("kd,kde->ke", mu, prec_chol).reshape(K * D)
    # the sum of squares over each component's D columns as a product with ones: fused with the
    # product and reduced over a minor axis of D elements by XLA's CPU backend, it took half of
    # EM's E-step (profiled at N = 2e5, D = K = 8: 31 of 61 ms), as a product half of that. No
    # entry of the vector is 0, so an infinite square stays an infinite distance, never NaN
    whitened = (rows @ weights - offset) ** 2
    mahalanobis = (whitened.reshape(-1, D) @ jnp.ones(D, whitened.dtype)).reshape(-1, K)
    # the diagonal by a mask, not jnp.diagonal: the gradient of that gather is a scatter, which
    # XLA's CPU backend compiles to a loop (models._corr_cholesky)
    half_log_det = -jnp.log(jnp.where(jnp.eye(D, dtype=bool), prec_chol, 1.0)).sum((-2, -1))
    return -0.5 * mahalanobis - half_log_det - 0.5 * D * jnp.log(2 * jnp.pi)


class ComponentNormal(dist.Distribution):
    """``x | label = k ~ N(mu_k, L_k L_k^T)``: the K Gaussians, and a label choosing among them.

    ``loc`` (K, D) and ``scale_tril`` (K, D, D) are the components'; ``label`` (integers in
    0..K-1) gives the batch shape: (N,) observed or sampled, (K, 1) when enumerated. The
    log-density takes every row under every component from one matrix product
    (:func:`cholesky_log_densities`), then the label's entry.

    ``ruled_out`` (boolean, broadcast to the batch shape), where True, sets the density to 0:
    the label's value there contradicts an observation, and ``x``'s term is
    ``p(x, given label | label)``. The semi-supervised classifier rules out every class but
    the given one on its labelled rows. The indicator is a part of this term, not a factor of
    its own, because funsor (through which NumPyro's NUTS sums the label out) shifts each term
    by its own maximum over the enumerated label before it sums the label out: a separate
    indicator let the given class's density underflow to 0 (a log-likelihood of -inf) wherever
    another class's was 745 nats above it.

    ``MultivariateNormal(mu[label], scale_tril=L[label])`` is the same law without
    ``ruled_out``, but it gathers one D x D factor per row (``benchmarks/README.md`` has the
    memory this costs at N = 1e5) and compiles to a larger program.
    """

    arg_constraints = {"loc": constraints.real_vector, "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    reparametrized_params = ["loc", "scale_tril"]
    pytree_data_fields = ("loc", "scale_tril", "label", "ruled_out")

    def __init__(self, loc, scale_tril, label, *, ruled_out=None, validate_args=None):
        self.loc, self.scale_tril, self.label, self.ruled_out = loc, scale_tril, label, ruled_out
        batch_shape = jnp.shape(label) if ruled_out is None else jnp.broadcast_shapes(jnp.shape(label),
                                                                                      jnp.shape(ruled_out))
        super().__init__(batch_shape=batch_shape, event_shape=jnp.shape(loc)[-1:], validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        label = jnp.broadcast_to(self.label, self.batch_shape)
        noise = random.normal(key, sample_shape + self.batch_shape + self.event_shape)
        return self.loc[label] + jnp.einsum("...de,...e->...d", self.scale_tril[label], noise)

    def log_prob(self, value):
        K, D = jnp.shape(self.loc)
        # about the means' average: an offset common to the data and the means then costs no
        # digits, where the product form would lose about log10(|offset| / scale) of them
        centre = self.loc.mean(0)
        table = cholesky_log_densities(jnp.reshape(value, (-1, D)) - centre, self.loc - centre, self.scale_tril)
        table = jnp.reshape(table, jnp.shape(value)[:-1] + (K,))
        label = jnp.asarray(self.label)[..., None]
        # both left-padded to one rank: an enumerated (K, 1) label broadcasts against the rows,
        # and the value may carry sample dimensions left of the label's
        rank = max(table.ndim, label.ndim)
        table = jnp.reshape(table, (1,) * (rank - table.ndim) + table.shape)
        label = jnp.reshape(label, (1,) * (rank - label.ndim) + label.shape)
        log_density = jnp.take_along_axis(table, label, axis=-1)[..., 0]
        return log_density if self.ruled_out is None else jnp.where(self.ruled_out, -jnp.inf, log_density)
