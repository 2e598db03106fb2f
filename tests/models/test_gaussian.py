"""Exact checks of the Gaussian components shared by the classifier and the mixture (models/_gaussian.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
from scipy.stats import multivariate_normal

from models._gaussian import ComponentNormal

K, D, N = 3, 4, 50


@pytest.fixture(scope="module")
def components():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(K, D, D))
    L = np.linalg.cholesky(A @ np.swapaxes(A, -1, -2) + 0.1 * np.eye(D))
    # far from the origin, where a whitening by products of x and mu would lose digits
    offset = 1e4
    mu = offset + rng.normal(size=(K, D))
    X = offset + 3.0 * rng.normal(size=(N, D))
    return mu, L, X, rng.integers(0, K, size=N)


def _scipy(mu, L, X):
    """log N(x_n | mu_k, L_k L_k^T), shape (K, N), by scipy."""
    return np.stack([multivariate_normal(mu[k], L[k] @ L[k].T).logpdf(X) for k in range(K)])


def test_log_prob_of_observed_labels_equals_scipy(components):
    mu, L, X, label = components
    expected = _scipy(mu, L, X)[label, np.arange(N)]
    # float64 triangular solves on x - mu: a few ulps of the log-density's terms
    d = ComponentNormal(mu, L, label)
    np.testing.assert_allclose(d.log_prob(X), expected, rtol=1e-12)
    # a pytree with its label: the same law after crossing a jit boundary
    np.testing.assert_allclose(jax.jit(lambda d: d.log_prob(X))(d), expected, rtol=1e-12)


def test_log_prob_of_enumerated_labels_is_every_component_at_every_row(components):
    mu, L, X, _ = components
    enumerated = jnp.arange(K)[:, None]  # as NumPyro's parallel enumeration puts it, left of the plate
    d = ComponentNormal(mu, L, enumerated)
    assert d.batch_shape == (K, 1)
    np.testing.assert_allclose(d.log_prob(X), _scipy(mu, L, X), rtol=1e-12)


def test_sample_is_multivariate_normal_of_the_label(components):
    mu, L, _, label = components
    key = jax.random.PRNGKey(1)
    ours = ComponentNormal(mu, L, label).sample(key, (2,))
    numpyros = dist.MultivariateNormal(mu[label], scale_tril=L[label]).sample(key, (2,))
    assert ours.shape == (2, N, D)
    # the same standard-normal draws, moved by the label's mean and factor
    np.testing.assert_allclose(ours, numpyros, rtol=1e-14)
