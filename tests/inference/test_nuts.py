"""NUTS through the same ``fit`` call, and the one bridge to ArviZ."""

import warnings
from collections import OrderedDict
from functools import partial

import jax
import numpy as np
import pytest
from numpyro.infer import mcmc

import models
from inference import _compiled, fit, nuts
from inference.arviz import import_arviz

CASES = {
    "linear_regression": (lambda k: models.linear_regression.simulate(k, 100, 2), {}),
    "logistic_regression": (lambda k: models.logistic_regression.simulate(k, 200, 2), {}),
    "gaussian_classifier": (lambda k: models.gaussian_classifier.simulate(k, 200, 2), {}),
    "gaussian_mixture": (lambda k: models.gaussian_mixture.simulate(k, 200, 2), {"num_components": 2, "ordered": True}),
    # scale and tailweight are strongly correlated a posteriori: a diagonal mass matrix mixes
    # slowly enough that 2 x 500 draws miss R-hat < 1.01 on about half the seeds
    "pushforward": (lambda k: models.pushforward.simulate(k, 300), {"dense_mass": True}),
}


@pytest.fixture(scope="module")
def mixture_fit():
    data = models.gaussian_mixture.simulate(jax.random.PRNGKey(0), 120, 2).data
    return fit("gaussian_mixture", data, "nuts", num_components=2, ordered=True, num_warmup=200, num_samples=200)


def test_nuts_samples_and_summarises(mixture_fit):
    assert mixture_fit.samples["mu"].shape == (1, 200, 2, 2)
    assert "z" not in mixture_fit.samples  # summed out, never sampled
    np.testing.assert_allclose(mixture_fit.params["mu"], mixture_fit.samples["mu"].mean((0, 1)))
    assert mixture_fit.sample_stats["diverging"].shape == (1, 200)


def test_idata_has_every_group_and_a_finite_loo(mixture_fit):
    idata = mixture_fit.idata
    assert {"posterior", "sample_stats", "log_likelihood", "observed_data"} <= set(idata.groups())
    assert idata.log_likelihood["X"].shape == (1, 200, 120)
    assert idata.posterior.attrs["method"] == "nuts"
    # 200 draws of one chain: a Pareto k above 0.57 at some row is chance (and ArviZ warns), not
    # what this test checks
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Estimated shape parameter of Pareto", UserWarning)
        loo = import_arviz().loo(idata)
    assert np.isfinite(loo.elpd_loo)


def test_idata_without_the_log_likelihood_keeps_every_other_group_as_it_is(mixture_fit):
    full, lean = mixture_fit.idata, mixture_fit.to_idata(log_likelihood=False)
    assert set(lean.groups()) == set(full.groups()) - {"log_likelihood"}
    for group in lean.groups():
        xr_full, xr_lean = getattr(full, group), getattr(lean, group)
        stamp = {"created_at": None}  # ArviZ's time of the conversion
        assert {**xr_lean.attrs, **stamp} == {**xr_full.attrs, **stamp}
        for name, value in xr_full.data_vars.items():
            np.testing.assert_array_equal(xr_lean[name].values, value.values)


def test_marginal_pointwise_log_likelihood_equals_the_mixture_formula(mixture_fit):
    idata = mixture_fit.idata
    draw = {k: mixture_fit.samples[k][0, 7] for k in ("pi", "mu", "cov")}
    expected = models.gaussian_mixture.log_likelihood(draw, mixture_fit.data["X"])
    np.testing.assert_allclose(idata.log_likelihood["X"].values[0, 7], expected, rtol=1e-10)


def test_point_estimates_convert_too():
    data = models.linear_regression.simulate(jax.random.PRNGKey(0), 50, 2).data
    result = fit("linear_regression", data, "ml")
    idata = result.idata
    assert idata.posterior["a"].shape == (1, 1, 2) and idata.posterior.attrs["method"] == "ml"
    np.testing.assert_allclose(idata.log_likelihood["y"].values.sum(), -result.losses[-1], rtol=1e-12)


def test_netcdf_round_trip(mixture_fit, tmp_path):
    path = tmp_path / "fit.nc"
    mixture_fit.idata.to_netcdf(str(path), engine="h5netcdf")
    back = import_arviz().from_netcdf(str(path), engine="h5netcdf")
    for group in ("posterior", "log_likelihood", "sample_stats"):
        for name, value in getattr(mixture_fit.idata, group).data_vars.items():
            np.testing.assert_array_equal(getattr(back, group)[name].values, value.values)
    assert back.posterior.attrs["method"] == "nuts"


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_nuts_converges_on_every_lecture_model(name):
    simulate, options = CASES[name]
    result = fit(name, simulate(jax.random.PRNGKey(1)).data, "nuts", num_chains=2, num_warmup=500, num_samples=500, **options)
    assert result.info["num_divergent"] == 0
    assert max(result.info["r_hat"].values()) < 1.01, result.info["r_hat"]
    assert result.converged


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"num_samples": 0}, ValueError, r"num_samples must be >= 1; got num_samples = 0"),
        ({"num_warmup": -1}, ValueError, r"num_warmup must be >= 0; got num_warmup = -1"),
        ({"chain_method": "threads"}, ValueError, r"chain_method must be one of \['parallel', 'sequential', 'vectorized'\]; got 'threads'"),
        ({"optimizer": "lbfgs"}, ValueError, r"unknown option\(s\) \['optimizer'\]; linear_regression takes \['fit_intercept'\] and method 'nuts' takes"),
    ],
)
def test_bad_nuts_options_are_named(options, error, match):
    data = models.linear_regression.simulate(jax.random.PRNGKey(0), 20, 2).data
    with pytest.raises(error, match=match):
        fit("linear_regression", data, "nuts", **options)


