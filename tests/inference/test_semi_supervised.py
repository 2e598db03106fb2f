"""The semi-supervised generative classifier: labels missing (y = -1) are enumerated."""

import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import models
from inference import ConvergenceWarning, fit
from inference.arviz import pointwise_log_likelihood
from models import _gaussian

gc, gm = models.gaussian_classifier, models.gaussian_mixture
PARAMS = ("pi", "mu", "sigma", "corr_chol")


def _hide_labels(y, fraction, seed):
    """y with all but ``fraction`` of the labels (chosen at random) replaced by -1."""
    rng = np.random.default_rng(seed)
    kept = rng.permutation(len(y))[: round(fraction * len(y))]
    hidden = np.full(len(y), -1)
    hidden[kept] = y[kept]
    return hidden, kept


@pytest.fixture(scope="module")
def partly():
    sim = gc.simulate(jax.random.PRNGKey(0), 300, 2)
    X, y = np.asarray(sim.data["X"]), np.asarray(sim.data["y"])
    return X, _hide_labels(y, 0.1, 0)[0], sim.params


def test_check_data_marks_the_labelled_rows(partly):
    X, y, _ = partly
    data = gc.check_data(X, y)
    np.testing.assert_array_equal(data["labelled"], y >= 0)
    assert "labelled" not in gc.check_data(X, np.where(y >= 0, y, 0))
    with pytest.raises(ValueError, match=r"y must hold labels in \{0, ..., 1\} \(or -1 for a missing label\); got \[-2\]"):
        gc.check_data(X, np.where(y >= 0, y, -2))
    with pytest.raises(ValueError, match=r"mle needs every label; y has 270 missing \(-1\)"):
        gc.mle(X, y)


