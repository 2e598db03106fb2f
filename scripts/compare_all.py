"""Every lecture model of week 1, every applicable method, one HTML report: the main job.

For each lecture model (Examples 1.1 and 1.4-1.6, and the pushforward model of section 1.3
trained by likelihood as in section 1.4) it runs that model's script on its default real data
set, shipped with scikit-learn: every applicable method through the one call
``inference.fit(model, data, method)``, the comparison table of the posterior against the ML
estimate, the figures, and the choice of the mixture's K. It writes under ``--out-dir``:
``report.html`` (self-contained: tables and figures embedded), the tables as CSV, and every
fit's InferenceData as netCDF.

    python scripts/compare_all.py                              # everything, default settings
    python scripts/compare_all.py --method ml,map --models linear_regression
    python scripts/compare_all.py --data simulated             # known truth beside every estimate

The models run in ``--jobs`` processes at once (by default one per CPU core, at most one per
model): most of a model's time is JAX compiling its programs, one core each. Each model's
printed output is kept and shown whole, in the models' order. The samplers' progress bars are
off unless ``--progress-bar`` is given: the bars of processes side by side would interleave,
and a program holding a bar's host callback is never stored in JAX's persistent compilation
cache, so a second run would compile NUTS and VI again.
"""

import argparse
import contextlib
import io
import os
import time
import types
from functools import partial

import common
import gaussian_classifier
import gaussian_mixture
import linear_regression
import logistic_regression
import pushforward
import report


SCRIPTS = {
    "linear_regression": linear_regression,
    "logistic_regression": logistic_regression,
    "gaussian_classifier": gaussian_classifier,
    "gaussian_mixture": gaussian_mixture,
    "pushforward": pushforward,
}


def script_argv(args, name):
    """The command line of one model's script, from compare_all's."""
    argv = ["--method", ",".join(args.method), "--seed", str(args.seed), "--num-samples", str(args.num_samples),
            "--num-warmup", str(args.num_warmup), "--num-chains", str(args.num_chains), "--num-steps",
            str(args.num_steps), "--out-dir", os.path.join(args.out_dir, name)]
    if args.data == "simulated":
        argv += ["--data", "simulated"]
    argv.append("--progress-bar" if args.progress_bar else "--no-progress-bar")
    if name == "gaussian_classifier":
        argv += ["--curve-repeats", str(args.curve_repeats)]
    if name == "gaussian_mixture":
        argv += ["--max-k", str(args.max_k)]
    if name in ("gaussian_classifier", "gaussian_mixture"):  # one process each: the models' processes take the cores
        argv += ["--jobs", "1"]
    return argv


# the longest first, so that the last to finish starts early
LONGEST_FIRST = ("gaussian_mixture", "gaussian_classifier", "logistic_regression", "linear_regression", "pushforward")


def run_script(name, argv):
    """One model's script, its printed output captured; returns ``(outcome, output)`` with the
    fits reduced to what the report reads, so that the outcome crosses a process boundary."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        outcome = SCRIPTS[name].main(SCRIPTS[name].build_parser().parse_args(argv))
    fits = {m: types.SimpleNamespace(converged=f.converged) for m, f in outcome.report.fits.items()}
    return outcome._replace(report=outcome.report._replace(fits=fits, data=None)), output.getvalue()


def main(args):
    start = time.perf_counter()
    jobs = min(args.jobs, len(args.models))
    order = sorted(args.models, key=LONGEST_FIRST.index)
    tasks = [partial(run_script, name, script_argv(args, name)) for name in order]
    # forked before JAX's runtime starts, or spawned once it has (common.in_background)
    with common.in_background(jobs if jobs > 1 else 0, tasks, spawn=True) as pending:
        if pending is None:  # one job: the scripts in this process
            outcomes = [SCRIPTS[name].main(SCRIPTS[name].build_parser().parse_args(script_argv(args, name)))
                        for name in args.models]
        else:
            done = dict(zip(order, pending))
            outcomes = []
            for name in args.models:
                outcome, output = done[name].result()
                print(output, end="")
                outcomes.append(outcome)
    settings = (f"{args.data} data; methods {', '.join(args.method)}; seed {args.seed}; NUTS {args.num_chains} chains x "
                f"({args.num_warmup} warm-up + {args.num_samples}) draws; VI {args.num_steps} steps; "
                f"{time.perf_counter() - start:.0f} s in all")
    path = report.write_html(outcomes, os.path.join(args.out_dir, "report.html"),
                             title="Probabilistic generative models, week 1: posterior against ML", settings=settings)
    print(f"\nreport: {path}")
    return outcomes


def build_parser():
    parser = common.Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", type=common.method_list, default=common.method_list("all"),
                        help="'all' or a comma list of methods")
    parser.add_argument("--models", nargs="+", default=list(SCRIPTS), choices=list(SCRIPTS))
    parser.add_argument("--data", choices=("real", "simulated"), default="real",
                        help="each model's shipped real data set, or data simulated from it (truth in the tables)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--num-warmup", type=int, default=500)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--num-steps", type=int, default=common.VI_STEPS, help="VI's optimisation steps")
    parser.add_argument("--curve-repeats", type=int, default=10)
    parser.add_argument("--max-k", type=int, default=4)
    parser.add_argument("--progress-bar", action=argparse.BooleanOptionalAction, default=False,
                        help="show NUTS's and VI's progress bars; off by default: the models run side by side, and "
                             "JAX never stores a program with a host callback (a bar) in its persistent cache")
    parser.add_argument("--jobs", type=common.positive_int, default=os.cpu_count() or 1,
                        help="models fitted at once, each in its own process (default: one per CPU core)")
    common.add_output_args(parser)
    return parser


if __name__ == "__main__":
    common.run_main(main, build_parser())
