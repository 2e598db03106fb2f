"""Expectation-maximisation (Dempster, Laird & Rubin, 1977) for models with an enumerable latent.

The E-step is generic: the responsibilities ``gamma_nk = p(z_n = k | x_n, theta)`` (eq. 1.18)
come from the NumPyro model itself, by conditioning its one enumerated site on each value k
in turn, evaluating each row's log joint density under
:class:`inference.handlers.likelihood_only` (the priors out), and normalising over k in log
space. The M-step is the closed form the model offers as its ``m_step`` hook (the mixture's,
for all four covariance types), with scikit-learn's ``reg_covar`` on the covariances' diagonal.

The log-likelihood trace (eq. 1.15) must never decrease beyond round-off: a decrease gives a
warning. ``converged`` means the change of the mean log-likelihood per data point fell below
``tol``, as in scikit-learn; reaching ``max_iter`` first gives a ``ConvergenceWarning``.
"""

import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import random
from jax.scipy.special import logsumexp
from numpyro import handlers
from numpyro.infer.util import log_density

from ._point import ConvergenceWarning
from ._setup import enumerated_sites, starting_values
from .handlers import likelihood_only, with_deterministic
from .result import Fit, fit_context

OPTIONS = {"max_iter": 100, "tol": 1e-3, "reg_covar": 1e-6, "num_restarts": 1, "init": None}


def _enumerated_site(model, params, data):
    sites = enumerated_sites(model, params, data)
    if len(sites) != 1:
        raise ValueError(f"em needs exactly one enumerated discrete latent site; the model has {len(sites)}")
    return sites[0]["name"], sites[0]["fn"].enumerate_support(expand=False).shape[0]


def log_joint(model, name, num_values, params, data):
    """``log p(row_n, z_n = k | theta)`` from the model, shape (N, K); the E-step's input."""
    target = likelihood_only(model)

    def one(row, k):
        conditioned = handlers.condition(target, data={name: jnp.full((1,), k)})
        return log_density(conditioned, (), {key: value[None] for key, value in row.items()}, params)[0]

    values = jnp.arange(num_values)
    return jax.vmap(lambda row: jax.vmap(lambda k: one(row, k))(values))(data)


def _run_once(module, model, data, start, *, e_step, model_options, max_iter, tol, reg_covar):
    X = np.asarray(data["X"])
    num_data = X.shape[0]
    params, trace, converged = dict(start), [], False
    for _ in range(max_iter + 1):
        joint = np.asarray(e_step({k: jnp.asarray(v) for k, v in params.items()}, data))
        marginal = np.asarray(logsumexp(joint, axis=1))
        trace.append(float(marginal.sum()))
        if len(trace) > 1 and abs(trace[-1] - trace[-2]) / num_data < tol:
            converged = True
            break
        if len(trace) == max_iter + 1:
            break
        resp = np.exp(joint - marginal[:, None])
        params = module.m_step(X, resp, reg_covar=reg_covar, **model_options)
    return params, np.asarray(trace), converged, resp if len(trace) == 1 else np.exp(joint - marginal[:, None])


def run(module, data, *, priors, seed, model_options, max_iter, tol, reg_covar, num_restarts, init):
    """Fit by EM; ``params`` at the end, the log-likelihood trace as ``-losses``."""
    if not hasattr(module, "m_step"):
        raise ValueError(f"em needs a model with a closed-form M-step; {module.__name__.rsplit('.', 1)[-1]} has none")
    model = partial(module.model, priors=priors, **model_options)
    keys = random.split(random.PRNGKey(seed), num_restarts)
    starts = [starting_values(module, key, data, model_options, init) for key in keys]
    name, num_values = _enumerated_site(model, starts[0], data)
    e_step = jax.jit(partial(log_joint, model, name, num_values))
    runs = [
        _run_once(module, model, data, start, e_step=e_step, model_options=model_options,
                  max_iter=max_iter, tol=tol, reg_covar=reg_covar)
        for start in starts
    ]
    params, trace, converged, resp = max(runs, key=lambda r: r[1][-1])
    # EM cannot lower the likelihood; round-off moves it by ~1e-12 relative at most
    drops = np.diff(trace) < -1e-9 * np.abs(trace[1:]).max(initial=1.0)
    if drops.any():
        warnings.warn(f"em: the log-likelihood decreased at iteration(s) {np.flatnonzero(drops).tolist()}", stacklevel=3)
    if not converged:
        warnings.warn(f"em did not converge after {len(trace) - 1} iterations (tol = {tol})", ConvergenceWarning, stacklevel=3)
    full = with_deterministic(model, {k: jnp.asarray(v) for k, v in params.items()}, data, random.PRNGKey(0))
    return Fit(
        method="em",
        params={k: np.asarray(v) for k, v in full.items()},
        losses=-trace,
        converged=converged,
        num_steps=len(trace) - 1,
        **fit_context(module, data, priors, seed, model_options),
        method_options=dict(max_iter=max_iter, tol=tol, reg_covar=reg_covar, num_restarts=num_restarts, init=init),
        info={"responsibilities": resp, "assignments": resp.argmax(axis=1), "restart_log_likelihoods": [r[1][-1] for r in runs]},
    )
