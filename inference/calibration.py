r"""Statistical validation of the inference layer: simulation-based calibration and ML consistency.

**Simulation-based calibration** (SBC; Talts et al., 2018). Draw ``theta ~ p(theta)`` from the
prior, data ``y ~ p(y | theta)`` from the model, and ``L`` draws ``theta_1..L`` from the fitted
posterior. If the draws come from ``p(theta | y)``, then ``theta`` and the draws are exchangeable
given ``y``, so the rank of any scalar ``f(theta)`` among the ``f(theta_l)``,

    r = #{l : f(theta_l) < f(theta)}  in  {0, ..., L},

is uniform over its ``L + 1`` values. :func:`sbc` repeats this ``num_replications`` times and
tests every scalar of every free parameter with Pearson's chi-square test on the ranks grouped
into ``num_bins`` equal bins. Draws that are correlated (MCMC) make the ranks pile up at the ends
even when the sampler is right, so NUTS draws are thinned by ``thin`` (Talts et al., sec. 5.1).
Beside the ranks it reports coverage: the fraction of replications whose true value lies in the
central 50 % and 90 % intervals of the draws, which is what an approximation (Laplace, VI) gets
wrong first.

The data are simulated from the NumPyro model itself, with the same ``priors`` that the fit
uses; a regression's inputs are ``X ~ N(0, I)``, drawn afresh in each replication. A data set
that the model's ``check_data`` refuses (a class without a point) is drawn again. This keeps the
ranks uniform: the refusal depends on the data alone, and given the data both ``theta`` and the
draws follow ``p(theta | y)``; only the prior predictive is restricted.

**ML consistency.** Under the usual regularity conditions the ML estimate is sqrt(N)-consistent:
its error shrinks like ``N^(-1/2)`` (e.g. Murphy, 2022, sec. 4.7). :func:`ml_consistency` fits
data from each model's ``simulate`` at several sizes and regresses the mean log error on
``log N``; the slope should be close to -1/2.

References: Talts, Betancourt, Simpson, Vehtari & Gelman (2018), *Validating Bayesian inference
algorithms with simulation-based calibration*, arXiv:1804.06788; Modrák et al. (2023),
*Simulation-based calibration checking for Bayesian computation*, Bayesian Analysis.
"""

import inspect
import time
import warnings
from functools import partial
from typing import NamedTuple

import numpy as np
import numpyro.distributions as dist
from jax import random
from numpyro import handlers
from scipy import stats

from models._checks import check_int
from models._priors import check_priors

from ._point import ConvergenceWarning
from ._setup import free_params
from .api import METHODS, _check_method_options, _resolve_model, _split_options, fit
from .handlers import uncondition
from .result import scalar_params

DRAW_METHODS = ("nuts", "laplace", "vi")
LEVELS = (0.5, 0.9)
MAX_REFUSED = 100  # simulated data sets in a row that check_data may refuse before sbc gives up

# Settings under which every lecture model is calibrated (tests/inference/test_calibration.py,
# scripts/calibration.py). The priors are narrower than the models' defaults, but proper and the
# same for simulating and fitting: with N(0, 10^2) weights, most simulated logistic data sets
# would be perfectly separated and most mixtures a set of far-apart clumps, which says little.
# The mixture is ordered (label switching would otherwise make the ranks of mu meaningless) and
# keeps both components populated (Dirichlet(5, 5)); an almost empty component is a
# near-improper corner of the posterior that NUTS explores slowly, not what the test is about.
# The pushforward's ``scale`` and ``tailweight`` are strongly correlated a posteriori, hence a
# dense mass matrix.
CASES = {
    "linear_regression": dict(
        num_data=30, num_features=2,
        priors={"a": dist.Normal(0.0, 1.0), "b": dist.Normal(0.0, 1.0), "sigma": dist.LogNormal(0.0, 0.5)}),
    "logistic_regression": dict(
        num_data=40, num_features=2, priors={"a": dist.Normal(0.0, 1.0), "b": dist.Normal(0.0, 1.0)}),
    "gaussian_classifier": dict(
        num_data=40, num_features=2,
        priors={"mu": dist.Normal(0.0, 2.0), "sigma": dist.LogNormal(0.0, 0.5)}),
    "gaussian_mixture": dict(
        num_data=50, num_features=1, options={"num_components": 2, "ordered": True},
        priors={"pi": dist.Dirichlet(np.full(2, 5.0)), "mu": dist.Normal(0.0, 3.0), "sigma": dist.LogNormal(-0.5, 0.3)}),
    "pushforward": dict(
        num_data=50, num_features=1, options={"dense_mass": True},
        priors={"loc": dist.Normal(0.0, 1.0), "scale": dist.LogNormal(0.0, 0.5), "skewness": dist.Normal(0.0, 0.5),
                "tailweight": dist.LogNormal(0.0, 0.25)}),
}

