"""Expectation-maximisation (Dempster, Laird & Rubin, 1977) for models with an enumerable latent.

The E-step is generic: the responsibilities ``gamma_nk = p(z_n = k | x_n, theta)`` (eq. 1.18)
come from the NumPyro model itself, traced once with its one enumerated site at all its values
(:func:`inference._density.label_log_joint`, the enumeration that the other methods sum out),
each row's log joint density at each value k under :class:`inference.handlers.likelihood_only`
(the priors out), normalised over k in log space.

The M-step maximises the expected complete-data log-likelihood
``Q(theta) = sum_n sum_k gamma_nk log p(x_n, z_n = k | theta)``, plus ``log p(theta)`` for MAP-EM
(``objective="map"``, the model's priors):

- ML with a model that offers the closed form as its ``m_step`` hook (the mixture for all four
  covariance types, the classifier with missing labels) and no parameter fixed by the priors:
  that closed form, with scikit-learn's ``reg_covar`` on the covariances' diagonal;
- otherwise (MAP-EM, or ``m_step="numerical"``) a numerical maximisation (generalised EM): L-BFGS
  over the unconstrained parameters, started at the current ones, of ``Q`` computed from the
  model's trace, so it works for any priors the model accepts. Every step raises the objective,
  as EM requires; the fixed point is the MAP (or ML) estimate of ``method="map"`` (``"ml"``).

The objective trace (log-likelihood, eq. 1.15, or log-posterior up to its constant) must never
decrease beyond round-off: a decrease gives a warning. ``converged`` means the change of its
mean per data point fell below ``tol``, as in scikit-learn; reaching ``max_iter`` first gives a
``ConvergenceWarning``.

When the ML M-step is closed-form and the model also offers ``em_statistics`` and ``em_update``
(the mixture: additive sufficient statistics of a block of rows, and the M-step from their sum),
the whole run is one compiled ``while_loop`` (``engine="auto"``) over chunks of ``chunk_size``
rows, with the same trace and stopping rule; ``engine="generic"`` keeps the model-traced E-step
at every iteration. With several JAX devices (``devices``: all by default) the chunks are sharded
across a one-axis mesh and each device sums its own; XLA adds the devices' sums. The result equals
the one-device run up to the order of the additions (about 1e-15 relative).

Starts: the model's ``init_values`` (k-means for the mixture, ``init_method="kmeans"``) or an
M-step from random responsibilities (``init_method="random"``, as scikit-learn's
``init_params="random"``), each overridden by the user's ``init``; ``num_restarts`` starts,
the best end kept.
"""

import warnings
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import random, shard_map
from jax.scipy.special import logsumexp
from jax.sharding import PartitionSpec
from tqdm import tqdm

from models._checks import STREAM_BLOCK_ROWS, read_rows
from models._priors import fixed_names

from . import optim
from ._compiled import compiled, compiled_for_model, compiled_function
from ._density import label_log_joint
from ._point import ConvergenceWarning, IllPosedWarning
from ._setup import (
    check_init,
    enumerated_sites,
    fit_keys,
    free_params,
    starting_values,
    tolerances,
)
from ._sharding import aligned_zeros, placed, row_mesh
from .handlers import (
    constrain,
    likelihood_only,
    log_prior,
    parameter_transforms,
    unconstrain,
    with_deterministic,
)
from .result import Fit, fit_context
from .xla import OPTIMISED

OPTIONS = {
    "max_iter": 100,
    "tol": 1e-3,
    "reg_covar": None,
    "num_restarts": 1,
    "init": None,
    "init_method": "kmeans",
    "objective": "ml",
    "m_step": "auto",
    "progress_bar": False,
    "engine": "auto",
    "chunk_size": 4096,
    "devices": None,
}
ENGINES = ("auto", "generic")
INIT_METHODS = ("kmeans", "random")
OBJECTIVES = ("ml", "map")
M_STEPS = ("auto", "closed", "numerical")
REG_COVAR = 1e-6  # scikit-learn's default
# the compiled engine's objective trace has room for a multiple of this many values, so that runs
# up to max_iter = 1023 share a program: the mixture script's bad start (max_iter = 300) compiled
# a second one of its main EM's (100), 0.4 s cold
TRACE_BLOCK = 1024
STREAM_SAMPLE_ROWS = 100_000  # rows of data on disk that k-means sees for the start


