"""The Laplace approximation: a Gaussian at the posterior mode in the unconstrained space.

With ``u`` the unconstrained coordinates (``theta = T(u)``) and
``U(u) = -log p(data, T(u)) - log |det grad T(u)|`` NumPyro's potential energy (discrete
latents summed out), the approximation is ``u ~ N(u*, H^{-1})`` with ``u* = argmin U`` and
``H`` the Hessian of ``U`` at ``u*`` (MacKay, 2003, ch. 27; Murphy, 2022, sec. 7.4.3). Draws
are pushed through ``T``, so they respect every constraint. Because of the Jacobian term,
``u*`` is the mode of the density of ``u``, not the MAP of ``theta``.

If ``H`` is not positive definite there is no Gaussian to draw from: an error names the
parameters along the flat or negative directions. Degenerate draws are never returned.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import random
from jax.flatten_util import ravel_pytree
from numpyro.infer.initialization import init_to_value
from numpyro.infer.util import initialize_model

from . import optim
from ._compiled import compiled
from ._setup import fit_keys, free_params, starting_values, tolerances
from .result import Fit, fit_context

OPTIONS = {"num_samples": 1000, "max_iter": 1000, "init": None}


def _solve(rng_key, start, data, *, model, num_samples, max_iter, gtol):
    key_init, key_draw = random.split(rng_key)
    info, potential_fn, postprocess_fn, _ = initialize_model(
        key_init, model, model_kwargs=data, init_strategy=init_to_value(values=start)
    )
    num_data = data["X"].shape[0]
    # the optimiser's own check computes the Hessian at the mode: it is H / num_data
    result = optim.minimize(lambda u: potential_fn(u) / num_data, info.z, max_iter=max_iter, gtol=gtol,
                            max_hessian_size=np.inf)
    flat, unravel = ravel_pytree(result.params)
    hessian = result.hessian * num_data
    eigenvalues, eigenvectors = jnp.linalg.eigh(hessian)
    # draws u* + V diag(lambda^-1/2) eps: exact N(u*, H^{-1}) when every lambda > 0
    noise = random.normal(key_draw, (num_samples, flat.size))
    draws = flat + (noise / jnp.sqrt(jnp.abs(eigenvalues))) @ eigenvectors.T
    samples = jax.vmap(lambda v: postprocess_fn(unravel(v)))(draws)
    return postprocess_fn(result.params), samples, result, eigenvalues, eigenvectors


def _flat_directions(spec_names, unconstrained, eigenvalues, eigenvectors, threshold):
    """The parameter names that carry the eigenvectors whose eigenvalue is below ``threshold``."""
    _, unravel = ravel_pytree(unconstrained)
    names = set()
    for value, vector in zip(eigenvalues, eigenvectors.T):
        if value <= threshold:
            parts = unravel(vector)
            names |= {name for name in spec_names if np.max(np.abs(np.asarray(parts[name])), initial=0.0) > 0.1}
    return sorted(names)


def run(module, data, *, priors, seed, model_options, num_samples, max_iter, init):
    """Fit by Laplace's method; ``params`` are the mode, ``samples`` one chain of draws."""
    spec = free_params(module, data, model_options, priors)
    key_init, key_solve = fit_keys(seed)
    start = starting_values(module, key_init, data, model_options, init, priors)
    model = partial(module.model, priors=priors, **model_options)
    gtol, _ = tolerances(None, None, "lbfgs")
    solve = compiled("laplace", module, model_options, priors, dict(num_samples=num_samples, max_iter=max_iter),
                     partial(_solve, model=model, num_samples=num_samples, max_iter=max_iter, gtol=gtol))
    mode, samples, result, eigenvalues, eigenvectors = solve(key_solve, start, data)
    eigenvalues, eigenvectors = np.asarray(eigenvalues), np.asarray(eigenvectors)
    status = int(result.status)
    # a Hessian from autodiff is exact to round-off, ~1e-15 of its largest eigenvalue
    threshold = 1e-10 * max(np.abs(eigenvalues).max(initial=0.0), 1.0)
    if eigenvalues.size and eigenvalues.min() <= threshold:
        flat = _flat_directions(list(spec), result.params, eigenvalues, eigenvectors, threshold)
        raise ValueError(
            f"laplace: the Hessian of the negative log posterior is not positive definite at the mode "
            f"(smallest eigenvalue {eigenvalues.min():.3g}); flat or negative directions involve {flat}. "
            "Give those parameters proper priors, or use NUTS"
        )
    if status not in optim.CONVERGED:
        raise ValueError(f"laplace: the search for the mode did not converge ({optim.STATUS[status]})")
    samples = {name: np.asarray(value)[None] for name, value in samples.items()}
    return Fit(
        method="laplace",
        params={name: np.asarray(value) for name, value in mode.items()},
        losses=np.asarray(result.losses)[: int(result.num_steps) + 1] * data["X"].shape[0],
        converged=True,
        num_steps=int(result.num_steps),
        **fit_context(module, data, priors, seed, model_options),
        method_options=dict(num_samples=num_samples, max_iter=max_iter, init=init),
        info={"status": optim.STATUS[status], "min_eigenvalue": float(eigenvalues.min(initial=np.inf))},
        samples=samples,
    )

