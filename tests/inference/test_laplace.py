"""The Laplace approximation against its closed form on linear regression."""

import jax
import numpy as np
import pytest

import models
from inference import fit


@pytest.fixture(scope="module")
def regression():
    sim = models.linear_regression.simulate(jax.random.PRNGKey(11), 60, 2)
    return np.asarray(sim.data["X"]), np.asarray(sim.data["y"])


def test_flat_prior_laplace_is_least_squares_with_the_jacobian_corrected_scale(regression):
    X, y = regression
    result = fit("linear_regression", {"X": X, "y": y}, "laplace", priors={"a": "flat", "b": "flat", "sigma": "flat"},
                 num_samples=4000)
    design = np.column_stack([X, np.ones(len(y))])
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    rss = np.sum((y - design @ coef) ** 2)
    # in u = log sigma the flat density gains the Jacobian e^u: the mode has sigma^2 = RSS / (N - 1)
    np.testing.assert_allclose(result.params["a"], coef[:2], rtol=1e-7)
    np.testing.assert_allclose(result.params["sigma"] ** 2, rss / (len(y) - 1), rtol=1e-7)
    # the (a, b) block of H^{-1} is sigma^2 (X^T X)^{-1}; 4000 draws estimate a variance to
    # ~2.2 % (sqrt(2 / 4000)), so 10 % is over four Monte Carlo standard errors
    expected = result.params["sigma"] ** 2 * np.linalg.inv(design.T @ design)
    draws = np.column_stack([result.samples["a"][0], result.samples["b"][0]])
    np.testing.assert_allclose(np.cov(draws.T), expected, rtol=0.1, atol=0.1 * np.abs(expected).max())
    assert np.all(result.samples["sigma"] > 0) and result.samples["a"].shape == (1, 4000, 2)


def test_a_flat_direction_is_named(regression):
    X, y = regression
    collinear = np.column_stack([X, X[:, 0]])  # a[0] and a[2] are not identified under a flat prior
    with pytest.raises(ValueError, match=r"laplace: the Hessian of the negative log posterior is not positive definite .* involve \['a'\]"):
        fit("linear_regression", {"X": collinear, "y": y}, "laplace", priors={"a": "flat"})


def test_laplace_on_the_mixture_gives_constrained_draws():
    data = models.gaussian_mixture.simulate(jax.random.PRNGKey(0), 150).data
    result = fit("gaussian_mixture", data, "laplace", num_samples=200, ordered=True)
    np.testing.assert_allclose(result.samples["pi"].sum(-1), 1.0, rtol=1e-12)
    assert np.all(np.diff(result.samples["mu"][..., 0], axis=-1) > 0)
    assert np.all(np.linalg.eigvalsh(result.samples["cov"]) > 0)
    assert np.isfinite(result.idata.log_likelihood["X"].values).all()