# The sizes at which ML's rate is checked. The pushforward's four shape parameters are poorly
# determined by 100 points (one fit in ten runs away there), so its asymptotic regime starts at
# 1000. The classifier stops at 3000: with jaxlib 0.10 on a 2-core CPU its fit at N = 10^4 hangs
# about one run in two, both XLA worker threads waiting in LAPACK's batched triangular solve
# (``lapack_dtrsm_ffi`` -> ``ParallelBatchMap`` -> ``BlockingCounter::Wait``), a deadlock of
# jaxlib's CPU thread pool, not of this code.
CONSISTENCY = {
    # 40 replications: with 10, the slope's standard error (~0.05) let a run land at -0.44
    "linear_regression": dict(sizes=(100, 1000, 10_000, 100_000), num_replications=40),
    "logistic_regression": dict(sizes=(100, 1000, 10_000, 100_000)),
    "gaussian_classifier": dict(sizes=(100, 300, 1000, 3000), num_replications=20),
    "pushforward": dict(sizes=(1000, 3000, 10_000, 30_000, 100_000)),
}


class SBCResult(NamedTuple):
    """What :func:`sbc` returns.

    Attributes
    ----------
    method : str
    ranks : dict
        ``{scalar: (R,) int}``, the rank of the true value among ``num_draws`` draws, one per
        replication whose fit succeeded (``"mu[1,0]"``-style names, as :func:`inference.scalar_params`).
    p_values : dict
        ``{scalar: float}``, the chi-square test of uniform ranks over ``num_bins`` bins.
    coverage : dict
        ``{level: {scalar: float}}``, the fraction of replications whose true value lies in the
        central interval of that level of all the fit's draws.
    truth : dict
        ``{scalar: (R,)}``, the true values.
    num_draws, num_bins : int
    num_rejected : int
        Simulated data sets the model's ``check_data`` refused, drawn again.
    failures : list of str
        The messages of the fits that raised ``ValueError`` (Laplace at a singular Hessian).
    num_divergent_fits : int
        NUTS fits with at least one divergent transition.
    num_not_converged : int
        Fits whose ``converged`` is False.
    seconds : float
        Time spent fitting, in total.
    """

    method: str
    ranks: dict
    p_values: dict
    coverage: dict
    truth: dict
    num_draws: int
    num_bins: int
    num_rejected: int
    failures: list
    num_divergent_fits: int
    num_not_converged: int
    seconds: float

    def bonferroni(self, alpha=0.01):
        """``alpha / m``, the level each of the m scalars is tested at so that, when the inference
        is right, a calibration that is fine is flagged with probability at most ``alpha``."""
        return alpha / max(len(self.p_values), 1)

    def passes(self, alpha=0.01):
        """Every scalar's p-value above :meth:`bonferroni` (``alpha`` for the whole model)."""
        return min(self.p_values.values()) > self.bonferroni(alpha)


