"""ML and MAP through the one ``fit`` call, for every lecture model."""

import warnings

import jax
import numpy as np
import numpyro.distributions as dist
import pytest

import models
from inference import METHODS, ConvergenceWarning, Fit, fit

# every lecture model on small simulated data, with the options its simulation used
CASES = {
    "linear_regression": (lambda k: models.linear_regression.simulate(k, 60, 2), {}),
    "logistic_regression": (lambda k: models.logistic_regression.simulate(k, 150, 2), {}),
    "gaussian_classifier": (lambda k: models.gaussian_classifier.simulate(k, 150, 2), {}),
    "gaussian_mixture": (lambda k: models.gaussian_mixture.simulate(k, 150, 2), {"num_components": 2}),
    "pushforward": (lambda k: models.pushforward.simulate(k, 300), {}),
}


def _data(name, seed=0):
    simulate, options = CASES[name]
    return simulate(jax.random.PRNGKey(seed)).data, options


def _close(a, b, rtol):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=rtol, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("method", ["ml", "map"])
def test_every_model_through_the_same_call(name, method):
    data, options = _data(name)
    result = fit(name, data, method, **options)
    assert isinstance(result, Fit) and result.method == method and result.converged
    assert result.model is models.MODELS[name] and result.model_name == name
    assert all(np.all(np.isfinite(v)) for v in result.params.values())
    assert set(models.MODELS[name].params(data["X"].reshape(len(data["X"]), -1).shape[1], **options)) <= set(result.params)
    # the optimiser decreased the objective it reports; a closed form reports its one value
    if result.info.get("closed_form"):
        assert result.num_steps == 0 and result.losses.shape == (1,)
    else:
        assert result.losses[-1] < result.losses[0]


@pytest.mark.parametrize("name", CASES)
def test_map_with_flat_priors_equals_ml(name):
    data, options = _data(name)
    X = np.asarray(data["X"]).reshape(len(data["X"]), -1)
    flat = {p: "flat" for p in models.MODELS[name].params(X.shape[1], **options)}
    ml = fit(name, data, "ml", closed_form=False, **options)
    map_flat = fit(name, data, "map", priors=flat, **options)
    # the same objective from the same start (ML searching, where the model has a closed form):
    # the same optimum to the optimiser's precision
    _close(map_flat.params, ml.params, rtol=1e-6)
    # and the same path, to round-off: the two are different programs (ML also computes its
    # standard errors), which XLA fuses differently, so a loss may differ in its last bit (1e-13
    # at 516 for the classifier) and the line search may then end a step sooner or later near
    # the optimum, where the loss no longer changes
    common = min(len(map_flat.losses), len(ml.losses))
    np.testing.assert_allclose(map_flat.losses[:common], ml.losses[:common], rtol=1e-12)
    np.testing.assert_allclose(map_flat.losses[-1], ml.losses[-1], rtol=1e-14)


def test_map_with_a_very_wide_prior_approaches_ml():
    data, _ = _data("linear_regression")
    ml = fit("linear_regression", data, "ml")
    wide = {"a": dist.Normal(0.0, 1e4), "b": dist.Normal(0.0, 1e4), "sigma": dist.HalfNormal(1e4)}
    narrow = {"a": dist.Normal(0.0, 0.1)}
    # the log prior's gradient is theta / 1e8, so the mode moves by ~1e-8 relative
    _close(fit("linear_regression", data, "map", priors=wide).params, ml.params, rtol=1e-6)
    assert np.max(np.abs(fit("linear_regression", data, "map", priors=narrow).params["a"])) < np.max(np.abs(ml.params["a"]))


def test_ml_ignores_the_priors():
    data, _ = _data("logistic_regression")
    odd = {"a": dist.Normal(5.0, 0.01), "b": dist.Cauchy(3.0, 0.1)}
    _close(fit("logistic_regression", data, "ml", priors=odd).params, fit("logistic_regression", data, "ml").params, rtol=1e-6)


def test_non_convergence_is_reported():
    data, _ = _data("logistic_regression")
    with pytest.warns(ConvergenceWarning, match=r"ml for logistic_regression did not converge after 2 steps: max_iter reached"):
        result = fit("logistic_regression", data, "ml", max_iter=2)
    assert not result.converged and result.num_steps == 2 and result.info["status"] == "max_iter reached"


def test_a_saddle_point_is_not_reported_as_an_optimum():
    data, options = _data("gaussian_mixture")
    good = fit("gaussian_mixture", data, "ml", **options)
    # both components started on one point: by symmetry the gradient keeps them together and
    # L-BFGS converges to a saddle of eq. 1.15 (the trap of numpyro.optim.Minimize)
    same = {"mu": np.zeros((2, 2)), "pi": np.array([0.5, 0.5]), "sigma": np.ones((2, 2)), "corr_chol": np.stack([np.eye(2)] * 2)}
    with pytest.warns(ConvergenceWarning, match="stopped at a saddle point"):
        poor = fit("gaussian_mixture", data, "ml", init=same, **options)
    assert not poor.converged and poor.info["min_eigenvalue"] < 0
    assert poor.losses[-1] > good.losses[-1] and good.info["min_eigenvalue"] > 0


