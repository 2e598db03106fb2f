"""Exact checks of linear regression: ML by L-BFGS against least squares (Remark 1.6)."""

import jax
import numpy as np
import pytest

from inference import fit
from models import linear_regression as lr


@pytest.fixture(scope="module")
def sim():
    return lr.simulate(jax.random.PRNGKey(1), num_data=80, num_features=3)


def _lstsq(X, y, fit_intercept):
    design = np.column_stack([X, np.ones(len(X))]) if fit_intercept else X
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    return coef, np.sum((y - design @ coef) ** 2) / len(y)


@pytest.mark.parametrize("closed_form", [True, False], ids=["closed-form", "search"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ml_equals_least_squares(sim, fit_intercept, closed_form):
    X, y = np.asarray(sim.data["X"]), np.asarray(sim.data["y"])
    coef, rss_over_n = _lstsq(X, y, fit_intercept)
    result = fit("linear_regression", sim.data, "ml", fit_intercept=fit_intercept, closed_form=closed_form)
    assert result.converged and result.info["closed_form"] == closed_form
    # the optimiser stops at max|grad| <= 1e-9 per data point with O(1) curvature: parameters
    # agree far below rtol 1e-6; the closed form is lstsq itself, on columns scaled to unit norm
    rtol = 1e-12 if closed_form else 1e-6
    np.testing.assert_allclose(result.params["a"], coef[:3], rtol=rtol)
    if fit_intercept:
        np.testing.assert_allclose(result.params["b"], coef[3], rtol=rtol)
    else:
        assert "b" not in result.params
    np.testing.assert_allclose(result.params["sigma"] ** 2, rss_over_n, rtol=rtol)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_closed_form_mle_is_least_squares(sim, fit_intercept):
    X, y = np.asarray(sim.data["X"]), np.asarray(sim.data["y"])
    coef, rss_over_n = _lstsq(X, y, fit_intercept)
    closed = lr.mle(X, y, fit_intercept=fit_intercept)
    np.testing.assert_allclose(closed["a"], coef[:3], rtol=1e-12)
    np.testing.assert_allclose(closed["sigma"] ** 2, rss_over_n, rtol=1e-12)


def test_one_dimensional_X_is_one_feature():
    x = np.linspace(-1, 1, 20)
    y = 2 * x + np.sin(7 * x)
    result = fit(lr, {"X": x, "y": y}, "ml")
    np.testing.assert_allclose(result.params["a"], lr.mle(x[:, None], y)["a"], rtol=1e-6)


@pytest.mark.parametrize("closed_form", [True, False], ids=["closed-form", "search"])
def test_objective_trace_ends_at_the_negative_log_likelihood(sim, closed_form):
    result = fit("linear_regression", sim.data, "ml", closed_form=closed_form)
    X, y = np.asarray(sim.data["X"]), np.asarray(sim.data["y"])
    theta = result.params
    resid = y - X @ theta["a"] - theta["b"]
    # eq. 1.11 evaluated directly
    nll = 0.5 * len(y) * np.log(2 * np.pi * theta["sigma"] ** 2) + np.sum(resid**2) / (2 * theta["sigma"] ** 2)
    np.testing.assert_allclose(result.losses[-1], nll, rtol=1e-10)
    assert result.num_steps == len(result.losses) - 1
    # the search descends to it; the closed form is evaluated there, without a step
    assert result.losses[0] > result.losses[-1] if not closed_form else result.num_steps == 0


def test_simulate_returns_data_and_truth():
    sim = lr.simulate(jax.random.PRNGKey(0), num_data=7, num_features=2, fit_intercept=False)
    assert sim.data["X"].shape == (7, 2) and sim.data["y"].shape == (7,)
    assert set(sim.params) == {"a", "sigma"}
