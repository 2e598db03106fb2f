"""XLA's CPU compiler set for programs that compile more than they run: the scripts and the tests.

Fitting a lecture model to a shipped data set is nearly all compilation: ``linear_regression.py
--method ml`` compiles for 1.9 s and runs for 0.02 s. :func:`compile_faster` changes two things:

- every program: XLA's older CPU emitters (``--xla_cpu_use_fusion_emitters=false``) instead of
  its MLIR "fusion emitters", about 30 % less compilation. Measured on 2 cores (2026-11-25): the
  ML fit of ``linear_regression.py`` 1.95 s to 1.35 s, the non-slow tests of ``tests/models`` 90 s
  to 68 s; the compiled code: NUTS's gradient on logistic regression (N = 1e4, D = 20) unchanged
  (116 us then, before its likelihood got faster), EM at N = 1e6, D = K = 8 up to 13 % slower per
  iteration;
- the programs of the methods that run for milliseconds on those data (ML, MAP, Laplace:
  :data:`QUICK_METHODS`): LLVM's ``-O0`` instead of ``-O3`` (:func:`compiler_options`), set
  per program, so that NUTS, VI and EM keep XLA's default. Measured on 2 cores (2026-12-01): the
  mixture's ML on iris (L-BFGS, Hessian and polish) compiles in 1.9 s instead of 3.3 s and runs
  in 23 ms instead of 13 ms. For all programs ``-O0`` would triple NUTS's gradient (logistic
  regression, N = 1e4, D = 20: 150 us against 50); ``-O1`` and ``-O2`` compile only some 8 %
  faster than ``-O3``. VI's thousands of steps run for seconds at ``-O0`` (2026-12-03, 10 000
  steps, compilation and run, ``-O0`` against ``-O3``: pushforward 6.1 s against 2.8 s, of
  which the run 4.3 s against 0.5 s; logistic regression 2.0 against 1.4 s; linear regression
  2.2 s either way; the classifier and the mixture on iris 3.8 and 4.5 s against 5.3 and 6.2 s,
  runs of 0.9 and 1.2 s against 0.5 and 0.6 s), so it compiles at ``-O0`` only when asked: the
  test suite, whose VI runs take a few hundred steps, asks.

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
QUICK_METHODS = ("ml", "map", "laplace")  # they run for milliseconds on the shipped data
OPTIMISERS = ("ml", "map", "laplace", "vi")  # what may compile at -O0: NUTS and EM always keep -O3
_quick_methods = ()  # the methods compiled at -O0; set by compile_faster()


def compiler_options(method):
    """The XLA options of the program that fits by ``method``: ``-O0`` for the quick methods
    of :func:`compile_faster`, otherwise none (XLA's defaults)."""
    return {"xla_backend_optimization_level": 0} if method in _quick_methods else {}


def compile_faster(*, quick_methods=QUICK_METHODS):
    """Have XLA compile with its older CPU emitters (``--xla_cpu_use_fusion_emitters=false``,
    added to ``XLA_FLAGS``, where a value already given is kept) and the programs of
    ``quick_methods`` (among :data:`OPTIMISERS`) at ``-O0`` (:func:`compiler_options`).
    ``quick_methods=()`` keeps every program at XLA's default, for programs that run far longer
    than they compile (refitted hundreds of times, as in simulation-based calibration).

    XLA reads its flags when JAX's backend starts: call this before the first computation. Called
    later, it warns, and only ``quick_methods`` applies, to the programs compiled from then on.
    """
    global _quick_methods
    if not isinstance(quick_methods, (tuple, list)):
        raise TypeError(f"quick_methods must be a tuple or list of method names; got {type(quick_methods).__name__} "
                        f"{quick_methods!r}")
    unknown = [m for m in quick_methods if m not in OPTIMISERS]
    if unknown:
        raise ValueError(f"quick_methods must name methods among {OPTIMISERS} (NUTS and EM keep -O3); got {unknown}")
    _quick_methods = tuple(quick_methods)
    flags = os.environ.get("XLA_FLAGS", "").split()
    if any(flag == FLAG or flag.startswith(FLAG + "=") for flag in flags):  # the user's choice
        return
    if runtime_started():
        warnings.warn(
            f"compile_faster() came after JAX's backend started, and XLA reads its flags only then: {FLAG}=false "
            "was not applied (-O0 for quick_methods applies to the programs compiled from now on); call it before the "
            "first computation", RuntimeWarning, stacklevel=2,
        )
        return
    os.environ["XLA_FLAGS"] = " ".join([*flags, f"{FLAG}=false"])


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
