"""XLA's CPU compiler set for programs that compile more than they run: the scripts and the tests.

Fitting a lecture model to a shipped data set is nearly all compilation: ``linear_regression.py
--method ml`` compiles for 1.9 s and runs for 0.02 s. :func:`compile_faster` changes two things:

- every program: XLA's older CPU emitters (``--xla_cpu_use_fusion_emitters=false``) instead of
  its MLIR "fusion emitters", about 30 % less compilation. Measured on 2 cores (2026-11-25): the
  ML fit of ``linear_regression.py`` 1.95 s to 1.35 s, the non-slow tests of ``tests/models`` 90 s
  to 68 s; the compiled code: NUTS's gradient on logistic regression (N = 1e4, D = 20) unchanged
  (116 us then, before its likelihood got faster), EM at N = 1e6, D = K = 8 up to 13 % slower per
  iteration;
- every program at LLVM's ``-O0`` instead of ``-O3`` (``--xla_backend_optimization_level=0``),
  except those that run long: the fits by NUTS and VI, and those of the other methods that are
  not among :data:`QUICK_METHODS` (ML, MAP, Laplace and EM, which run for milliseconds on those
  data), which keep ``-O3`` by their own option (:func:`compiler_options`, :data:`OPTIMISED`).
  Measured on 2 cores (2026-12-01): the mixture's ML on iris (L-BFGS, Hessian and polish) compiles in
  1.9 s instead of 3.3 s and runs in 23 ms instead of 13 ms. For all programs ``-O0`` would
  triple NUTS's gradient (logistic regression, N = 1e4, D = 20: 150 us against 50); ``-O1``
  and ``-O2`` compile only some 8 % faster than ``-O3``. VI's thousands of steps run for seconds
  at ``-O0`` (2026-12-03, 10 000 steps, compilation and run, ``-O0`` against ``-O3``:
  pushforward 6.1 s against 2.8 s, of which the run 4.3 s against 0.5 s; logistic regression
  2.0 against 1.4 s; linear regression 2.2 s either way; the classifier and the mixture on iris
  3.8 and 4.5 s against 5.3 and 6.2 s, runs of 0.9 and 1.2 s against 0.5 and 0.6 s), so it
  compiles at ``-O0`` only when asked: the test suite, whose VI runs take a few hundred steps,
  asks. EM's loop over iris (K = 3, 150 rows) compiles in 0.15 to 0.21 s at ``-O0`` against 0.32
  to 0.38 s, and its 20 iterations take 1 ms either way; MAP-EM on iris, whose numerical M-step
  runs L-BFGS at each iteration, takes 3.0 to 3.1 s at ``-O0`` against 3.7 to 4.3 s, to the
  same log-posterior to 4e-11 relative (2026-12-04). On large data EM's iterations are some 1.5
  times slower (N = 2e5, D = K = 8, 20 iterations: 4.0 s against 2.7 s), so EM over data on
  disk (streamed, large by definition) keeps ``-O3``. The rest, at ``-O0`` since 2026-12-04,
  is the programs around the fits: a model's simulation and predictions, the pointwise
  log-likelihood of the InferenceData, JAX's operations run one by one. The simulation of the classifier's decision-boundary figure
  (400 draws) compiles in 0.11 to 0.18 s instead of 0.37 to 0.40 s and runs in 0.4 instead of
  0.2 ms; ``gaussian_classifier.py --method ml`` took 4.32 to 4.69 s cold instead of 5.06 to
  5.14 s (interleaved). NumPyro's own compiled loops, outside the layer's programs (NUTS with
  ``progress_bar=True``), compile and run at ``-O0`` too.

So it pays where compilation dominates, and it is no default of the library: the scripts and the
test suite opt in (``scripts/common.py``, ``tests/conftest.py``); ``benchmarks/`` does not. XLA
aborts on a flag it does not know: check that this one still exists when JAX is upgraded. The
settings do not round alike everywhere: the mixture's MAP on iris takes 131 L-BFGS steps
instead of 128 (to the same optimum), and NUTS's draws differ (from the same distribution).
"""

