"""Likelihoods without a maximum (issue 6, sections 1-3): reported by ML, never returned as an
estimate, while MAP and the Bayesian fits stay finite."""

import warnings

import numpy as np
import pytest

from inference import ConvergenceWarning, IllPosedWarning, fit
from models import gaussian_classifier as gc
from models import gaussian_mixture as gm
from models import logistic_regression as lr


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


# MAP's L-BFGS ends with Newton steps on the gradient, to 1e-9 per point: cov to ~1e-7 relative.
# MAP-EM's M-steps skip them (no Hessian at every iteration) and may stop where the objective
# stalls in its last bit with the gradient still above gtol; along t = log sigma of the lone
# component the objective is flat (curvature 1/4 per coordinate over 61 points), so t is fixed
# only to ~4e-5 there (7.6e-5 in cov, seen with XLA's triangular solve; 1e-5 with LAPACK's)
@pytest.mark.parametrize("method, options, rtol", [("map", {}, 1e-5), ("em", {"objective": "map"}, 2e-4)],
                         ids=["map", "map-em"])
def test_map_never_collapses(isolated, method, options, rtol):
    """The default prior sigma_d ~ LogNormal(0, 2^2) bounds the posterior: on its one point the
    component's log joint in t = log sigma_d is -t (the likelihood, D of them) - t - t^2 / 8 (the
    prior's density in sigma) per coordinate, whose maximum is at t = -8, so cov = exp(-16) I,
    with LKJ's mode at no correlation. Small but proper, where ML's goes to 0."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # IllPosedWarning included
        result = fit(gm, isolated, method, **options)
    assert result.converged and result.info.get("problem") is None
    k = _lone(result)
    # rtol: see above; the pull of the N(0, 10^2) prior on mu moves mu_k by ~cov_k / 100, far below.
    # The off-diagonal entries are judged on the diagonal's scale (a correlation up to rtol): the
    # objective is as flat along the correlation's coordinate (MAP-EM: -1.5e-12 = 1.3e-5 of it)
    scale = np.exp(-16.0)
    np.testing.assert_allclose(result.params["cov"][k], scale * np.eye(2), rtol=rtol, atol=rtol * scale)
    assert np.all(np.isfinite(result.losses))


def test_a_healthy_fit_raises_no_alarm():
    sim = gm.simulate(np.array([0, 1], dtype=np.uint32), num_data=300, num_components=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", IllPosedWarning)
        for covariance_type in gm.COVARIANCE_TYPES:
            assert fit(gm, sim.data, "em", num_components=3, covariance_type=covariance_type).info["problem"] is None


def test_mle_problem_needs_a_fit():
    assert gm.mle_problem(None, np.zeros((5, 2))) is None


def test_mle_problem_counts_with_the_responsibilities_it_is_given(isolated):
    """EM hands its responsibilities to the check rather than have them computed twice: the same
    verdict from them, and the counts are theirs (uniform ones give the lone component 30.5)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IllPosedWarning)
        result = fit(gm, isolated, "em")
    X, theta = isolated["X"], result.params
    assert gm.mle_problem(theta, X, resp=result.info["responsibilities"]) == gm.mle_problem(theta, X)
    assert f"component {_lone(result)}: n_k = 30.5," in gm.mle_problem(theta, X, resp=np.full((61, 2), 0.5))
    with pytest.raises(ValueError, match=r"resp must be the responsibilities at theta, of shape \(N, K\) = \(61, 2\); "
                       r"got shape \(61, 3\)"):
        gm.mle_problem(theta, X, resp=np.full((61, 3), 1 / 3))


# -- section 2: separation in logistic ML ------------------------------------------------------


def _separated(num_data=100, seed=0):
    X = np.random.default_rng(seed).normal(size=(num_data, 3))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def test_perfect_separation_names_the_separating_features():
    X, y = _separated()
    with pytest.warns(IllPosedWarning, match=r"the classes are perfectly separated.*Separating feature\(s\): x0, x1 \(direction 1 x0 \+ 0.957 x1\)"):
        result = fit(lr, {"X": X, "y": y}, "ml")
    assert not result.converged and result.stderr is None


def test_quasi_separation_is_found_by_the_linear_program():
    # two copies of the origin, one per class: no direction puts them strictly on their sides
    X, y = _separated()
    X, y = np.r_[X, np.zeros((2, 3))], np.r_[y, 0, 1]
    found = lr.separation(X, y)
    assert not found["complete"] and found["features"] == ["x0", "x1"]
    with pytest.warns(IllPosedWarning, match=r"quasi-perfectly separated: .* 3 of them on the boundary"):
        fit(lr, {"X": X, "y": y}, "ml")


