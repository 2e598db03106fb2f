"""Tests run in float64: results are compared with closed forms and reference libraries."""

import numpyro

numpyro.enable_x64()
numpyro.set_host_device_count(1)
