"""Statistical validation of the inference layer: is NUTS calibrated, how far off are Laplace and VI, is ML sqrt(N)-consistent?

Simulation-based calibration (Talts et al., 2018) on every lecture model: parameters from the prior,
data from the model, a fit, and the rank of each true value among the fit's draws, which is uniform
when the draws come from the posterior. For NUTS each scalar's ranks get a chi-square test, judged at
0.01 divided by the number of scalars of the model (Bonferroni); for Laplace and VI, whose draws
come from an approximation, the coverage of the central 50 % and 90 % intervals says how far off
they are. Then the error of the ML estimate at sizes 100 to 100 000: its slope on log-log axes should
be -1/2 (section 1.4: likelihood-based training). The calibration settings (narrower proper priors,
small data sets) are :data:`inference.calibration.CASES` and :data:`inference.calibration.CONSISTENCY`.

    python scripts/calibration.py                                        # everything (Laplace and VI take longest)
    python scripts/calibration.py --method nuts --model linear_regression,pushforward
    python scripts/calibration.py --num-replications 50 --no-consistency

Laplace and VI, whose coverage is reported rather than tested, get ``--approx-replications``
(default 100: a coverage with a standard error of 0.05 at the 50 % level) rather than
``--num-replications``.
"""

import argparse
import os
import time

import common
import matplotlib
import numpy as np
import pandas as pd
from scipy import stats

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

from inference.calibration import CASES, CONSISTENCY, DRAW_METHODS, ml_consistency, sbc  # noqa: E402
from inference.xla import compile_faster  # noqa: E402

# every replication refits the same program: the optimisers' programs run far longer here than they
# compile, so they keep XLA's -O3 (common.py, as every script, has ML, MAP, Laplace and EM at -O0, and
# here as there the programs around the fits compile at -O0)
compile_faster(quick_methods=())


def _names(text, choices, flag):
    names = list(choices) if text == "all" else [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in choices]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"{flag} takes 'all' or a comma list of {list(choices)}; got {text!r}")
    return names


def _sizes(text):
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        sizes = ()
    if len(set(sizes)) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--sizes takes a comma list of at least two distinct positive integers; got {text!r}")
    return sizes


def run_sbc(name, args):
    """``{method: SBCResult}`` for one lecture model."""
    case = dict(CASES[name])
    options = case.pop("options", {})
    results = {}
    for method in args.method:
        method_options = dict(options)
        if method == "nuts":
            method_options.update(num_warmup=args.num_warmup, num_chains=args.num_chains)
            replications, thin = args.num_replications, args.thin
        else:
            method_options.pop("dense_mass", None)  # a NUTS option
            replications, thin = args.approx_replications, 1
            if method == "vi":
                method_options["num_steps"] = args.num_steps
        start = time.perf_counter()
        results[method] = result = sbc(name, method=method, num_replications=replications, num_draws=args.num_samples,
                                       thin=thin, num_bins=args.num_bins, seed=args.seed, **case, **method_options)
        notes = [f"{len(result.failures)} fits failed" if result.failures else "",
                 f"{result.num_divergent_fits} fits with divergences" if result.num_divergent_fits else "",
                 f"{result.num_rejected} data sets refused and drawn again" if result.num_rejected else ""]
        notes = "; ".join(n for n in notes if n)
        print(f"  {method:<8} {replications} replications in {time.perf_counter() - start:6.1f} s"
              + (f"   ({notes})" if notes else ""))
    return results


def sbc_table(results):
    """One row per scalar: each method's chi-square p-value and its coverage at each level."""
    columns = {}
    for method, result in results.items():
        columns[f"{method}_p"] = result.p_values
        for level, coverage in result.coverage.items():
            columns[f"{method}_{round(100 * level)}%"] = coverage
    return pd.DataFrame(columns)


def verdict(result, alpha=0.01):
    """One line on the ranks of one method: the smallest p-value against the Bonferroni level."""
    name, p = min(result.p_values.items(), key=lambda item: item[1])
    level = result.bonferroni(alpha)
    word = "uniform" if result.passes(alpha) else "NOT uniform"
    return (f"  {result.method}: ranks {word} (smallest p = {p:.3g} for {name}; level {alpha} / "
            f"{len(result.p_values)} = {level:.2g})")


