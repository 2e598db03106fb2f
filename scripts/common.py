"""What every lecture script shares: the command line, the data, running the methods, the outputs.

Each script (``linear_regression.py``, ..., ``compare_all.py``) builds its parser with
:func:`parser_for`, loads data with :func:`load_data` (a CSV file with named columns, a data set
shipped with the dependencies, or ``simulated`` from the model itself, with its truth), fits
every requested method with :func:`run_methods`, which times compilation and running apart,
and writes the comparison table (CSV and HTML) and each fit's InferenceData (netCDF).
"""

import argparse
import contextlib
import csv
import gc
import inspect
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import NamedTuple

import jax
import numpy as np
import numpyro

numpyro.enable_x64()

import datasets  # noqa: E402  (scripts/datasets.py)
from jax._src import monitoring  # noqa: E402  (the compile-event listener has no public import)

from inference import METHODS, ConvergenceWarning, fit  # noqa: E402
from inference.compare import align, compare  # noqa: E402
from inference.xla import compile_faster, keep_every_program, runtime_started  # noqa: E402

# JAX's persistent compilation cache: a second run of any script reuses the compiled programs of
# the first, every one of them (inference.xla.keep_every_program). PGM_JAX_CACHE names the
# directory; PGM_JAX_CACHE=off turns it off.
COMPILATION_CACHE = os.environ.get("PGM_JAX_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "pgm-lectures", "jax"))
if COMPILATION_CACHE != "off":
    keep_every_program(COMPILATION_CACHE)

# the scripts fit shipped data sets, where compiling takes far longer than running: XLA's older
# CPU emitters compile about 30 % faster (inference/xla.py has the figures); XLA_FLAGS can say otherwise
compile_faster()

# VI's steps in the scripts: 10 000, not the library's 5000. On the breast-cancer data, logistic
# regression's ELBO still falls by ~0.07 nats per 500 steps at 5000, and VI's plateau test fails
# on 2 seeds of 4; at 10 000 every lecture model passes it (each run 0.2 to 0.5 s)
VI_STEPS = 10_000

# what a method takes from the command line
METHOD_ARGS = {
    "nuts": ("num_warmup", "num_samples", "num_chains", "progress_bar"),
    "vi": ("num_steps", "num_samples", "progress_bar"),
    "laplace": ("num_samples",),
    "em": ("progress_bar",),
}


def positive_int(text):
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1; got {value}")
    return value


def method_list(text):
    """``all`` or a comma list of method names, for ``--method``."""
    names = list(METHODS) if text == "all" else [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in METHODS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"--method takes 'all' or a comma list of {sorted(METHODS)}; got {text!r}")
    return names


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit status 2), without the usage."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_jobs_arg(parser, what):
    """``--jobs``: processes at once, by default one per CPU core; ``what`` says what runs beside the main fits."""
    parser.add_argument("--jobs", type=positive_int, default=os.cpu_count() or 1,
                        help=f"processes at once (default: one per CPU core): {what} in the others")


class Futures(list):
    """:func:`in_background`'s futures, in the order of its tasks; ``submit(task)`` hands a later
    task to the same processes (started with the first tasks, before JAX's runtime), queued
    after those before it."""

    def __init__(self, futures, submit):
        super().__init__(futures)
        self.submit = submit


@contextlib.contextmanager
def in_background(workers, tasks, *, spawn=False):
    """The calls ``tasks`` (functions of no argument that pickle: module-level functions, partials
    of them) in ``workers`` other processes, started now: yields their :class:`Futures`, in the
    order of ``tasks``; or None (make the calls here) when ``workers < 1``, or when JAX's
    runtime has started, unless ``spawn``, or when there are no tasks (the processes start
    with the first, and a later submit would fork a process whose runtime runs).

    The processes are forked before JAX's runtime starts, so they inherit every imported module
    (a spawned process imports them again: 3.5 s) and each starts a runtime of its own; once the
    runtime has started, a fork would copy its threads mid-state, so they are spawned, or with
    ``spawn=False`` not started at all. Most of a fit's time on shipped data is XLA compiling its
    programs, one core each: the other processes' fits run beside this one's. Leaving the block
    with an error cancels the tasks not yet started.
    """
    started = runtime_started()
    if workers < 1 or not tasks or (started and not spawn):
        yield None
        return
    context = multiprocessing.get_context("spawn" if started else "fork")
    pool = ProcessPoolExecutor(workers, mp_context=context)
    try:
        # submitted at once: ProcessPoolExecutor starts its processes at the first submit
        yield Futures([pool.submit(task) for task in tasks], pool.submit)
    except BaseException:
        pool.shutdown(cancel_futures=True)
        raise
    pool.shutdown()