def test_pointwise_log_likelihood_scores_labelled_rows_and_sums_out_the_others(partly):
    """log pi_y N(x | mu_y, cov_y) on labelled rows, log sum_c pi_c N(x | mu_c, cov_c) on the
    others, against the closed form of :func:`models._gaussian.log_joint`; both are sums of a
    few float64 terms, so they agree to round-off (1e-12)."""
    X, y, truth = partly
    data = {k: jnp.asarray(v) for k, v in gc.check_data(X, y).items()}
    draws = {k: jnp.asarray(truth[k])[None] for k in PARAMS}
    ours = np.asarray(pointwise_log_likelihood(partial(gc.model), draws, data))[0]
    joint = np.asarray(_gaussian.log_joint(X, truth["pi"], truth["mu"], truth["cov"]))
    expected = np.where(y >= 0, joint[np.arange(len(y)), np.maximum(y, 0)], np.logaddexp.reduce(joint, axis=1))
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shared_covariance", [False, True])
def test_without_labels_it_is_the_mixture(shared_covariance):
    """All labels missing: the classifier's likelihood is the mixture's (full, or tied when
    shared), so from one start EM takes the same path (the same M-step on the same
    responsibilities: equal to round-off, 1e-10 over 20 iterations)."""
    sim = gm.simulate(jax.random.PRNGKey(3), 200, 2)
    X = np.asarray(sim.data["X"])
    covariance_type = "tied" if shared_covariance else "full"
    start = gm.init_values(jax.random.PRNGKey(0), X, covariance_type=covariance_type)
    start["mu"] = start["mu"] + 0.3
    options = dict(init=start, tol=0.0, max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mixture = fit(gm, {"X": X}, "em", covariance_type=covariance_type, **options)
        classifier = fit(gc, {"X": X, "y": np.full(200, -1)}, "em", shared_covariance=shared_covariance, **options)
    np.testing.assert_allclose(classifier.losses, mixture.losses, rtol=1e-10)
    np.testing.assert_allclose(classifier.params["cov"], mixture.params["cov"], atol=1e-10)
    draws = {k: jnp.asarray(classifier.params[k])[None] for k in start}
    pointwise = pointwise_log_likelihood(partial(gc.model, shared_covariance=shared_covariance), draws,
                                         {k: jnp.asarray(v) for k, v in classifier.data.items()})[0]
    np.testing.assert_allclose(pointwise, gm.log_likelihood(classifier.params, X), atol=1e-12)


def test_em_ml_and_map_on_partly_labelled_data(partly):
    X, y, _ = partly
    data = {"X": X, "y": y}
    em = fit(gc, data, "em", tol=1e-12, max_iter=1000)
    trace = -em.losses
    assert em.converged and np.all(np.diff(trace) >= -1e-9 * np.abs(trace).max())
    # the labelled rows keep their labels: their responsibilities are one-hot
    labelled = y >= 0
    np.testing.assert_array_equal(em.info["responsibilities"][labelled].argmax(1), y[labelled])
    np.testing.assert_allclose(em.info["responsibilities"][labelled].max(1), 1.0, rtol=0, atol=0)
    ml = fit(gc, data, "ml", init={k: em.params[k] for k in PARAMS})
    # EM's default reg_covar = 1e-6 moves the maximum by ~1e-6 relative; ML by L-BFGS has none
    np.testing.assert_allclose(ml.losses[-1], em.losses[-1], rtol=1e-7)
    np.testing.assert_allclose(ml.params["mu"], em.params["mu"], atol=1e-5)
    map_em = fit(gc, data, "em", objective="map", tol=1e-12, max_iter=1000)
    map_direct = fit(gc, data, "map", init={k: map_em.params[k] for k in PARAMS})
    np.testing.assert_allclose(map_direct.losses[-1], map_em.losses[-1], rtol=1e-10)


def _log_loss(theta, X, y):
    proba = np.asarray(gc.predict_proba(theta, X))
    return -np.mean(np.log(proba[np.arange(len(y)), y]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ten_percent_of_labels_beat_the_labelled_part_alone(seed):
    """QDA in D = 4 (28 parameters) with overlapping classes (means 1.5 * sqrt(2) apart): 40
    labels alone fit it poorly; the 360 unlabelled rows pin down the class shapes. Held-out
    log-loss on 1000 new rows, and the recovered means: their estimation sd is about 0.07 with
    ~200 rows per class, so 0.25 is over 3 sd for the largest of 8 errors."""
    sim = gc.simulate(jax.random.PRNGKey(seed), 1400, 4, mu=1.5 * np.eye(2, 4))
    X, y = np.asarray(sim.data["X"]), np.asarray(sim.data["y"])
    train, test = slice(0, 400), slice(400, None)
    hidden, kept = _hide_labels(y[train], 0.1, seed)
    semi = fit(gc, {"X": X[train], "y": hidden}, "em", tol=1e-8, max_iter=1000)
    alone = fit(gc, {"X": X[train][kept], "y": y[train][kept]}, "ml")
    assert _log_loss(semi.params, X[test], y[test]) < _log_loss(alone.params, X[test], y[test])
    np.testing.assert_allclose(semi.params["mu"], sim.params["mu"], atol=0.25)
    np.testing.assert_allclose(semi.params["cov"], sim.params["cov"], atol=0.35)


@pytest.mark.slow
def test_nuts_on_partly_labelled_data(partly):
    """NUTS sums the missing labels out; its posterior covers the simulated means within 4
    posterior sd (the posterior is nearly Gaussian with 300 rows; 4 sd for the largest of 4)."""
    X, y, truth = partly
    nuts = fit(gc, {"X": X, "y": y}, "nuts", num_warmup=400, num_samples=400, num_chains=2)
    assert nuts.sample_stats["diverging"].sum() == 0
    assert max(float(np.max(v)) for v in nuts.info["r_hat"].values()) < 1.01
    mean, sd = nuts.samples["mu"].mean((0, 1)), nuts.samples["mu"].std((0, 1))
    np.testing.assert_array_less(np.abs(mean - np.asarray(truth["mu"])), 4 * sd)