import os
import warnings

import jax

# whether JAX's backend has started: JAX 0.10 has no public way to ask
from jax._src import xla_bridge

FLAG = "--xla_cpu_use_fusion_emitters"
LEVEL_FLAG = "--xla_backend_optimization_level"
QUICK_METHODS = ("ml", "map", "laplace", "em")  # they run for milliseconds on the shipped data
QUICK_ELIGIBLE = (*QUICK_METHODS, "vi")  # what may compile at -O0: NUTS always keeps -O3
FIT_METHODS = (*QUICK_ELIGIBLE, "nuts")
# XLA's default, stated: the option of a program that runs long, which keeps -O3 where
# compile_faster has made -O0 the process's default (EM's streamed passes carry it always)
OPTIMISED = {"xla_backend_optimization_level": 3}
QUICK = {"xla_backend_optimization_level": 0}  # the option of a quick method's program
_quick_methods = ()  # the methods compiled at -O0; set by compile_faster()


def compiler_options(method):
    """The XLA options of the program that fits by ``method`` (or of another program of the
    layer's, such as ``"pointwise_log_likelihood"``): ``-O0`` for the quick methods of
    :func:`compile_faster`, :data:`OPTIMISED` for the other fits, none (the process's default)
    for the rest."""
    if method in _quick_methods:
        return dict(QUICK)
    return dict(OPTIMISED) if method in FIT_METHODS else {}


def compile_faster(*, quick_methods=QUICK_METHODS):
    """Have XLA compile with its older CPU emitters (``--xla_cpu_use_fusion_emitters=false``)
    and at ``-O0`` (``--xla_backend_optimization_level=0``), both added to ``XLA_FLAGS`` where
    no value is given already, except the fits that run long: NUTS and the methods of
    :data:`QUICK_ELIGIBLE` not in ``quick_methods``, which keep ``-O3`` (:func:`compiler_options`).
    ``quick_methods=()`` keeps every fit at ``-O3``, for fits that run far longer than they
    compile (refitted hundreds of times, as in simulation-based calibration).

    XLA reads its flags when JAX's backend starts: call this before the first computation. Called
    later, it warns, and only ``quick_methods`` applies, to the programs compiled from then on.
    """
    global _quick_methods
    if not isinstance(quick_methods, (tuple, list)):
        raise TypeError(f"quick_methods must be a tuple or list of method names; got {type(quick_methods).__name__} "
                        f"{quick_methods!r}")
    unknown = [m for m in quick_methods if m not in QUICK_ELIGIBLE]
    if unknown:
        raise ValueError(f"quick_methods must name methods among {QUICK_ELIGIBLE} (NUTS keeps -O3); got {unknown}")
    _quick_methods = tuple(quick_methods)
    flags = os.environ.get("XLA_FLAGS", "").split()
    # a flag the user gave stands, with its value
    missing = [f"{name}={value}" for name, value in ((FLAG, "false"), (LEVEL_FLAG, "0"))
               if not any(flag == name or flag.startswith(name + "=") for flag in flags)]
    if not missing:
        return
    if runtime_started():
        warnings.warn(
            f"compile_faster() came after JAX's backend started, and XLA reads its flags only then: {' '.join(missing)} "
            "was not applied (-O0 for quick_methods applies to the programs compiled from now on); call it before the "
            "first computation", RuntimeWarning, stacklevel=2,
        )
        return
    os.environ["XLA_FLAGS"] = " ".join([*flags, *missing])


def runtime_started():
    """Whether JAX's runtime (its backends, their threads) has started: the first computation
    starts it, importing JAX does not."""
    return xla_bridge.backends_are_initialized()


def keep_every_program(directory):
    """JAX's persistent compilation cache in ``directory``, keeping every program: JAX's default
    keeps only those over 1 s to compile, and a fit makes dozens of small ones. The scripts'
    cache (``scripts/common.py``) and the NUTS benchmark's are set so."""
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