def add_output_args(parser, default="out"):
    parser.add_argument("--out-dir", default=default, help="where the outputs go; refused if it holds files")
    parser.add_argument("--force", action="store_true", help="replace an --out-dir that holds files")


def run_main(main, parser, argv=None):
    """Parse the command line and run ``main`` with its outputs staged; the end of a script's process.

    ``main`` writes into a fresh directory beside ``--out-dir``, which is renamed onto it only when
    ``main`` returns, so readers never see a half-written set and a failure leaves nothing. An
    ``--out-dir`` that already holds files is refused unless ``--force``, which replaces it whole.
    """
    args = parser.parse_args(argv)
    out_dir = os.path.abspath(args.out_dir)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        parser.error(f"--out-dir {args.out_dir} exists and is not a directory")
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not args.force:
        parser.error(f"--out-dir {args.out_dir} already holds files; pass --force to replace them, or choose another")
    parent, base = os.path.split(out_dir)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{base}.partial-", dir=parent)
    try:
        with contextlib.redirect_stdout(_Renamed(sys.stdout, staging, out_dir)):  # print the final paths
            result = main(argparse.Namespace(**{**vars(args), "out_dir": staging}))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if os.path.isdir(out_dir):
        retired = tempfile.mkdtemp(prefix=f".{base}.old-", dir=parent)
        os.rename(out_dir, os.path.join(retired, base))
        os.rename(staging, out_dir)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.rename(staging, out_dir)
    print(f"outputs: {out_dir}")
    # a script's process ends here; the interpreter's last collection would walk every object
    # of the modules it imported (JAX, SciPy, ArviZ, ...) to free nearly nothing: 0.35 to 0.4 s
    # of each run. Frozen, they are left to the exit.
    gc.freeze()
    return result


class _Renamed:
    """A text stream that writes ``old`` as ``new``: the staged paths as they will be."""

    def __init__(self, stream, old, new):
        self.stream, self.old, self.new = stream, old, new

    def write(self, text):
        return self.stream.write(text.replace(self.old, self.new))

    def flush(self):
        self.stream.flush()


def parser_for(doc, *, default_data, default_method="all"):
    """The common command line of the lecture scripts."""
    parser = Parser(description=doc.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", type=method_list, default=method_list(default_method),
                        help="one method, a comma list, or 'all' (those that apply to the model)")
    parser.add_argument("--data", default=default_data,
                        help=f"a CSV file, 'simulated', or a shipped data set: {', '.join(datasets.DATASETS)}")
    parser.add_argument("--target", help="CSV only: the target column (models with a target)")
    parser.add_argument("--features", help="CSV only: comma list of feature columns (default: all others)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--num-warmup", type=int, default=1000)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--num-steps", type=int, default=VI_STEPS, help="VI's optimisation steps")
    # off by default: with a bar, NumPyro drives NUTS from Python and finds its start op by op, some
    # hundred small compilations per chain and model shape (25 s of a cold run of the mixture script)
    parser.add_argument("--progress-bar", action=argparse.BooleanOptionalAction, default=False,
                        help="show NUTS's and VI's progress bars (slower: see common.parser_for)")
    add_output_args(parser)
    return parser


def _read_csv(path, columns):
    """The named columns of a CSV file with a header row, as float64 arrays; exits with one line."""
    try:
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
    except OSError as err:
        sys.exit(f"error: cannot read --data {path}: {err.strerror}")
    if not rows:
        sys.exit(f"error: --data {path} is empty; expected a header row of column names")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    missing = [c for c in columns if c not in header]
    if missing:
        sys.exit(f"error: column(s) {missing} not in {path}; its columns are {header}")
    out = {}
    for column in columns:
        j = header.index(column)
        values = []
        for i, row in enumerate(body, start=2):
            try:
                values.append(float(row[j]))
            except (ValueError, IndexError):
                cell = row[j] if j < len(row) else "<missing>"
                sys.exit(f"error: column {column!r} of {path} must be numeric; line {i} has {cell!r}")
        out[column] = np.asarray(values)
    return out


