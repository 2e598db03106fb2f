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


def relabel(fit, reference):
    """The same :class:`inference.Fit` with every draw's components aligned to ``reference``.

    Parameters
    ----------
    fit : Fit
        A fit with ``samples`` of a model that offers ``component_sites`` (the mixture).
    reference : dict or Fit
        Parameters with ``mu`` of shape (K, D), or a fit whose ``params`` have it.

    Returns
    -------
    Fit
        ``samples`` permuted, ``params`` their means, and ``info["num_relabelled"]``, the number
        of draws whose labelling changed.
    """
    if fit.samples is None or not hasattr(fit.model, "component_sites"):
        raise ValueError(f"relabel needs draws of a model with components; got method {fit.method!r} on {fit.model_name}")
    reference_mu = np.asarray((reference.params if hasattr(reference, "params") else reference)["mu"])
    mu = fit.samples["mu"]  # (chain, draw, K, D)
    if mu.shape[2:] != reference_mu.shape:
        raise ValueError(f"reference['mu'] must have shape {mu.shape[2:]}; got {reference_mu.shape}")
    cost = ((mu[:, :, None, :, :] - reference_mu[None, None, :, None, :]) ** 2).sum(-1)  # [c, s, ref k, draw j]
    perms = np.empty(mu.shape[:3], dtype=np.int64)
    for c, s in np.ndindex(*mu.shape[:2]):
        perms[c, s] = linear_sum_assignment(cost[c, s])[1]
    sites = fit.model.component_sites(**fit.options)
    samples = {
        name: np.take_along_axis(value, perms.reshape(perms.shape + (1,) * (value.ndim - 3)), axis=2) if name in sites else value
        for name, value in fit.samples.items()
    }
    moved = int(np.sum(np.any(perms != np.arange(mu.shape[2]), axis=-1)))
    return fit._replace(
        samples=samples,
        params={name: value.mean(axis=(0, 1)) for name, value in samples.items()},
        info={**fit.info, "num_relabelled": moved},
    )
