"""check_priors checks the user's priors without building the defaults; resolve_priors fills them in."""

import numpy as np
import numpyro.distributions as dist
import pytest
from numpyro.distributions import constraints

from models._priors import Fixed, Param, check_priors, resolve_priors


def _unbuildable():
    raise AssertionError("a default prior was built")


SPEC = {
    "a": Param((2,), constraints.real, _unbuildable),
    "sigma": Param((), constraints.positive, lambda: dist.HalfNormal(1.0)),
}


def test_check_priors_builds_no_default():
    assert check_priors(None, SPEC) == {}
    checked = check_priors({"sigma": 2.0}, SPEC)
    assert list(checked) == ["sigma"] and isinstance(checked["sigma"], Fixed)


def test_check_priors_still_refuses_what_resolve_priors_refuses():
    with pytest.raises(ValueError, match=r"priors\['sigma'\] must have support within Positive"):
        check_priors({"sigma": dist.Normal(0.0, 1.0)}, SPEC)
    with pytest.raises(ValueError, match=r"priors names parameters that do not exist: \['c'\]"):
        check_priors({"c": dist.Normal(0.0, 1.0)}, SPEC)


def test_resolve_priors_builds_only_the_defaults_left_out():
    resolved = resolve_priors({"a": dist.Normal(0.0, 3.0)}, SPEC)  # a's default would raise
    assert list(resolved) == ["a", "sigma"]  # the order of the specification
    assert resolved["a"].batch_shape == (2,) and float(resolved["a"].base_dist.scale) == 3.0
    assert isinstance(resolved["sigma"], dist.HalfNormal)
    with pytest.raises(AssertionError, match="a default prior was built"):
        resolve_priors(None, SPEC)
    np.testing.assert_array_equal(resolve_priors({"a": np.array([1.0, 2.0])}, SPEC)["a"].value, [1.0, 2.0])