def load_data(args, module, **model_options):
    """``(data, description, truth)`` for ``args.data``; ``truth`` is None for real data."""
    has_target = module.HAS_TARGET
    if args.data.endswith(".csv") or os.path.sep in args.data:
        if has_target and not args.target:
            sys.exit(f"error: --target is needed with a CSV file for {module.__name__.rsplit('.', 1)[-1]}")
        if args.features:
            features = [f.strip() for f in args.features.split(",")]
        else:
            with open(args.data, newline="") as handle:
                header = [h.strip() for h in next(csv.reader(handle), [])]
            features = [h for h in header if h != args.target]
        columns = _read_csv(args.data, features + ([args.target] if has_target else []))
        data = {"X": np.column_stack([columns[f] for f in features])}
        if has_target:
            data["y"] = columns[args.target]
        return data, f"{args.data} (features {', '.join(features)})", None
    if args.data == "simulated":
        takes = inspect.signature(module.simulate).parameters
        sim = module.simulate(jax.random.PRNGKey(args.seed), **{k: v for k, v in model_options.items() if k in takes})
        return {k: np.asarray(v) for k, v in sim.data.items()}, "simulated from the model", {
            k: np.asarray(v) for k, v in sim.params.items()}
    if args.data not in datasets.DATASETS:
        sys.exit(f"error: --data must be a CSV file, 'simulated' or one of {list(datasets.DATASETS)}; got {args.data!r}")
    data, description = datasets.DATASETS[args.data]()
    return data, description, None


class CompileTimer:
    """Seconds spent tracing, lowering and compiling with JAX inside a ``with`` block.

    JAX reports each of those phases as a time span; nested spans (a jit traced inside another)
    are merged, so the total is the time of their union.
    """

    EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
              "/jax/core/compile/backend_compile_duration")

    def __enter__(self):
        self.spans = []
        monitoring.register_event_time_span_listener(self._listen)
        return self

    def _listen(self, event, start, end, **kwargs):
        if event in self.EVENTS:
            self.spans.append((start, end))

    def __exit__(self, *exc):
        monitoring.unregister_event_time_span_listener(self._listen)

    @property
    def seconds(self):
        total, last_end = 0.0, -np.inf
        for start, end in sorted(self.spans):
            if end > last_end:
                total += end - max(start, last_end)
                last_end = end
        return total


def run_methods(module, data, methods, args, *, priors=None, **model_options):
    """Fit ``data`` with each method; returns ``({method: Fit}, {method: message}, {method: (compile s, run s)})``.

    A method that fails (say Laplace at a singular Hessian) is reported, not hidden, and the
    others go on.
    """
    fits, failures, timings = {}, {}, {}
    for method in methods:
        options = {name: getattr(args, name) for name in METHOD_ARGS.get(method, ())}
        start = time.perf_counter()
        with CompileTimer() as timer, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            try:
                fits[method] = fit(module, data, method, priors=priors, seed=args.seed, **model_options, **options)
            except ValueError as err:
                failures[method] = str(err)
        total = time.perf_counter() - start
        timings[method] = (timer.seconds, total - timer.seconds)
        for warning in caught:
            if issubclass(warning.category, ConvergenceWarning):
                print(f"  warning ({method}): {warning.message}", file=sys.stderr)
        for problem in fits[method].info.get("warnings", []) if method in fits else []:  # sampler health
            print(f"  warning ({method}): {problem}", file=sys.stderr)
        status = f"failed: {failures[method]}" if method in failures else (
            "converged" if fits[method].converged else "NOT converged")
        print(f"  {method:<8} compile {timings[method][0]:6.2f} s   run {timings[method][1]:6.2f} s   {status}")
    return fits, failures, timings


