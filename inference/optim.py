"""Deterministic minimisation with a real convergence test: the functional core of ML and MAP.

``minimize(loss_fn, params)`` runs L-BFGS (Liu & Nocedal, 1989; optax's zoom line search) or
Adam inside one ``lax.while_loop``, so a call is a single compiled program. It stops when

- the gradient is small:  ``max_i |grad_i| <= gtol``                         (converged);
- the objective stops moving: ``|f_k - f_{k+1}| <= ftol * max(1, |f_k|)``: converged if the
  gradient is below ``sqrt(gtol)`` (round-off keeps it from going lower), otherwise a stall far
  from a stationary point, which is a failure, not an optimum;
- the objective or the gradient is not finite                                 (failed);
- ``max_iter`` steps were taken                                               (not converged).

A stationary point is not necessarily a minimum: from a symmetric start (two mixture components
on one point) L-BFGS converges to a saddle without complaint. So, for up to ``max_hessian_size``
parameters, the Hessian at the end is checked, and a clearly negative eigenvalue turns
convergence into the status ``SADDLE``.

The caller jits; nothing here is compiled at import.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax
from jax.flatten_util import ravel_pytree

RUNNING, GRADIENT_SMALL, NO_PROGRESS, STALLED, NOT_FINITE, MAX_ITER, SADDLE = range(7)
STATUS = {
    GRADIENT_SMALL: "gradient norm below gtol",
    NO_PROGRESS: "objective change below ftol, gradient norm below sqrt(gtol)",
    STALLED: "objective stopped changing while the gradient is still large",
    NOT_FINITE: "objective or gradient not finite",
    MAX_ITER: "max_iter reached",
    SADDLE: "stopped at a saddle point (the Hessian has a negative eigenvalue), not at an optimum",
}
CONVERGED = (GRADIENT_SMALL, NO_PROGRESS)


class OptimResult(NamedTuple):
    """``params`` at the end, the objective trace ``losses`` (length ``max_iter + 1``, NaN after
    ``num_steps``), ``num_steps``, the final ``grad_norm`` (max-abs), ``status``, and the
    smallest eigenvalue of the Hessian at the end (NaN when not checked)."""

    params: dict
    losses: jnp.ndarray
    num_steps: jnp.ndarray
    grad_norm: jnp.ndarray
    status: jnp.ndarray
    min_eigenvalue: jnp.ndarray


def _max_abs(tree):
    return jnp.max(jnp.stack([jnp.max(jnp.abs(leaf)) for leaf in jax.tree.leaves(tree)]))


def _status(k, value, prev, grad_norm, *, max_iter, gtol, ftol):
    finite = jnp.isfinite(value) & jnp.isfinite(grad_norm)
    unchanged = jnp.abs(prev - value) <= ftol * jnp.maximum(1.0, jnp.abs(prev))
    return jnp.select(
        [~finite, grad_norm <= gtol, unchanged & (grad_norm <= jnp.sqrt(gtol)), unchanged, k >= max_iter],
        [NOT_FINITE, GRADIENT_SMALL, NO_PROGRESS, STALLED, MAX_ITER],
        RUNNING,
    )


def _smallest_eigenvalue(loss_fn, params):
    flat, unravel = ravel_pytree(params)
    hessian = jax.hessian(lambda v: loss_fn(unravel(v)))(flat)
    eigenvalues = jnp.linalg.eigvalsh(0.5 * (hessian + hessian.T))
    return eigenvalues[0], jnp.max(jnp.abs(eigenvalues))


def minimize(
    loss_fn, params, *, optimizer="lbfgs", max_iter=1000, gtol=1e-9, ftol=2.2e-16, learning_rate=1e-2,
    max_hessian_size=1000,
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
    learning_rate : float, default 1e-2
        Adam's step size; unused by L-BFGS, whose step comes from the line search.
    max_hessian_size : int, default 1000
        The second-order check runs when there are at most this many parameters.

    Returns
    -------
    OptimResult
    """
    value_and_grad = jax.value_and_grad(loss_fn)
    value, grad = value_and_grad(params)
    losses = jnp.full(max_iter + 1, jnp.nan, dtype=jnp.result_type(value)).at[0].set(value)
    if optimizer == "lbfgs":
        solver = optax.lbfgs()
        from_state = optax.value_and_grad_from_state(loss_fn)
    else:
        solver = optax.adam(learning_rate)
    state = solver.init(params)

    def step(carry):
        params, state, k, losses, _, grad_norm = carry
        if optimizer == "lbfgs":
            value, grad = from_state(params, state=state)
            updates, state = solver.update(grad, state, params, value=value, grad=grad, value_fn=loss_fn)
            new_params = optax.apply_updates(params, updates)
            new_value = optax.tree_utils.tree_get(state, "value")
            new_grad = optax.tree_utils.tree_get(state, "grad")
        else:
            _, grad = value_and_grad(params)
            updates, state = solver.update(grad, state, params)
            new_params = optax.apply_updates(params, updates)
            new_value, new_grad = value_and_grad(new_params)
        new_norm = _max_abs(new_grad)
        status = _status(k + 1, new_value, losses[k], new_norm, max_iter=max_iter, gtol=gtol, ftol=ftol)
        # a step to a non-finite point is not taken: the result stays the last finite one
        params = jax.tree.map(lambda new, old: jnp.where(status == NOT_FINITE, old, new), new_params, params)
        return params, state, k + 1, losses.at[k + 1].set(new_value), status, new_norm

    grad_norm = _max_abs(grad)
    status0 = _status(0, value, jnp.nan, grad_norm, max_iter=max_iter, gtol=gtol, ftol=ftol)
    carry = (params, state, jnp.asarray(0), losses, status0, grad_norm)
    params, _, k, losses, status, grad_norm = lax.while_loop(lambda c: c[4] == RUNNING, step, carry)
    min_eigenvalue = jnp.asarray(jnp.nan, dtype=losses.dtype)
    if ravel_pytree(params)[0].size <= max_hessian_size:
        min_eigenvalue, scale = _smallest_eigenvalue(loss_fn, params)
        # round-off leaves eigenvalues of order sqrt(eps) * scale; a saddle's is far below that
        saddle = jnp.isin(status, jnp.asarray(CONVERGED)) & (min_eigenvalue < -1e-6 * jnp.maximum(scale, 1.0))
        status = jnp.where(saddle, SADDLE, status)
    return OptimResult(params, losses, k, grad_norm, status, min_eigenvalue)