def test_minibatch_adam_approaches_least_squares():
    sim = models.linear_regression.simulate(jax.random.PRNGKey(9), 20000, 3)
    closed = models.linear_regression.mle(sim.data["X"], sim.data["y"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed step leaves minibatch noise
        result = fit("linear_regression", sim.data, "ml", optimizer="adam", batch_size=256, max_iter=3000, learning_rate=0.01)
    assert result.method_options["batch_size"] == 256
    # with step 0.01 and 256 rows a batch, the iterates jitter by ~0.01 around the optimum
    np.testing.assert_allclose(result.params["a"], closed["a"], atol=0.03)
    np.testing.assert_allclose(result.params["sigma"], closed["sigma"], atol=0.03)


def test_minibatches_need_adam():
    data, _ = _data("linear_regression")
    with pytest.raises(ValueError, match=r"batch_size needs optimizer='adam' and at most num_data = 60 rows; got batch_size = 10 with optimizer = 'lbfgs'"):
        fit("linear_regression", data, "ml", batch_size=10)


def test_adam_is_an_option():
    data, _ = _data("linear_regression")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = fit("linear_regression", data, "ml", optimizer="adam", learning_rate=0.05, max_iter=3000)
    np.testing.assert_allclose(result.params["a"], fit("linear_regression", data, "ml").params["a"], rtol=1e-3)


def test_init_sets_the_start():
    data, _ = _data("linear_regression")
    with pytest.warns(ConvergenceWarning):
        result = fit("linear_regression", data, "ml", init={"sigma": 3.0}, max_iter=1)
    # one step from sigma = 3 cannot have reached the optimum; the start is the trace's first value
    y = np.asarray(data["y"])
    nll0 = 0.5 * len(y) * np.log(2 * np.pi * 9.0) + np.sum((y - y.mean()) ** 2) / 18.0
    np.testing.assert_allclose(result.losses[0], nll0, rtol=1e-12)


def test_same_seed_same_result():
    data, options = _data("gaussian_mixture")
    a = fit("gaussian_mixture", data, "map", seed=7, **options)
    b = fit("gaussian_mixture", data, "map", seed=7, **options)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])


def test_methods_table_lists_ml_and_map():
    assert {"ml", "map"} <= set(METHODS)


def test_hessian_false_gives_the_same_optimum_without_the_second_order_work():
    """The Hessian comes after the search: skipping it leaves the optimum bit for bit (the run
    converged on the gradient test, so no Newton polish moved it) and drops only what it gives,
    the Wald standard errors and the smallest eigenvalue."""
    data, _ = _data("logistic_regression")
    full = fit("logistic_regression", data, "ml")
    fast = fit("logistic_regression", data, "ml", hessian=False)
    assert full.info["status"] == fast.info["status"] == "gradient norm below gtol"
    for name in full.params:
        np.testing.assert_array_equal(fast.params[name], full.params[name])
    assert full.stderr is not None and fast.stderr is None
    assert np.isfinite(full.info["min_eigenvalue"]) and np.isnan(fast.info["min_eigenvalue"])
    with pytest.raises(TypeError, match=r"hessian must be True or False; got str 'no'"):
        fit("logistic_regression", data, "ml", hessian="no")


def test_ml_takes_the_models_observed_information_where_its_coordinates_are_the_models(monkeypatch):
    """Logistic regression offers its observed information in closed form: ML's Hessian is then
    that, not automatic differentiation's, and every result derived from it is the same to
    round-off. A prior that fixes a parameter (the hook's theta would lack it) or maps one onto
    another support (the unconstrained coordinates are then not the model's own) keeps autodiff."""
    from inference import _compiled

    logreg = models.logistic_regression
    data, _ = _data("logistic_regression")
    hook, calls = logreg.observed_information, []

    def counted(*args, **kwargs):
        calls.append(kwargs)
        return hook(*args, **kwargs)

    def fresh_fit(**kwargs):
        # the programs are cached by model and options, not by the hook: trace each afresh
        monkeypatch.setattr(_compiled, "_PROGRAMS", type(_compiled._PROGRAMS)())
        return fit(logreg, data, "ml", **kwargs)

    monkeypatch.setattr(logreg, "observed_information", counted)
    closed = fresh_fit()
    assert len(calls) == 1 and calls[0]["weights"] is not None  # the padding rows' mask
    for priors in ({"b": -0.5}, {"a": dist.HalfNormal(1.0).expand([2]).to_event(1)}):
        with warnings.catch_warnings():
            # a >= 0 holds the simulation's negative slope on the boundary: the fit says so
            warnings.simplefilter("ignore", ConvergenceWarning)
            fresh_fit(priors=priors)
        assert len(calls) == 1, priors
    monkeypatch.delattr(logreg, "observed_information")
    autodiff = fresh_fit()
    assert closed.info["status"] == autodiff.info["status"] == "gradient norm below gtol"
    for name in closed.params:
        np.testing.assert_array_equal(closed.params[name], autodiff.params[name])  # the Hessian comes after the search
    # one matrix by two sums of the same 150 terms: round-off of ~1e-15 relative, through a 3 x 3 inverse
    np.testing.assert_allclose(closed.covariance, autodiff.covariance, rtol=1e-12)
    np.testing.assert_allclose(closed.info["min_eigenvalue"], autodiff.info["min_eigenvalue"], rtol=1e-12)


@pytest.mark.parametrize("method", ["ml", "em"])
def test_a_fit_pickles_with_its_model_by_name(method):
    """For another process (the mixture script draws its figures in one): every field comes back
    equal, the model as the same module object, and the copy plots and converts as the fit does."""
    import pickle

    sim = models.gaussian_mixture.simulate(jax.random.PRNGKey(0), 60, 2)
    result = fit("gaussian_mixture", sim.data, method, num_components=2)
    copy = pickle.loads(pickle.dumps(result))
    assert isinstance(copy, Fit) and copy.model is models.gaussian_mixture
    for name in Fit._fields:
        if name != "model":
            jax.tree.map(np.testing.assert_array_equal, getattr(copy, name), getattr(result, name))
    np.testing.assert_array_equal(copy.idata.posterior["mu"], result.idata.posterior["mu"])
