"""Exact checks of the law of x given a label among Gaussian components (models/_components.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
from jax.scipy.special import logsumexp
from scipy.stats import multivariate_normal

from inference._density import log_joint
from inference.handlers import observed_rows
from models import gaussian_classifier
from models._components import ComponentNormal, cholesky_log_densities

N = 40


def _components(K, D, *, tied=False, offset=0.0, spread=1.0, seed=0):
    """``mu`` (K, D), Cholesky factors ``L`` (K, D, D) and rows ``X`` (N, D) about ``offset``."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(1 if tied else K, D, D))
    L = np.broadcast_to(np.linalg.cholesky(A @ np.swapaxes(A, -1, -2) + 0.1 * np.eye(D)), (K, D, D))
    mu = offset + spread * rng.normal(size=(K, D))
    X = offset + 3.0 * rng.normal(size=(N, D))
    return mu, L, X, rng.integers(0, K, size=N)


def _scipy(mu, L, X):
    """log N(x_n | mu_k, L_k L_k^T), shape (K, N), by scipy."""
    return np.stack([multivariate_normal(mu[k], L[k] @ L[k].T).logpdf(X) for k in range(len(mu))])


CASES = {
    "full": dict(K=3, D=4),
    "tied": dict(K=3, D=4, tied=True),
    "one feature": dict(K=3, D=1),
    "one component": dict(K=1, D=3),
    # an offset shared by data and means costs no digits: the means' centre is taken out first
    "far from the origin": dict(K=3, D=4, offset=1e4),
}


@pytest.mark.parametrize("case", CASES)
def test_log_prob_of_observed_labels_equals_scipy(case):
    mu, L, X, label = _components(**CASES[case])
    d = ComponentNormal(mu, L, label)
    expected = _scipy(mu, L, X)[label, np.arange(N)]
    # float64 factor and product: a few ulps of the log-density's largest term
    np.testing.assert_allclose(d.log_prob(X), expected, rtol=1e-12)
    # a pytree with its label: the same law after crossing a jit boundary
    np.testing.assert_allclose(jax.jit(lambda d: d.log_prob(X))(d), expected, rtol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_log_prob_of_enumerated_labels_is_every_component_at_every_row(case):
    mu, L, X, _ = _components(**CASES[case])
    K = len(mu)
    d = ComponentNormal(mu, L, jnp.arange(K)[:, None])  # as NumPyro's parallel enumeration puts it
    assert d.batch_shape == (K, 1)
    np.testing.assert_allclose(d.log_prob(X), _scipy(mu, L, X), rtol=1e-12)


def test_components_far_apart_relative_to_their_scale_lose_digits_as_the_product_form_says():
    # means 1e3 apart, factors of scale 1e-3, rows near their own mean: the product forms x P_k
    # and mu_k P_k of order 1e6 and subtracts them to whitened rows of order 1, so each keeps
    # some 1e6 ulps (2e-10) of absolute error, and the log-density (of order 30) about 1e-9.
    # MultivariateNormal's triangular solve on x - mu_k has none of it; data this separated
    # would need the model's own centring per component, which the lecture data do not
    mu, L, _, label = _components(3, 4, spread=1e3)
    L = 1e-3 * L
    noise = np.random.default_rng(1).normal(size=(N, 4))
    X = mu[label] + np.einsum("nde,ne->nd", L[label], noise)
    expected = _scipy(mu, L, X)[label, np.arange(N)]
    np.testing.assert_allclose(ComponentNormal(mu, L, label).log_prob(X), expected, rtol=0, atol=1e-8)


def test_a_row_whose_whitened_square_overflows_is_at_density_zero_not_nan():
    # the distances are summed by a product with a vector of ones: inf * 1 stays inf, where a
    # product with a block matrix of ones and zeros would make inf * 0 = NaN for every component
    mu, L, X, _ = _components(3, 4)
    X[0, 0] = 1e160  # (1e160 / scale)^2 overflows float64 at every component
    table = cholesky_log_densities(jnp.asarray(X), jnp.asarray(mu), jnp.asarray(L))
    assert np.all(np.asarray(table[0]) == -np.inf)
    np.testing.assert_allclose(table[1:], _scipy(mu, L, X[1:]).T, rtol=1e-12)


def test_value_with_sample_dimensions_and_a_scalar_label():
    mu, L, X, label = _components(3, 2)
    d = ComponentNormal(mu, L, label)
    values = d.sample(jax.random.PRNGKey(0), (5,))
    assert values.shape == (5, N, 2)
    expected = np.stack([_scipy(mu, L, v)[label, np.arange(N)] for v in np.asarray(values)])
    np.testing.assert_allclose(d.log_prob(values), expected, rtol=1e-12)
    np.testing.assert_allclose(ComponentNormal(mu, L, 2).log_prob(X), _scipy(mu, L, X)[2], rtol=1e-12)


def test_gradient_equals_multivariate_normals():
    mu, L, X, label = _components(3, 3)

    def total(law):
        return lambda mu, L: law(mu, L).log_prob(X).sum()

    ours = jax.grad(total(lambda mu, L: ComponentNormal(mu, L, label)), argnums=(0, 1))(mu, L)
    gathered = jax.grad(total(lambda mu, L: dist.MultivariateNormal(mu[label], scale_tril=L[label])), argnums=(0, 1))(mu, L)
    for a, b in zip(ours, gathered):
        # two float64 computations of one gradient: agreement to round-off of the largest entry
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * np.abs(b).max())