def test_posterior_predictive_on_request():
    sim = models.linear_regression.simulate(jax.random.PRNGKey(3), 80, 2)
    result = fit("linear_regression", sim.data, "nuts", num_warmup=300, num_samples=300)
    assert "posterior_predictive" not in result.idata.groups()
    replicated = result.to_idata(predictive=True).posterior_predictive["y"].values
    assert replicated.shape == (1, 300, 80)
    y = np.asarray(sim.data["y"])
    # each replicate's mean has sd ~ sigma / sqrt(N) = 0.06 around the fitted line's mean,
    # which itself lies within ~0.06 of y's mean: 0.3 is several of those
    assert abs(replicated.mean() - y.mean()) < 0.3
    np.testing.assert_allclose(replicated.std(axis=2).mean(), y.std(), rtol=0.2)


def test_posterior_predictive_of_the_mixture_replicates_X(mixture_fit):
    replicated = mixture_fit.to_idata(predictive=True, seed=1).posterior_predictive["X"].values
    assert replicated.shape == (1, 200, 120, 2)
    # the replicates spread like the data: two clusters 8 apart on the first axis
    np.testing.assert_allclose(replicated.std(axis=2).mean((0, 1)), np.asarray(mixture_fit.data["X"]).std(0), rtol=0.2)
    assert "versions" in mixture_fit.idata.posterior.attrs


def test_init_still_sets_where_the_chain_starts():
    data = models.linear_regression.simulate(jax.random.PRNGKey(12), 25, 2).data
    options = dict(num_warmup=20, num_samples=20, seed=5)
    default = fit("linear_regression", data, "nuts", **options)
    start = models.linear_regression.init_values(None, np.asarray(data["X"]), np.asarray(data["y"]))
    same = fit("linear_regression", data, "nuts", init=start, **options)
    elsewhere = fit("linear_regression", data, "nuts", init={**start, "a": np.array([3.0, -3.0])}, **options)
    np.testing.assert_array_equal(same.samples["a"], default.samples["a"])  # the default start is init_values
    assert not np.array_equal(elsewhere.samples["a"], default.samples["a"])


def test_parallel_chains_without_a_device_each_run_one_after_another_with_a_warning():
    """This process has one JAX device (tests/conftest.py): two parallel chains run as the
    sequential ones do, from the same keys, so their draws are the same to the bit."""
    data = models.linear_regression.simulate(jax.random.PRNGKey(2), 50, 2).data
    options = dict(num_chains=2, num_warmup=30, num_samples=30)
    with pytest.warns(UserWarning, match=r"chain_method='parallel' runs one chain per JAX device, and there are 1 "
                                         r"for 2 chains: the chains run one after another"):
        parallel = fit("linear_regression", data, "nuts", chain_method="parallel", **options)
    sequential = fit("linear_regression", data, "nuts", **options)
    assert parallel.method_options["chain_method"] == "sequential"
    for name in sequential.samples:
        np.testing.assert_array_equal(parallel.samples[name], sequential.samples[name])


def test_sequential_chains_are_traced_once_and_draw_what_numpyro_s_loop_draws(monkeypatch):
    """NumPyro runs sequential chains by a Python loop: under ``jax.jit`` the sampler is traced,
    and compiled, once per chain. One ``lax.map`` traces it once, with the same keys and so the
    same draws, to the bit."""
    traces = []
    one_chain = mcmc.MCMC._single_chain_mcmc
    monkeypatch.setattr(mcmc.MCMC, "_single_chain_mcmc", lambda *a, **k: traces.append(1) or one_chain(*a, **k))
    data = models.linear_regression.simulate(jax.random.PRNGKey(0), 30, 2).data
    options = dict(num_chains=3, num_warmup=30, num_samples=30, seed=4)
    ours = fit("linear_regression", data, "nuts", **options)
    assert len(traces) == 1
    monkeypatch.setattr(_compiled, "_PROGRAMS", OrderedDict())  # compile afresh, with NumPyro's loop
    monkeypatch.setattr(nuts, "_one_after_another", lambda one_chain: partial(mcmc._laxmap, one_chain))
    theirs = fit("linear_regression", data, "nuts", **options)
    assert len(traces) == 1 + 3
    for name in ours.samples:
        np.testing.assert_array_equal(ours.samples[name], theirs.samples[name])
    np.testing.assert_array_equal(ours.sample_stats["lp"], theirs.sample_stats["lp"])
