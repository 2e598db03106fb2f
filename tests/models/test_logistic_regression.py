"""Exact checks of logistic regression against statsmodels and scikit-learn (Example 1.5)."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
import statsmodels.api as sm
from jax.flatten_util import ravel_pytree
from numpyro.infer.util import log_likelihood
from sklearn.metrics import log_loss
from sklearn.preprocessing import PolynomialFeatures

from inference import ConvergenceWarning, fit
from models import logistic_regression as logreg


@pytest.fixture(scope="module")
def sim():
    return logreg.simulate(jax.random.PRNGKey(3), num_data=300, num_features=3)


def test_ml_equals_statsmodels_logit(sim):
    X, y = np.asarray(sim.data["X"]), np.asarray(sim.data["y"])
    reference = sm.Logit(y, sm.add_constant(X, prepend=False)).fit(method="newton", tol=1e-12, disp=0)
    result = fit(logreg, sim.data, "ml")
    assert result.converged
    # both optimisers stop within ~1e-9 of the optimum: 1e-5 is the stated bound
    np.testing.assert_allclose(result.params["a"], reference.params[:3], rtol=1e-5)
    np.testing.assert_allclose(result.params["b"], reference.params[3], rtol=1e-5)
    np.testing.assert_allclose(-result.losses[-1], reference.llf, rtol=1e-10)


def test_log_likelihood_is_minus_n_times_binary_cross_entropy(sim):
    X, y = np.asarray(sim.data["X"]), np.asarray(sim.data["y"])
    theta = {"a": np.array([0.3, -1.2, 2.0]), "b": np.array(0.4)}
    pointwise = log_likelihood(logreg.model, theta, X, y, batch_ndims=0)["y"]
    p = np.asarray(logreg.predict_proba(theta, X))
    # eq. 1.14 summed by NumPyro's Bernoulli(logits=...) vs scikit-learn's cross-entropy
    np.testing.assert_allclose(pointwise.sum(), -len(y) * log_loss(y, p), rtol=1e-12)


@pytest.mark.parametrize("scale", [1e-8, 1.0, 40.0, 800.0, 1e8])
def test_finite_logits_bernoulli_is_numpyros_bit_for_bit(scale):
    # the model's lean log-density drops only NumPyro's guard for infinite logits: at every
    # finite scale (underflow of exp(-|s|) from |s| ~ 37, overflow of exp(|s|) from ~710) the
    # value and its gradient are NumPyro's to the last bit
    rng = np.random.default_rng(0)
    s, y = rng.normal(size=1000) * scale, rng.integers(0, 2, size=1000)

    def total(d):
        return lambda logits: d(logits=logits).log_prob(y).sum()

    ours, numpyros = total(logreg.FiniteLogitsBernoulli), total(dist.Bernoulli)
    lean, guarded = logreg.FiniteLogitsBernoulli(logits=s), dist.Bernoulli(logits=s)
    np.testing.assert_array_equal(lean.log_prob(y), guarded.log_prob(y))
    np.testing.assert_array_equal(jax.grad(ours)(s), jax.grad(numpyros)(s))


@pytest.mark.parametrize("degree, fit_intercept", [(1, True), (1, False), (2, True)])
def test_observed_information_is_minus_the_hessian_of_the_log_likelihood(sim, degree, fit_intercept):
    X, y = np.asarray(sim.data["X"]), np.asarray(sim.data["y"])
    F = logreg.num_mapped_features(3, degree)
    rng = np.random.default_rng(5)
    # weights 0 and 1, as the mask of padding rows; logits of order 1, then up to about 25
    weights = (rng.uniform(size=len(y)) < 0.8).astype(np.float64)
    for scale in (0.5, 8.0):
        theta = {"a": rng.normal(size=F) * scale / np.sqrt(F)}
        if fit_intercept:
            theta["b"] = np.asarray(0.3)
        flat, unravel = ravel_pytree(theta)

        def log_lik(v, w):
            values = log_likelihood(logreg.model, unravel(v), X, y, batch_ndims=0, degree=degree,
                                    fit_intercept=fit_intercept)["y"]
            return jnp.sum(w * values)

        for w in (None, weights):
            expected = -jax.hessian(log_lik)(flat, np.ones(len(y)) if w is None else w)
            given = logreg.observed_information(theta, X, y, weights=w, degree=degree, fit_intercept=fit_intercept)
            assert given.shape == (flat.size, flat.size)
            # the same sums of N = 300 terms in another order: round-off ~1e-15 of the largest entry
            np.testing.assert_allclose(given, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


def test_polynomial_feature_map_matches_scikit_learn():
    X = np.random.default_rng(0).normal(size=(10, 3))
    expected = PolynomialFeatures(degree=3, include_bias=False).fit_transform(X)
    np.testing.assert_allclose(logreg.feature_map(X, degree=3), expected, rtol=1e-14)
    assert logreg.num_mapped_features(3, 3) == expected.shape[1]


def test_ml_with_polynomial_features_equals_statsmodels():
    sim = logreg.simulate(jax.random.PRNGKey(4), num_data=400, num_features=2, degree=2, a=[1.0, -1.0, 0.5, 0.3, -0.5])
    X, y = np.asarray(sim.data["X"]), np.asarray(sim.data["y"])
    design = PolynomialFeatures(degree=2, include_bias=False).fit_transform(X)
    reference = sm.Logit(y, sm.add_constant(design, prepend=False)).fit(method="newton", tol=1e-12, disp=0)
    result = fit(logreg, sim.data, "ml", degree=2)
    np.testing.assert_allclose(result.params["a"], reference.params[:5], rtol=1e-5)
    np.testing.assert_allclose(result.params["b"], reference.params[5], rtol=1e-5)


def test_perfect_separation_is_reported_not_returned_as_converged():
    X = np.random.default_rng(0).normal(size=(100, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    with pytest.warns(ConvergenceWarning, match="the ML estimate does not exist: the classes are perfectly separated"):
        result = fit(logreg, {"X": X, "y": y}, "ml")
    assert not result.converged
    # the prior keeps MAP finite and converged
    assert fit(logreg, {"X": X, "y": y}, "map").converged


def test_one_class_only_is_rejected():
    X = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match=r"y must have at least one point in every class 0..1; class\(es\) \[1\] have no points"):
        fit(logreg, {"X": X, "y": np.zeros(10)}, "ml")


def test_predict_proba_checks_X():
    with pytest.raises(ValueError, match=r"X must have features whose map phi \(degree 1\) has 2 entries, as theta\['a'\] does; got shape \(5, 3\)"):
        logreg.predict_proba({"a": np.ones(2), "b": 0.0}, np.zeros((5, 3)))
