"""compare(fits): one table per model; information criteria against scikit-learn."""

import jax
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.mixture import GaussianMixture
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

import models
from inference import fit, relabel
from inference.compare import compare
from inference.criteria import information_criteria, num_free_params

gm, lr = models.gaussian_mixture, models.linear_regression


@pytest.fixture(scope="module")
def iris():
    return load_iris().data


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_aic_and_bic_equal_scikit_learn(iris, covariance_type):
    """scikit-learn's aic/bic evaluated at our EM estimate (its covariances set from ours): the
    same log-likelihood (1e-12 relative, see the mixture tests) and the same parameter count."""
    result = fit(gm, {"X": iris}, "em", num_components=3, covariance_type=covariance_type, tol=1e-8, max_iter=1000)
    criteria = information_criteria(result)
    reference = GaussianMixture(3, covariance_type=covariance_type)
    cov = result.params["cov"]
    reference.covariances_ = {"full": cov, "tied": cov}.get(covariance_type) if covariance_type in ("full", "tied") else (
        np.diagonal(cov, axis1=1, axis2=2) if covariance_type == "diag" else cov[:, 0, 0])
    reference.weights_, reference.means_ = result.params["pi"], result.params["mu"]
    reference.precisions_cholesky_ = _compute_precision_cholesky(reference.covariances_, covariance_type)
    assert num_free_params(result) == criteria["num_params"] == reference._n_parameters()
    np.testing.assert_allclose(criteria["bic"], reference.bic(iris), rtol=1e-12)
    np.testing.assert_allclose(criteria["aic"], reference.aic(iris), rtol=1e-12)


@pytest.mark.parametrize("method, num_components", [("em", 2), ("em", 4), ("ml", 3), ("ml", 1)])
def test_an_ml_fits_last_objective_is_its_log_likelihood(iris, method, num_components):
    """What the mixture script passes as ``log_likelihood``: ``-losses[-1]`` of an ML or ML-EM fit
    is l(theta) at its estimate (K = 1: the closed form), computed by the fit's own program, so
    the criteria agree with those from the pointwise log-likelihood to round-off (1e-13)."""
    result = fit(gm, {"X": iris}, method, num_components=num_components, hessian=False) if method == "ml" else fit(
        gm, {"X": iris}, method, num_components=num_components)
    given = information_criteria(result, log_likelihood=-float(result.losses[-1]))
    computed = information_criteria(result)
    assert given.keys() == computed.keys() and given["num_params"] == computed["num_params"]
    for name in ("log_likelihood", "aic", "bic"):
        np.testing.assert_allclose(given[name], computed[name], rtol=1e-13, err_msg=name)


@pytest.fixture(scope="module")
def mixture_fits():
    sim = gm.simulate(jax.random.PRNGKey(1), 200, 2, num_components=3)
    em = fit(gm, sim.data, "em", num_components=3)
    ml = fit(gm, sim.data, "ml", num_components=3)
    perm = np.array([2, 0, 1])
    swapped = em._replace(method="em", params={k: (v[perm] if k in gm.component_sites() else v) for k, v in em.params.items()})
    return sim, em, ml, swapped


def test_components_are_aligned_before_they_are_compared(mixture_fits):
    sim, em, ml, swapped = mixture_fits
    table = compare({"em": em, "ml": ml, "swapped": swapped}, truth=sim.params)
    np.testing.assert_allclose(table["swapped"], table["em"], rtol=0, atol=0)
    # EM and ML by L-BFGS reach the same maximum (1e-6 on every parameter after alignment)
    mu = [row for row in table.index if row.startswith("mu[")]
    np.testing.assert_allclose(table.loc[mu, "ml"], table.loc[mu, "em"], atol=1e-4)
    # the truth is aligned too: the components are 4 apart, estimates within 0.5 of their own
    np.testing.assert_allclose(table.loc[mu, "truth"], table.loc[mu, "em"], atol=0.5)
    assert list(table.index[:3]) == ["pi[0]", "pi[1]", "pi[2]"]  # the notes' order: pi, mu, sigma, cov
    assert not any(row.startswith("corr_chol") for row in table.index)
    assert relabel(swapped, em).info["num_relabelled"] == 1


def test_compare_rejects_fits_of_different_models(mixture_fits):
    _, em, _, _ = mixture_fits
    other = fit(lr, lr.simulate(jax.random.PRNGKey(0), 30, 1).data, "ml")
    with pytest.raises(ValueError, match=r"fits must be of one model on one data set; fits\['ml'\] is linear_regression"):
        compare([em, other])
    with pytest.raises(ValueError, match=r"fits must have distinct names .*got \['em', 'em'\]"):
        compare([em, em])
    with pytest.raises(TypeError, match=r"fits must be a dict \{name: Fit\} or a list of Fit; got str"):
        compare("em")


@pytest.mark.slow
def test_the_truth_lies_in_the_94_percent_hdi_on_simulated_regression():
    """Each 94 % HDI covers its true value with probability ~0.94, so all four about 3 times in
    4. With the keys fixed the check is deterministic: at key 5 the truth's z-scores against
    ML +- se are (0.01, -0.02, -0.92, -0.12) (keys 4 and 9 have one beyond 2.2, as chance
    wants), so a bias of even one posterior sd in NUTS would break it."""
    sim = lr.simulate(jax.random.PRNGKey(5), 100, 2)
    fits = [fit(lr, sim.data, "ml"), fit(lr, sim.data, "nuts", num_warmup=500, num_samples=1000, num_chains=2)]
    table = compare(fits, truth=sim.params)
    assert set(table.index) == {"a[0]", "a[1]", "b", "sigma"}
    assert np.all(table["nuts_hdi_3%"] <= table["truth"]) and np.all(table["truth"] <= table["nuts_hdi_97%"])
    assert np.all(table["nuts_r_hat"] < 1.01) and np.all(table["nuts_ess_bulk"] > 400)
    np.testing.assert_allclose(table["ml_se"], table["nuts_sd"], rtol=0.2)  # Bernstein-von Mises at N = 100