class ConsistencyResult(NamedTuple):
    """What :func:`ml_consistency` returns.

    Attributes
    ----------
    sizes : numpy.ndarray
        The data sizes N, shape (S,).
    errors : numpy.ndarray
        The Euclidean error of the ML estimate over the free parameters' scalars, shape
        (S, num_replications).
    slope, intercept : float
        The least-squares line of ``log(errors).mean(1)`` on ``log(sizes)``.
    num_not_converged : int
        ML fits that did not converge (they are kept: a warning, not a dropped replication).
    """

    sizes: np.ndarray
    errors: np.ndarray
    slope: float
    intercept: float
    num_not_converged: int


def _check_level(levels):
    levels = tuple(levels)
    if not levels or any(isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q < 1 for q in levels):
        raise ValueError(f"levels must be numbers strictly between 0 and 1; got {levels!r}")
    return levels


def simulate(module, rng_key, *, num_data, num_features, priors=None, model_options=None):
    """One draw from the prior predictive of a lecture model: ``(theta, data)``.

    ``theta ~ p(theta)`` and the data ``~ p(data | theta)`` are sampled by the NumPyro model itself
    (its observed sites unconditioned), with ``priors`` as :func:`inference.fit` takes them. A
    regression's inputs, which the model does not generate, are ``X ~ N(0, I)``.

    Returns
    -------
    tuple of dict
        ``theta``, the free parameters (those ``priors`` do not fix), and ``data``, ``{"X": (N, D)}``
        plus ``"y": (N,)`` for models with a target.
    """
    model_options = dict(model_options or {})
    key_x, key_model = random.split(rng_key)
    X = np.asarray(random.normal(key_x, (num_data, num_features)))
    model = partial(module.model, priors=priors, **model_options)
    trace = handlers.trace(handlers.seed(uncondition(model), key_model)).get_trace(X)
    spec = free_params(module, {"X": X}, model_options, priors)
    theta = {name: np.asarray(trace[name]["value"], dtype=np.float64) for name in spec}
    data = {"X": np.asarray(trace["X"]["value"], dtype=np.float64) if "X" in trace else X}
    if module.HAS_TARGET:
        data["y"] = np.asarray(trace["y"]["value"])
    return theta, data


def _draws(result, names):
    """``{scalar: (num_draws_total,)}``: the fit's draws of the named parameters, chains concatenated."""
    out = {}
    for name in names:
        value = np.asarray(result.samples[name])
        flat = value.reshape(-1, *value.shape[2:])
        for index in np.ndindex(value.shape[2:]):
            label = name if not index else f"{name}[{','.join(map(str, index))}]"
            out[label] = flat[(slice(None), *index)]
    return out


