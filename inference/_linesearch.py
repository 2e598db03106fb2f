"""The zoom line search (Nocedal & Wright, 2006, Algorithms 3.5 and 3.6), one trial at a time.

Along a descent direction ``d`` from ``x`` it looks for a step ``t`` that satisfies the strong
Wolfe conditions on ``phi(t) = f(x + t d)``:

    phi(t) <= phi(0) + c1 t phi'(0)      (sufficient decrease, c1 = 1e-4)
    |phi'(t)| <= c2 |phi'(0)|           (curvature, c2 = 0.9)

first doubling ``t`` from 1 until an interval holds such a step, then shrinking the interval by
cubic, quadratic or bisection steps. It ends ``done`` when a trial meets both conditions, or
``failed`` after 20 trials or on an interval shorter than 1e-5 (once some trial had sufficient
decrease); a failed search ends on the best trial with sufficient decrease (the "safe" step)
if there is one, on step 0 if the last trial left the objective's domain, and otherwise on the
last trial. The algorithm and its tolerances are those of optax's ``zoom_linesearch`` (optax
0.2.8, with Hager and Zhang's approximate Wolfe test), which this module follows line by line
in a different shape.

The shape is the point. optax evaluates the objective inside each phase, and picks the phase
with a ``lax.cond``: each of its two branches holds a compiled copy of the objective's
gradient, and L-BFGS a third for its start. Here the caller evaluates: :func:`next_trial` says
where to, :func:`update` takes ``phi(t)`` and ``phi'(t)`` (and the gradient, which it keeps for
the accepted step), and both phases are arithmetic on scalars, so a minimiser holds the
gradient once (:func:`inference.optim.minimize`).

Pure functions on a named tuple, nothing jitted here.
"""

from typing import NamedTuple

import jax.numpy as jnp

MAX_TRIALS = 20
SLOPE_RTOL = 1e-4  # c1
CURV_RTOL = 0.9  # c2
APPROX_DEC_RTOL = 1e-6
INTERVAL_THRESHOLD = 1e-5
INCREASE_FACTOR = 2.0


class ZoomState(NamedTuple):
    """The search along one direction: the trials so far (``count``), the last trial's step,
    value, slope and gradient, the bracketing interval ``[low, high]`` once ``interval_found``,
    the reference point of the cubic step, and the best step with sufficient decrease
    (``safe_*``, step 0 until one is found). ``done``: the strong Wolfe conditions hold at the
    last trial; ``failed``: the search gave up. Either way ``stepsize``, ``value`` and ``grad``
    are where it ends (the module docstring says where a failed search ends)."""

    count: jnp.ndarray
    interval_found: jnp.ndarray
    done: jnp.ndarray
    failed: jnp.ndarray
    stepsize: jnp.ndarray
    value: jnp.ndarray
    slope: jnp.ndarray
    grad: jnp.ndarray
    value_init: jnp.ndarray
    slope_init: jnp.ndarray
    low: jnp.ndarray
    value_low: jnp.ndarray
    slope_low: jnp.ndarray
    high: jnp.ndarray
    value_high: jnp.ndarray
    slope_high: jnp.ndarray
    cubic_ref: jnp.ndarray
    value_cubic_ref: jnp.ndarray
    safe_stepsize: jnp.ndarray
    safe_value: jnp.ndarray
    safe_grad: jnp.ndarray


def init(value, slope, grad):
    """The search from a point with ``value`` and ``grad``, along a direction ``d`` of ``slope``
    ``grad . d`` (negative for a descent direction)."""
    zero = jnp.zeros((), jnp.result_type(value))
    false = jnp.asarray(False)
    return ZoomState(
        count=jnp.asarray(0), interval_found=false, done=false, failed=false,
        stepsize=zero, value=value, slope=slope, grad=grad, value_init=value, slope_init=slope,
        low=zero, value_low=value, slope_low=slope, high=zero, value_high=value, slope_high=slope,
        cubic_ref=zero, value_cubic_ref=value, safe_stepsize=zero, safe_value=value, safe_grad=grad,
    )


def _cubicmin(a, fa, fpa, b, fb, c, fc):
    """The critical point of the cubic through ``(a, fa)`` with slope ``fpa`` there, ``(b, fb)``
    and ``(c, fc)``; NaN where there is none (then the quadratic or the bisection is taken)."""
    db, dc = b - a, c - a
    denom = (db * dc) ** 2 * (db - dc)
    rb, rc = fb - fa - fpa * db, fc - fa - fpa * dc
    A = (dc**2 * rb - db**2 * rc) / denom
    B = (-(dc**3) * rb + db**3 * rc) / denom
    return a + (-B + jnp.sqrt(B * B - 3.0 * A * fpa)) / (3.0 * A)


def _quadmin(a, fa, fpa, b, fb):
    """The critical point of the quadratic through ``(a, fa)`` with slope ``fpa`` there and ``(b, fb)``."""
    db = b - a
    return a - fpa / (2.0 * (fb - fa - fpa * db) / db**2)


