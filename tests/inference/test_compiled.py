"""Every method compiles its fit once per model, options, priors and data shape: a refit of new
data of the same shape (a bootstrap, simulation-based calibration) traces and compiles nothing,
and new shapes or options compile anew without disturbing the cached programs."""

import warnings
from functools import partial

import jax
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from jax import monitoring
from scipy import stats

import models
from inference import _compiled, fit
from inference._point import ROW_BLOCK
from inference.arviz import pointwise_log_likelihood

SMALL = {
    "ml": {},
    "map": {},
    "laplace": {"num_samples": 20},
    "vi": {"num_steps": 50, "num_samples": 20},
    "vi-minibatch": {"num_steps": 50, "num_samples": 20, "batch_size": 10},
    "nuts": {"num_warmup": 30, "num_samples": 30},
}


def _compilations(call):
    events = []

    def listen(event, duration, **kwargs):
        events.append(event)

    monitoring.register_event_duration_secs_listener(listen)
    try:
        call()
    finally:
        monitoring.unregister_event_duration_listener(listen)
    return [e for e in events if e.startswith("/jax/core/compile")]


def _data(seed, num_data=25):
    return models.linear_regression.simulate(jax.random.PRNGKey(seed), num_data, 2).data


@pytest.mark.parametrize("case", SMALL)
def test_a_refit_of_same_shaped_data_compiles_nothing(case):
    method = case.split("-")[0]
    # priors of their own, so that no other test has compiled this program already
    options = dict(SMALL[case], priors={"a": dist.Normal(0.0, 3.0)})
    fit("linear_regression", _data(10), method, seed=0, **options)
    assert not _compilations(lambda: fit("linear_regression", _data(11), method, seed=1, **options))
    # ML and MAP pad the rows to a multiple of ROW_BLOCK: another size is another shape beyond it
    other = ROW_BLOCK + 1 if method in ("ml", "map") else 26
    assert _compilations(lambda: fit("linear_regression", _data(12, num_data=other), method, seed=1, **options))


@pytest.mark.parametrize("method, options", [("ml", {"closed_form": False}), ("ml", {}), ("map", {})],
                         ids=["ml-search", "ml-closed-form", "map"])
def test_point_estimates_of_1_to_row_block_rows_are_one_program(method, options):
    """The learning curves of section 1.2: training sets of many sizes, one compiled fit."""
    priors = {"a": dist.Normal(0.0, 5.0)}  # priors of their own: no other test has compiled it
    fit("linear_regression", _data(20, num_data=10), method, priors=priors, **options)
    for seed, num_data in enumerate((20, 40, 320, ROW_BLOCK), start=21):
        data = _data(seed, num_data)
        assert not _compilations(lambda: fit("linear_regression", data, method, priors=priors, **options)), num_data
    data = _data(23, 320)  # the padded fit is the fit of the data's own rows
    fitted = fit("linear_regression", data, method, priors=priors, **options)
    if method == "ml":  # least squares: the closed form to the search's precision (~1e-9)
        for name, value in models.linear_regression.mle(data["X"], data["y"]).items():
            np.testing.assert_allclose(fitted.params[name], value, rtol=1e-7, err_msg=name)
    assert fitted.converged


def test_the_cache_keeps_the_last_programs_only(monkeypatch):
    monkeypatch.setattr(_compiled, "MAX_PROGRAMS", 2)
    monkeypatch.setattr(_compiled, "_PROGRAMS", type(_compiled._PROGRAMS)())
    data = _data(13)
    for max_iter in (51, 52, 51, 53):  # 51 is used again before 53 arrives: 52 is the oldest then
        fit("linear_regression", data, "ml", max_iter=max_iter)
    assert [dict(key[-1])["max_iter"] for key in _compiled._PROGRAMS] == [51, 53]


def test_the_seed_still_changes_the_draws_of_a_cached_program():
    data = _data(14)
    first, second = (fit("linear_regression", data, "vi", seed=s, **SMALL["vi"]).samples["a"] for s in (0, 1))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, fit("linear_regression", data, "vi", seed=0, **SMALL["vi"]).samples["a"])


def test_the_log_likelihood_group_compiles_once_per_model_and_shape():
    """Every fit's InferenceData holds the pointwise log-likelihood (for LOO and WAIC): one program
    per model, options, priors and shapes, not one per fit, as in a scan over many fits."""
    priors = {"a": dist.Normal(0.0, 4.0)}  # priors of their own: no other test has compiled it
    first, second = (fit("linear_regression", _data(seed), "ml", priors=priors) for seed in (15, 16))
    assert _compilations(lambda: first.idata)
    assert not _compilations(lambda: second.idata)
    # the cached program scores the second fit's own data at its own estimate (eq. 1.11)
    data, theta = _data(16), second.params
    expected = stats.norm.logpdf(data["y"], data["X"] @ theta["a"] + theta["b"], theta["sigma"])
    np.testing.assert_allclose(second.idata.log_likelihood["y"].values[0, 0], expected, rtol=1e-13)


def test_models_of_the_callers_own_are_never_confused():
    """Two closures share a name (``make.<locals>.model``) but not a likelihood: only the layer's
    own bindings of a model module are cached."""

    def make(scale):
        def model(X, y=None):
            loc = numpyro.sample("loc", dist.Normal(0.0, 1.0))
            with numpyro.plate("data", X.shape[0]):
                numpyro.sample("y", dist.Normal(loc, scale), obs=y)

        return model

    data = {"X": np.zeros((3, 1)), "y": np.array([0.0, 1.0, 2.0])}
    for scale in (1.0, 10.0):
        ours = pointwise_log_likelihood(partial(make(scale)), {"loc": np.zeros(1)}, data)
        np.testing.assert_allclose(ours[0], stats.norm.logpdf(data["y"], 0.0, scale), rtol=1e-14)


