"""Bayesian linear regression with sigma known: a Gaussian posterior in closed form.

With ``a ~ N(0, s_a^2 I)``, ``b ~ N(0, s_b^2)`` and ``sigma`` fixed (``priors={"sigma": value}``),
the posterior of ``w = (a, b)`` is ``N(m, S)`` with ``S^-1 = diag(s^-2) + Z^T Z / sigma^2`` and
``m = S Z^T y / sigma^2``, where ``Z = [X, 1]`` (Bishop, 2006, eq. 3.53-3.54).
"""

import jax
import numpy as np
import numpyro.distributions as dist
import pytest
from numpyro.diagnostics import effective_sample_size

import models
from inference import fit

lr = models.linear_regression
SIGMA, S_A, S_B = 0.8, 0.5, 2.0
PRIORS = {"a": dist.Normal(0.0, S_A), "b": dist.Normal(0.0, S_B), "sigma": SIGMA}


@pytest.fixture(scope="module")
def problem():
    sim = lr.simulate(jax.random.PRNGKey(2), 40, 2, a=[0.7, -0.4], b=1.0, sigma=SIGMA)
    X, y = np.asarray(sim.data["X"]), np.asarray(sim.data["y"])
    Z = np.column_stack([X, np.ones(len(X))])
    precision = np.diag([S_A**-2, S_A**-2, S_B**-2]) + Z.T @ Z / SIGMA**2
    cov = np.linalg.inv(precision)
    return {"X": X, "y": y}, cov @ Z.T @ y / SIGMA**2, cov


def _stack(draws):
    """(chain, draw, D) a and (chain, draw) b as (chain, draw, D + 1) w."""
    return np.concatenate([draws["a"], draws["b"][..., None]], axis=-1)


def test_a_fixed_sigma_is_known_not_inferred(problem):
    data, _, _ = problem
    result = fit(lr, data, "map", priors=PRIORS)
    assert result.params["sigma"] == SIGMA
    with pytest.raises(ValueError, match=r"init gives values for parameters that the priors fix: \['sigma'\]"):
        fit(lr, data, "map", priors=PRIORS, init={"sigma": 1.0})
    with pytest.raises(ValueError, match=r"priors\['sigma'\] fixes 'sigma', so it must lie in Positive\(lower_bound=0.0\); got -1.0"):
        fit(lr, data, "map", priors={"sigma": -1.0})
    with pytest.raises(ValueError, match=r"priors\['a'\] fixes 'a', so it must broadcast to its shape \(2,\); got an array of shape \(3,\)"):
        fit(lr, data, "map", priors={"a": np.zeros(3)})


def test_map_and_laplace_are_the_closed_form_posterior(problem):
    """The posterior is Gaussian in (a, b): its mode is its mean and Laplace's inverse Hessian is
    its covariance, both exact up to the optimiser's tolerance (|grad| < 1e-9 per point)."""
    data, mean, cov = problem
    laplace = fit(lr, data, "laplace", priors=PRIORS, num_samples=20000)
    np.testing.assert_allclose(np.append(laplace.params["a"], laplace.params["b"]), mean, atol=1e-8)
    w = _stack(laplace.samples)[0]
    # 20000 exact draws: the sample mean is within 4 sd / sqrt(20000) of m, the sample
    # covariance within ~4 sqrt(2 / 20000) = 0.04 of S relative to the variances
    np.testing.assert_allclose(w.mean(0), mean, atol=4 * np.sqrt(np.diag(cov) / 20000).max())
    scale = np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    np.testing.assert_array_less(np.abs(np.cov(w.T) - cov) / scale, 0.04)


@pytest.mark.slow
def test_nuts_matches_the_closed_form_posterior(problem):
    """Within Monte Carlo error: the mean to 4 sd / sqrt(ESS), the covariance to 4 sqrt(2 / ESS)
    relative to the variances (the sd of a sample variance is sqrt(2 / n) of it)."""
    data, mean, cov = problem
    nuts = fit(lr, data, "nuts", priors=PRIORS, num_warmup=500, num_samples=2000, num_chains=2)
    draws = _stack(nuts.samples)
    assert nuts.converged and np.all(draws.std((0, 1)) > 0)
    ess = np.asarray(effective_sample_size(draws)).min()
    assert ess > 500
    w = draws.reshape(-1, draws.shape[-1])
    np.testing.assert_array_less(np.abs(w.mean(0) - mean), 4 * np.sqrt(np.diag(cov) / ess))
    scale = np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    np.testing.assert_array_less(np.abs(np.cov(w.T) - cov) / scale, 4 * np.sqrt(2 / ess))


def test_minibatch_vi_reaches_the_mean_field_optimum():
    """Mean-field VI of a Gaussian posterior N(m, S) has the closed-form optimum N(m, diag(1 / diag(S^-1)))
    (Bishop, 2006, eq. 10.12-10.13). On N = 5000 rows, minibatches of 100 (an unbiased ELBO scaled
    by N / B) must get there: the means within 0.3 sd (what the step noise at the end of the
    cosine schedule leaves: up to 0.27 over seeds 0-3), and the sds within 10 % (up to 8 %),
    checked by 4000 draws (their own error is ~1 % of an sd)."""
    sim = lr.simulate(jax.random.PRNGKey(3), 5000, 2, a=[0.7, -0.4], b=1.0, sigma=SIGMA)
    X, y = np.asarray(sim.data["X"]), np.asarray(sim.data["y"])
    Z = np.column_stack([X, np.ones(len(X))])
    precision = np.diag([S_A**-2, S_A**-2, S_B**-2]) + Z.T @ Z / SIGMA**2
    mean = np.linalg.solve(precision, Z.T @ y / SIGMA**2)
    sd = 1 / np.sqrt(np.diag(precision))
    result = fit(lr, {"X": X, "y": y}, "vi", priors=PRIORS, batch_size=100, num_steps=20000, num_samples=4000)
    w = _stack(result.samples)[0]
    np.testing.assert_array_less(np.abs(w.mean(0) - mean) / sd, 0.3)
    np.testing.assert_allclose(w.std(0), sd, rtol=0.1)
    assert result.method_options["batch_size"] == 100
    with pytest.raises(ValueError, match=r"batch_size must be at most num_data = 5000; got batch_size = 5001"):
        fit(lr, {"X": X, "y": y}, "vi", batch_size=5001)