def test_separation_through_the_feature_map_is_named_by_its_monomials():
    X = np.random.default_rng(1).normal(size=(200, 2))
    y = (X[:, 0] ** 2 + X[:, 1] ** 2 < 1).astype(int)  # a disc: separated by phi of degree 2 only
    assert lr.separation(X, y) is None
    found = lr.separation(X, y, degree=2)
    assert found["complete"] and set(found["features"]) == {"x0^2", "x1^2", "intercept"}
    # a certificate: no point on the wrong side of the returned direction (the sparsest one leaves
    # a few on the boundary; HiGHS's feasibility tolerance is 1e-7) and some strictly on theirs
    signed = np.where(y == 1, 1.0, -1.0) * (np.c_[lr.feature_map(X, 2), np.ones(200)] @ found["direction"])
    assert signed.min() > -1e-7 and signed.max() > 0.1


def test_no_separation_no_alarm_and_statsmodels_agrees_the_estimate_exists():
    import statsmodels.api as sm

    sim = lr.simulate(np.array([0, 2], dtype=np.uint32), num_data=300, num_features=3)
    X, y = np.asarray(sim.data["X"]), np.asarray(sim.data["y"])
    assert lr.separation(X, y) is None
    # push the logits past the check's threshold (|s| > 15), so the linear programs do run
    theta = {"a": np.array([20.0, 0.0, 0.0]), "b": 0.0}
    assert lr.mle_problem(theta, X, y) is None
    reference = sm.Logit(y, sm.add_constant(X, prepend=False)).fit(method="newton", tol=1e-12, disp=0)
    assert reference.mle_retvals["converged"]


@pytest.mark.parametrize("method, options", [("map", {}), ("nuts", {"num_warmup": 200, "num_samples": 200})])
def test_separated_data_keep_map_and_nuts_finite(method, options):
    X, y = _separated()
    result = fit(lr, {"X": X, "y": y}, method, **options)
    assert all(np.all(np.isfinite(v)) for v in result.params.values())
    if result.samples is not None:
        assert all(np.all(np.isfinite(v)) for v in result.samples.values())


# -- section 3: a singular class covariance ----------------------------------------------------


@pytest.fixture(scope="module")
def degenerate_class():
    """Class 1 has 2 <= D = 3 points, and feature 2 is constant within class 0."""
    X = np.random.default_rng(0).normal(size=(30, 3))
    X[:28, 2] = 5.0
    return {"X": X, "y": np.r_[np.zeros(28, int), 1, 1]}


def test_ml_names_the_singular_class(degenerate_class):
    with pytest.raises(ValueError, match=r"the covariance of class 0 is singular.*points per class: \[28, 2\].*reg_covar"):
        fit(gc, degenerate_class, "ml")


@pytest.mark.parametrize("shared", [False, True], ids=["qda", "lda"])
def test_the_regularised_estimate_is_scikit_learns_m_step(degenerate_class, shared):
    from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters

    X, y = degenerate_class["X"], degenerate_class["y"]
    theta = gc.mle(X, y, shared_covariance=shared, reg_covar=1e-3)
    # scikit-learn's mixture M-step with one-hot responsibilities is the same estimator
    counts, means, covariances = _estimate_gaussian_parameters(X, np.eye(2)[y], 1e-3, "tied" if shared else "full")
    np.testing.assert_allclose(theta["pi"], counts / 30, rtol=1e-12)
    np.testing.assert_allclose(theta["mu"], means, rtol=1e-12)
    np.testing.assert_allclose(theta["cov"], covariances, rtol=1e-10, atol=1e-14)
    proba = gc.predict_proba(theta, X)
    assert np.all(np.isfinite(proba)) and np.allclose(proba.sum(1), 1.0)


def test_reg_covar_is_checked():
    with pytest.raises(ValueError, match=r"reg_covar must be a number >= 0; got -1"):
        gc.mle(np.zeros((4, 1)), [0, 0, 1, 1], reg_covar=-1)


def test_nuts_on_a_singular_class_still_predicts(degenerate_class):
    result = fit(gc, degenerate_class, "nuts", num_warmup=100, num_samples=100)
    proba = gc.predict_proba(result.params, degenerate_class["X"])
    assert np.all(np.isfinite(proba)) and np.allclose(proba.sum(1), 1.0)