def next_trial(state):
    """The next trial step: 1, then doubled, until an interval is found; then the interval's
    cubic minimiser, or its quadratic one, or its middle, whichever falls well inside."""
    grown = jnp.where(state.count == 0, jnp.ones_like(state.stepsize), INCREASE_FACTOR * state.stepsize)
    low, high = state.low, state.high
    delta, left, right = jnp.abs(high - low), jnp.minimum(low, high), jnp.maximum(low, high)
    cubic = _cubicmin(low, state.value_low, state.slope_low, high, state.value_high, state.cubic_ref,
                      state.value_cubic_ref)
    quad = _quadmin(low, state.value_low, state.slope_low, high, state.value_high)
    use_cubic = (cubic > left + 0.2 * delta) & (cubic < right - 0.2 * delta)
    use_quad = ~use_cubic & (quad > left + 0.1 * delta) & (quad < right - 0.1 * delta)
    middle = jnp.where(use_cubic, cubic, jnp.where(use_quad, quad, 0.5 * (low + high)))
    return jnp.where(state.interval_found, middle, grown)


def _errors(state, t, value, slope):
    """How far ``t`` is from sufficient decrease and from the curvature condition (0 when met,
    inf when not computable)."""
    decrease = value - state.value_init - SLOPE_RTOL * t * state.slope_init
    # Hager and Zhang's approximate test, for steps whose decrease is below the value's round-off
    approx = jnp.maximum(slope - (2 * SLOPE_RTOL - 1.0) * state.slope_init,
                         value - state.value_init - APPROX_DEC_RTOL * jnp.abs(state.value_init))
    decrease = jnp.maximum(jnp.minimum(approx, decrease), 0.0)
    curvature = jnp.maximum(jnp.abs(slope) - CURV_RTOL * jnp.abs(state.slope_init), 0.0)
    return (jnp.where(jnp.isnan(decrease), jnp.inf, decrease), jnp.where(jnp.isnan(curvature), jnp.inf, curvature))


def _pick(condition, new, old):
    return tuple(jnp.where(condition, a, b) for a, b in zip(new, old))


def update(state, t, value, slope, grad):
    """The search after the trial at step ``t`` gave ``value``, ``slope`` (``grad . d``) and ``grad``."""
    decrease, curvature = _errors(state, t, value, slope)
    met = jnp.maximum(decrease, curvature) <= 0.0
    trial = (t, value, slope)
    last = (state.stepsize, state.value, state.slope)
    low, high = (state.low, state.value_low, state.slope_low), (state.high, state.value_high, state.slope_high)

    # Algorithm 3.5: does [last, t] (or [t, last]) bracket a step that meets the conditions?
    set_high_to_new = (decrease > 0.0) | ((value >= state.value) & (state.count > 0))
    set_low_to_new = (slope >= 0.0) & ~set_high_to_new
    grow_low, grow_high = _pick(set_low_to_new, trial, last), _pick(set_low_to_new, last, trial)
    grow_found = set_high_to_new | set_low_to_new | met

    # Algorithm 3.6: t replaces one end of the interval
    set_high_to_trial = (decrease > 0.0) | (value >= state.value_low)
    set_high_to_low = (slope * (state.high - state.low) >= 0.0) & ~set_high_to_trial
    zoom_high = _pick(set_high_to_low, low, _pick(set_high_to_trial, trial, high))
    zoom_low = _pick(set_high_to_trial, low, trial)
    # the cubic's third point: the end that t displaced
    zoom_ref = _pick(set_high_to_trial | set_high_to_low, high, low)
    too_small = jnp.abs(state.high - state.low) <= INTERVAL_THRESHOLD

    zoom = state.interval_found
    new_low, new_high = _pick(zoom, zoom_low, grow_low), _pick(zoom, zoom_high, grow_high)
    ref_step, ref_value, _ = _pick(zoom, zoom_ref, grow_low)
    # the doubling phase keeps the latest trial with sufficient decrease, the zoom the lowest
    safer = (decrease <= 0.0) & (~zoom | (value < state.safe_value))
    safe_t, safe_value, safe_grad = _pick(safer, (t, value, grad), (state.safe_stepsize, state.safe_value, state.safe_grad))
    gave_up = (state.count + 1 >= MAX_TRIALS) | (zoom & too_small & (safe_t > 0.0))
    failed = gave_up & ~met
    fall_back = failed & ((safe_t > 0.0) | jnp.isinf(decrease))
    end_t, end_value, end_grad = _pick(fall_back, (safe_t, safe_value, safe_grad), (t, value, grad))
    return ZoomState(
        count=state.count + 1, interval_found=zoom | grow_found, done=met, failed=failed,
        stepsize=end_t, value=end_value, slope=slope, grad=end_grad,
        value_init=state.value_init, slope_init=state.slope_init,
        low=new_low[0], value_low=new_low[1], slope_low=new_low[2],
        high=new_high[0], value_high=new_high[1], slope_high=new_high[2],
        cubic_ref=ref_step, value_cubic_ref=ref_value,
        safe_stepsize=safe_t, safe_value=safe_value, safe_grad=safe_grad,
    )
