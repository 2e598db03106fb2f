"""Variational inference: SVI with a Gaussian guide in the unconstrained space.

``guide="mean_field"`` is NumPyro's ``AutoNormal`` (independent Gaussians); ``"full_rank"`` is
``AutoMultivariateNormal`` (one Gaussian with a dense covariance). The ELBO (Blei et al., 2017)
is maximised by Adam; discrete latents marked for enumeration are summed out by
``TraceEnum_ELBO``. The step size decays from ``learning_rate`` to a hundredth of it along a
cosine. ``losses`` is the negative ELBO per step; ``samples`` are draws from the
fitted guide pushed through the constraints, one chain.

``batch_size`` B < N fits on minibatches: each step draws B rows (with replacement) and scales
their log-likelihood by N / B (:class:`inference.handlers.scale_data`, what a subsampled
``numpyro.plate`` does), an unbiased estimate of the full ELBO whose gradient costs O(B), so N
can be as large as memory holds; the steps run in one compiled ``lax.scan``.

The negative ELBO is a noisy objective, so ``converged`` is a plateau test: the mean over the
last tenth of the steps must not be below the mean over the tenth before by more than two of
its standard errors.
"""

from functools import partial

import jax
import numpy as np
import optax
from jax import random
from numpyro.infer import SVI
from numpyro.infer.autoguide import AutoMultivariateNormal, AutoNormal
from numpyro.infer.initialization import init_to_value

from ._setup import elbo_for, starting_values
from .handlers import hide_enumerated, scale_data, with_deterministic
from .result import Fit, fit_context

OPTIONS = {
    "guide": "mean_field",
    "num_steps": 5000,
    "learning_rate": 1e-2,
    "num_particles": 1,
    "num_samples": 1000,
    "batch_size": None,
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


def _minibatch_run(svi, rng_key, num_steps, batch_size, data):
    """SVI steps on minibatches of ``batch_size`` rows drawn with replacement, in one ``lax.scan``."""
    num_data = data["X"].shape[0]
    key_init, key_steps = random.split(rng_key)

    def batch(key, data):
        rows = random.randint(key, (batch_size,), 0, num_data)
        return {name: value[rows] for name, value in data.items()}

    @jax.jit
    def steps(state, keys, data):
        return jax.lax.scan(lambda state, key: svi.update(state, **batch(key, data)), state, keys)

    data = {name: jax.numpy.asarray(value) for name, value in data.items()}
    state = svi.init(key_init, **batch(key_init, data))
    state, losses = steps(state, random.split(key_steps, num_steps), data)
    return svi.get_params(state), losses


def run(module, data, *, priors, seed, model_options, guide, num_steps, learning_rate, num_particles, num_samples,
        batch_size, progress_bar, init):
    """Fit the guide; ``params`` are the guide's medians, ``samples`` its draws."""
    num_data = data["X"].shape[0]
    if batch_size is not None and batch_size > num_data:
        raise ValueError(f"batch_size must be at most num_data = {num_data}; got batch_size = {batch_size}")
    key_init, key_svi, key_draw = random.split(random.PRNGKey(seed), 3)
    start = starting_values(module, key_init, data, model_options, init, priors)
    model = partial(module.model, priors=priors, **model_options)
    elbo = elbo_for(model, start, data, num_particles)
    auto = GUIDES[guide](hide_enumerated(model), init_loc_fn=init_to_value(values=start))
    # the step decays to 1/100 of learning_rate: a constant step leaves the guide jittering by
    # the gradient noise of the one-sample ELBO, several tenths of a posterior sd on logistic data
    schedule = optax.cosine_decay_schedule(learning_rate, num_steps, alpha=0.01)
    if batch_size is None:
        svi = SVI(model, auto, optax.adam(schedule), elbo)
        result = svi.run(key_svi, num_steps, progress_bar=progress_bar, **data)
        fitted, losses = result.params, np.asarray(result.losses)
    else:
        svi = SVI(scale_data(model, factor=num_data / batch_size), auto, optax.adam(schedule), elbo)
        fitted, losses = _minibatch_run(svi, key_svi, num_steps, batch_size, data)
        losses = np.asarray(losses)
    latent = auto.sample_posterior(key_draw, fitted, sample_shape=(num_samples,))
    draws = jax.vmap(lambda draw: with_deterministic(model, draw, data, key_draw))(latent)
    return Fit(
        method="vi",
        params={name: np.asarray(value) for name, value in with_deterministic(model, auto.median(fitted), data, key_draw).items()},
        losses=losses,
        converged=bool(np.all(np.isfinite(losses))) and _plateau(losses),
        num_steps=num_steps,
        **fit_context(module, data, priors, seed, model_options),
        method_options=dict(guide=guide, num_steps=num_steps, learning_rate=learning_rate,
                            num_particles=num_particles, num_samples=num_samples, batch_size=batch_size,
                            progress_bar=progress_bar, init=init),
        info={"final_elbo": float(-losses[-max(len(losses) // 10, 1):].mean())},
        samples={name: np.asarray(value)[None] for name, value in draws.items()},
    )
