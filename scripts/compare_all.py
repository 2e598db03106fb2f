"""Every lecture model of week 1 fitted by maximum likelihood and MAP on a real data set.

The project's main job. For each lecture model (Examples 1.1 and 1.4-1.6, and the pushforward
model of section 1.3 trained by likelihood as in section 1.4) it loads its default real data,
fits it with every requested method through the one call ``inference.fit(model, data, method)``,
prints a table of estimates with one row per scalar parameter, and writes the table as CSV.

    python scripts/compare_all.py                      # ML and MAP, all models
    python scripts/compare_all.py --method ml --out-dir out
"""

import argparse
import csv
import os
import sys
import time
import warnings

import numpyro

numpyro.enable_x64()

import datasets  # noqa: E402  (scripts/datasets.py)

from inference import METHODS, ConvergenceWarning, fit, scalar_params  # noqa: E402

# model name -> (data set, model options)
DEFAULTS = {
    "linear_regression": ("diabetes", {}),
    "logistic_regression": ("breast_cancer", {}),
    "gaussian_classifier": ("iris", {"num_classes": 3}),
    "gaussian_mixture": ("iris_unlabelled", {"num_components": 3, "covariance_type": "full"}),
    "pushforward": ("tumour_area", {}),
}


def _methods(text):
    names = list(METHODS) if text == "all" else [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in METHODS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"--method takes 'all' or a comma list of {sorted(METHODS)}; got {text!r}")
    return names


def fit_model(name, methods, seed):
    """Fit one lecture model on its default data with each method; returns rows and timings."""
    dataset, options = DEFAULTS[name]
    data, description = datasets.DATASETS[dataset]()
    fits, timings = {}, {}
    for method in methods:
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            fits[method] = fit(name, data, method, seed=seed, **options)
        timings[method] = time.perf_counter() - start
        for warning in caught:
            print(f"  warning: {warning.message}", file=sys.stderr)
    names = list(scalar_params(fits[methods[0]].params))
    rows = [[parameter] + [scalar_params(fits[m].params)[parameter] for m in methods] for parameter in names]
    return description, options, rows, fits, timings


def print_table(title, methods, rows):
    print(f"\n{title}")
    header = f"  {'parameter':<16}" + "".join(f"{m:>14}" for m in methods)
    print(header)
    print("  " + "-" * (len(header) - 2))
    for parameter, *values in rows:
        print(f"  {parameter:<16}" + "".join(f"{v:>14.6g}" for v in values))


def main(args):
    os.makedirs(args.out_dir, exist_ok=True)
    for name in args.models:
        description, options, rows, fits, timings = fit_model(name, args.method, args.seed)
        settings = ", ".join(f"{k}={v}" for k, v in options.items())
        print_table(f"{name} on {description}" + (f" ({settings})" if settings else ""), args.method, rows)
        summary = "  ".join(
            f"{m}: {timings[m]:.2f} s, {fits[m].num_steps} steps, {'converged' if fits[m].converged else 'NOT converged'}"
            for m in args.method
        )
        print(f"  {summary}")
        path = os.path.join(args.out_dir, f"{name}_estimates.csv")
        with open(path + ".tmp", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["parameter", *args.method])
            writer.writerows(rows)
        os.replace(path + ".tmp", path)
    print(f"\ntables written to {args.out_dir}/")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", type=_methods, default=["ml", "map"], help="'all' or a comma list of methods")
    parser.add_argument("--models", nargs="+", default=list(DEFAULTS), choices=list(DEFAULTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", default="out")
    main(parser.parse_args())