def rank_figure(name, result, path):
    """The SBC histogram of each scalar's ranks, with the band that holds 99 % of a uniform bin's counts."""
    names = list(result.ranks)
    cols = min(len(names), 4)
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.2 * rows), squeeze=False)
    count = len(next(iter(result.ranks.values())))
    low, high = stats.binom.ppf([0.005, 0.995], count, 1 / result.num_bins)
    edges = np.linspace(0, result.num_draws + 1, result.num_bins + 1)
    for ax, scalar in zip(axes.flat, names):
        ax.axhspan(low, high, color="0.85")
        ax.hist(result.ranks[scalar], bins=edges, color="C0", edgecolor="white")
        ax.set_title(f"{scalar}  (p = {result.p_values[scalar]:.2f})", fontsize=9)
        ax.set_yticks([])
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    fig.suptitle(f"{name}: ranks of the truth among {result.num_draws} {result.method} draws, {count} replications")
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def consistency_figure(results, path):
    """log error of ML against log N, one line per model, with its fitted slope."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for i, (name, result) in enumerate(results.items()):
        mean_log = np.log(result.errors).mean(axis=1)
        ax.plot(result.sizes, np.exp(mean_log), "o", color=f"C{i}")
        ax.plot(result.sizes, np.exp(result.intercept) * result.sizes ** result.slope, "-", color=f"C{i}",
                label=f"{name} (slope {result.slope:.2f})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N")
    ax.set_ylabel("error of the ML estimate (geometric mean)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(args):
    tables, figures, outcome = {}, [], {"sbc": {}, "consistency": {}}
    for name in args.model:
        print(f"\n{name}: simulation-based calibration, {CASES[name]['num_data']} rows per data set")
        results = outcome["sbc"][name] = run_sbc(name, args)
        table = tables[name] = sbc_table(results)
        print(table.to_string(float_format=lambda v: f"{v:.3f}"))
        for result in results.values():
            print(verdict(result))
        table.to_csv(os.path.join(args.out_dir, f"sbc_{name}.csv"))
        shown = "nuts" if "nuts" in results else next(iter(results))
        figures.append(rank_figure(name, results[shown], os.path.join(args.out_dir, f"sbc_{name}_{shown}.png")))
    if args.consistency:
        print("\nML consistency: the error shrinks like N^(-1/2)")
        rows = {}
        for name in [m for m in args.model if m in CONSISTENCY]:
            settings = dict(CONSISTENCY[name])
            if args.sizes:
                settings["sizes"] = args.sizes
            settings["num_replications"] = args.consistency_replications or settings.get("num_replications", 10)
            result = outcome["consistency"][name] = ml_consistency(name, seed=args.seed, **settings)
            rows[name] = {"sizes": ",".join(map(str, result.sizes)), "replications": result.errors.shape[1],
                          **{f"error at {n}": float(np.exp(np.log(e).mean())) for n, e in zip(result.sizes, result.errors)},
                          "slope": result.slope, "not converged": result.num_not_converged}
        table = tables["consistency"] = pd.DataFrame(rows).T
        print(table.to_string(float_format=lambda v: f"{v:.4g}", na_rep=""))
        table.to_csv(os.path.join(args.out_dir, "ml_consistency.csv"))
        if outcome["consistency"]:
            figures.append(consistency_figure(outcome["consistency"], os.path.join(args.out_dir, "ml_consistency.png")))
    for path in figures:
        print(f"  figure: {path}")
    return common.Outcome(outcome, figures, tables)


class Parser(common.Parser):
    """The common one-line-error parser, which also checks the numbers against each other."""

    MINIMUM = {"num_replications": 2, "approx_replications": 2, "num_samples": 1, "thin": 1, "num_bins": 2,
               "num_warmup": 0, "num_chains": 1, "num_steps": 1, "consistency_replications": 1}

    def parse_args(self, args=None, namespace=None):
        parsed = super().parse_args(args, namespace)
        for name, minimum in self.MINIMUM.items():
            value = getattr(parsed, name)
            if value is not None and value < minimum:
                self.error(f"--{name.replace('_', '-')} must be >= {minimum}; got {value}")
        if (parsed.num_samples + 1) % parsed.num_bins:
            self.error(f"--num-bins must divide --num-samples + 1 = {parsed.num_samples + 1}; got {parsed.num_bins}")
        return parsed


def build_parser():
    parser = Parser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=lambda t: _names(t, CASES, "--model"), default=list(CASES),
                        help="one lecture model, a comma list, or 'all'")
    parser.add_argument("--method", type=lambda t: _names(t, DRAW_METHODS, "--method"), default=list(DRAW_METHODS),
                        help="methods that draw: nuts, laplace, vi (a comma list, or 'all')")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-replications", type=int, default=200, help="SBC replications for NUTS")
    parser.add_argument("--approx-replications", type=int, default=100, help="SBC replications for Laplace and VI")
    parser.add_argument("--num-samples", type=int, default=99,
                        help="L, the draws each true value is ranked among (NUTS makes L x --thin)")
    parser.add_argument("--thin", type=int, default=4, help="NUTS: keep every thin-th draw")
    parser.add_argument("--num-bins", type=int, default=10, help="bins of the chi-square test; must divide L + 1")
    parser.add_argument("--num-warmup", type=int, default=300)
    parser.add_argument("--num-chains", type=int, default=1)
    parser.add_argument("--num-steps", type=int, default=5000, help="VI's optimisation steps")
    parser.add_argument("--no-consistency", dest="consistency", action="store_false", help="skip the ML rate")
    parser.add_argument("--sizes", type=_sizes, help="ML rate: comma list of data sizes (default per model)")
    parser.add_argument("--consistency-replications", type=int, help="ML rate: data sets per size (default per model)")
    common.add_output_args(parser, default="out/calibration")
    return parser


if __name__ == "__main__":
    common.run_main(main, build_parser())
