"""models._corr_cholesky: NumPyro's bijection onto correlation Cholesky factors and its LKJ prior
to the bit, in programs without scatters, gathers or loops, derivatives included."""

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.distributions import constraints, transforms

from models import _corr_cholesky


def _primitives(jaxpr):
    """Every primitive of ``jaxpr``, with those of the jaxprs nested in it (pjit, cond, ...)."""
    names = {eqn.primitive.name for eqn in jaxpr.eqns}
    for sub in jax.extend.core.subjaxprs(jaxpr):
        names |= _primitives(sub)
    return names


def test_importing_models_registers_it_for_the_constraint():
    assert type(transforms.biject_to(constraints.corr_cholesky)) is _corr_cholesky.CorrCholeskyTransform


@pytest.mark.parametrize("n", [2, 3, 4, 7])
def test_the_values_are_numpyros_to_the_bit(n):
    ours, numpyro = _corr_cholesky.CorrCholeskyTransform(), transforms.CorrCholeskyTransform()
    # scale 3: tanh near +-1, where NumPyro clips, is among the points
    x = 3.0 * np.random.default_rng(n).normal(size=(5, 2, n * (n - 1) // 2))

    def values(transform, x, y):  # compiled: op by op, each operation would compile a program of its own
        return jax.jit(lambda x, y: (transform(x), transform.inv(y), transform.log_abs_det_jacobian(x, y)))(x, y)

    y = jax.jit(lambda v: numpyro(v))(x)
    # equal to the bit, and NaN where NumPyro's inverse is (at n = 7, factors this near the boundary)
    for a, b in zip(values(ours, x, y), values(numpyro, x, y)):
        np.testing.assert_array_equal(a, b)
    assert ours.forward_shape(x.shape) == numpyro.forward_shape(x.shape)


def test_the_derivatives_agree_with_numpyros():
    n = 4
    x = np.random.default_rng(1).normal(size=n * (n - 1) // 2)

    def objective(transform):
        def f(v):
            y = transform(v)
            return jnp.sum(jnp.sin(y)) + transform.log_abs_det_jacobian(v, y) + jnp.sum(transform.inv(y) ** 2)
        return f

    ours, numpyro = _corr_cholesky.CorrCholeskyTransform(), transforms.CorrCholeskyTransform()
    # the same operations on the same values; only the order of the gradient's sums may differ
    np.testing.assert_allclose(jax.jit(jax.hessian(objective(ours)))(x), jax.jit(jax.hessian(objective(numpyro)))(x),
                               rtol=1e-12, atol=1e-14)


def test_its_hessian_compiles_no_scatter_gather_or_loop():
    n = 4
    transform = _corr_cholesky.CorrCholeskyTransform()

    def f(v):
        y = transform(v)
        return jnp.sum(jnp.sin(y)) + transform.log_abs_det_jacobian(v, y) + jnp.sum(transform.inv(y) ** 2)

    used = _primitives(jax.make_jaxpr(jax.hessian(f))(jnp.zeros(n * (n - 1) // 2)).jaxpr)
    assert not used & {"scatter", "scatter-add", "gather", "while"}, used
    # NumPyro's own does use them: the test can tell
    numpyro = transforms.CorrCholeskyTransform()
    used = _primitives(jax.make_jaxpr(jax.hessian(lambda v: jnp.sum(jnp.sin(numpyro(v)))))(jnp.zeros(6)).jaxpr)
    assert used & {"scatter", "scatter-add", "gather"}


def test_a_vector_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="n \\(n - 1\\) / 2 entries; got 4"):
        _corr_cholesky.CorrCholeskyTransform()(jnp.zeros(4))


def test_the_lkj_prior_is_numpyros_to_the_bit_and_its_gradient_has_no_scatter():
    import numpyro.distributions as dist

    n = 4
    transform = _corr_cholesky.CorrCholeskyTransform()
    x = 2.0 * np.random.default_rng(2).normal(size=(3, n * (n - 1) // 2))
    for concentration in (0.5, 2.0, np.array([1.0, 2.0, 3.0])):
        ours, numpyro = _corr_cholesky.LKJCholesky(n, concentration), dist.LKJCholesky(n, concentration)
        values = [jax.jit(lambda v, d=d: d.log_prob(transform(v)))(x) for d in (ours, numpyro)]
        np.testing.assert_array_equal(*values)
    used = _primitives(jax.make_jaxpr(jax.grad(lambda v: ours.log_prob(transform(v)).sum()))(x).jaxpr)
    # NumPyro's normaliser, at the constant identity, still gathers: a constant, with no gradient
    assert not used & {"scatter", "scatter-add", "while"}, used
    used = _primitives(jax.make_jaxpr(jax.grad(lambda v: numpyro.log_prob(transform(v)).sum()))(x).jaxpr)
    assert used & {"scatter", "scatter-add"}  # NumPyro's diagonal: the test can tell


def test_the_models_default_prior_on_correlation_factors_is_ours():
    from models import gaussian_classifier, gaussian_mixture

    for module in (gaussian_classifier, gaussian_mixture):
        assert type(module.params(3)["corr_chol"].default()) is _corr_cholesky.LKJCholesky
