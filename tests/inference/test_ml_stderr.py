"""ML standard errors from the observed Fisher information, against statsmodels."""

import jax
import numpy as np
import pytest
import statsmodels.api as sm

import models
from inference import fit, scalar_params


def test_logistic_stderr_equals_statsmodels_logit():
    sim = models.logistic_regression.simulate(jax.random.PRNGKey(3), 300, 3)
    X, y = np.asarray(sim.data["X"]), np.asarray(sim.data["y"])
    reference = sm.Logit(y, sm.add_constant(X, prepend=False)).fit(method="newton", tol=1e-12, disp=0)
    result = fit("logistic_regression", sim.data, "ml")
    # both invert the same observed information at the same optimum (to ~1e-12): rtol 1e-6
    np.testing.assert_allclose(result.stderr["a"], reference.bse[:3], rtol=1e-6)
    np.testing.assert_allclose(result.stderr["b"], reference.bse[3], rtol=1e-6)
    np.testing.assert_allclose(result.covariance, reference.cov_params(), rtol=1e-6, atol=1e-12)


def test_linear_stderr_is_statsmodels_ols_rescaled_from_n_minus_p_to_n():
    num_data, p = 50, 3  # two slopes and the intercept
    sim = models.linear_regression.simulate(jax.random.PRNGKey(3), num_data, 2)
    X, y = np.asarray(sim.data["X"]), np.asarray(sim.data["y"])
    reference = sm.OLS(y, sm.add_constant(X, prepend=False)).fit()
    result = fit("linear_regression", sim.data, "ml")
    # OLS estimates sigma^2 by RSS / (N - p), ML by RSS / N: the (a, b) errors differ by exactly
    # sqrt((N - p) / N); the cross terms with sigma vanish at the optimum
    ratio = np.sqrt((num_data - p) / num_data)
    np.testing.assert_allclose(result.stderr["a"], reference.bse[:2] * ratio, rtol=1e-6)
    np.testing.assert_allclose(result.stderr["b"], reference.bse[2] * ratio, rtol=1e-6)
    # and sigma's own error is sigma / sqrt(2N), from the information 2N / sigma^2
    np.testing.assert_allclose(result.stderr["sigma"], result.params["sigma"] / np.sqrt(2 * num_data), rtol=1e-6)


def test_wald_intervals_and_covariance_layout():
    sim = models.linear_regression.simulate(jax.random.PRNGKey(0), 40, 1)
    result = fit("linear_regression", sim.data, "ml")
    low, high = result.wald_intervals(0.95)["a"]
    np.testing.assert_allclose((high - low) / 2, 1.959963984540054 * result.stderr["a"], rtol=1e-12)
    assert result.covariance.shape == (len(scalar_params(result.params)),) * 2


def test_map_has_no_wald_intervals():
    sim = models.linear_regression.simulate(jax.random.PRNGKey(0), 40, 1)
    with pytest.raises(ValueError, match="wald_intervals needs standard errors, which method 'map' did not give"):
        fit("linear_regression", sim.data, "map").wald_intervals()