def _check_enumerated_site(model, params, data, module_name):
    sites = enumerated_sites(model, params, data)
    if len(sites) != 1:
        raise ValueError(
            f"em needs exactly one enumerated discrete latent site; {module_name} has {len(sites)} with these data "
            "(with nothing missing there is nothing for EM to fill in: use method='ml')"
        )


def log_joint(model, params, data):
    """``log p(row_n, z_n = k | theta)`` from the model, shape (N, K); the E-step's input."""
    return label_log_joint(likelihood_only(model), data, params)


def expected_log_joint(model, with_prior, params, resp, data):
    """``Q(theta) = sum_nk gamma_nk log p(x_n, z_n = k | theta)`` (+ ``log p(theta)``).

    A value k with ``gamma_nk = 0`` (a given label rules it out: log density -inf) adds nothing.
    """
    joint = log_joint(model, params, data)
    expected = jnp.sum(jnp.where(resp > 0, resp * joint, 0.0))
    return expected + log_prior(model, params, data) if with_prior else expected


def _numerical_m_step(params, resp, data, *, model, with_prior):
    """The parameters maximising :func:`expected_log_joint` by L-BFGS over the unconstrained
    parameters, from ``params``; the start is kept unless it improves. Traced into one program
    per model binding and shapes (``run``), which every iteration and every refit reuses."""
    num_data = data["X"].shape[0]
    gtol, ftol = tolerances(None, None, "lbfgs")
    transforms = parameter_transforms(model, params, data)

    def loss(unconstrained):
        return -expected_log_joint(model, with_prior, constrain(transforms, unconstrained), resp, data) / num_data

    start = unconstrain(transforms, params)
    result = optim.minimize(loss, start, max_iter=500, gtol=gtol, ftol=ftol, max_hessian_size=0)
    better = loss(result.params) <= loss(start)
    return jax.tree.map(lambda new, old: jnp.where(better, new, old), constrain(transforms, result.params), params)


def _run_once(data, start, *, e_step, m_step, log_prior_fn, max_iter, tol, progress_bar):
    num_data = data["X"].shape[0]
    params, trace, converged = dict(start), [], False
    for _ in tqdm(range(max_iter + 1), desc="em", disable=not progress_bar, leave=False):
        joint = np.asarray(e_step(jax.device_put(params), data))
        marginal = logsumexp(joint, axis=1)
        resp = np.exp(joint - marginal[:, None])
        trace.append(float(marginal.sum()) + log_prior_fn(params))
        if _converged(trace, num_data, tol):
            converged = True
            break
        if len(trace) == max_iter + 1:
            break
        params = {k: np.asarray(v) for k, v in m_step(params, resp).items()}
    return params, np.asarray(trace), converged, resp


def _breakdown(run, data, reg_covar):
    """Why EM produced non-finite parameters: a covariance singular in float64 (as scikit-learn's
    "ill-defined empirical covariance"), said with what to change."""
    X = data["X"]
    scale = float(np.max(np.abs(X))) if not isinstance(X, np.memmap) else float("nan")
    first = next((i for i, value in enumerate(run[1]) if not np.isfinite(value)), len(run[1]))
    return (
        f"em: the parameters became non-finite (first at iteration {first}): a component's covariance is singular "
        f"in float64, as when a component sits on fewer than D + 1 distinct points whose spread makes reg_covar = "
        f"{reg_covar:g} smaller than the round-off of its covariance (data up to {scale:.3g} in magnitude). Increase "
        "reg_covar, standardise X, or use fewer components"
    )


def _converged(trace, num_data, tol):
    """The stopping rule of every engine: the objective's change per data point below ``tol``."""
    return len(trace) > 1 and abs(trace[-1] - trace[-2]) / num_data < tol


