"""The No-U-Turn Sampler (Hoffman & Gelman, 2014) on any lecture model.

NumPyro's NUTS with its windowed step-size and mass-matrix adaptation; discrete latents marked
for enumeration (the mixture's ``z``) are summed out, never sampled. ``dense_mass=True`` adapts
a dense mass matrix, which strongly correlated posteriors (an unstandardised regression) need.
The draws start from the model's ``init_values`` (overridden by ``init``), as the optimisers do.

``converged`` means no divergent transition and a split R-hat below 1.01 for every parameter.
Chains run one after another by default (``chain_method="sequential"``, one loop over the
chains: :func:`_one_after_another`); ``"parallel"`` runs one chain per JAX device
(``numpyro.set_host_device_count`` or ``jax_num_cpu_devices``, set before JAX starts; with fewer
devices than chains they run one after another, with a warning), ``"vectorized"`` batches them.

The whole run (initialisation, warmup, sampling) is one compiled program (:mod:`inference._compiled`),
with the data and the start as its arguments: a second fit of new data of the same shape
(simulation-based calibration refits hundreds) does not recompile. Parallel chains are part of
that program too: a ``shard_map`` over a mesh of one device per chain (:func:`_across_devices`),
where NumPyro's own ``pmap`` compiled anew at every fit. Only ``progress_bar=True``, which
NumPyro runs from Python, is left uncompiled (with parallel chains, in NumPyro's ``pmap``).
"""

import warnings
from functools import partial

import jax
import numpy as np
from jax.sharding import PartitionSpec
from numpyro.infer import MCMC, NUTS
from numpyro.infer.initialization import init_to_value

from ._compiled import compiled, unvalidated
from ._point import ConvergenceWarning
from ._setup import fit_keys, free_params, starting_values
from ._sharding import device_mesh
from .health import MAX_R_HAT, diagnose
from .result import Fit, fit_context

OPTIONS = {
    "num_warmup": 1000,
    "num_samples": 1000,
    "num_chains": 1,
    "dense_mass": False,
    "target_accept_prob": 0.8,
    "max_tree_depth": 10,
    "chain_method": "sequential",
    "progress_bar": False,
    "init": None,
}

EXTRA_FIELDS = ("diverging", "num_steps", "accept_prob", "energy", "potential_energy")


def _sample(rng_key, start, data, *, model, num_warmup, num_samples, num_chains, dense_mass, target_accept_prob,
            max_tree_depth, chain_method, progress_bar):
    """Build NUTS and MCMC, run every chain from ``start``; returns the draws and the extra fields
    by chain. Traced by ``jax.jit``: the kernel and its adaptation state are built inside the trace,
    so nothing of one fit's data stays in the compiled program.

    NumPyro's ``MCMC.run`` does not reuse its own compiled loop from one call to the next (the loop
    takes a freshly wrapped body as a static argument), hence the jit around the whole run.
    """
    if chain_method == "parallel" and not progress_bar:
        chain_method = _across_devices(num_chains)
    elif chain_method == "sequential" and num_chains > 1 and not progress_bar:
        chain_method = _one_after_another
    kernel = NUTS(
        model, dense_mass=dense_mass, target_accept_prob=target_accept_prob, max_tree_depth=max_tree_depth,
        init_strategy=init_to_value(values=start),
    )
    mcmc = MCMC(kernel, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                chain_method=chain_method, progress_bar=progress_bar)
    mcmc.run(rng_key, **data, extra_fields=EXTRA_FIELDS)
    return mcmc.get_samples(group_by_chain=True), mcmc.get_extra_fields(group_by_chain=True)


def _one_after_another(one_chain):
    """NumPyro's ``chain_method="sequential"`` as one ``lax.map`` over the chains.

    NumPyro loops over the chains in Python, which under ``jax.jit`` traces ``one_chain`` once per
    chain: the program held a copy of the whole sampler for each (compiling 8.0 s for the iris
    classifier's two chains, 6.2 s as one loop). The chains and their keys are the same, and so
    are the draws, to the bit.
    """
    return partial(jax.lax.map, one_chain)


