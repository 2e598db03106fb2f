"""Pushforward distributions (section 1.3) against closed forms, and their invariants."""

from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
from numpyro.distributions.transforms import (
    AffineTransform,
    ComposeTransform,
    ExpTransform,
)
from scipy import integrate, stats

from inference import fit
from models import pushforward as pf


def test_example_1_2_discrete_pushforward_exact():
    pmf = {1: Fraction(2, 10), 2: Fraction(5, 10), 3: Fraction(3, 10)}
    T = {1: "a", 2: "b", 3: "b"}
    assert pf.discrete_pushforward(pmf, T) == {"a": Fraction(1, 5), "b": Fraction(4, 5)}
    floats = pf.discrete_pushforward({1: 0.2, 2: 0.5, 3: 0.3}, lambda x: "a" if x == 1 else "b")
    assert floats == pytest.approx({"a": 0.2, "b": 0.8}, abs=1e-15)


def test_discrete_pushforward_rejects_bad_pmfs():
    with pytest.raises(ValueError, match="pmf must sum to one; got a total of 0.9"):
        pf.discrete_pushforward({1: 0.4, 2: 0.5}, lambda x: x)
    with pytest.raises(ValueError, match="pmf must map values to probabilities >= 0"):
        pf.discrete_pushforward({1: 1.5, 2: -0.5}, lambda x: x)
    with pytest.raises(ValueError, match=r"T must be defined on every value of the pmf; T\[3\] is missing"):
        pf.discrete_pushforward({1: 0.5, 3: 0.5}, {1: "a"})
    with pytest.raises(TypeError, match="pmf must be a non-empty dict"):
        pf.discrete_pushforward([0.5, 0.5], lambda x: x)


def test_example_1_3_is_chi_square_one():
    y = np.linspace(0.01, 12.0, 200)
    np.testing.assert_allclose(pf.square_of_standard_normal().log_prob(y), stats.chi2(1).logpdf(y), rtol=1e-12)


@pytest.mark.slow
def test_example_1_3_samples_follow_chi_square_one():
    draws = np.asarray(pf.square_of_standard_normal().sample(jax.random.PRNGKey(0), (4000,)))
    # a correct sampler fails this at the 1e-3 level; a wrong law (e.g. |X|) fails it surely
    assert stats.kstest(draws, stats.chi2(1).cdf).pvalue > 1e-3


def test_exp_of_normal_is_log_normal():
    y = np.linspace(0.05, 8.0, 100)
    expected = stats.lognorm(s=0.7, scale=np.exp(0.3)).logpdf(y)
    base = dist.Normal(0.3, 0.7)
    np.testing.assert_allclose(pf.Pushforward(base, ExpTransform()).log_prob(y), expected, rtol=1e-12)
    # the same map given as two plain functions, its Jacobian by autodiff
    by_autodiff = pf.Pushforward(base, pf.Diffeomorphism(jnp.exp, jnp.log, codomain=dist.constraints.positive))
    np.testing.assert_allclose(by_autodiff.log_prob(y), expected, rtol=1e-12)


TRANSFORMS = {
    "sinh_arcsinh": pf.SinhArcsinhTransform(0.7, 1.4),
    "affine": AffineTransform(1.5, 2.5),
    "lecture_map": pf.sinh_arcsinh_map({"loc": 1.0, "scale": 2.0, "skewness": -0.4, "tailweight": 0.6}),
}


@pytest.mark.parametrize("name", TRANSFORMS)
def test_log_abs_det_jacobian_equals_slogdet_of_jacfwd(name):
    T = TRANSFORMS[name]
    x = jnp.linspace(-3.0, 3.0, 7)
    jac = jax.jacfwd(T)(x)  # elementwise map: a diagonal Jacobian
    np.testing.assert_allclose(T.log_abs_det_jacobian(x, T(x)).sum(), jnp.linalg.slogdet(jac)[1], rtol=1e-12)


