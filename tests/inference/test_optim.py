"""The optimiser: L-BFGS against optax's own (the same path, one compiled copy of the objective),
and its end game, the Newton polish after a stalled run, with the Hessian by autodiff or in
closed form (``hessian_fn``)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from inference import optim, xla

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
    x = newton_minimum()
    # polished three times from a gradient of about 1e-3, the end is at round-off too
    np.testing.assert_allclose(result.params["x"], x, rtol=0, atol=1e-13)
    np.testing.assert_allclose(result.hessian, jax.hessian(lambda x: loss({"x": x}))(result.params["x"]), rtol=1e-12)
    # the trace ends on the polished point's value (the polish's own evaluation; another program
    # sums the same terms, so to round-off)
    np.testing.assert_allclose(result.losses[int(result.num_steps)], loss(result.params), rtol=1e-15)



def newton_minimum():
    """The reference minimum: twenty Newton steps in NumPy, to round-off (quadratic convergence)."""
    x = np.full(5, 0.5)
    for _ in range(20):
        s = A @ x
        p = 1 / (1 + np.exp(-s))
        x = x - np.linalg.solve((A.T * (p * (1 - p))) @ A / len(A) + np.eye(5), A.T @ p / len(A) - T / 10 + x)
    return x


@pytest.mark.parametrize("hessian_fn", [None, hessian], ids=["autodiff", "closed form"])
def test_evaluate_at_the_minimum_is_the_search_s_end(hessian_fn):
    # evaluate takes the value, gradient and Hessian in one pass (autodiff) or from hessian_fn:
    # the same status, value, eigenvalue and Hessian as minimize's second-order check, at the
    # same point; to round-off, as the programs sum in their own order
    x = newton_minimum()
    at = jax.jit(lambda p: optim.evaluate(loss, p, hessian_fn=hessian_fn))({"x": jnp.asarray(x)})
    searched = jax.jit(lambda p: optim.minimize(loss, p, hessian_fn=hessian_fn))({"x": jnp.full(5, 0.5)})
    assert int(at.status) == int(searched.status) == optim.GRADIENT_SMALL
    assert int(at.num_steps) == 0 and at.losses.shape == (1,)
    np.testing.assert_allclose(at.params["x"], x, rtol=0, atol=0)  # the given point, untouched
    np.testing.assert_allclose(at.losses[0], loss({"x": x}), rtol=1e-15)
    np.testing.assert_allclose(at.hessian, hessian({"x": x}), rtol=1e-12)
    np.testing.assert_allclose(at.hessian, searched.hessian, rtol=1e-9)  # searched.params is x to ~1e-10
    np.testing.assert_allclose(at.min_eigenvalue, np.linalg.eigvalsh(hessian({"x": x}))[0], rtol=1e-12)


def test_evaluate_reports_a_point_that_is_not_stationary_and_a_saddle():
    moved = jax.jit(lambda p: optim.evaluate(loss, p))({"x": jnp.asarray(newton_minimum() + 1e-3)})
    assert int(moved.status) == optim.NOT_STATIONARY
    # x^2 - y^2 at its stationary point, the origin: the gradient test passes, the Hessian fails it
    saddle = jax.jit(lambda p: optim.evaluate(lambda q: q["x"][0] ** 2 - q["x"][1] ** 2, p))({"x": jnp.zeros(2)})
    assert int(saddle.status) == optim.SADDLE
    np.testing.assert_allclose(saddle.hessian, np.diag([2.0, -2.0]), rtol=0, atol=0)
    # no parameter: no Hessian, and no eigenvalue
    empty = jax.jit(lambda p: optim.evaluate(lambda q: jnp.sum(q["x"]) + 1.0, p))({"x": jnp.zeros(0)})
    assert empty.hessian is None and np.isnan(empty.min_eigenvalue) and int(empty.status) == optim.GRADIENT_SMALL

def rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def log_barrier(x):
    # defined for x > 0 only: a trial step of 1 from near the boundary leaves the domain (NaN)
    return jnp.sum(x - 2.0 * jnp.log(x)) + 0.5 * jnp.sum(x[1:] * x[:-1])


def optax_lbfgs(fun, x, *, max_iter):
    """optax's own L-BFGS loop, as its documentation writes it, scanned: the reference path."""
    solver = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(fun)

    def step(carry, _):
        x, state = carry
        value, grad = value_and_grad(x, state=state)
        updates, state = solver.update(grad, state, x, value=value, grad=grad, value_fn=fun)
        x = optax.apply_updates(x, updates)
        return (x, state), x

    return np.asarray(jax.jit(lambda x: jax.lax.scan(step, (x, solver.init(x)), length=max_iter)[1])(x))


