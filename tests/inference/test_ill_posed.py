"""Likelihoods without a maximum (issue 6, sections 1-3): reported by ML, never returned as an
estimate, while MAP and the Bayesian fits stay finite."""

import warnings

import numpy as np
import pytest

from inference import ConvergenceWarning, IllPosedWarning, fit
from models import gaussian_mixture as gm


@pytest.fixture(scope="module")
def isolated():
    """60 points around the origin and one far away: k-means gives the far one its own component."""
    rng = np.random.default_rng(0)
    return {"X": np.concatenate([rng.normal(size=(60, 2)), [[30.0, -30.0]]])}


def _lone(result):
    return int(np.argmin(result.params["pi"]))


def test_em_names_the_collapsed_component_and_reg_covar_holds_it(isolated):
    with pytest.warns(IllPosedWarning, match=r"em: the ML estimate does not exist: the fit has collapsed "
                      r"\(component (0|1): n_k = 1,.*reg_covar = 1e-06 holds the covariances"):
        result = fit(gm, isolated, "em")
    k = _lone(result)
    assert f"component {k}: n_k = 1," in result.info["problem"]
    # the component sits on the point with the covariance scikit-learn's guard leaves: reg_covar I
    # (the other 60 points' responsibilities for it are below exp(-400)). The compiled M-step takes
    # the second moment less the mean's square, both ~|x|^2 = 1800: round-off ~1e-13 absolute
    np.testing.assert_allclose(result.params["mu"][k], isolated["X"][-1], rtol=1e-12)
    np.testing.assert_allclose(result.params["cov"][k], 1e-6 * np.eye(2), rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.params["pi"][k], 1 / 61, rtol=1e-12)


def test_ml_reports_the_collapse_and_is_not_converged(isolated):
    with pytest.warns(IllPosedWarning, match=r"ml for gaussian_mixture did not converge .*the fit has collapsed \(component"):
        result = fit(gm, isolated, "ml")
    assert not result.converged and result.stderr is None
    assert "n_k = 1," in result.info["problem"]


@pytest.mark.parametrize("method, options", [("map", {}), ("em", {"objective": "map"})], ids=["map", "map-em"])
def test_map_never_collapses(isolated, method, options):
    """The default prior sigma_d ~ LogNormal(0, 2^2) bounds the posterior: on its one point the
    component's log joint in t = log sigma_d is -t (the likelihood, D of them) - t - t^2 / 8 (the
    prior's density in sigma) per coordinate, whose maximum is at t = -8, so cov = exp(-16) I,
    with LKJ's mode at no correlation. Small but proper, where ML's goes to 0."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # IllPosedWarning included
        result = fit(gm, isolated, method, **options)
    assert result.converged and result.info.get("problem") is None
    k = _lone(result)
    # the optimiser's gradient test (1e-9 per data point) leaves ~1e-7 relative in cov; the pull of
    # the N(0, 10^2) prior on mu moves mu_k by ~cov_k / 100, far below that
    np.testing.assert_allclose(result.params["cov"][k], np.exp(-16.0) * np.eye(2), rtol=1e-5, atol=1e-12)
    assert np.all(np.isfinite(result.losses))


def test_a_healthy_fit_raises_no_alarm():
    sim = gm.simulate(np.array([0, 1], dtype=np.uint32), num_data=300, num_components=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", IllPosedWarning)
        for covariance_type in gm.COVARIANCE_TYPES:
            assert fit(gm, sim.data, "em", num_components=3, covariance_type=covariance_type).info["problem"] is None


def test_mle_problem_needs_a_fit():
    assert gm.mle_problem(None, np.zeros((5, 2))) is None
