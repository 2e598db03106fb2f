"""NUTS on logistic regression: this project's ``fit(..., "nuts")``, raw NumPyro, and PyMC.

Effective samples per second: the smallest bulk ESS over the parameters (ArviZ) divided by the
wall time of the whole call, compilation included. Same data, same priors (``a_j, b ~ N(0, 10^2)``),
2 chains x (1000 warm-up + 1000 draws). Ours and raw NumPyro run the chains in parallel on two
JAX CPU devices (``--devices``); PyMC runs one process per chain (``cores=2``) with PyTensor's C
backend linked to BLAS (its configuration is printed). PyMC is not a dependency of the project:
``pip install pymc`` first, or the PyMC row is skipped.

Both sides keep what they compile on disk: JAX in its persistent compilation cache (set as the
project's scripts set it, with XLA's default emitters unless ``--compile-faster``), PyTensor its C
modules in its compile directory. So each call is timed three times, each in a fresh process:
**cold**, with both caches empty (the first model after an install: PyTensor also builds its
own modules); **new model**, with caches that an unrelated model (a linear regression) has
filled; **warm**, with what the cold call left. Every side runs with ``--repeats`` seeds (the
chains, and so the ESS, vary by some 15 % from seed to seed), and the table gives the medians.
Within a seed the sides take turns at each state (all cold calls, then all new-model calls, then
all warm ones), so that a shared machine's drift over minutes falls on every side alike.

Every side returns the InferenceData groups that ``pm.sample`` returns by default: the posterior,
the sampler's statistics and the observed data, without the pointwise log-likelihood (one value
per draw and row, 2e7 of them here), which ``fit(...).idata`` and ``az.from_numpyro`` compute by
default and PyMC only when asked. ``--log-likelihood`` has every side compute it.

    python benchmarks/nuts_vs_pymc.py                 # N = 10 000, D = 20, 3 seeds
    python benchmarks/nuts_vs_pymc.py --log-likelihood    # every side with the log-likelihood group
    python benchmarks/nuts_vs_pymc.py --compile-faster    # with the scripts' XLA emitters
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

SIDES = ("ours", "raw numpyro", "pymc")
CACHES = ("cold", "new model", "warm")


def min_ess(posterior):
    """The smallest bulk ESS over every scalar of ``a`` and ``b``."""
    import arviz as az

    return float(az.ess(posterior, var_names=["a", "b"]).to_array().min())


def ours(X, y, args, model="logistic_regression"):
    from inference import fit

    result = fit(model, {"X": X, "y": y}, "nuts", seed=args.seed, num_chains=args.num_chains,
                 num_warmup=args.num_warmup, num_samples=args.num_samples, chain_method=args.chain_method)
    return result.to_idata(log_likelihood=args.log_likelihood).posterior


def raw_numpyro(X, y, args, model="logistic_regression"):
    import arviz as az
    import jax
    from numpyro.infer import MCMC, NUTS

    import models

    mcmc = MCMC(NUTS(getattr(models, model).model), num_warmup=args.num_warmup, num_samples=args.num_samples,
                num_chains=args.num_chains, chain_method=args.chain_method, progress_bar=False)
    mcmc.run(jax.random.PRNGKey(args.seed), X, y)
    return az.from_numpyro(mcmc, log_likelihood=args.log_likelihood).posterior


def pymc(X, y, args, model="logistic_regression"):
    import pymc as pm

    with pm.Model():
        a = pm.Normal("a", 0.0, 10.0, shape=X.shape[1])
        b = pm.Normal("b", 0.0, 10.0)
        if model == "logistic_regression":
            pm.Bernoulli("y", logit_p=pm.math.dot(X, a) + b, observed=y)
        else:  # linear_regression, the model's priors
            pm.Normal("y", pm.math.dot(X, a) + b, pm.HalfNormal("sigma", 10.0), observed=y)
        idata = pm.sample(draws=args.num_samples, tune=args.num_warmup, chains=args.num_chains,
                          cores=args.num_chains, random_seed=args.seed, progressbar=False,
                          compute_convergence_checks=False, idata_kwargs={"log_likelihood": args.log_likelihood})
    return idata.posterior


RUNS = {"ours": ours, "raw numpyro": raw_numpyro, "pymc": pymc}


def prewarm(args):
    """The side's NUTS on another model (a linear regression, 200 rows, 3 features, 2 x (100 +
    100) draws), untimed: what a user's caches hold before the first logistic regression."""
    rng = np.random.default_rng(args.seed)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.0, -0.5, 0.2]) + 0.5 + 0.3 * rng.normal(size=200)
    RUNS[args.side](X, y, argparse.Namespace(**{**vars(args), "num_warmup": 100, "num_samples": 100}),
                    model="linear_regression")


def one_call(args):
    """One side, one seed, in this process: prints ``{"seconds", "min_ess", "means"}`` as JSON."""
    import jax

    from inference.xla import compile_faster, keep_every_program

    if args.compile_faster:  # before JAX's backend starts, as it must be
        compile_faster()
    jax.config.update("jax_num_cpu_devices", args.devices)
    jax.config.update("jax_enable_x64", True)
    keep_every_program(os.path.join(args.cache_dir, "jax"))  # as the scripts keep theirs (scripts/common.py)
    from ml_logistic import problem  # benchmarks/ml_logistic.py: the same simulated data

    if args.side == "pymc":
        import pymc as pm  # noqa: F401  (imported outside the timing, as JAX is for the other two)
    # ArviZ outside the timing for every side, as PyMC's import imports it: the project imports it
    # on first use (since 56366db), and the JAX sides' calls would otherwise pay its 0.6 to 0.9 s
    import arviz  # noqa: F401
    if args.prewarm:
        prewarm(args)
        print(json.dumps({}))
        return
    X, y = problem(args.num_data, args.num_features)
    begin = time.perf_counter()
    posterior = RUNS[args.side](X, y, args)
    seconds = time.perf_counter() - begin
    means = np.concatenate([posterior["a"].mean(("chain", "draw")).values, [float(posterior["b"].mean())]])
    print(json.dumps({"seconds": seconds, "min_ess": min_ess(posterior), "means": means.tolist()}))


