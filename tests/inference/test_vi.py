"""Variational inference and the agreement of the approximations with NUTS."""

import jax
import numpy as np
import pytest

import models
from inference import METHODS, Fit, fit


@pytest.fixture(scope="module")
def logistic_data():
    return models.logistic_regression.simulate(jax.random.PRNGKey(0), 500).data


@pytest.mark.parametrize("guide", ["mean_field", "full_rank"])
def test_vi_fits_and_draws(logistic_data, guide):
    result = fit("logistic_regression", logistic_data, "vi", guide=guide, num_steps=2000, num_samples=300)
    assert result.converged and result.samples["a"].shape == (1, 300, 2)
    assert result.losses.shape == (2000,) and result.losses[-100:].mean() < result.losses[:100].mean()
    ml = fit("logistic_regression", logistic_data, "ml")
    # N = 500: the posterior sd is ~0.15, so the guide's median lies within 0.3 of the ML estimate
    np.testing.assert_allclose(result.params["a"], ml.params["a"], atol=0.3)


def test_vi_on_the_mixture_sums_out_z():
    data = models.gaussian_mixture.simulate(jax.random.PRNGKey(0), 150).data
    result = fit("gaussian_mixture", data, "vi", num_steps=1500, num_samples=100, ordered=True)
    assert "z" not in result.samples and result.samples["cov"].shape == (1, 100, 2, 2, 2)
    assert np.all(np.diff(result.samples["mu"][..., 0], axis=-1) > 0)


def test_bad_guide_is_named(logistic_data):
    with pytest.raises(ValueError, match=r"guide must be one of \['full_rank', 'mean_field'\]; got 'delta'"):
        fit("logistic_regression", logistic_data, "vi", guide="delta")


@pytest.mark.slow
def test_vi_and_laplace_means_within_a_fifth_of_a_posterior_sd_of_nuts(logistic_data):
    nuts = fit("logistic_regression", logistic_data, "nuts", num_chains=2, num_samples=2000)
    mean = {k: nuts.samples[k].mean((0, 1)) for k in ("a", "b")}
    sd = {k: nuts.samples[k].std((0, 1)) for k in ("a", "b")}
    # NUTS' own Monte Carlo error on the mean is ~sd / sqrt(ESS) < 0.03 sd with 4000 draws; the
    # approximations' draws add ~sd / sqrt(num_samples); 0.2 sd is the issue's bound
    for method, options in [("vi", {"guide": "full_rank"}), ("vi", {"guide": "mean_field"}), ("laplace", {})]:
        approx = fit("logistic_regression", logistic_data, method, num_samples=4000, **options)
        for k in ("a", "b"):
            gap = np.abs(approx.samples[k].mean((0, 1)) - mean[k]) / sd[k]
            assert np.all(gap < 0.2), (method, options, k, gap)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_through_the_same_call(method):
    # the mixture is the one lecture model every method applies to (EM needs its latent z)
    data = models.gaussian_mixture.simulate(jax.random.PRNGKey(2), 80).data
    small = {"ml": {}, "map": {}, "em": {}, "nuts": {"num_warmup": 100, "num_samples": 100},
             "vi": {"num_steps": 500, "num_samples": 50}, "laplace": {"num_samples": 50}}[method]
    result = fit("gaussian_mixture", data, method, ordered=True, **small)
    assert isinstance(result, Fit) and result.method == method
    assert result.idata.posterior["mu"].shape[-2:] == (2, 2)
    assert np.isfinite(result.idata.log_likelihood["X"].values).all()


def test_the_progress_bar_is_fed_from_the_compiled_steps_and_changes_nothing(capsys):
    """progress_bar=True compiles the steps with a host callback every 1/50 of them: the bar
    moves (tqdm writes to stderr) and the fit is the same bit for bit."""
    data = models.linear_regression.simulate(jax.random.PRNGKey(0), 50, 2).data
    options = dict(num_steps=500, num_samples=10, seed=3)
    quiet = fit("linear_regression", data, "vi", **options)
    capsys.readouterr()
    shown = fit("linear_regression", data, "vi", progress_bar=True, **options)
    assert "vi:" in capsys.readouterr().err
    for name in quiet.params:
        np.testing.assert_array_equal(shown.params[name], quiet.params[name])
