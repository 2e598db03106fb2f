"""CPython's cyclic garbage collector paused while the layer traces: :func:`paused_collection`.

``fit`` traces NumPyro's model and method into a jaxpr and lowers it, and ``to_inference_data``
traces the pointwise log-likelihood: hundreds of thousands of Python objects, alive until the
program is compiled. The collector sees them survive its young generations and promotes them,
and so many promotions call for a full collection, which walks every object of the process
(JAX, NumPyro, SciPy, ArviZ: some 330 000 in the NUTS benchmark) and frees almost nothing, since
what the trace made is still in use. Paused, the collector promotes nothing: the trace's objects
are freed by their reference counts once the program is compiled, and call for no collection.

Measured on the NUTS benchmark's call (logistic regression, N = 1e4, D = 20, 2 chains, a model
new to the process; ``benchmarks/README.md``): without the pause one full collection of 0.15 to
0.19 s ran inside it, and its process made 7 full collections (8 with PyMC installed); with
the pause none ran inside it, and the process made 6 (7). Paused for ``fit`` alone, the
collection moved into the ``InferenceData`` that followed (0.26 s to 0.41 s).

Leaving only the full collection out (a third threshold that is never reached) does not do it
either: the young collections still promote the trace's objects, and the full collection comes
as soon as the pause ends. What a paused collector leaves is the cyclic garbage made meanwhile,
freed at the first collection after it: a fit makes little (its programs run in XLA).
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