def _across_devices(num_chains):
    """NumPyro's ``chain_method`` as a callable: ``one_chain`` mapped over the chains by a
    ``shard_map``, each of the first ``num_chains`` devices running its own chain, with no
    communication between them (each device's while loops stop when its own chain's do).

    ``check_vma=False``: NumPyro's tree building joins, in one ``cond``, values that depend on
    the chain with values that do not, which JAX's check of varying axes rejects.
    """
    mesh = device_mesh(num_chains, "chains")

    def chain_method(one_chain):
        def this_device(args):  # the block of one chain
            return jax.tree.map(lambda x: x[None], one_chain(jax.tree.map(lambda x: x[0], args)))

        return jax.shard_map(this_device, mesh=mesh, in_specs=PartitionSpec("chains"),
                             out_specs=PartitionSpec("chains"), check_vma=False)

    return chain_method


def run(module, data, *, priors, seed, model_options, num_warmup, num_samples, num_chains, dense_mass,
        target_accept_prob, max_tree_depth, chain_method, progress_bar, init):
    """Sample the posterior; ``params`` are posterior means, ``samples`` the draws by chain."""
    spec = free_params(module, data, model_options, priors)
    num_devices = jax.local_device_count()
    if chain_method == "parallel" and num_chains > num_devices:
        warnings.warn(
            f"chain_method='parallel' runs one chain per JAX device, and there are {num_devices} for "
            f"{num_chains} chains: the chains run one after another. Set the device count before JAX starts "
            f"(numpyro.set_host_device_count({num_chains}) on CPU)", UserWarning, stacklevel=3,
        )
        chain_method = "sequential"
    key_init, key_mcmc = fit_keys(seed)
    start = starting_values(module, key_init, data, model_options, init, priors)
    options = dict(num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains, dense_mass=dense_mass,
                   target_accept_prob=target_accept_prob, max_tree_depth=max_tree_depth,
                   chain_method=chain_method, progress_bar=progress_bar)
    sample = partial(_sample, model=partial(module.model, priors=priors, **model_options), **options)
    # NumPyro runs a progress bar from Python: that stays uncompiled
    sample = unvalidated(sample) if progress_bar else compiled("nuts", module, model_options, priors, options, sample)
    # JAX arrays for start values: under pmap (a progress bar with parallel chains) NumPyro's
    # CorrCholeskyTransform indexes them with traced indices. device_put, not jnp.asarray, which
    # compiles a program per shape to copy NumPy's arrays (8 ms each in a fresh process)
    samples, extra = sample(key_mcmc, jax.device_put(start), data)
    samples = {name: np.asarray(value) for name, value in samples.items()}
    extra = {name: np.asarray(value) for name, value in extra.items()}
    # the tree depth of a trajectory of n leapfrog steps is log2(n + 1)
    stats = {
        "diverging": extra["diverging"],
        "n_steps": extra["num_steps"],
        "tree_depth": np.log2(extra["num_steps"] + 1).astype(np.int64),
        "acceptance_rate": extra["accept_prob"],
        "energy": extra["energy"],
        "lp": -extra["potential_energy"],
    }
    health, problems = diagnose(samples, stats, free=list(spec), max_tree_depth=max_tree_depth,
                                components=hasattr(module, "component_sites"))
    r_hat = health["r_hat"]
    num_divergent = health["num_divergent"]
    converged = (num_divergent == 0 and not health["non_finite"]
                 and all(np.isfinite(v) and v < MAX_R_HAT for v in r_hat.values()))
    if health["non_finite"]:  # the other health problems are reported in info (scripts print them); not this
        warnings.warn(f"nuts for {module.__name__.rsplit('.', 1)[-1]}: {problems[0]}", ConvergenceWarning, stacklevel=3)
    return Fit(
        method="nuts",
        params={name: value.mean(axis=(0, 1)) for name, value in samples.items()},
        losses=-stats["lp"].reshape(-1),
        converged=converged,
        num_steps=int(stats["n_steps"].sum()),
        **fit_context(module, data, priors, seed, model_options),
        method_options={**options, "init": init},
        info={**health, "warnings": problems},
        samples=samples,
        sample_stats=stats,
    )
