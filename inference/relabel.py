"""Post-hoc relabelling of mixture draws against a reference solution (label switching).

The mixture's likelihood is invariant under the K! permutations of its components, so NUTS
draws (and chains) may visit different labellings. Each draw is permuted to the labelling whose
means are closest to a reference (say the EM estimate): the assignment problem
``min_perm sum_k |mu_draw[perm(k)] - mu_ref[k]|^2``, solved exactly by the Hungarian algorithm
(Kuhn, 1955; scipy's ``linear_sum_assignment``), as in Stephens (2000)'s spirit with a fixed
reference. The ``ordered=True`` option is the alternative that prevents switching a priori.
"""

import numpy as np
from scipy.optimize import linear_sum_assignment

from .result import Fit, check_fit


def relabel(fit, reference):
    """The same :class:`inference.Fit` with its components aligned to ``reference``.

    Parameters
    ----------
    fit : Fit
        A fit of a model that offers ``component_sites`` (the mixture): each draw of ``samples``
        is permuted, or, for a point estimate, ``params``.
    reference : dict or Fit
        Parameters with ``mu`` of shape (K, D), or a fit whose ``params`` have it.

    Returns
    -------
    Fit
        ``samples`` permuted and ``params`` their means (or ``params`` permuted), and
        ``info["num_relabelled"]``, the number of draws (or estimates) whose labelling changed.
    """
    check_fit("fit", fit)
    if not isinstance(reference, (dict, Fit)) or "mu" not in (reference.params if isinstance(reference, Fit) else reference):
        raise ValueError(
            f"reference must be a dict with key 'mu' or an inference.Fit; got {type(reference).__name__} {reference!r:.80}"
        )
    if not hasattr(fit.model, "component_sites"):
        raise ValueError(f"relabel needs a model with components; got {fit.model_name}")
    reference_mu = np.asarray((reference.params if hasattr(reference, "params") else reference)["mu"])
    sites = fit.model.component_sites(**fit.options)
    if fit.samples is None:
        perm = _permutations(np.asarray(fit.params["mu"])[None, None], reference_mu)[0, 0]
        params = {name: np.asarray(value)[perm] if name in sites else value for name, value in fit.params.items()}
        moved = int(np.any(perm != np.arange(len(perm))))
        return fit._replace(params=params, info={**fit.info, "num_relabelled": moved})
    perms = _permutations(fit.samples["mu"], reference_mu)
    samples = {
        name: np.take_along_axis(value, perms.reshape(perms.shape + (1,) * (value.ndim - 3)), axis=2) if name in sites else value
        for name, value in fit.samples.items()
    }
    moved = int(np.sum(np.any(perms != np.arange(perms.shape[-1]), axis=-1)))
    return fit._replace(
        samples=samples,
        params={name: value.mean(axis=(0, 1)) for name, value in samples.items()},
        info={**fit.info, "num_relabelled": moved},
    )


def _permutations(mu, reference_mu):
    """For means ``mu`` (chain, draw, K, D), the permutation of each draw nearest the reference."""
    if mu.shape[2:] != reference_mu.shape:
        raise ValueError(f"reference['mu'] must have shape {mu.shape[2:]}; got {reference_mu.shape}")
    cost = ((mu[:, :, None, :, :] - reference_mu[None, None, :, None, :]) ** 2).sum(-1)  # [c, s, ref k, draw j]
    perms = np.empty(mu.shape[:3], dtype=np.int64)
    for c, s in np.ndindex(*mu.shape[:2]):
        perms[c, s] = linear_sum_assignment(cost[c, s])[1]
    return perms
