"""Tests run in float64: results are compared with closed forms and reference libraries.

JAX's persistent compilation cache is not used here: a clean-clone CI run lost an xdist worker
to a segmentation fault while serialising an executable for it. The likely cause was the
process's memory maps running out (64 programs kept alive, up to ~900 maps each; now 16, see
``inference/_compiled.py``); the cache only saves compilation, so the tests do without it. The
scripts keep it (``scripts/common.py``).
"""

import os

import numpyro
import pytest

from inference import xla
from inference.xla import QUICK_METHODS, compile_faster

os.environ["PGM_JAX_CACHE"] = "off"  # the scripts too, run in-process or as subprocesses (inherited)
numpyro.enable_x64()
numpyro.set_host_device_count(1)
# the suite is compile-bound: about a quarter faster (inference/xla.py); VI too, whose runs here
# take a few hundred steps where the scripts take 10 000
SUITE_QUICK_METHODS = (*QUICK_METHODS, "vi")
compile_faster(quick_methods=SUITE_QUICK_METHODS)


@pytest.fixture(autouse=True)
def suite_quick_methods(monkeypatch):
    """Every test starts with the suite's ``-O0`` methods: importing a script (``scripts/common.py``
    calls ``compile_faster()``, without VI) sets the scripts' for the whole process."""
    monkeypatch.setattr(xla, "_quick_methods", SUITE_QUICK_METHODS)