def child(args, side, seed, cache_dir, *, prewarm=False):
    """``one_call`` in a fresh process, with PyTensor's compile directory under ``cache_dir``;
    returns its JSON. A call that fails, hangs past ``--timeout`` or prints no result stops the
    benchmark with the end of its stderr."""
    flags = ",".join(f for f in (os.environ.get("PYTENSOR_FLAGS", ""), f"base_compiledir={cache_dir}/pytensor") if f)
    argv = [sys.executable, __file__, "--one-call", side, "--seed", str(seed), "--cache-dir", cache_dir]
    for name in ("num_data", "num_features", "num_chains", "num_warmup", "num_samples", "devices", "chain_method"):
        argv += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    argv += ["--compile-faster"] if args.compile_faster else []
    argv += ["--log-likelihood"] if args.log_likelihood else []
    what = f"{side} (seed {seed}{', prewarm' if prewarm else ''})"
    try:
        done = subprocess.run(argv + (["--prewarm"] if prewarm else []), env={**os.environ, "PYTENSOR_FLAGS": flags},
                              capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired as error:
        stderr = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) else error.stderr or ""
        raise RuntimeError(f"{what} took over {args.timeout} s:\n{stderr[-3000:]}") from None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{what} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def main(args):
    print(f"N = {args.num_data}, D = {args.num_features}, {args.num_chains} chains x ({args.num_warmup} warm-up + "
          f"{args.num_samples} draws); JAX CPU devices: {args.devices}, chain_method = {args.chain_method!r}; "
          f"seeds 0..{args.repeats - 1}; XLA's {'older' if args.compile_faster else 'default'} CPU emitters; "
          f"pointwise log-likelihood {'computed' if args.log_likelihood else 'not computed'} by every side")
    sides = list(SIDES)
    try:
        import pytensor
    except ImportError:
        print("pymc: not installed (pip install pymc); skipped")
        sides.remove("pymc")
    else:
        print(f"pytensor {pytensor.__version__}: blas__ldflags = {pytensor.config.blas__ldflags!r}, "
              f"cxx = {pytensor.config.cxx!r}")
    runs = {(side, cache): [] for side in sides for cache in CACHES}
    for seed in range(args.repeats):
        order = sides[seed % len(sides):] + sides[:seed % len(sides)]  # no side always first
        with contextlib.ExitStack() as stack:
            fresh = {(side, cache): stack.enter_context(tempfile.TemporaryDirectory(prefix="nuts-bench-"))
                     for side in sides for cache in ("cold", "new model")}
            fresh.update({(side, "warm"): fresh[side, "cold"] for side in sides})  # what the cold call compiled
            for side in order:
                child(args, side, seed, fresh[side, "new model"], prewarm=True)
            # the sides take turns at each state, so that the machine's drift (10 to 30 % over
            # minutes on a shared host) falls on all of them alike
            for cache in CACHES:
                for side in order:
                    runs[side, cache].append(child(args, side, seed, fresh[side, cache]))
    rate = {key: float(np.median([r["min_ess"] / r["seconds"] for r in rs])) for key, rs in runs.items()}
    print(f"{'':>12} {'cache':>9} {'seconds':>16} {'min ESS':>16} {'ESS/s':>8} {'ours / this':>12}")
    for side, cache in runs:
        seconds = [r["seconds"] for r in runs[side, cache]]
        ess = [r["min_ess"] for r in runs[side, cache]]
        print(f"{side:>12} {cache:>9} {min(seconds):>7.2f} to {max(seconds):<5.2f} {min(ess):>7.0f} to {max(ess):<5.0f} "
              f"{rate[side, cache]:>8.1f} {rate['ours', cache] / rate[side, cache]:>12.2f}")
    ours_means = np.mean([r["means"] for r in runs["ours", "cold"]], axis=0)
    for side in sides[1:]:
        theirs = np.mean([r["means"] for r in runs[side, "cold"]], axis=0)
        print(f"max |posterior mean difference| ours - {side}: {np.max(np.abs(ours_means - theirs)):.4f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-data", type=int, default=10_000)
    parser.add_argument("--num-features", type=int, default=20)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--num-warmup", type=int, default=1000)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--devices", type=int, default=2, help="JAX CPU devices (set before JAX starts)")
    parser.add_argument("--chain-method", default="parallel", choices=("parallel", "sequential", "vectorized"))
    parser.add_argument("--repeats", type=int, default=3, help="seeds per side, each timed cold, new model, warm")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds one call may take")
    parser.add_argument("--compile-faster", action="store_true",
                        help="JAX's sides compile with XLA's older CPU emitters, as the scripts do (inference.xla)")
    parser.add_argument("--log-likelihood", action="store_true",
                        help="every side also computes the pointwise log-likelihood group (PyMC's default leaves it out)")
    parser.add_argument("--prewarm", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--one-call", choices=SIDES, dest="side", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        one_call(args)
    else:
        main(args)
