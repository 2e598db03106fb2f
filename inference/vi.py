"""Variational inference: SVI with a Gaussian guide in the unconstrained space.

``guide="mean_field"`` is NumPyro's ``AutoNormal`` (independent Gaussians); ``"full_rank"`` is
``AutoMultivariateNormal`` (one Gaussian with a dense covariance). The ELBO (Blei et al., 2017)
is maximised by Adam; discrete latents marked for enumeration are summed out
(:class:`inference._density.OrderedELBO`). The step size decays from ``learning_rate`` to a
hundredth of it along a cosine. ``losses`` is the negative ELBO per step; ``samples`` are
draws from the fitted guide pushed through the constraints, one chain.

``batch_size`` B < N fits on minibatches: each step draws B rows (with replacement) and scales
their log-likelihood by N / B (:class:`inference.handlers.scale_data`, what a subsampled
``numpyro.plate`` does), an unbiased estimate of the full ELBO whose gradient costs O(B), so N
can be as large as memory holds. With several JAX devices (``devices``: all by default) the
rows are sharded across them and XLA sums the ELBO and its gradient across devices (as for ML
and MAP, :mod:`inference._point`). The whole fit is one compiled program
(:mod:`inference._compiled`), its steps one ``lax.scan``.

The negative ELBO is a noisy objective, so ``converged`` is a plateau test: the mean over the
last tenth of the steps must not be below the mean over the tenth before by more than two of
its standard errors.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import random
from numpyro.infer import SVI
from numpyro.infer.autoguide import AutoMultivariateNormal, AutoNormal
from numpyro.infer.initialization import init_to_value
from tqdm import tqdm

from ._compiled import compiled
from ._density import OrderedELBO
from ._setup import fit_keys, starting_values
from ._sharding import fit_mesh, sharded_data
from .handlers import hide_enumerated, observed_rows, scale_data, with_deterministic
from .result import Fit, fit_context

OPTIONS = {
    "guide": "mean_field",
    "num_steps": 5000,
    "learning_rate": 1e-2,
    "num_particles": 1,
    "num_samples": 1000,
    "batch_size": None,
    "devices": None,
    "progress_bar": False,
    "init": None,
}
GUIDES = {"mean_field": AutoNormal, "full_rank": AutoMultivariateNormal}


def _plateau(losses):
    tenth = max(len(losses) // 10, 2)
    last, before = losses[-tenth:], losses[-2 * tenth : -tenth]
    if len(before) < 2:
        return False
    return bool(before.mean() - last.mean() <= 2 * last.std(ddof=1) / np.sqrt(len(last)))


_BAR = None  # the progress bar of the fit running now, advanced from inside the compiled steps


def _advance(steps):
    if _BAR is not None:
        _BAR.update(int(steps))


def _solve(rng_key, start, data, mask, *, model, guide, num_steps, learning_rate, num_particles, num_samples, batch_size,
           progress_bar):
    """The whole fit, traced by ``jax.jit``: the guide and SVI are built inside the trace, the
    steps run in one ``lax.scan`` on all rows or on minibatches of ``batch_size`` rows drawn with
    replacement, and the draws and medians are pushed through the model's deterministic sites.
    ``mask`` marks the rows that are data, not padding (rows sharded over devices)."""
    key_init, key_steps, key_draw = random.split(rng_key, 3)
    num_data = data["X"].shape[0]
    auto = GUIDES[guide](hide_enumerated(model), init_loc_fn=init_to_value(values=start))
    # the step decays to 1/100 of learning_rate: a constant step leaves the guide jittering by
    # the gradient noise of the one-sample ELBO, several tenths of a posterior sd on logistic data
    schedule = optax.cosine_decay_schedule(learning_rate, num_steps, alpha=0.01)
    target = model if batch_size is None else scale_data(model, factor=num_data / batch_size)
    target = target if mask is None else observed_rows(target, mask=mask)
    svi = SVI(target, auto, optax.adam(schedule), OrderedELBO(num_particles))

    def batch(key):
        if batch_size is None:
            return data
        rows = random.randint(key, (batch_size,), 0, num_data)
        return {name: value[rows] for name, value in data.items()}

    every = max(num_steps // 50, 1)

    def step(state, indexed_key):
        index, key = indexed_key
        if progress_bar:
            jax.lax.cond((index + 1) % every == 0, lambda: jax.debug.callback(_advance, every), lambda: None)
        return svi.update(state, **batch(key))

    state = svi.init(key_init, **batch(key_init))
    state, losses = jax.lax.scan(step, state, (jnp.arange(num_steps), random.split(key_steps, num_steps)))
    fitted = svi.get_params(state)
    latent = auto.sample_posterior(key_draw, fitted, sample_shape=(num_samples,))
    draws = jax.vmap(lambda draw: with_deterministic(model, draw, data, key_draw))(latent)
    return with_deterministic(model, auto.median(fitted), data, key_draw), losses, draws


def run(module, data, *, priors, seed, model_options, guide, num_steps, learning_rate, num_particles, num_samples,
        batch_size, devices, progress_bar, init):
    """Fit the guide; ``params`` are the guide's medians, ``samples`` its draws."""
    num_data = data["X"].shape[0]
    if batch_size is not None and batch_size > num_data:
        raise ValueError(f"batch_size must be at most num_data = {num_data}; got batch_size = {batch_size}")
    mesh = fit_mesh(devices, batch_size)
    key_init, key_fit = fit_keys(seed)
    start = starting_values(module, key_init, data, model_options, init, priors)
    options = dict(guide=guide, num_steps=num_steps, learning_rate=learning_rate, num_particles=num_particles,
                   num_samples=num_samples, batch_size=batch_size, progress_bar=progress_bar)
    model = partial(module.model, priors=priors, **model_options)
    solve = compiled("vi", module, model_options, priors, options, partial(_solve, model=model, **options))
    global _BAR
    _BAR = tqdm(total=num_steps, desc="vi", leave=False) if progress_bar else None
    try:
        params, losses, draws = solve(key_fit, start, *sharded_data(data, mesh))
        jax.effects_barrier()  # the last callbacks of the bar
    finally:
        if _BAR is not None:
            _BAR.close()
        _BAR = None
    losses = np.asarray(losses)
    return Fit(
        method="vi",
        params={name: np.asarray(value) for name, value in params.items()},
        losses=losses,
        converged=bool(np.all(np.isfinite(losses))) and _plateau(losses),
        num_steps=num_steps,
        **fit_context(module, data, priors, seed, model_options),
        method_options={**options, "devices": 1 if mesh is None else mesh.size, "init": init},
        info={"final_elbo": float(-losses[-max(len(losses) // 10, 1):].mean())},
        samples={name: np.asarray(value)[None] for name, value in draws.items()},
    )
