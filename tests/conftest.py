"""Tests run in float64: results are compared with closed forms and reference libraries.

The two pytest-xdist workers compile many of the same programs (the mixture's solver, NUTS on
the same model); JAX's persistent compilation cache, kept under pytest's cache folder, lets
the second worker (and a later run) load them instead.
"""

from pathlib import Path

import jax
import numpyro

numpyro.enable_x64()
numpyro.set_host_device_count(1)
jax.config.update("jax_compilation_cache_dir", str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "jax"))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