def chunk_rows(X, chunk_size, num_shards=1, num_chunks=None):
    """``X`` (N, D) as (num_chunks, chunk_size, D), zero-padded to ``num_chunks`` chunks (by
    default the fewest that split evenly over ``num_shards`` devices), with row weights 1 (data)
    or 0 (padding); NumPy, done once, in buffers that the device takes as they are."""
    X = np.asarray(X, dtype=np.float64)
    num_data, D = X.shape
    if num_chunks is None:
        num_chunks = -(-num_data // (chunk_size * num_shards)) * num_shards
    rows = aligned_zeros((num_chunks * chunk_size, D))
    rows[:num_data] = X
    weights = aligned_zeros(num_chunks * chunk_size)
    weights[:num_data] = 1.0
    return rows.reshape(num_chunks, chunk_size, D), weights.reshape(num_chunks, chunk_size)


def _spread_sample(X, num_rows=STREAM_SAMPLE_ROWS, num_runs=100):
    """About ``num_rows`` rows of ``X`` on disk, in ``num_runs`` runs spread evenly over it."""
    num_data = len(X)
    if num_data <= num_rows:
        return read_rows(X, 0, num_data)
    run = num_rows // num_runs
    starts = np.linspace(0, num_data - run, num_runs).astype(int)
    return np.concatenate([read_rows(X, begin, begin + run) for begin in starts])


def _run_compiled(data, start, *, module, options, reg_covar, max_iter, tol, chunk_size, mesh):
    """EM in one compiled ``while_loop`` over a model's ``em_statistics`` (summed over chunks of
    rows, and over devices when ``mesh`` shards the chunks) and ``em_update``: the same trace and
    stopping rule as :func:`_run_once`."""
    rows, weights = placed(mesh, *chunk_rows(data["X"], chunk_size, 1 if mesh is None else mesh.size))
    params = jax.device_put(start)
    num_evaluations, params, trace = compiled_loop()(
        rows, weights, params, reg_covar, tol, max_iter, statistics=module.em_statistics, update=module.em_update,
        options=tuple(sorted(options.items())), trace_length=-(-(max_iter + 1) // TRACE_BLOCK) * TRACE_BLOCK,
        mesh=mesh)
    trace = np.asarray(trace)[: int(num_evaluations)]  # sliced in NumPy: no program per length
    num_data = len(data["X"])
    converged = _converged(trace, num_data, tol)
    return {k: np.asarray(v) for k, v in params.items()}, trace, converged


def _blocks(X, block_rows, chunk_size):
    """The rows of ``X`` on disk in blocks of ``block_rows``, chunked (the last one padded to the
    same shape, so one compilation serves all), the next block read while this one is used."""
    num_data = len(X)
    with ThreadPoolExecutor(1) as reader:
        pending = reader.submit(read_rows, X, 0, min(block_rows, num_data))
        for begin in range(0, num_data, block_rows):
            block = pending.result()
            if begin + block_rows < num_data:
                pending = reader.submit(read_rows, X, begin + block_rows, min(begin + 2 * block_rows, num_data))
            yield chunk_rows(block, chunk_size, num_chunks=block_rows // chunk_size)


def _run_streamed(X, start, *, module, options, reg_covar, max_iter, tol, chunk_size, mesh, progress_bar):
    """Exact EM over a memory-mapped ``X`` read from disk block by block: each iteration sums the
    blocks' statistics (each block's over its chunks, compiled), then takes the M-step, so memory
    holds one block (two, with the one being read) whatever N. Same trace and stopping rule as
    :func:`_run_once`."""
    shards = 1 if mesh is None else mesh.size
    block_rows = chunk_size * shards * max(1, STREAM_BLOCK_ROWS // (chunk_size * shards))
    static = dict(statistics=module.em_statistics, options=tuple(sorted(options.items())), mesh=mesh)
    params = jax.device_put(start)
    trace, converged = [], False
    for _ in tqdm(range(max_iter + 1), desc="em (streamed)", disable=not progress_bar):
        total = None
        for rows, weights in _blocks(X, block_rows, chunk_size):
            stats = _total_statistics(*placed(mesh, rows, weights), params, **static)
            total = stats if total is None else jax.tree.map(jnp.add, total, stats)
        trace.append(float(total["log_likelihood"]))
        if _converged(trace, len(X), tol):
            converged = True
            break
        if len(trace) == max_iter + 1:
            break
        params = _update(total, params, reg_covar, update=module.em_update, options=static["options"])
    return {k: np.asarray(v) for k, v in params.items()}, np.asarray(trace), converged


def summed_statistics(statistics, rows, weights, params, options):
    """``statistics`` of every chunk of ``rows`` (a loop that indexes the chunks in place), summed."""
    def one(i):
        return statistics(rows[i], weights[i], params, **options)

    def add(i, total):
        return jax.tree.map(jnp.add, total, one(i))

    # two chunks a step: each chunk's statistics are a chain of dependent operations, and XLA's
    # CPU runtime runs the two chains side by side on two cores (N = 1e6, D = K = 8: 127 to 159
    # against 135 to 172 ms a pass, the same sums to the bit); one or two chunks (the shipped data
    # sets fit in one) keep one copy of the body to compile
    unroll = 2 if rows.shape[0] > 2 else 1
    return jax.lax.fori_loop(1, rows.shape[0], add, one(0), unroll=unroll)


def _all_statistics(rows, weights, params, *, statistics, options, mesh):
    """The statistics of all chunks; with a mesh each device sums its own and XLA adds the sums."""
    options = dict(options)
    if mesh is None:
        return summed_statistics(statistics, rows, weights, params, options)
    return shard_map(lambda r, w, p: jax.lax.psum(summed_statistics(statistics, r, w, p, options), "rows"),
                     mesh=mesh, in_specs=(PartitionSpec("rows"), PartitionSpec("rows"), PartitionSpec()),
                     out_specs=PartitionSpec())(rows, weights, params)


# the streamed passes' program, at -O3 always: data on disk are large by definition (inference.xla);
# EM's loop traces _all_statistics into its own (JAX takes compiler options on a top-level jit only)
_total_statistics = jax.jit(_all_statistics, static_argnames=("statistics", "options", "mesh"),
                            compiler_options=OPTIMISED)


@partial(jax.jit, static_argnames=("update", "options"))
def _update(stats, params, reg_covar, *, update, options):
    return update(stats, params, reg_covar=reg_covar, **dict(options))


def compiled_loop():
    """:func:`_em_loop` jitted with EM's XLA options of the moment (:func:`inference._compiled.compiled_function`)."""
    return compiled_function("em", _em_loop, ("statistics", "update", "options", "trace_length", "mesh"))


def _em_loop(rows, weights, params, reg_covar, tol, max_iter, *, statistics, update, options, trace_length, mesh):
    """Compiled (:func:`compiled_loop`) once per model, options, shapes, mesh and XLA options
    (module level, so repeated fits reuse it); ``max_iter`` is an argument, below
    ``trace_length``, the objective trace's static length."""
    num_data = weights.sum()
    total = partial(_all_statistics, statistics=statistics, options=options, mesh=mesh)

    def cond(carry):
        return ~carry[3]

    def body(carry):
        i, params, trace, _ = carry
        stats = total(rows, weights, params)
        log_likelihood = stats["log_likelihood"]
        new = update(stats, params, reg_covar=reg_covar, **dict(options))
        trace = trace.at[i].set(log_likelihood)
        converged = (i > 0) & (jnp.abs(log_likelihood - trace[jnp.maximum(i - 1, 0)]) / num_data < tol)
        done = converged | (i == max_iter)
        params = jax.tree.map(lambda old, new: jnp.where(done, old, new), params, new)  # where the trace ends
        return i + 1, params, trace, done

    trace = jnp.full(trace_length, jnp.nan)
    num_evaluations, params, trace, _ = jax.lax.while_loop(cond, body, (jnp.asarray(0), params, trace, jnp.asarray(False)))
    return num_evaluations, params, trace


def _check_options(module, priors, *, objective, m_step, reg_covar, tol):
    name = module.__name__.rsplit(".", 1)[-1]
    available = objective == "ml" and hasattr(module, "m_step") and not fixed_names(priors)
    closed = m_step == "closed" or (m_step == "auto" and available)
    if closed and not available:
        raise ValueError(
            f"m_step='closed' needs objective='ml', no parameter fixed by the priors and a model with a closed-form "
            f"M-step; got objective={objective!r}, fixed {fixed_names(priors)}, for {name}, which "
            f"{'has' if hasattr(module, 'm_step') else 'has no'} m_step"
        )
    if reg_covar is not None and not closed:
        raise ValueError(
            f"reg_covar applies to the closed-form ML M-step only; got reg_covar = {reg_covar} with objective = "
            f"{objective!r}, m_step = {m_step!r} (MAP-EM keeps covariances proper through the priors)"
        )
    if reg_covar is not None and (isinstance(reg_covar, bool) or not isinstance(reg_covar, (int, float)) or reg_covar < 0):
        raise ValueError(f"reg_covar must be a number >= 0 or None; got {reg_covar!r}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or tol < 0:
        raise ValueError(f"tol must be a number >= 0; got {tol!r}")
    return closed


def _random_start(module, rng_key, data, model_options, priors, m_step, support):
    """An M-step from responsibilities drawn uniformly on each row's possible values."""
    resp = np.asarray(random.uniform(rng_key, support.shape)) * support
    start = starting_values(module, rng_key, data, model_options, None, priors)
    return m_step(start, resp / resp.sum(1, keepdims=True))


def run(module, data, *, priors, seed, model_options, max_iter, tol, reg_covar, num_restarts, init, init_method,
        objective, m_step, progress_bar, engine, chunk_size, devices):
    """Fit by EM; ``params`` at the end, the objective trace as ``-losses``."""
    closed = _check_options(module, priors, objective=objective, m_step=m_step, reg_covar=reg_covar, tol=tol)
    engine_compiled = closed and engine == "auto" and hasattr(module, "em_statistics") and "labelled" not in data
    streamed = isinstance(data["X"], np.memmap)
    for needed, what in ((devices is not None, "devices applies to"), (streamed, "X on disk (np.memmap) is streamed by")):
        if needed and not engine_compiled:
            raise ValueError(f"{what} the compiled engine only (engine='auto', the closed-form ML M-step of a model "
                             f"with em_statistics, no missing labels); got devices = {devices}, engine={engine!r}, "
                             f"m_step={'closed' if closed else 'numerical'!r}, for {module.__name__.rsplit('.', 1)[-1]}")
    mesh = row_mesh(devices) if engine_compiled else None
    full_data = data
    if streamed:  # starts and the model's trace from a sample of rows spread over the file
        data = {"X": _spread_sample(data["X"])}
    model = partial(module.model, priors=priors, **model_options)
    given = check_init(init, free_params(module, data, model_options, priors), fixed_names(priors))
    keys = fit_keys(seed, num_restarts)
    first = starting_values(module, keys[0], data, model_options, init, priors)
    _check_enumerated_site(model, first, data, module.__name__.rsplit(".", 1)[-1])
    # the E-step, the numerical M-step and the log prior: one program each per model binding and
    # shapes, so that a refit of new data of the same shape compiles nothing (a jit of a fresh
    # closure at every fit compiled them all again: MAP-EM's three, 1.5 s on iris)
    def program(what, function, **static):
        return compiled("em", module, model_options, priors, {"program": what, **static}, function)

    e_step = program("e_step", partial(log_joint, model))
    data_jax = jax.device_put(data)
    with_prior = objective == "map"
    if closed:
        reg = REG_COVAR if reg_covar is None else reg_covar

        def step(params, resp):
            return module.m_step(data["X"], resp, reg_covar=reg, **model_options)
    else:
        numerical = program("m_step", partial(_numerical_m_step, model=model, with_prior=with_prior),
                            with_prior=with_prior)

        def step(params, resp):
            return numerical(jax.device_put(params), jax.device_put(resp), data_jax)

    prior_fn = program("log_prior", partial(log_prior, model))

    def log_prior_fn(params):
        return float(prior_fn(jax.device_put(params), data_jax)) if with_prior else 0.0

    starts = []
    for key in keys:
        if init_method == "random":
            support = np.isfinite(np.asarray(e_step(jax.device_put(first), data_jax)))
            start = {**_random_start(module, key, data, model_options, priors, step, support), **given}
        else:
            start = starting_values(module, key, data, model_options, init, priors)
        starts.append({k: np.asarray(v, dtype=np.float64) for k, v in start.items()})
    if streamed:
        runs = [_run_streamed(full_data["X"], start, module=module, options=model_options, reg_covar=reg,
                              max_iter=max_iter, tol=tol, chunk_size=chunk_size, mesh=mesh, progress_bar=progress_bar)
                for start in starts]
    elif engine_compiled:
        runs = [_run_compiled(data, start, module=module, options=model_options, reg_covar=reg, max_iter=max_iter,
                              tol=tol, chunk_size=chunk_size, mesh=mesh) for start in starts]
    else:
        runs = [
            _run_once(data_jax, start, e_step=e_step, m_step=step, log_prior_fn=log_prior_fn, max_iter=max_iter,
                      tol=tol, progress_bar=progress_bar)[:3]
            for start in starts
        ]
    finite = [run for run in runs if all(np.all(np.isfinite(v)) for v in run[0].values()) and np.isfinite(run[1][-1])]
    if not finite:
        raise ValueError(_breakdown(runs[0], data, reg))
    params, trace, converged = max(finite, key=lambda r: r[1][-1])
    what = "log-posterior" if with_prior else "log-likelihood"
    # EM cannot lower its objective; round-off moves it by ~1e-12 relative at most
    drops = np.diff(trace) < -1e-9 * np.abs(trace[1:]).max(initial=1.0)
    if drops.any():
        warnings.warn(f"em: the {what} decreased at iteration(s) {np.flatnonzero(drops).tolist()}", stacklevel=3)
    # compiled, once per model binding and shapes: op by op, the model's trace compiled some 16
    # small programs per new K (0.25 s of a cold fit)
    row = {name: np.asarray(value[:1]) for name, value in data.items()}  # the sites read the parameters only
    full = compiled_for_model("with_deterministic", model, with_deterministic)(params, row, random.PRNGKey(0))
    full = {k: np.asarray(v) for k, v in full.items()}
    if streamed:  # N x K would not fit: the model's predict serves blocks of rows
        resp = None
    # the model's closed form, which its mle_problem below takes as they are: the generic E-step's
    # would be one more program to compile, for the compiled engine, which has not needed it
    elif engine_compiled and hasattr(module, "responsibilities"):
        resp = np.asarray(module.responsibilities(full, data["X"]))
    else:
        joint = np.asarray(e_step(jax.device_put(params), data_jax))
        resp = np.exp(joint - logsumexp(joint, axis=1)[:, None])
    mle_problem = getattr(module, "mle_problem", None)
    # the streamed X has no responsibilities to count with; its sample would misjudge n_k
    checked = mle_problem is not None and not with_prior and not streamed
    # a model that offers the responsibilities in closed form takes them there too (computed once)
    given = {"resp": resp} if hasattr(module, "responsibilities") else {}
    problem = mle_problem(full, data["X"], data.get("y"), **given, **model_options) if checked else None
    if problem:
        guard = f"reg_covar = {reg} holds the covariances" if closed else "nothing holds the covariances"
        warnings.warn(f"em: {problem}; {guard}", IllPosedWarning, stacklevel=3)
    if not converged:
        warnings.warn(f"em did not converge after {len(trace) - 1} iterations (tol = {tol})", ConvergenceWarning, stacklevel=3)
    return Fit(
        method="em",
        params=full,
        losses=-trace,
        converged=converged,
        num_steps=len(trace) - 1,
        **fit_context(module, full_data, priors, seed, model_options),
        method_options=dict(max_iter=max_iter, tol=tol, reg_covar=reg_covar, num_restarts=num_restarts, init=init,
                            init_method=init_method, objective=objective, m_step="closed" if closed else "numerical",
                            progress_bar=progress_bar, engine="compiled" if engine_compiled else "generic",
                            chunk_size=chunk_size, devices=devices),
        info={
            "objective": what,
            "responsibilities": resp,
            "assignments": None if resp is None else resp.argmax(axis=1),
            "restart_objectives": [r[1][-1] for r in runs],
            "problem": problem,
        },
    )