def test_vector_diffeomorphism_density_is_change_of_variables():
    # T(x) = (exp(x0), x1 + x0^2): det grad T = exp(x0), so log p_Y(y) = log p_X(x) - x0 (eq. 1.5)
    forward = lambda x: jnp.stack([jnp.exp(x[..., 0]), x[..., 1] + x[..., 0] ** 2], axis=-1)
    inverse = lambda y: jnp.stack([jnp.log(y[..., 0]), y[..., 1] - jnp.log(y[..., 0]) ** 2], axis=-1)
    T = pf.Diffeomorphism(forward, inverse, event_dim=1)
    base = dist.MultivariateNormal(jnp.zeros(2), jnp.array([[1.0, 0.3], [0.3, 2.0]]))
    x = jax.random.normal(jax.random.PRNGKey(0), (5, 2))
    y = forward(x)
    expected = stats.multivariate_normal([0, 0], [[1.0, 0.3], [0.3, 2.0]]).logpdf(np.asarray(x)) - np.asarray(x[:, 0])
    np.testing.assert_allclose(pf.Pushforward(base, T).log_prob(y), expected, rtol=1e-12)


@pytest.mark.parametrize(
    "density, lower, upper",
    [
        (pf.square_of_standard_normal(), 0.0, np.inf),
        (pf.Pushforward(dist.Normal(0.0, 1.0), TRANSFORMS["lecture_map"]), -np.inf, np.inf),
        (pf.Pushforward(dist.Normal(0.3, 0.7), ExpTransform()), 0.0, np.inf),
    ],
    ids=["chi2", "sinh_arcsinh", "lognormal"],
)
def test_densities_integrate_to_one(density, lower, upper):
    pdf = lambda v: float(jnp.exp(density.log_prob(jnp.asarray(v))))
    # quad's own error estimate is ~1e-8 on these smooth (or integrably singular) densities
    total, error = integrate.quad(pdf, lower, upper, limit=200)
    assert total == pytest.approx(1.0, abs=max(1e-7, 10 * error))


def test_composed_transform_list_matches_compose_transform():
    base = dist.Normal(0.0, 1.0)
    parts = [pf.SinhArcsinhTransform(0.2, 1.1), AffineTransform(-1.0, 3.0)]
    y = jnp.linspace(-5, 5, 11)
    np.testing.assert_allclose(pf.Pushforward(base, parts).log_prob(y), pf.Pushforward(base, ComposeTransform(parts)).log_prob(y), rtol=1e-14)


@pytest.mark.slow
def test_sinh_arcsinh_model_recovers_parameters_by_ml():
    sim = pf.simulate(jax.random.PRNGKey(0), num_data=4000)
    result = fit("pushforward", sim.data, "ml")
    assert result.converged
    # N = 4000: the ML standard errors of these four parameters are below 0.05, so 0.15 is
    # three standard errors
    for name, truth in sim.params.items():
        np.testing.assert_allclose(result.params[name], truth, atol=0.15, err_msg=name)


def test_pushforwards_work_under_jit_and_are_zero_outside_their_support():
    chi2 = pf.square_of_standard_normal()
    log_prob = jax.jit(lambda d, v: d.log_prob(v))
    np.testing.assert_allclose(log_prob(chi2, jnp.array([-1.0, 2.0])), [-np.inf, stats.chi2(1).logpdf(2.0)], rtol=1e-12)
    lognormal = pf.Pushforward(dist.Normal(0.0, 1.0), pf.Diffeomorphism(jnp.exp, jnp.log, codomain=dist.constraints.positive))
    np.testing.assert_allclose(log_prob(lognormal, jnp.array([2.0])), stats.lognorm(s=1.0).logpdf([2.0]), rtol=1e-12)


def test_constructor_messages():
    with pytest.raises(ValueError, match="event_dim must be 0 or 1; got 2"):
        pf.Diffeomorphism(jnp.exp, jnp.log, event_dim=2)
    with pytest.raises(TypeError, match="base must be a NumPyro distribution; got float"):
        pf.Pushforward(1.0, ExpTransform())
    with pytest.raises(TypeError, match="transform must be a NumPyro Transform or a Diffeomorphism; got function"):
        pf.Pushforward(dist.Normal(0.0, 1.0), lambda x: x)
    with pytest.raises(ValueError, match="branches must list at least one inverse branch; got none"):
        pf.BranchPushforward(dist.Normal(0.0, 1.0), jnp.square, [], dist.constraints.positive)
    with pytest.raises(TypeError, match="T must be callable or a dict; got int"):
        pf.discrete_pushforward({1: 1.0}, 3)
