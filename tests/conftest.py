"""Tests run in float64: results are compared with closed forms and reference libraries.

JAX's persistent compilation cache is not used here: a clean-clone CI run lost an xdist worker
to a segmentation fault inside jaxlib 0.10.2's serialisation of an executable for the cache
(``compilation_cache.put_executable_and_time``), once in four runs. Each worker compiles its own
programs; the scripts keep the cache (``scripts/common.py``), where a crash costs one run.
"""

import os

import numpyro

os.environ["PGM_JAX_CACHE"] = "off"  # the scripts too, run in-process or as subprocesses (inherited)

numpyro.enable_x64()
numpyro.set_host_device_count(1)
