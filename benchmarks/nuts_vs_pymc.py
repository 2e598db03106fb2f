"""NUTS on logistic regression: this project's ``fit(..., "nuts")``, raw NumPyro, and PyMC.

Effective samples per second: the smallest bulk ESS over the parameters (ArviZ) divided by the
wall time of the whole call, compilation included. Same data, same priors (``a_j, b ~ N(0, 10^2)``),
2 chains x (1000 warm-up + 1000 draws). Ours and raw NumPyro run the chains in parallel on two
JAX CPU devices (``--devices``); PyMC runs one process per chain (``cores=2``) with PyTensor's C
backend linked to BLAS (its configuration is printed). PyMC is not a dependency of the project:
``pip install pymc`` first, or the PyMC row is skipped.

    python benchmarks/nuts_vs_pymc.py                 # N = 10 000, D = 20
"""

import argparse
import time

import arviz as az
import jax
import numpy as np
import numpyro
from numpyro.infer import MCMC, NUTS

numpyro.enable_x64()

from ml_logistic import problem  # noqa: E402  (benchmarks/ml_logistic.py: the same simulated data)

from inference import fit  # noqa: E402
from models import logistic_regression  # noqa: E402


def min_ess(posterior):
    """The smallest bulk ESS over every scalar of ``a`` and ``b``."""
    return float(az.ess(posterior, var_names=["a", "b"]).to_array().min())


def ours(X, y, args):
    result = fit(logistic_regression, {"X": X, "y": y}, "nuts", num_chains=args.num_chains,
                 num_warmup=args.num_warmup, num_samples=args.num_samples, chain_method=args.chain_method)
    return result.idata.posterior


def raw_numpyro(X, y, args):
    mcmc = MCMC(NUTS(logistic_regression.model), num_warmup=args.num_warmup, num_samples=args.num_samples,
                num_chains=args.num_chains, chain_method=args.chain_method, progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), X, y)
    return az.from_numpyro(mcmc).posterior


def pymc(X, y, args):
    import pymc as pm

    with pm.Model():
        a = pm.Normal("a", 0.0, 10.0, shape=X.shape[1])
        b = pm.Normal("b", 0.0, 10.0)
        pm.Bernoulli("y", logit_p=pm.math.dot(X, a) + b, observed=y)
        idata = pm.sample(draws=args.num_samples, tune=args.num_warmup, chains=args.num_chains,
                          cores=args.num_chains, random_seed=0, progressbar=False, compute_convergence_checks=False)
    return idata.posterior


def main(args):
    X, y = problem(args.num_data, args.num_features)
    print(f"N = {args.num_data}, D = {args.num_features}, {args.num_chains} chains x ({args.num_warmup} warm-up + "
          f"{args.num_samples} draws); JAX devices: {len(jax.devices())}, chain_method = {args.chain_method!r}")
    rows = {}
    for name, run in (("ours", ours), ("raw numpyro", raw_numpyro), ("pymc", pymc)):
        if name == "pymc":
            try:
                import pytensor
            except ImportError:
                print("pymc: not installed (pip install pymc); skipped")
                continue
            print(f"pytensor {pytensor.__version__}: blas__ldflags = {pytensor.config.blas__ldflags!r}, "
                  f"cxx = {pytensor.config.cxx!r}")
        begin = time.perf_counter()
        posterior = run(X, y, args)
        elapsed = time.perf_counter() - begin
        rows[name] = (elapsed, min_ess(posterior), posterior)
    print(f"{'':>12} {'seconds':>8} {'min ESS':>8} {'ESS/s':>8} {'ours / this':>12}")
    ours_rate = rows["ours"][1] / rows["ours"][0]
    for name, (elapsed, ess, _) in rows.items():
        print(f"{name:>12} {elapsed:>8.1f} {ess:>8.0f} {ess / elapsed:>8.1f} {ours_rate / (ess / elapsed):>12.2f}")
    means = {name: np.concatenate([p["a"].mean(("chain", "draw")).values, [float(p["b"].mean())]])
             for name, (_, _, p) in rows.items()}
    for name in means:
        print(f"max |posterior mean difference| ours - {name}: {np.max(np.abs(means['ours'] - means[name])):.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-data", type=int, default=10_000)
    parser.add_argument("--num-features", type=int, default=20)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--num-warmup", type=int, default=1000)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--devices", type=int, default=2, help="JAX CPU devices (set before JAX starts)")
    parser.add_argument("--chain-method", default="parallel", choices=("parallel", "sequential", "vectorized"))
    args = parser.parse_args()
    jax.config.update("jax_num_cpu_devices", args.devices)
    main(args)
