"""ML logistic regression: this project's ``fit(..., "ml")`` against scikit-learn (``C=inf``, no penalty) and statsmodels.

Data: N rows, D standard-normal features, coefficients drawn so that the classes overlap (the ML
estimate exists). Each is timed after a first call, so our one-off compilation (reported apart)
is not counted; the best of ``--repeats``. The optima must agree to 1e-6 (max abs difference of
the coefficients and the intercept).

    python benchmarks/ml_logistic.py                  # N = 1e5, D = 50
"""

import argparse
import time
import warnings

import numpy as np
import numpyro

numpyro.enable_x64()

from inference import fit  # noqa: E402
from models import logistic_regression  # noqa: E402


def problem(num_data, num_features, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(num_data, num_features))
    a = rng.normal(size=num_features) / np.sqrt(num_features)
    y = (rng.uniform(size=num_data) < 1 / (1 + np.exp(-(X @ a - 0.5)))).astype(np.int64)
    return X, y


def best_of(repeats, run):
    times, result = [], None
    for _ in range(repeats):
        begin = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - begin)
    return min(times), result


def ours(X, y, hessian=True):
    result = fit(logistic_regression, {"X": X, "y": y}, "ml", hessian=hessian)
    return np.concatenate([result.params["a"], [result.params["b"]]])


def sklearn(X, y):
    from sklearn.linear_model import LogisticRegression  # the peers on first use: nuts_vs_pymc.py imports problem

    model = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(X, y)
    return np.concatenate([model.coef_[0], model.intercept_])


def statsmodels(X, y):
    import statsmodels.api as sm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        params = sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12).params
    return np.concatenate([params[1:], params[:1]])


def main(args):
    X, y = problem(args.num_data, args.num_features)
    begin = time.perf_counter()
    ours(X, y)
    first = time.perf_counter() - begin
    t_ours, theta = best_of(args.repeats, lambda: ours(X, y))
    print(f"N = {args.num_data}, D = {args.num_features}; ours: first call {first:.2f} s (compilation included)")
    print(f"{'':>20} {'seconds':>9} {'ours/them':>10} {'max |diff|':>11}")
    print(f"{'ours':>20} {t_ours:>9.3f} {1.0:>10.2f} {0.0:>11.1e}")
    # hessian=False does scikit-learn's work: the optimum only, without the second-order check
    # and the Wald standard errors that the default adds (a 51 x 51 Hessian over the N rows)
    ours(X, y, hessian=False)
    peers = (("ours, hessian=False", lambda X, y: ours(X, y, hessian=False)), ("sklearn", sklearn),
             ("statsmodels", statsmodels))
    for name, peer in peers:
        elapsed, other = best_of(args.repeats, lambda: peer(X, y))
        print(f"{name:>20} {elapsed:>9.3f} {t_ours / elapsed:>10.2f} {np.max(np.abs(theta - other)):>11.1e}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-data", type=int, default=10**5)
    parser.add_argument("--num-features", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    main(parser.parse_args())
