"""XLA's CPU compiler set for programs that compile more than they run: the scripts and the tests.

Fitting a lecture model to a shipped data set is nearly all compilation: ``linear_regression.py
--method ml`` compiles for 1.9 s and runs for 0.02 s. XLA's CPU backend emits fused loops with
its newer MLIR "fusion emitters" by default; its older emitters compile the same programs about
30 % faster. Measured on 2 cores (2026-11-25):

- the ML fit of ``linear_regression.py``: compilation 1.95 s to 1.35 s, the whole script 4.8 s
  to 4.3 s;
- the non-slow tests of ``tests/models``: 90 s to 68 s;
- the compiled code: NUTS's gradient on logistic regression (N = 1e4, D = 20) unchanged
  (116 us); EM at N = 1e6, D = K = 8 about 13 % slower per iteration.

So it pays where compilation dominates, and it is no default of the library: the scripts and the
test suite opt in (``scripts/common.py``, ``tests/conftest.py``); ``benchmarks/`` does not. XLA
aborts on a flag it does not know: check that this one still exists when JAX is upgraded. The
two emitters do not round alike everywhere: the mixture's MAP on iris takes 131 L-BFGS steps
instead of 128 (to the same optimum), and NUTS's draws differ (from the same distribution).
"""

import os
import warnings

# whether JAX's backend has started: JAX 0.10 has no public way to ask
from jax._src import xla_bridge

FLAG = "--xla_cpu_use_fusion_emitters"


def compile_faster():
    """Have XLA compile with its older CPU emitters (``--xla_cpu_use_fusion_emitters=false``),
    added to ``XLA_FLAGS``; a value already given there is kept, and then nothing is done.

    XLA reads its flags when JAX's backend starts: call this before the first computation. Called
    later, it warns and changes nothing.
    """
    flags = os.environ.get("XLA_FLAGS", "").split()
    if any(flag == FLAG or flag.startswith(FLAG + "=") for flag in flags):  # the user's choice
        return
    if xla_bridge.backends_are_initialized():
        warnings.warn(
            "compile_faster() came after JAX's backend started, and XLA reads its flags only then; call it before "
            "the first computation", RuntimeWarning, stacklevel=2,
        )
        return
    os.environ["XLA_FLAGS"] = " ".join([*flags, f"{FLAG}=false"])
