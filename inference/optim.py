"""Deterministic minimisation with a real convergence test: the functional core of ML and MAP.

``minimize(loss_fn, params)`` runs L-BFGS (Liu & Nocedal, 1989; the zoom line search of
:mod:`inference._linesearch`) or Adam (Kingma & Ba, 2015; full-batch or on minibatches) inside
one ``lax.while_loop``, so a call is a single compiled program. It stops when

- the gradient is small:  ``max_i |grad_i| <= gtol``                         (converged);
- the objective stops moving: ``|f_k - f_{k+1}| <= ftol * max(1, |f_k|)``: converged if the
  gradient is below ``100 * gtol`` (the objective's round-off can stop the line search a little
  above ``gtol``), otherwise a stall away from a stationary point, which is a failure;
- the objective or the gradient is not finite                                 (failed);
- ``max_iter`` steps were taken                                               (not converged).

A stationary point is not necessarily an isolated minimum. From a symmetric start (two mixture
components on one point) L-BFGS converges to a saddle without complaint; when the minimum is at
infinity (perfectly separated classes in logistic regression) or not unique (collinear
features), it stops where the gradient happens to be small. So, for up to ``max_hessian_size``
parameters, the Hessian at the end is checked: a clearly negative eigenvalue gives the status
``SADDLE``, a smallest eigenvalue below ``1e-8`` of the largest gives ``FLAT``. Before that,
an L-BFGS run that stopped on the objective's round-off is polished by Newton steps on the
gradient (:func:`_polished_hessian`), which bring the gradient down to round-off itself.
The Hessian is the objective's by automatic differentiation, or ``hessian_fn``'s where the
caller has it in closed form (a model's observed information).

:func:`evaluate` gives the same result at a point known to be the minimum (a closed form)
without a step: the gradient's test and the same second-order check.

The caller jits; nothing here is compiled at import.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax, random
from jax.flatten_util import ravel_pytree

from . import _linesearch

RUNNING, GRADIENT_SMALL, NO_PROGRESS, STALLED, NOT_FINITE, MAX_ITER, SADDLE, FLAT, NOT_STATIONARY = range(9)
STATUS = {
    GRADIENT_SMALL: "gradient norm below gtol",
    NO_PROGRESS: "objective change below ftol, gradient norm below 100 * gtol",
    STALLED: "objective stopped changing while the gradient is still large",
    NOT_FINITE: "objective or gradient not finite",
    MAX_ITER: "max_iter reached",
    SADDLE: "stopped at a saddle point (the Hessian has a negative eigenvalue), not at an optimum",
    FLAT: (
        "the Hessian is singular at the end (smallest eigenvalue below 1e-8 of the largest): the optimum "
        "is not unique or lies at infinity (collinear features, perfect separation, a collapsed component)"
    ),
    NOT_STATIONARY: "the gradient at the given point is above gtol: it is not a stationary point",
}
CONVERGED = (GRADIENT_SMALL, NO_PROGRESS)


class OptimResult(NamedTuple):
    """``params`` at the end, the objective trace ``losses`` (length ``max_iter + 1``, NaN after
    ``num_steps``), ``num_steps``, the final ``grad_norm`` (max-abs), ``status``, the
    smallest eigenvalue of the Hessian at the end, and that Hessian over the flattened
    parameters (NaN and None when there are more than ``max_hessian_size`` parameters)."""

    params: dict
    losses: jnp.ndarray
    num_steps: jnp.ndarray
    grad_norm: jnp.ndarray
    status: jnp.ndarray
    min_eigenvalue: jnp.ndarray
    hessian: jnp.ndarray | None = None


def _max_abs(tree):
    return jnp.max(jnp.stack([jnp.max(jnp.abs(leaf), initial=0.0) for leaf in jax.tree.leaves(tree)]))


def _status(k, value, prev, grad_norm, *, max_iter, gtol, ftol):
    finite = jnp.isfinite(value) & jnp.isfinite(grad_norm)
    unchanged = jnp.abs(prev - value) <= ftol * jnp.maximum(1.0, jnp.abs(prev))
    return jnp.select(
        [~finite, grad_norm <= gtol, unchanged & (grad_norm <= 100 * gtol), unchanged, k >= max_iter],
        [NOT_FINITE, GRADIENT_SMALL, NO_PROGRESS, STALLED, MAX_ITER],
        RUNNING,
    )


def _derivatives(value_and_gradient, v):
    """The objective, its gradient and its Hessian at the flat point ``v`` in one pass: forward
    over reverse, as ``jax.hessian``, keeping the value and gradient (each column's primal)."""
    basis = jnp.eye(v.size, dtype=v.dtype)
    (f, g), (_, h) = jax.vmap(lambda t: jax.jvp(value_and_gradient, (v,), (t,)), out_axes=(None, 0))(basis)
    return f, g, h


def _polished_hessian(loss_fn, params, value, grad, grad_norm, polish, num_steps=3, hessian_fn=None):
    """The Hessian at the end, after up to ``num_steps`` Newton steps when ``polish``.

    Near the optimum the objective changes below its own round-off, so a line search on it
    stalls (``NO_PROGRESS``/``STALLED``) while the gradient, which is computed to full
    precision, still says where the optimum is: a Newton step on it needs no objective value.
    Each step is kept only if it lowers the gradient norm. One loop evaluates the objective, its
    gradient and its Hessian together, at the end and at each candidate, so the program holds
    the objective's second derivatives once (each copy is compiled), and no copy of the
    objective alone for the polished point's value; a run that does not polish evaluates them
    once. ``hessian_fn(params)``, when given, is the Hessian over the flattened parameters
    (``ravel_pytree``'s order) in closed form; then the value and gradient at the end are
    ``value`` and ``grad``, the caller's, not evaluated again (autodiff's Hessian gives them for
    free). Returns ``(params, value, grad_norm, hessian)``.
    """
    flat, unravel = ravel_pytree(params)
    known = (value, ravel_pytree(grad)[0])
    value_and_gradient = jax.value_and_grad(lambda v: loss_fn(unravel(v)).astype(jnp.result_type(value)))

    def derivatives(k, v):
        if hessian_fn is not None:
            f, g = lax.cond(k == 0, lambda _: known, value_and_gradient, v)
            return f, g, hessian_fn(unravel(v))
        f, g, h = _derivatives(value_and_gradient, v)
        # at the end itself, the caller's value: the same to round-off, and the trace keeps its bits
        return jnp.where(k == 0, value, f), g, h

    def step(carry):
        # the candidate is the start at k = 0, then the Newton step from the best point so far
        k, best, f, norm, g, h, candidate, _ = carry
        new_f, new_g, new_h = derivatives(k, candidate)
        new_norm = jnp.max(jnp.abs(new_g), initial=0.0)
        finite = jnp.all(jnp.isfinite(candidate)) & jnp.isfinite(new_f)
        better = (k == 0) | (finite & (new_norm < norm))
        best, f, g, h = (jnp.where(better, new, old) for new, old in
                         ((candidate, best), (new_f, f), (new_g, g), (new_h, h)))
        norm = jnp.where(better & (k > 0), new_norm, norm)
        h = 0.5 * (h + h.T)
        # a kept step moves the best point, so the loop goes round again for a step from there
        return k + 1, best, f, norm, g, h, best - jnp.linalg.solve(h, g), polish & better & (k < num_steps)

    size = flat.size
    zeros = jnp.zeros((size, size), flat.dtype)
    carry = (0, flat, value, grad_norm, jnp.zeros_like(flat), zeros, flat, jnp.asarray(True))
    _, flat, value, grad_norm, _, h, _, _ = lax.while_loop(lambda c: c[7], step, carry)
    return unravel(flat), value, grad_norm, h


class _LBFGSState(NamedTuple):
    """L-BFGS's loop: the current point ``x``, the ``direction`` from it, optax's memory of
    differences, the line search along the direction, the steps taken and the objective's trace."""

    x: jnp.ndarray
    direction: jnp.ndarray
    memory: optax.ScaleByLBFGSState
    search: _linesearch.ZoomState
    k: jnp.ndarray
    losses: jnp.ndarray
    status: jnp.ndarray
    grad_norm: jnp.ndarray
    first: jnp.ndarray


def _lbfgs(loss_fn, params, *, max_iter, gtol, ftol):
    """L-BFGS (optax's ``scale_by_lbfgs``: ten pairs of memory, the first step scaled to length
    at most 1) with the zoom line search of :mod:`inference._linesearch`, in one loop of which
    each pass evaluates the objective and its gradient once: at the start on the first pass,
    then at the line search's trial steps. A pass whose search ends takes its step and the new
    direction. So the program holds one compiled copy of the gradient, where optax's ``lbfgs``
    holds three (its start and each branch of its line search's phases), and the mixture's
    programs compile about a third faster (``benchmarks/README.md``); the path is optax's to
    round-off (``tests/inference/test_optim.py``).

    The loop runs in JAX's default float (float64 with x64) or the parameters' dtype if wider,
    whatever the objective returns; ``unravel`` gives each parameter back its own dtype.
    """
    flat, unravel_flat = ravel_pytree(params)
    dtype = jnp.promote_types(flat.dtype, jax.dtypes.canonicalize_dtype(jnp.float64))
    flat = flat.astype(dtype)

    def unravel(v):
        return jax.tree.map(lambda new, old: new.astype(jnp.result_type(old)), unravel_flat(v), params)

    value_and_grad = jax.value_and_grad(lambda v: loss_fn(unravel(v)).astype(dtype))
    memory = optax.scale_by_lbfgs()

    def step(state):
        t = jnp.where(state.first, 0.0, _linesearch.next_trial(state.search))
        value, grad = value_and_grad(state.x + t * state.direction)
        search = _linesearch.update(state.search, t, value, grad @ state.direction, grad)

        def accept(_):
            # the search's end: on the first pass its one trial, step 0 along d = 0, the start
            first, k = state.first, state.k
            new_value, new_grad = search.value, search.grad
            new_k = jnp.where(first, 0, k + 1)
            new_norm = _max_abs(new_grad)
            status = _status(new_k, new_value, jnp.where(first, jnp.nan, state.losses[k]), new_norm,
                             max_iter=max_iter, gtol=gtol, ftol=ftol)
            # a step to a non-finite point is not taken: the result stays the last finite one
            x = jnp.where(status == NOT_FINITE, state.x, state.x + search.stepsize * state.direction)
            preconditioned, new_memory = memory.update(new_grad, state.memory, x)
            return _LBFGSState(x, -preconditioned, new_memory,
                               _linesearch.init(new_value, -new_grad @ preconditioned, new_grad), new_k,
                               state.losses.at[new_k].set(new_value), status, new_norm, jnp.asarray(False))

        searching = state._replace(search=search)
        return lax.cond(state.first | search.done | search.failed, accept, lambda _: searching, None)

    # the first pass evaluates the start: a search along d = 0 from it, ended by that pass
    nan = jnp.asarray(jnp.nan, dtype)
    state = _LBFGSState(flat, jnp.zeros_like(flat), memory.init(flat), _linesearch.init(nan, nan, jnp.zeros_like(flat)),
                        jnp.asarray(0), jnp.full(max_iter + 1, jnp.nan, dtype), jnp.asarray(RUNNING),
                        jnp.asarray(jnp.inf, dtype), jnp.asarray(True))
    state = lax.while_loop(lambda state: state.status == RUNNING, step, state)
    # the gradient at the end (the last search starts from it), except after a refused step to
    # a non-finite point (never polished)
    return unravel(state.x), state.losses, state.k, unravel(state.search.grad), state.grad_norm, state.status


def _adam(loss_fn, params, *, max_iter, gtol, learning_rate, batch_loss_fn, rng_key):
    stochastic = batch_loss_fn is not None
    objective = batch_loss_fn if stochastic else (lambda p, key: loss_fn(p))
    value_and_grad = jax.value_and_grad(objective)
    solver = optax.adam(learning_rate)
    dtype = jnp.result_type(*jax.tree.leaves(params))
    losses = jnp.full(max_iter + 1, jnp.nan, dtype=dtype)

    def step(carry):
        params, state, k, losses, _, _, key = carry
        key, subkey = random.split(key)
        value, grad = value_and_grad(params, subkey)
        grad_norm = _max_abs(grad)
        updates, state = solver.update(grad, state, params)
        finite = jnp.isfinite(value) & jnp.isfinite(grad_norm)
        # a minibatch gradient is noise around the gradient: only the full one is tested, at the end
        small = (not stochastic) & (grad_norm <= gtol)
        status = jnp.select([~finite, small, k + 1 >= max_iter], [NOT_FINITE, GRADIENT_SMALL, MAX_ITER], RUNNING)
        moved = optax.apply_updates(params, updates)
        params = jax.tree.map(lambda new, old: jnp.where(finite & ~small, new, old), moved, params)
        return params, state, k + jnp.where(small, 0, 1), losses.at[k].set(value), status, grad_norm, key

    carry = (params, solver.init(params), jnp.asarray(0), losses, jnp.asarray(RUNNING), jnp.asarray(jnp.inf, dtype), rng_key)
    params, _, k, losses, status, _, _ = lax.while_loop(lambda c: c[4] == RUNNING, step, carry)
    value, grad = jax.value_and_grad(loss_fn)(params)
    grad_norm = _max_abs(grad)
    status = jnp.where((status == MAX_ITER) & (grad_norm <= gtol), GRADIENT_SMALL, status)
    return params, losses.at[k].set(value), k, grad, grad_norm, status


def minimize(
    loss_fn, params, *, optimizer="lbfgs", max_iter=1000, gtol=1e-9, ftol=2.2e-16, learning_rate=1e-2,
    batch_loss_fn=None, rng_key=None, max_hessian_size=1000, hessian_fn=None,
):
    """Minimise ``loss_fn(params)`` over a pytree of real arrays.

    Parameters
    ----------
    loss_fn : callable
        Scalar objective; scale it so that its curvature is O(1) (e.g. a mean over data), as
        ``gtol`` is absolute.
    params : pytree
        The start.
    optimizer : {"lbfgs", "adam"}, default "lbfgs"
    max_iter : int, default 1000
    gtol : float, default 1e-9
    ftol : float, default 2.2e-16
        Used by L-BFGS only.
    learning_rate : float, default 1e-2
        Adam's step size; L-BFGS takes its step from the line search.
    batch_loss_fn : callable, optional
        Adam only: ``batch_loss_fn(params, rng_key)``, an unbiased minibatch estimate of
        ``loss_fn``, which Adam then follows for ``max_iter`` steps; the convergence test is made
        once, at the end, on the full ``loss_fn``. The trace records the minibatch values.
    rng_key : jax.random key, optional
        Draws the minibatches.
    max_hessian_size : int, default 1000
        The second-order check runs when there are at most this many parameters.
    hessian_fn : callable, optional
        ``hessian_fn(params)``: the Hessian of ``loss_fn`` over the flattened parameters
        (``jax.flatten_util.ravel_pytree``'s order) in closed form, for the second-order check
        and the polish; by automatic differentiation when None.

    Returns
    -------
    OptimResult
    """
    if optimizer == "lbfgs":
        params, losses, k, grad, grad_norm, status = _lbfgs(loss_fn, params, max_iter=max_iter, gtol=gtol, ftol=ftol)
    else:
        params, losses, k, grad, grad_norm, status = _adam(
            loss_fn, params, max_iter=max_iter, gtol=gtol, learning_rate=learning_rate,
            batch_loss_fn=batch_loss_fn, rng_key=random.PRNGKey(0) if rng_key is None else rng_key,
        )
    stalled = (status == NO_PROGRESS) | (status == STALLED)
    polish = stalled if optimizer == "lbfgs" else jnp.asarray(False)
    return _second_order(loss_fn, OptimResult(params, losses, k, grad_norm, status, jnp.nan), grad, gtol=gtol,
                         polish=polish, max_hessian_size=max_hessian_size, hessian_fn=hessian_fn)


def evaluate(loss_fn, params, *, gtol=1e-9, max_hessian_size=1000, hessian_fn=None):
    """:func:`minimize`'s result at ``params`` itself, a point known to be the minimum (a closed
    form), without a step: the objective, the gradient's test (``GRADIENT_SMALL`` or
    ``NOT_STATIONARY``) and, for up to ``max_hessian_size`` parameters, the same second-order
    check and Hessian (``hessian_fn`` as there). ``num_steps`` is 0 and ``losses`` has the one value.

    With the Hessian by autodiff, the objective and its gradient are that pass's primal, not a
    pass of their own: the program holds the objective's derivatives once, and no loop (nothing
    to polish). The classifier's cold ML fit on iris took 0.93 to 1.03 s instead of 1.27 to 1.79 s.
    """
    flat, unravel = ravel_pytree(params)
    checked = 0 < flat.size <= max_hessian_size  # nothing to check without a parameter
    value_and_gradient = jax.value_and_grad(lambda v: loss_fn(unravel(v)))
    if checked and hessian_fn is None:
        value, grad, hessian = _derivatives(value_and_gradient, flat)
    else:
        value, grad = value_and_gradient(flat)
        hessian = hessian_fn(params) if checked else None
    grad_norm = _max_abs(grad)
    finite = jnp.isfinite(value) & jnp.isfinite(grad_norm)
    status = jnp.select([~finite, grad_norm <= gtol], [NOT_FINITE, GRADIENT_SMALL], NOT_STATIONARY)
    result = OptimResult(params, value[None], jnp.asarray(0), grad_norm, status,
                         jnp.asarray(jnp.nan, dtype=value.dtype))
    return result if hessian is None else _curvature_checked(result, 0.5 * (hessian + hessian.T))


def _second_order(loss_fn, result, grad, *, gtol, polish, max_hessian_size, hessian_fn):
    """``result`` with the Hessian at its end, its smallest eigenvalue and the saddle and
    flatness tests applied to a converged status (see the module docstring), after Newton
    steps when ``polish``; unchanged for more than ``max_hessian_size`` parameters. ``grad``
    is the gradient at the end."""
    params, losses, k, grad_norm, status, _, _ = result
    if not 0 < ravel_pytree(params)[0].size <= max_hessian_size:  # nothing to check without a parameter
        return result._replace(min_eigenvalue=jnp.asarray(jnp.nan, dtype=losses.dtype), hessian=None)
    params, value, grad_norm, hessian = _polished_hessian(loss_fn, params, losses[k], grad, grad_norm, polish,
                                                          hessian_fn=hessian_fn)
    status = jnp.where(polish & (grad_norm <= gtol), GRADIENT_SMALL, status)
    status = jnp.where(polish & (grad_norm > gtol) & (grad_norm <= 100 * gtol), NO_PROGRESS, status)
    losses = losses.at[k].set(value)  # the search's own, unless a Newton step was kept
    return _curvature_checked(OptimResult(params, losses, k, grad_norm, status, jnp.nan), hessian)


def _curvature_checked(result, hessian):
    """``result`` with ``hessian``, its smallest eigenvalue, and a converged status turned into
    ``SADDLE`` or ``FLAT`` where the eigenvalues say so."""
    eigenvalues = jnp.linalg.eigvalsh(hessian)
    min_eigenvalue, scale = eigenvalues[0], jnp.max(jnp.abs(eigenvalues))
    # a Hessian by autodiff is exact up to round-off (~1e-15 of the largest eigenvalue): a
    # saddle's negative eigenvalue is far below -1e-6, a direction to infinity's far below 1e-8
    converged = jnp.isin(result.status, jnp.asarray(CONVERGED))
    status = jnp.where(converged & (min_eigenvalue < -1e-6 * scale), SADDLE, result.status)
    status = jnp.where(converged & (jnp.abs(min_eigenvalue) <= 1e-8 * scale), FLAT, status)
    return result._replace(status=status, min_eigenvalue=min_eigenvalue, hessian=hessian)
