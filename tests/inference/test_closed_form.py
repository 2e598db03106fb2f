"""ML in closed form: where a model offers ``closed_form_ml``, ``fit(..., "ml")`` takes it.

The estimate must be the model's closed form to the last bit, the search's optimum to the
search's precision, and the standard errors the search's; everywhere the closed form does not
apply (missing labels, K > 1, no ML estimate, a start or minibatches asked for, a fixed
parameter) the search runs.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris

from inference import ConvergenceWarning, fit
from models import gaussian_classifier as gc
from models import gaussian_mixture as gm
from models import linear_regression as lr

IRIS = load_iris()


def _cases():
    X = IRIS.data
    return {
        "linear": (lr, {"X": X[:, :3], "y": X[:, 3]}, {}, lambda: lr.mle(X[:, :3], X[:, 3])),
        "qda": (gc, {"X": X, "y": IRIS.target}, {"num_classes": 3}, lambda: gc.mle(X, IRIS.target, num_classes=3)),
        "lda": (gc, {"X": X, "y": IRIS.target}, {"num_classes": 3, "shared_covariance": True},
                lambda: gc.mle(X, IRIS.target, num_classes=3, shared_covariance=True)),
        "one-gaussian": (gm, {"X": X}, {"num_components": 1}, None),
    }


CASES = _cases()


@pytest.mark.parametrize("case", CASES)
def test_ml_is_the_closed_form_to_the_last_bit(case):
    module, data, options, closed = CASES[case]
    result = fit(module, data, "ml", **options)
    assert result.converged and result.info["closed_form"] and result.method_options["closed_form"]
    assert result.num_steps == 0 and result.losses.shape == (1,)
    assert result.info["status"].startswith("closed form")
    expected = closed() if closed else gm.closed_form_ml(module.check_data(**data, **options), **options)
    for name in module.params(data["X"].shape[1], **options):
        np.testing.assert_array_equal(result.params[name], expected[name], err_msg=name)
    if "cov" in expected:  # the model's deterministic site, recomputed from sigma and corr_chol
        np.testing.assert_allclose(result.params["cov"], expected["cov"], rtol=1e-13, atol=1e-15)
    # the one loss is the negative log-likelihood there; the gradient at it is round-off
    assert result.info["grad_norm"] < 1e-12 and result.info["min_eigenvalue"] > 0


@pytest.mark.parametrize("case", CASES)
def test_the_search_reaches_the_closed_form_with_the_same_standard_errors(case):
    module, data, options, _ = CASES[case]
    closed = fit(module, data, "ml", **options)
    searched = fit(module, data, "ml", closed_form=False, **options)
    assert searched.converged and not searched.info["closed_form"] and searched.num_steps > 0
    # L-BFGS stops at max|grad| <= 1e-9 per data point with O(1) curvature: within ~1e-8
    for name, value in closed.params.items():
        np.testing.assert_allclose(searched.params[name], value, rtol=1e-7, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(searched.losses[-1], closed.losses[0], rtol=1e-13)
    # the observed information at two points ~1e-8 apart: the errors agree to ~1e-7
    for name, value in closed.stderr.items():
        np.testing.assert_allclose(searched.stderr[name], value, rtol=1e-6, atol=1e-12, err_msg=name)


def test_mixture_of_one_component_is_the_sample_gaussian_in_every_covariance_type():
    X = IRIS.data
    cov = np.cov(X.T, bias=True)
    expected = {"full": cov, "tied": cov, "diag": np.diag(np.diag(cov)),
                "spherical": np.trace(cov) / 4 * np.eye(4)}
    for covariance_type, matrix in expected.items():
        result = fit(gm, {"X": X}, "ml", num_components=1, covariance_type=covariance_type)
        assert result.info["closed_form"], covariance_type
        np.testing.assert_allclose(result.params["mu"][0], X.mean(0), rtol=1e-14)
        np.testing.assert_allclose(np.reshape(result.params["cov"], (4, 4)), matrix, rtol=1e-13, atol=1e-15)


def _semi_supervised():
    y = IRIS.target.copy()
    y[::3] = gc.MISSING
    return {"X": IRIS.data, "y": y}


@pytest.mark.parametrize("why, module, data, options", [
    ("missing labels", gc, _semi_supervised(), {"num_classes": 3}),
    ("two components", gm, {"X": IRIS.data[:, :2]}, {"num_components": 2}),
    ("an exact fit: no ML", lr, {"X": [1.0, 2.0, 3.0], "y": [3.0, 5.0, 7.0]}, {}),
    ("a start", lr, CASES["linear"][1], {"init": {"sigma": 2.0}}),
    ("minibatches", lr, CASES["linear"][1], {"optimizer": "adam", "batch_size": 50, "max_iter": 200}),
    ("a fixed parameter", lr, CASES["linear"][1], {"priors": {"sigma": 0.5}}),
    ("asked not to", lr, CASES["linear"][1], {"closed_form": False}),
])
def test_the_search_runs_where_the_closed_form_does_not_apply(why, module, data, options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 200 Adam steps stop short, no ML: not the point
        result = fit(module, data, "ml", **options)
    assert not result.info["closed_form"] and result.num_steps > 0, why


def test_a_fixed_sigma_is_kept_and_the_rest_searched():
    data = CASES["linear"][1]
    result = fit(lr, data, "ml", priors={"sigma": 0.5})
    assert result.params["sigma"] == 0.5
    # with sigma fixed the ML of (a, b) is still least squares
    np.testing.assert_allclose(result.params["a"], lr.mle(data["X"], data["y"])["a"], rtol=1e-7)
    with pytest.raises(ValueError, match="fixes 'sigma'"):
        fit(lr, data, "ml", priors={"sigma": -1.0})


def test_a_singular_one_gaussian_is_searched_and_reported_as_a_collapse():
    X = np.random.default_rng(0).normal(size=(30, 3))
    X[:, 2] = 1.0  # a constant feature: the ML covariance is singular
    assert gm.closed_form_ml(gm.check_data(X, num_components=1), num_components=1) is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit(gm, {"X": X}, "ml", num_components=1)
    assert not result.converged and not result.info["closed_form"]


def test_closed_form_is_checked_and_is_an_ml_option_only():
    data = CASES["linear"][1]
    with pytest.raises(TypeError, match=r"closed_form must be True or False; got str 'yes'"):
        fit(lr, data, "ml", closed_form="yes")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['closed_form'\]"):
        fit(lr, data, "map", closed_form=True)


def test_a_second_closed_form_fit_of_the_same_shape_compiles_nothing():
    from inference import _compiled

    data = CASES["qda"][1]
    fit(gc, data, "ml", num_classes=3)
    before = {key: program._cache_size() for key, program in _compiled._PROGRAMS.items()}
    noisy = {"X": data["X"] + 0.01 * np.random.default_rng(1).normal(size=data["X"].shape), "y": data["y"]}
    result = fit(gc, noisy, "ml", num_classes=3)
    assert result.info["closed_form"]
    assert {key: program._cache_size() for key, program in _compiled._PROGRAMS.items()} == before
    np.testing.assert_array_equal(result.params["mu"], gc.mle(noisy["X"], noisy["y"], num_classes=3)["mu"])


def test_map_under_flat_priors_searches_and_reaches_the_closed_form():
    data = CASES["linear"][1]
    flat = {name: "flat" for name in lr.params(3)}
    map_flat = fit(lr, data, "map", priors=flat)
    assert "closed_form" not in map_flat.method_options and map_flat.num_steps > 0
    np.testing.assert_allclose(map_flat.params["a"], fit(lr, data, "ml").params["a"], rtol=1e-7)


def test_collinear_features_give_no_one_gaussian_closed_form_and_the_search_reports_the_collapse():
    # an exact linear combination: the covariance is singular up to round-off, where its
    # Cholesky factor may or may not exist in float64 (it failed on 33 seeds of 200 before)
    for seed in range(20):
        X = np.random.default_rng(seed).normal(size=(30, 3))
        X[:, 2] = 0.3 * X[:, 0] + 0.7 * X[:, 1]
        assert gm.closed_form_ml(gm.check_data(X, num_components=1), num_components=1) is None, seed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit(gm, {"X": X}, "ml", num_components=1)
    assert not result.converged and not result.info["closed_form"]


def test_a_closed_form_that_fails_the_gradient_test_is_searched_from_instead():
    # features of scale 100 with noise 0.01: lstsq's round-off leaves a gradient of ~1e-7 per
    # data point, above gtol 1e-9: the result is the search's, not a closed form that failed
    rng = np.random.default_rng(0)
    X = 100 * rng.normal(size=(200, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.01 * rng.normal(size=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the search may stop short of gtol too
        result = fit(lr, {"X": X, "y": y}, "ml")
    assert not result.info["closed_form"] and result.num_steps > 0
    np.testing.assert_allclose(result.params["a"], lr.mle(X, y)["a"], rtol=1e-7)


def test_a_closed_form_outside_a_priors_support_is_not_returned():
    import numpyro.distributions as dist

    data = CASES["linear"][1]  # sigma's ML is 0.187: outside Uniform(0, 0.1)
    try:
        result = fit(lr, data, "ml", priors={"sigma": dist.Uniform(0.0, 0.1)})
    except ValueError:
        return  # the search's own start outside the support: an error, never a value outside it
    assert not result.info["closed_form"] and result.params["sigma"] < 0.1