def test_every_fit_compiles_with_its_methods_xla_options():
    """conftest has the optimisers' programs (VI's too) keyed and jitted at -O0, NUTS's at -O3
    (its own option: the process compiles at -O0), and the log-likelihood group's at the
    process's default (the key's fifth entry is what jax.jit gets)."""
    data = _data(21)
    for method in ("ml", "map", "laplace", "vi", "nuts"):
        result = fit("linear_regression", data, method, **SMALL[method])
        key = next(reversed(_compiled._PROGRAMS))
        assert key[0] == method
        expected = {"xla_backend_optimization_level": 0 if method != "nuts" else 3}
        assert key[4] == _compiled.freeze(expected), method
        result.idata  # noqa: B018  (compiles the pointwise log-likelihood)
        assert next(reversed(_compiled._PROGRAMS))[4] == _compiled.freeze({})


def test_programs_are_traced_with_numpyro_validation_off():
    """``fit`` has checked the data before tracing, so the programs carry no per-row
    ``where(value in support, log_prob, -inf)``: Bernoulli's log-density of 2 is its formula's
    value, not -inf. Validation is back on after the trace."""
    seen = []

    def log_density(value):
        seen.append(dist.Distribution._validate_args)
        return dist.Bernoulli(logits=0.0).log_prob(value)

    program = _compiled.compiled("unvalidated-test", models.logistic_regression, {}, None, {}, log_density)
    assert float(program(2)) == pytest.approx(np.log(0.5), rel=1e-15)
    assert seen == [False]
    assert dist.Distribution._validate_args
    assert float(jax.jit(log_density)(2)) == -np.inf


def test_reading_the_models_sites_compiles_nothing():
    """AIC and BIC count the free parameters, and ML, MAP and VI find the enumerated sites, from
    an abstract trace of the model. Validated, each distribution would check its arguments under
    ``jax.ensure_compile_time_eval``: on the trace's constants (the priors' hyperparameters) one
    compiled program per operation, 26 in the mixture script. At K = 13 components, a shape that
    no fit here has given ``Dirichlet(ones(K))``, whose programs would otherwise be cached."""
    from inference._setup import enumerated_sites
    from inference.criteria import num_free_params

    X = np.random.default_rng(0).normal(size=(40, 2))
    K = 13
    values = {"pi": np.full(K, 1 / K), "mu": np.zeros((K, 2)), "sigma": np.ones((K, 2)),
              "corr_chol": np.broadcast_to(np.eye(2), (K, 2, 2))}
    with pytest.warns(UserWarning):  # two EM steps of 3 components on 40 points: not converged
        mixture = fit("gaussian_mixture", {"X": X}, "em", num_components=3, max_iter=2)
    mixture = mixture._replace(params=values, options={**mixture.options, "num_components": K})
    model = partial(models.gaussian_mixture.model, num_components=K)
    assert dist.Distribution._validate_args  # NumPyro's default: the case to guard
    found = {}
    events = _compilations(lambda: found.update(sites=enumerated_sites(model, values, {"X": X}),
                                                count=num_free_params(mixture)))
    assert events == ["/jax/core/compile/jaxpr_trace_duration"] * 2  # the two abstract traces, nothing else
    assert found == {"sites": {"z": K}, "count": (K - 1) + 2 * K + 2 * K + K}


def test_a_module_level_function_is_jitted_once_per_xla_options(monkeypatch):
    """``compiled_function`` keys on the function, its static names and the method's XLA options
    at the call; a bare string of names (which JAX would split into letters) is refused."""
    from inference import xla

    def double(x, *, times):
        return x * times

    quick = _compiled.compiled_function("em", double, ("times",))
    assert _compiled.compiled_function("em", double, ("times",)) is quick
    monkeypatch.setattr(xla, "_quick_methods", ())
    assert _compiled.compiled_function("em", double, ("times",)) is not quick
    assert float(quick(3.0, times=2)) == 6.0
    with pytest.raises(TypeError, match=r"static_argnames must be a tuple of names; got str 'times'"):
        _compiled.compiled_function("em", double, "times")


@pytest.mark.parametrize("options", [{}, {"objective": "map"}, {"engine": "generic"}, {"init_method": "random"}],
                         ids=["compiled", "map-em", "generic", "random-start"])
def test_an_em_refit_of_same_shaped_data_compiles_nothing(options):
    """EM's E-step, numerical M-step and log prior are kept per model binding and shapes, as the
    other methods' programs: they were jitted afresh at every fit (MAP-EM compiled three again)."""
    def data(seed):  # two clusters, 61 rows, a shape no other test gives the mixture
        rng = np.random.default_rng(seed)
        return {"X": np.concatenate([rng.normal(size=(30, 2)), 4.0 + rng.normal(size=(31, 2))])}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few EM iterations may not converge: the compilations are the point
        fit("gaussian_mixture", data(1), "em", num_components=2, max_iter=5, **options)
        events = _compilations(lambda: fit("gaussian_mixture", data(2), "em", num_components=2, seed=3, max_iter=5,
                                           **options))
    # EM reads the model's enumerated site from an abstract trace (jax.eval_shape): a trace that
    # lowers and compiles nothing
    assert set(events) <= {"/jax/core/compile/jaxpr_trace_duration"}, events
