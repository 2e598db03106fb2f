"""Maximum a posteriori: ``theta_MAP = argmax_theta log p(data | theta) + log p(theta)``.

The log joint density is maximised in the constrained space, without the Jacobian of the
transform to unconstrained space, so the result is the mode of the posterior density of the
parameters as the model states them. With ``"flat"`` priors it equals ML.
"""

from ._point import OPTIONS, point_estimate

__all__ = ["OPTIONS", "run"]


def run(module, data, *, priors, seed, model_options, **options):
    """Fit by MAP; ``options`` are those of :data:`OPTIONS` (optimizer, max_iter, gtol, ftol, learning_rate, init)."""
    return point_estimate("map", module, data, priors=priors, seed=seed, model_options=model_options, likelihood=False, **options)
