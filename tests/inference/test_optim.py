"""The optimiser's end game: the Newton polish after a stalled L-BFGS run, with the Hessian by
autodiff or in closed form (``hessian_fn``)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inference import optim

A = np.random.default_rng(0).normal(size=(40, 5))
T = np.random.default_rng(1).normal(size=5)


def loss(params):
    # strictly convex: softplus terms plus a ridge, so the minimum is unique
    x = params["x"]
    return jnp.mean(jax.nn.softplus(A @ x)) - T @ x / 10 + 0.5 * x @ x


def hessian(params):
    s = A @ params["x"]
    w = jax.nn.sigmoid(s) * jax.nn.sigmoid(-s)
    return (A.T * w) @ A / len(A) + jnp.eye(5)


@pytest.mark.parametrize("hessian_fn", [None, hessian], ids=["autodiff", "closed form"])
def test_a_stalled_search_is_polished_to_the_gradient_test(hessian_fn):
    # ftol = 1e-3 stops L-BFGS after a step or two, far above gtol: the Newton polish, from the
    # search's own gradient at its end, must bring the gradient to round-off (the objective's
    # curvature is O(1), so 1e-9 is reached in two or three steps from there)
    start = {"x": jnp.full(5, 0.5)}
    stalled = optim._lbfgs(loss, start, max_iter=100, gtol=1e-9, ftol=1e-3)
    assert int(stalled[-1]) == optim.STALLED
    result = jax.jit(lambda p: optim.minimize(loss, p, ftol=1e-3, hessian_fn=hessian_fn))(start)
    assert int(result.status) == optim.GRADIENT_SMALL
    assert float(result.grad_norm) <= 1e-9
    # the reference: twenty Newton steps in NumPy, to round-off (quadratic convergence)
    x = np.full(5, 0.5)
    for _ in range(20):
        s = A @ x
        p = 1 / (1 + np.exp(-s))
        gradient = A.T @ p / len(A) - T / 10 + x
        x = x - np.linalg.solve((A.T * (p * (1 - p))) @ A / len(A) + np.eye(5), gradient)
    # polished three times from a gradient of about 1e-3, the end is at round-off too
    np.testing.assert_allclose(result.params["x"], x, rtol=0, atol=1e-13)
    np.testing.assert_allclose(result.hessian, jax.hessian(lambda x: loss({"x": x}))(result.params["x"]), rtol=1e-12)
