"""CPython's cyclic garbage collector paused while a fit runs: :func:`paused_collection`.

A fit traces NumPyro's model and method into a jaxpr and lowers it: hundreds of thousands of
Python objects, alive until the program is compiled. The collector sees them survive its young
generations, promotes them, and so many promotions trigger a full collection, which walks every
object of the process (JAX, NumPyro, SciPy, ArviZ: some 330 000 in the NUTS benchmark) and
frees almost nothing, since what the trace made is still in use. Paused, the collector promotes
nothing: the trace's objects are freed by their reference counts when the fit no longer needs
them, and no full collection follows. Measured on NUTS for logistic regression (N = 1e4, D = 20,
2 chains, a model new to the process; ``benchmarks/README.md``): one full collection of 0.15 s
in a call of 3.3 s, gone.

Leaving only the full collection out (a third threshold that is never reached) does not do it:
the young collections still promote the trace's objects, and the full collection they call for
comes as soon as the fit returns, measured in the ``InferenceData`` that follows (0.26 s to 0.41 s).

What a paused collector leaves is cyclic garbage made during the fit, freed at the first
collection after it; a fit makes little (the programs run in XLA, not in Python).
"""

import gc
import threading
from contextlib import contextmanager

_LOCK = threading.Lock()
_active = 0  # how many paused_collection() blocks are open, in any thread
_was_enabled = False  # whether the collector ran when the first of them began


@contextmanager
def paused_collection():
    """``gc.disable()`` while the block runs, and the collector as it was afterwards. Nested and
    concurrent blocks share one pause: it ends with the last of them. ``gc.collect()`` still
    collects, and a collector the caller had disabled stays disabled."""
    global _active, _was_enabled
    with _LOCK:
        if _active == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _active += 1
    try:
        yield
    finally:
        with _LOCK:
            _active -= 1
            if _active == 0 and _was_enabled:
                gc.enable()