@pytest.mark.parametrize(("fun", "start"), [
    (rosenbrock, np.array([-1.2, 1.0, -0.5, 0.8, 1.5])),
    (log_barrier, np.array([0.05, 3.0, 0.2, 40.0])),
], ids=["rosenbrock", "log barrier"])
def test_the_line_search_takes_optax_zoom_steps(fun, start):
    # the same algorithm in another shape (one evaluation per pass, both phases by jnp.where):
    # every trial and its decisions are the same arithmetic, so the steps agree to round-off
    # along a direction (the first L-BFGS steps); the path drifts apart only as round-off grows
    # along a chaotic path, so it is compared over its first steps
    num_steps = 12
    path = optax_lbfgs(fun, jnp.asarray(start), max_iter=num_steps)
    params, losses, k, *_, status = jax.jit(lambda x: optim._lbfgs(fun, x, max_iter=num_steps, gtol=0.0, ftol=0.0))(
        jnp.asarray(start))
    assert int(status) == optim.MAX_ITER and int(k) == num_steps
    np.testing.assert_allclose(losses[1:], jax.vmap(fun)(path), rtol=1e-12)
    np.testing.assert_allclose(params, path[-1], rtol=1e-10)


@pytest.mark.parametrize(("fun", "start", "minimum"), [
    (rosenbrock, np.array([-1.2, 1.0, -0.5, 0.8, 1.5]), np.ones(5)),
    (log_barrier, np.array([0.05, 3.0, 0.2, 40.0]), None),
], ids=["rosenbrock", "log barrier"])
def test_lbfgs_converges_to_the_minimum_with_one_copy_of_the_gradient(fun, start, minimum):
    if minimum is None:  # the reference minimum: optax's L-BFGS to round-off
        minimum = optax_lbfgs(fun, jnp.asarray(start), max_iter=200)[-1]
    # at XLA's -O3: where the search ends on these two depends on the objective's round-off, which
    # LLVM's level changes (the suite's default, -O0, sums in another order: there the log
    # barrier's search stops at 1.9e-9, the objective unchanged, NO_PROGRESS, and minimize's
    # polish takes it to round-off, checked below)
    run = jax.jit(lambda x: optim._lbfgs(fun, x, max_iter=1000, gtol=1e-10, ftol=0.0), compiler_options=xla.OPTIMISED)
    params, losses, k, grad, grad_norm, status = run(jnp.asarray(start))
    assert int(status) == optim.GRADIENT_SMALL and float(grad_norm) <= 1e-10
    polished = jax.jit(lambda x: optim.minimize(fun, x, max_iter=1000, gtol=1e-10, ftol=0.0))(jnp.asarray(start))
    assert int(polished.status) == optim.GRADIENT_SMALL and float(polished.grad_norm) <= 1e-10
    np.testing.assert_allclose(polished.params, minimum, rtol=0, atol=1e-8)
    # both minima are well conditioned (Hessians of condition number below 3e3): a gradient of
    # 1e-10 puts the point within about 1e-9 of the minimum
    np.testing.assert_allclose(params, minimum, rtol=0, atol=1e-8)
    # the gradient returned is the one at the returned point: up to the round-off of its terms,
    # up to about 1e2 in size (another program sums them)
    np.testing.assert_allclose(grad, jax.grad(fun)(params), rtol=0, atol=1e-13)
    assert np.all(np.diff(np.asarray(losses)[: int(k) + 1]) <= 0)  # the line search only descends
    # each call site of the objective is traced (and compiled) once: the start and the line
    # search share the loop's one (optax's lbfgs has three)
    traced = []
    jax.jit(lambda x: optim._lbfgs(lambda v: traced.append(1) or fun(v), x, max_iter=10, gtol=0.0, ftol=0.0)).lower(
        jnp.asarray(start))
    assert len(traced) == 1


def test_float32_parameters_of_a_float64_objective_are_fitted_in_float64():
    # the loop runs in the wider dtype (x64 is on in the suite) and gives each parameter its own back
    target = np.array([0.25, -1.5])
    result = jax.jit(lambda p: optim.minimize(lambda p: jnp.sum((p["a"] - target) ** 2), p))(
        {"a": jnp.zeros(2, jnp.float32)})
    assert result.params["a"].dtype == jnp.float32 and result.losses.dtype == jnp.float64
    assert int(result.status) == optim.GRADIENT_SMALL
    np.testing.assert_array_equal(result.params["a"], target.astype(np.float32))


def test_no_parameter_is_converged_at_once():
    result = jax.jit(lambda p: optim.minimize(lambda p: jnp.asarray(2.5), p))({})
    assert int(result.status) == optim.GRADIENT_SMALL and int(result.num_steps) == 0
    assert result.hessian is None and float(result.losses[0]) == 2.5
