"""Maximum likelihood (Definition 1.3, eq. 1.8): ``theta_ML = argmax_theta log p(data | theta)``.

The prior terms of the model are removed generically (:class:`inference.handlers.likelihood_only`),
enumerated discrete latents are summed out, and the negative log-likelihood is minimised by
L-BFGS over the unconstrained coordinates (:mod:`inference._point`). No prior, no regularisation.
"""

from ._point import OPTIONS, point_estimate

__all__ = ["OPTIONS", "run"]


def run(module, data, *, priors, seed, model_options, **options):
    """Fit by ML; ``options`` are those of :data:`OPTIONS` (optimizer, max_iter, gtol, ftol, learning_rate, init)."""
    return point_estimate("ml", module, data, priors=priors, seed=seed, model_options=model_options, likelihood=True, **options)