def applicable(module, methods, data):
    """The methods that apply to the model and these data: EM needs a closed-form M-step and
    a latent to fill in (the mixture's assignments, missing labels)."""
    missing = not module.HAS_TARGET or bool(np.any(np.asarray(data["y"]) == -1))
    return [m for m in methods if m != "em" or (hasattr(module, "m_step") and missing)]


def write_outputs(name, fits, table, out_dir):
    """The table as CSV and HTML, and each fit's InferenceData as netCDF; returns the paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {"csv": os.path.join(out_dir, f"{name}_table.csv"), "html": os.path.join(out_dir, f"{name}_table.html")}
    table.to_csv(paths["csv"])
    table.to_html(paths["html"], float_format="%.4g", na_rep="")
    for method, result in fits.items():
        path = os.path.join(out_dir, f"{name}_{method}.nc")
        result.idata.to_netcdf(path, engine="h5netcdf")
        paths[method] = path
    return paths


def comparison(fits, truth):
    """:func:`inference.compare.compare` of the fits that ran, and the table printed."""
    table = compare(fits, truth=truth)
    print(table.to_string(float_format=lambda v: f"{v:.4g}", na_rep=""))
    return table


class Outcome(NamedTuple):
    """What a script's ``main`` returns: the report, the figures' paths, and extra tables."""

    report: object
    figures: list
    tables: dict


class Report(NamedTuple):
    """One lecture model fitted by several methods: what a script prints, writes and plots."""

    name: str
    description: str
    options: dict
    data: dict
    truth: dict | None
    fits: dict
    failures: dict
    timings: dict
    table: object
    paths: dict


def fit_and_report(module, args, *, priors=None, on_fitted=None, **model_options):
    """Load the data, fit every applicable method, print and write the comparison.

    ``on_fitted(report)``, when given, is called with the report (its ``paths`` still empty)
    before the outputs are written: the mixture script hands its figures to another process
    there, which draws them while this one writes.
    """
    name = module.__name__.rsplit(".", 1)[-1]
    data, description, truth = load_data(args, module, **model_options)
    settings = ", ".join(f"{k}={v}" for k, v in model_options.items())
    print(f"\n{name} on {description}" + (f" ({settings})" if settings else ""))
    fits, failures, timings = run_methods(module, data, applicable(module, args.method, data), args, priors=priors,
                                          **model_options)
    if not fits:
        sys.exit(f"error: no method succeeded for {name}: {failures}")
    table = comparison(fits, truth)
    report = Report(name, description, model_options, data, truth, fits, failures, timings, table, {})
    if on_fitted is not None:
        on_fitted(report)
    return report._replace(paths=write_outputs(name, fits, table, args.out_dir))


def draws_fit(report):
    """The fit whose draws best describe the posterior: NUTS, else VI or Laplace; None if none."""
    return next((report.fits[m] for m in ("nuts", "vi", "laplace") if m in report.fits), None)


def point_fit(report):
    """The point estimate to draw: EM, else ML, else MAP; else the draws' means."""
    return next((report.fits[m] for m in ("em", "ml", "map", "nuts", "vi", "laplace") if m in report.fits))


def figures_report(report):
    """``report`` as :func:`common_figures` needs it in another process: the fits with the first
    row of their data only (the figures read parameters and draws; the rows, of a user's file
    perhaps, are not copied there), without the report's data, table and timings."""
    fits = {method: fit._replace(data={name: value[:1] for name, value in fit.data.items()})
            for method, fit in report.fits.items()}
    return report._replace(data=None, fits=fits, failures={}, timings={}, table=None)


def common_figures(report, out_dir):
    """Posterior densities with the point estimates, and NUTS's trace and rank plots."""
    import figures

    stem = os.path.join(out_dir, report.name)
    fits, truth = align(report.fits, truth=report.truth)
    paths = [figures.posterior_densities(fits, f"{stem}_densities.png", truth=truth)]
    if "nuts" in report.fits:
        paths += [figures.trace_plot(report.fits["nuts"], f"{stem}_trace.png"),
                  figures.rank_plot(report.fits["nuts"], f"{stem}_rank.png")]
    return paths


def finish(report, figure_paths, tables=None):
    """Print the figures' paths and bundle a script's :class:`Outcome`."""
    for path in figure_paths:
        print(f"  figure: {path}")
    return Outcome(report, figure_paths, tables or {})