def test_sample_is_multivariate_normal_of_the_label():
    mu, L, _, label = _components(3, 4)
    key = jax.random.PRNGKey(1)
    ours = ComponentNormal(mu, L, label).sample(key, (2,))
    numpyros = dist.MultivariateNormal(mu[label], scale_tril=L[label]).sample(key, (2,))
    assert ours.shape == (2, N, 4)
    # the same standard-normal draws, moved by the label's mean and factor
    np.testing.assert_allclose(ours, numpyros, rtol=1e-14)


def test_ruled_out_labels_have_density_zero():
    mu, L, X, label = _components(3, 2)
    enumerated = jnp.arange(3)[:, None]
    ruled_out = enumerated != label  # every class but the row's own
    d = ComponentNormal(mu, L, enumerated, ruled_out=ruled_out)
    assert d.batch_shape == (3, N)
    expected = np.where(ruled_out, -np.inf, _scipy(mu, L, X))
    np.testing.assert_array_equal(np.isinf(d.log_prob(X)), np.isinf(expected))
    np.testing.assert_allclose(d.log_prob(X)[~ruled_out], expected[~ruled_out], rtol=1e-12)


def test_semi_supervised_labelled_row_far_below_another_class_keeps_a_finite_likelihood():
    # a point at the second class's mean, labelled with the first, 5000 nats below: its term is
    # log pi_0 + log N(x | mu_0) however far below; with the label's indicator as a factor of its
    # own, funsor's per-term shift let exp(-5000) underflow and the log joint was -inf
    X = np.array([[100.0], [0.5], [99.0]])
    y = np.array([0, -1, 1])
    theta = {"pi": np.array([0.4, 0.6]), "mu": np.array([[0.0], [100.0]]), "sigma": np.array([[1.0], [1.0]])}
    data = {"X": X, "y": y, "labelled": y >= 0}
    model = observed_rows(gaussian_classifier.model, mask=np.ones(3, dtype=bool))
    ours = log_joint(model, data, theta)
    log_pi = np.log(theta["pi"])
    terms = log_pi[:, None] + _scipy(theta["mu"], np.ones((2, 1, 1)), X)  # (K, N)
    prior = sum(float(s.log_prob(theta[k]).sum()) for k, s in (
        ("pi", dist.Dirichlet(jnp.ones(2))), ("mu", dist.Normal(0.0, 10.0)), ("sigma", dist.LogNormal(0.0, 2.0))))
    expected = prior + terms[0, 0] + float(logsumexp(terms[:, 1])) + terms[1, 2]
    assert np.isfinite(ours)
    np.testing.assert_allclose(ours, expected, rtol=1e-12)
