"""Point estimates through NumPyro SVI with an ``AutoDelta`` guide: the engine of ML and MAP.

With a Delta guide at theta, the ELBO's loss is ``-log p(data, theta)`` evaluated in the
constrained space (a Delta has no entropy and no Jacobian term), so minimising it is MAP;
with the prior terms masked out (:class:`inference.handlers.likelihood_only`) it is ML.
Discrete latents marked for enumeration are summed out by ``TraceEnum_ELBO``.

The loss is minimised over the guide's unconstrained parameters by :func:`inference.optim.minimize`,
full-batch and deterministic, divided by ``num_data`` so that the absolute ``gtol`` means the
same at every data size. The compiled solver is cached per model, options, priors and data
shapes: a second fit of new data of the same shape does not recompile.
"""

import warnings
from collections import OrderedDict
from functools import partial
from typing import NamedTuple

import jax
import numpy as np
import optax
from jax import random
from numpyro import handlers
from numpyro.infer import SVI, Trace_ELBO, TraceEnum_ELBO
from numpyro.infer.autoguide import AutoDelta
from numpyro.infer.initialization import init_to_median

from . import optim
from .handlers import hide_enumerated, is_enumerated, likelihood_only
from .result import Fit

OPTIONS = {
    "optimizer": "lbfgs",
    "max_iter": 1000,
    "gtol": None,
    "ftol": None,
    "learning_rate": 1e-2,
    "init": None,
}
OPTIMIZERS = ("lbfgs", "adam")


class ConvergenceWarning(UserWarning):
    """An iterative method stopped before its convergence test was met."""


class _Solver(NamedTuple):
    svi: SVI
    guide: AutoDelta
    solve: callable


_SOLVERS = OrderedDict()
_MAX_SOLVERS = 64


def _freeze(value):
    """A hashable key for options and priors (distributions by class and parameter bytes)."""
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    leaves, treedef = jax.tree.flatten(value)
    return (str(treedef), tuple((np.asarray(x).tobytes(), np.shape(x), str(np.asarray(x).dtype)) for x in leaves))


def _tolerances(gtol, ftol):
    x64 = jax.config.jax_enable_x64
    gtol = (1e-9 if x64 else 1e-5) if gtol is None else gtol
    ftol = (1e-14 if x64 else 1e-7) if ftol is None else ftol
    return gtol, ftol


def _build_solver(model, num_data, *, optimizer, max_iter, gtol, ftol, learning_rate, example_data):
    enumerated = any(is_enumerated(site) for site in handlers.trace(handlers.seed(model, 0)).get_trace(**example_data).values())
    elbo = TraceEnum_ELBO(max_plate_nesting=1) if enumerated else Trace_ELBO()
    guide = AutoDelta(hide_enumerated(model), init_loc_fn=init_to_median)
    # SVI gives the parameter layout and transforms; the steps are taken by optim.minimize
    svi = SVI(model, guide, optax.lbfgs() if optimizer == "lbfgs" else optax.adam(learning_rate), elbo)

    def solve(unconstrained, data):
        def loss(u):
            return elbo.loss(random.PRNGKey(0), svi.constrain_fn(u), model, guide, **data) / num_data

        return optim.minimize(
            loss, unconstrained, optimizer=optimizer, max_iter=max_iter, gtol=gtol, ftol=ftol, learning_rate=learning_rate
        )

    return _Solver(svi, guide, jax.jit(solve))


def check_init(init, spec):
    """Starting values under the parameters' names, each of the right shape and in its domain."""
    if init is None:
        return {}
    if not isinstance(init, dict):
        raise TypeError(f"init must be a dict {{name: value}} or None; got {type(init).__name__}")
    unknown = sorted(set(init) - set(spec))
    if unknown:
        raise ValueError(f"init names parameters that do not exist: {unknown}; the parameters are {list(spec)}")
    out = {}
    for name, value in init.items():
        value = np.asarray(value, dtype=np.float64)
        if value.shape != spec[name].shape:
            raise ValueError(f"init[{name!r}] must have shape {spec[name].shape}; got shape {value.shape}")
        if not np.all(np.asarray(spec[name].domain(value))):
            raise ValueError(f"init[{name!r}] must lie in {spec[name].domain}; got {value.tolist()}")
        out[name] = value
    return out


def point_estimate(method, module, data, *, priors, seed, model_options, likelihood, optimizer, max_iter, gtol, ftol, learning_rate, init):
    """Fit ``module.model`` by ML (``likelihood=True``) or MAP; see the module docstring."""
    spec = module.params(data["X"].shape[1], **model_options)
    start = check_init(init, spec)
    gtol, ftol = _tolerances(gtol, ftol)
    model = partial(module.model, priors=priors, **model_options)
    target = likelihood_only(model) if likelihood else model
    num_data = data["X"].shape[0]
    key = (module.__name__, likelihood, _freeze(model_options), _freeze(priors), optimizer, max_iter, gtol, ftol,
           learning_rate, tuple((k, v.shape) for k, v in sorted(data.items())))
    solver = _SOLVERS.get(key)
    if solver is None:
        solver = _build_solver(target, num_data, optimizer=optimizer, max_iter=max_iter, gtol=gtol, ftol=ftol,
                               learning_rate=learning_rate, example_data=data)
        _SOLVERS[key] = solver
        while len(_SOLVERS) > _MAX_SOLVERS:
            _SOLVERS.popitem(last=False)

    key_init, key_svi = random.split(random.PRNGKey(seed))
    start = {**module.init_values(key_init, data["X"], data.get("y"), **model_options), **start}
    init_params = {f"{name}_auto_loc": np.asarray(value, dtype=np.float64) for name, value in start.items() if name in spec}
    state = solver.svi.init(key_svi, init_params=init_params, **data)
    result = solver.solve(solver.svi.optim.get_params(state.optim_state), data)

    num_steps = int(result.num_steps)
    status = int(result.status)
    converged = status in optim.CONVERGED
    latent = solver.guide.median(solver.svi.constrain_fn(result.params))
    params = {**latent, **_deterministic_sites(model, latent, data)}
    if not converged:
        warnings.warn(
            f"{method} for {module.__name__.rsplit('.', 1)[-1]} did not converge after {num_steps} steps: "
            f"{optim.STATUS[status]} (max |gradient| = {float(result.grad_norm):.3g} per data point). "
            "Try another start (init=...), a larger max_iter, or standardised data.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return Fit(
        method=method,
        params={k: np.asarray(v) for k, v in params.items()},
        losses=np.asarray(result.losses[: num_steps + 1]) * num_data,
        converged=converged,
        num_steps=num_steps,
        model=module,
        options=dict(model_options),
        data=data,
        priors=priors,
        seed=seed,
        method_options=dict(optimizer=optimizer, max_iter=max_iter, gtol=gtol, ftol=ftol,
                            learning_rate=learning_rate, init=init),
        info={"status": optim.STATUS.get(status, "running"), "grad_norm": float(result.grad_norm)},
    )


def _deterministic_sites(model, values, data):
    trace = handlers.trace(handlers.seed(handlers.substitute(model, data=values), 0)).get_trace(**data)
    return {name: site["value"] for name, site in trace.items() if site["type"] == "deterministic"}
