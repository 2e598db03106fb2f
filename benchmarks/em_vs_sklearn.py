"""EM per iteration: this project's mixture against scikit-learn's ``GaussianMixture``.

Both start from the same parameters and run a fixed number of iterations (``tol = 0``) in
float64 with ``reg_covar = 1e-6``. Time per iteration is the difference between a run of
``--num-iter`` + 2 and one of 2 iterations, divided by ``--num-iter``, so start-up (and our
one-off compilation, run beforehand) is not counted; the best of ``--repeats``. The final
mean log-likelihoods must agree to 1e-10 relative.

    python benchmarks/em_vs_sklearn.py                          # N = 1e6, D = 8, K = 8, full
    python benchmarks/em_vs_sklearn.py --grid                   # N x D x K x covariance type
    python benchmarks/em_vs_sklearn.py --grid --grid-num-data 1e6 --num-iter 5 --repeats 1   # its long row
    python benchmarks/em_vs_sklearn.py --devices 2              # the CPU split into two JAX devices

scikit-learn uses every core through its BLAS; ``--devices`` lets our EM do the same (rows
sharded over the devices, statistics summed by XLA).
"""

import argparse
import itertools
import time
import warnings

import jax
import numpy as np
import numpyro

numpyro.enable_x64()

from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning  # noqa: E402
from sklearn.mixture import GaussianMixture  # noqa: E402

from inference import ConvergenceWarning, fit  # noqa: E402
from models import gaussian_mixture  # noqa: E402

REG_COVAR = 1e-6


def problem(num_data, num_features, num_components, covariance_type, seed=0):
    """Data from a K-component mixture and a start near (not at) its truth."""
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.normal(size=(num_components, num_features))
    X = centres[rng.integers(num_components, size=num_data)] + rng.normal(size=(num_data, num_features))
    mu = centres + 0.5 * rng.normal(size=centres.shape)
    cov = np.eye(num_features) if covariance_type == "tied" else np.broadcast_to(np.eye(num_features), (num_components, num_features, num_features))
    start = {"pi": np.full(num_components, 1.0 / num_components), "mu": mu,
             **gaussian_mixture._gaussian.scales_from_cov(cov, covariance_type)}
    precisions = {"full": np.linalg.inv(cov) if covariance_type == "full" else None, "tied": np.eye(num_features),
                  "diag": np.ones((num_components, num_features)), "spherical": np.ones(num_components)}[covariance_type]
    return X, start, precisions


def ours(X, start, covariance_type, num_iter):
    num_components = len(start["pi"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        begin = time.perf_counter()
        result = fit(gaussian_mixture, {"X": X}, "em", init=start, tol=0.0, max_iter=num_iter, reg_covar=REG_COVAR,
                     num_components=num_components, covariance_type=covariance_type)
        return time.perf_counter() - begin, -result.losses[-1] / len(X)


def theirs(X, start, precisions, covariance_type, num_iter):
    model = GaussianMixture(len(start["pi"]), covariance_type=covariance_type, tol=0.0, reg_covar=REG_COVAR,
                            max_iter=num_iter, weights_init=start["pi"], means_init=start["mu"],
                            precisions_init=precisions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SklearnConvergenceWarning)
        begin = time.perf_counter()
        model.fit(X)
        elapsed = time.perf_counter() - begin
    return elapsed, model.score(X)  # the mean log-likelihood at the last M-step's parameters


def per_iteration(run, num_iter, repeats):
    short = min(run(2)[0] for _ in range(repeats))
    long_runs = [run(num_iter + 2) for _ in range(repeats)]
    return (min(t for t, _ in long_runs) - short) / num_iter, long_runs[0][1]


def measure(num_data, num_features, num_components, covariance_type, num_iter, repeats):
    X, start, precisions = problem(num_data, num_features, num_components, covariance_type)
    ours(X, start, covariance_type, 2)  # compile for these shapes, and for the long run's max_iter
    ours(X, start, covariance_type, num_iter + 2)
    t_ours, ll_ours = per_iteration(lambda n: ours(X, start, covariance_type, n), num_iter, repeats)
    t_sk, ll_sk = per_iteration(lambda n: theirs(X, start, precisions, covariance_type, n), num_iter, repeats)
    return t_ours, t_sk, abs(ll_ours - ll_sk) / abs(ll_sk)


def main(args):
    grid = (itertools.product(args.grid_num_data, (2, 8, 32), (3, 8, 16), ("full", "diag")) if args.grid
            else [(args.num_data, args.num_features, args.num_components, args.covariance_type)])
    print(f"JAX devices: {len(jax.devices())}")
    print(f"{'N':>9} {'D':>3} {'K':>3} {'cov':>5} {'ours ms/it':>11} {'sklearn ms/it':>14} {'speed-up':>9} {'rel. diff. ll':>14}")
    for num_data, num_features, num_components, covariance_type in grid:
        t_ours, t_sk, diff = measure(num_data, num_features, num_components, covariance_type, args.num_iter, args.repeats)
        print(f"{num_data:>9} {num_features:>3} {num_components:>3} {covariance_type:>5} {1e3 * t_ours:>11.2f} "
              f"{1e3 * t_sk:>14.2f} {t_sk / t_ours:>9.1f} {diff:>14.2e}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-data", type=int, default=10**6)
    parser.add_argument("--num-features", type=int, default=8)
    parser.add_argument("--num-components", type=int, default=8)
    parser.add_argument("--covariance-type", default="full", choices=gaussian_mixture.COVARIANCE_TYPES)
    parser.add_argument("--num-iter", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--grid", action="store_true", help="the whole grid of issue 5 (takes long)")
    parser.add_argument("--grid-num-data", type=lambda text: [int(float(n)) for n in text.split(",")],
                        default=[10**4, 10**5, 10**6], help="the grid's N, a comma list (default 1e4,1e5,1e6)")
    parser.add_argument("--devices", type=int, default=1, help="JAX CPU devices (set before JAX starts)")
    args = parser.parse_args()
    jax.config.update("jax_num_cpu_devices", args.devices)
    main(args)
