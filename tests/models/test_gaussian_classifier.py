"""Exact checks of the Gaussian class-conditional classifier (Example 1.1, Exercise 1.1)."""

import re
import warnings

import jax
import numpy as np
import pytest
from scipy.special import softmax
from scipy.stats import multivariate_normal
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from inference import ConvergenceWarning, fit
from models import gaussian_classifier as gc
from models import logistic_regression as logreg


def _sim(num_classes, shared, seed=0):
    return gc.simulate(jax.random.PRNGKey(seed), num_data=240, num_features=3, num_classes=num_classes, shared_covariance=shared)


def _sample_statistics(X, y, num_classes, shared):
    pi = np.array([np.mean(y == c) for c in range(num_classes)])
    mu = np.array([X[y == c].mean(0) for c in range(num_classes)])
    covs = np.array([np.cov(X[y == c].T, bias=True) for c in range(num_classes)])  # divide by N_c
    if shared:
        return pi, mu, np.einsum("c,cde->de", pi, covs)  # pooled: sum_c N_c S_c / N
    return pi, mu, covs


@pytest.mark.parametrize("closed_form", [True, False], ids=["closed-form", "search"])
@pytest.mark.parametrize("shared", [False, True], ids=["qda", "lda"])
@pytest.mark.parametrize("num_classes", [2, 3])
def test_ml_equals_sample_statistics(num_classes, shared, closed_form):
    sim = _sim(num_classes, shared)
    X, y = np.asarray(sim.data["X"]), np.asarray(sim.data["y"])
    pi, mu, cov = _sample_statistics(X, y, num_classes, shared)
    result = fit(gc, sim.data, "ml", num_classes=num_classes, shared_covariance=shared, closed_form=closed_form)
    assert result.converged and result.info["closed_form"] == closed_form
    # L-BFGS stops at max|grad| ~1e-8 per data point: parameters within ~1e-8 relative; the
    # closed form and numpy's statistics differ by the order of their additions only
    rtol, atol = (1e-12, 1e-15) if closed_form else (1e-6, 1e-8)
    for name, expected in [("pi", pi), ("mu", mu), ("cov", cov)]:
        np.testing.assert_allclose(result.params[name], expected, rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("shared", [False, True], ids=["qda", "lda"])
def test_closed_form_mle_is_sample_statistics(shared):
    sim = _sim(3, shared)
    X, y = np.asarray(sim.data["X"]), np.asarray(sim.data["y"])
    pi, mu, cov = _sample_statistics(X, y, 3, shared)
    closed = gc.mle(X, y, num_classes=3, shared_covariance=shared)
    np.testing.assert_allclose(closed["cov"], cov, rtol=1e-12)
    np.testing.assert_allclose(closed["mu"], mu, rtol=1e-12)
    # sigma and corr_chol rebuild cov: cov = diag(sigma) L L^T diag(sigma)
    L = closed["sigma"][..., :, None] * closed["corr_chol"]
    np.testing.assert_allclose(L @ np.swapaxes(L, -1, -2), cov, rtol=1e-12)


def test_predict_proba_is_bayes_rule_with_scipy():
    sim = _sim(3, False)
    theta = sim.params
    X = np.asarray(sim.data["X"])[:50]
    joint = np.column_stack([
        np.log(theta["pi"][c]) + multivariate_normal(theta["mu"][c], theta["cov"][c]).logpdf(X) for c in range(3)
    ])
    np.testing.assert_allclose(gc.predict_proba(theta, X), softmax(joint, axis=1), rtol=1e-10)


def test_lda_predict_proba_equals_scikit_learn():
    sim = _sim(3, True)
    X, y = np.asarray(sim.data["X"]), np.asarray(sim.data["y"])
    theta = gc.mle(X, y, num_classes=3, shared_covariance=True)
    reference = LinearDiscriminantAnalysis(solver="lsqr").fit(X, y)
    # scikit-learn's covariance_ is the same pooled ML estimate, sum_c pi_c S_c
    np.testing.assert_allclose(reference.covariance_, theta["cov"], rtol=1e-10)
    np.testing.assert_allclose(gc.predict_proba(theta, X), reference.predict_proba(X), rtol=1e-8, atol=1e-12)


def test_exercise_1_1_binary_lda_is_a_logistic_regression():
    sim = _sim(2, True)
    X = np.asarray(sim.data["X"])
    theta = sim.params
    ab = gc.logistic_parameters(theta)
    assert ab["a"].shape == (3,) and ab["b"].shape == ()
    np.testing.assert_allclose(logreg.predict_proba(ab, X), gc.predict_proba(theta, X)[:, 1], rtol=1e-10)


def test_exercise_1_1_softmax_form_for_three_classes():
    sim = _sim(3, True)
    X = np.asarray(sim.data["X"])
    ab = gc.logistic_parameters(sim.params)
    np.testing.assert_allclose(softmax(X @ np.asarray(ab["a"]).T + ab["b"], axis=1), gc.predict_proba(sim.params, X), rtol=1e-10)


def test_logistic_parameters_need_a_shared_covariance():
    with pytest.raises(ValueError, match=r"theta\['cov'\] must be one shared \(D, D\) covariance; got shape \(2, 3, 3\)"):
        gc.logistic_parameters(_sim(2, False).params)


def test_one_feature_has_no_correlation_factor():
    sim = gc.simulate(jax.random.PRNGKey(2), num_data=60, num_features=1)
    result = fit(gc, sim.data, "ml")
    assert "corr_chol" not in result.params
    closed = gc.mle(sim.data["X"], sim.data["y"])
    np.testing.assert_allclose(result.params["cov"], closed["cov"], rtol=1e-6)


@pytest.mark.parametrize("shared", [False, True], ids=["qda", "lda"])
def test_a_singular_class_is_named_for_ml_and_map_still_predicts(shared):
    X = np.random.default_rng(0).normal(size=(30, 3))
    y = np.r_[np.zeros(28, int), 1, 1]  # class 1 has 2 <= D points
    if shared:
        X[:, 2] = 5.0  # a feature constant everywhere: even the pooled covariance is singular
    which = "the pooled covariance" if shared else "the covariance of class 1"
    with pytest.raises(ValueError, match=f"the ML estimate does not exist: {which} is singular"):
        gc.mle(X, y, shared_covariance=shared)
    with pytest.raises(ValueError, match=f"the ML estimate does not exist: {which} is singular"):
        fit(gc, {"X": X, "y": y}, "ml", shared_covariance=shared)
    # the MAP of a degenerate class sits where the prior barely balances the likelihood, far out
    # in the unconstrained space: L-BFGS may stop at max_iter there, but what it returns predicts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = fit(gc, {"X": X, "y": y}, "map", shared_covariance=shared)
    proba = gc.predict_proba(result.params, X)
    assert np.all(np.isfinite(proba)) and np.allclose(proba.sum(1), 1.0)


def test_one_dimensional_simulation_separates_every_class():
    mu = gc.simulate(jax.random.PRNGKey(0), num_data=10, num_features=1, num_classes=4).params["mu"]
    assert len(np.unique(np.asarray(mu))) == 4


def test_predict_proba_checks_X():
    theta = _sim(2, False).params
    with pytest.raises(ValueError, match=r"X must have 3 feature\(s\), as the parameters do; got shape \(4, 2\)"):
        gc.predict_proba(theta, np.zeros((4, 2)))


@pytest.mark.parametrize("num_data", [30, 60])  # fewer rows than classes, and more
def test_empty_classes_are_named_the_first_twenty_in_order(num_data):
    # labels 0, 2, 4, ... up to num_data rows: of 50 classes, the odd ones (and any beyond the
    # last label) are empty; the message names the first 20, counted or (K > N) looked up
    y = np.arange(num_data) * 2 % 50
    empty = sorted(set(range(50)) - set(y.tolist()))[:20]
    with pytest.raises(ValueError, match=re.escape(f"class(es) {empty} have no points")):
        gc.check_data(np.zeros((num_data, 1)), y, num_classes=50)