def sbc(model, *, method="nuts", num_replications=200, num_data=30, num_features=1, num_draws=99, thin=None,
        num_bins=10, priors=None, seed=0, levels=LEVELS, **options):
    """Simulation-based calibration of an inference method on a lecture model (Talts et al., 2018).

    For each replication: ``theta`` and data from the model's prior predictive (:func:`simulate`),
    a fit by ``method`` with the same ``priors``, and the rank of each scalar of ``theta`` among
    ``num_draws`` draws (every ``thin``-th of ``num_draws * thin``). Each scalar's ranks are tested
    for uniformity by Pearson's chi-square over ``num_bins`` bins of equal width.

    Parameters
    ----------
    model : module or str
        A module of :mod:`models` or its name.
    method : str, default "nuts"
        A method that draws: ``"nuts"``, ``"laplace"`` or ``"vi"``.
    num_replications : int, default 200
    num_data : int, default 30
        N, the rows of each simulated data set.
    num_features : int, default 1
        D, the columns of ``X``.
    num_draws : int, default 99
        L, the draws each true value is ranked among (ranks 0..L).
    thin : int, optional
        Keep every ``thin``-th draw, so that the ``L`` kept are roughly independent: the fit makes
        ``num_draws * thin`` draws. Default 4 for NUTS, 1 for the independent draws of Laplace
        and VI.
    num_bins : int, default 10
        Bins of the chi-square test; ``num_draws + 1`` must be a multiple of it, so that each
        bin holds as many rank values.
    priors : dict, optional
        As for :func:`inference.fit`; used to simulate and to fit.
    seed : int, default 0
        Seeds the simulations and the fits.
    levels : tuple of float, default (0.5, 0.9)
        The central intervals whose coverage is reported.
    **options
        Model and method options for :func:`inference.fit` (``num_samples`` excepted: it is
        ``num_draws * thin``).

    Returns
    -------
    SBCResult

    """
    module = _resolve_model(model)
    if not isinstance(method, str) or method not in DRAW_METHODS:
        raise ValueError(f"method must be one of {list(DRAW_METHODS)}, the methods that draw; got {method!r}")
    check_int("num_replications", num_replications, minimum=2)
    check_int("num_data", num_data, minimum=1)
    check_int("num_features", num_features, minimum=1)
    check_int("num_draws", num_draws, minimum=1)
    thin = (4 if method == "nuts" else 1) if thin is None else check_int("thin", thin, minimum=1)
    check_int("num_bins", num_bins, minimum=2)
    if (num_draws + 1) % num_bins:
        raise ValueError(
            f"num_bins must divide num_draws + 1 = {num_draws + 1}, the number of possible ranks; got num_bins = {num_bins}"
        )
    check_int("seed", seed, minimum=0)
    levels = _check_level(levels)
    if "num_samples" in options:
        raise ValueError(f"num_samples is set by sbc as num_draws * thin = {num_draws * thin}; got num_samples = "
                         f"{options['num_samples']!r}")
    model_options, _ = _split_options(module, METHODS[method], method, options)  # unknown names refused
    _check_method_options(options)
    check_priors(priors, module.params(num_features, **model_options))  # checked before anything is simulated

    truth, ranks, inside = [], [], []
    failures, num_rejected, num_divergent, num_not_converged, seconds = [], 0, 0, 0, 0.0
    key = random.PRNGKey(seed)
    for _ in range(num_replications):
        for attempt in range(MAX_REFUSED + 1):  # a refused data set is drawn again (see the module docstring)
            key, key_sim, key_fit = random.split(key, 3)
            theta, data = simulate(module, key_sim, num_data=num_data, num_features=num_features, priors=priors,
                                   model_options=model_options)
            try:
                module.check_data(**data, **model_options)
                break
            except ValueError as err:
                if attempt == MAX_REFUSED:  # bad model options, or data sets that are almost never valid
                    raise ValueError(f"{MAX_REFUSED + 1} simulated data sets in a row were refused by the model's "
                                     f"check_data; the last: {err}") from None
                num_rejected += 1
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                result = fit(module, data, method, priors=priors, seed=int(random.randint(key_fit, (), 0, 2**31 - 1)),
                             num_samples=num_draws * thin, **options)
        except ValueError as err:
            failures.append(str(err))
            continue
        finally:
            seconds += time.perf_counter() - start
        num_divergent += bool(result.info.get("num_divergent", 0))
        num_not_converged += not result.converged
        true = scalar_params(theta)
        draws = _draws(result, theta)
        truth.append(true)
        ranks.append({name: int(np.sum(draws[name][::thin][:num_draws] < value)) for name, value in true.items()})
        inside.append({
            q: {name: bool(np.quantile(draws[name], (1 - q) / 2) <= value <= np.quantile(draws[name], (1 + q) / 2))
                for name, value in true.items()}
            for q in levels
        })
    if not truth:
        raise ValueError(f"every fit failed; the first failure: {failures[0]}")

    # a scalar that does not vary under the prior (the unit corr_chol[0, 0]) has tied ranks and no test
    names = [name for name in truth[0] if np.ptp([t[name] for t in truth]) > 0]
    rank_arrays = {name: np.array([r[name] for r in ranks], dtype=np.int64) for name in names}
    width = (num_draws + 1) // num_bins
    p_values = {
        name: float(stats.chisquare(np.bincount(r // width, minlength=num_bins)).pvalue) for name, r in rank_arrays.items()
    }
    coverage = {q: {name: float(np.mean([c[q][name] for c in inside])) for name in names} for q in levels}
    return SBCResult(
        method=method,
        ranks=rank_arrays,
        p_values=p_values,
        coverage=coverage,
        truth={name: np.array([t[name] for t in truth]) for name in names},
        num_draws=num_draws,
        num_bins=num_bins,
        num_rejected=num_rejected,
        failures=failures,
        num_divergent_fits=num_divergent,
        num_not_converged=num_not_converged,
        seconds=seconds,
    )


def ml_consistency(model, *, sizes=(100, 1000, 10_000, 100_000), num_replications=10, num_features=None, seed=0,
                   **options):
    """The rate at which the ML estimate's error shrinks with N: the slope of log error on log N.

    At each size N, ``num_replications`` data sets come from the model's ``simulate`` at its
    default true parameters, each is fitted by ``fit(..., "ml")``, and the error is the Euclidean
    distance between the estimate and the truth over every scalar of the free parameters. The
    slope of the mean ``log(error)`` on ``log N`` is about -1/2 for a sqrt(N)-consistent estimate.

    Parameters
    ----------
    model : module or str
        A module of :mod:`models` (with a ``simulate``) or its name.
    sizes : sequence of int, default (100, 1000, 10000, 100000)
        At least two distinct sizes.
    num_replications : int, default 10
    num_features : int, optional
        D; default that of ``simulate``.
    seed : int, default 0
    **options
        Model and ML options for :func:`inference.fit` (model options also go to ``simulate``
        where it takes them).

    Returns
    -------
    ConsistencyResult
    """
    module = _resolve_model(model)
    sizes = np.asarray(sizes)
    if sizes.ndim != 1 or len(np.unique(sizes)) < 2 or not np.issubdtype(sizes.dtype, np.integer) or sizes.min() < 1:
        raise ValueError(f"sizes must be at least two distinct positive integers; got {sizes.tolist()!r}")
    check_int("num_replications", num_replications, minimum=1)
    check_int("seed", seed, minimum=0)
    takes = inspect.signature(module.simulate).parameters
    sim_options = {k: v for k, v in options.items() if k in module.OPTIONS and k in takes}
    if num_features is not None:
        sim_options["num_features"] = check_int("num_features", num_features, minimum=1)
    model_options = {k: options.get(k, v) for k, v in module.OPTIONS.items()}
    errors = np.zeros((len(sizes), num_replications))
    num_not_converged = 0
    keys = random.split(random.PRNGKey(seed), (len(sizes), num_replications))
    for i, size in enumerate(sizes):
        for j in range(num_replications):
            sim = module.simulate(keys[i, j], int(size), **sim_options)
            data = {k: np.asarray(v) for k, v in sim.data.items()}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                result = fit(module, data, "ml", seed=j, **options)
            num_not_converged += not result.converged
            names = free_params(module, data, model_options, None)
            estimate = scalar_params({n: result.params[n] for n in names})
            true = scalar_params({n: np.asarray(sim.params[n]) for n in names})
            errors[i, j] = np.sqrt(sum((estimate[k] - true[k]) ** 2 for k in true))
    # the mean of log(error), not the log of the mean: one run-away fit at the smallest N (a shape
    # parameter of the pushforward poorly determined by 100 points) would otherwise set the slope;
    # for an asymptotically normal estimate E log|error| = const - log(N) / 2 all the same
    slope, intercept = np.polyfit(np.log(sizes), np.log(errors).mean(axis=1), 1)
    return ConsistencyResult(sizes, errors, float(slope), float(intercept), num_not_converged)


__all__ = ["CASES", "CONSISTENCY", "ConsistencyResult", "SBCResult", "ml_consistency", "sbc", "simulate"]
