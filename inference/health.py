"""Sampler health: what every NUTS fit is checked for, and the warnings scripts print.

- divergent transitions (Betancourt, 2017): the sampler met curvature it could not follow;
- split R-hat above 1.01 and bulk or tail ESS below 100 per chain (Vehtari et al., 2021);
- transitions that hit the maximum tree depth: the trajectory was cut short, so the sampler
  explores slowly (a scale or correlation problem, not a bias in itself);
- chains sitting in different label permutations (models with components, the mixture): each
  chain's mean ``mu`` matched to the first chain's by the Hungarian algorithm; a chain that needs a
  permutation explores a different, equivalent mode, which inflates R-hat and breaks comparisons
  until the draws are relabelled (:func:`inference.relabel`).
"""

import warnings

import numpy as np
from numpyro.diagnostics import split_gelman_rubin

from .arviz import import_arviz
from .relabel import _permutations

MAX_R_HAT = 1.01
MIN_ESS_PER_CHAIN = 100


def r_hat(draws):
    """The largest split R-hat over a parameter's entries (chain, draw, ...), ignoring constant
    entries (the unit diagonal of a correlation factor), whose R-hat is undefined."""
    varying = np.ptp(draws.reshape(-1, *draws.shape[2:]), axis=0) > 0
    if not np.any(varying):
        return 1.0
    return float(np.max(np.asarray(split_gelman_rubin(draws))[varying]))


def _min_ess(draws, method):
    """The smallest ESS over a parameter's varying entries (ArviZ's rank-normalised estimators)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant entries give NaN
        az = import_arviz()
        values = np.asarray(az.ess(az.convert_to_dataset({"x": draws}), method=method)["x"])
    values = values[np.isfinite(values)]
    return float(values.min()) if values.size else float("nan")


def chain_permutations(mu):
    """For draws of ``mu`` (chain, draw, K, D), each chain's permutation onto the first chain's
    components, from the chains' mean ``mu``; shape (chain, K)."""
    means = mu.mean(axis=1)
    return _permutations(means[:, None], means[0])[:, 0]


def diagnose(samples, sample_stats, *, free, max_tree_depth, components=False):
    """The health of a NUTS run: ``(summary, warnings)``.

    ``samples`` are the draws by chain, ``free`` the names of the sampled parameters, and
    ``components`` whether ``mu``'s first axis indexes exchangeable components.
    """
    num_chains, num_draws = sample_stats["diverging"].shape
    summary = {
        "num_divergent": int(sample_stats["diverging"].sum()),
        "r_hat": {name: r_hat(samples[name]) for name in free},
        "ess_bulk": {name: _min_ess(samples[name], "bulk") for name in free},
        "ess_tail": {name: _min_ess(samples[name], "tail") for name in free},
        "num_max_tree_depth": int(np.sum(sample_stats["tree_depth"] >= max_tree_depth)),
        "chain_permutations": None,
        "non_finite": {name: int(np.sum(~np.isfinite(value))) for name, value in samples.items()
                       if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value))},
    }
    total = num_chains * num_draws
    found = []
    if summary["non_finite"]:
        found.append(f"non-finite draws (NaN or inf entries): {summary['non_finite']}; the chains left the range "
                     "where the model can be computed in floating point (standardise the data, or give the scales "
                     "priors on the data's scale)")
    if summary["num_divergent"]:
        found.append(f"{summary['num_divergent']} of {total} transitions diverged; the posterior has curvature the "
                     "sampler could not follow (raise target_accept_prob, or reparametrise)")
    high = {name: round(value, 3) for name, value in summary["r_hat"].items() if not value < MAX_R_HAT}
    if high:
        found.append(f"R-hat above {MAX_R_HAT}: {high}; the chains disagree (run longer, or look for several modes)")
    floor = MIN_ESS_PER_CHAIN * num_chains
    for kind in ("bulk", "tail"):
        low = {name: round(value) for name, value in summary[f"ess_{kind}"].items() if value < floor}
        if low:
            found.append(f"{kind} ESS below {floor} ({MIN_ESS_PER_CHAIN} per chain): {low}; the "
                         f"{'means' if kind == 'bulk' else 'intervals'} are not reliable (run longer)")
    if summary["num_max_tree_depth"]:
        found.append(f"{summary['num_max_tree_depth']} of {total} transitions hit the maximum tree depth "
                     f"{max_tree_depth}; exploration is slow (standardise the data, dense_mass=True, or a larger "
                     "max_tree_depth)")
    if components and num_chains > 1:
        perms = chain_permutations(samples["mu"])
        summary["chain_permutations"] = perms
        moved = [c for c in range(num_chains) if np.any(perms[c] != np.arange(perms.shape[1]))]
        if moved:
            found.append(f"chain(s) {moved} sit in a different label permutation from chain 0 "
                         f"({[perms[c].tolist() for c in moved]}); relabel the draws (inference.relabel) before "
                         "summarising, or use ordered=True")
    return summary, found
