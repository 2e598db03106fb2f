"""Exact EM over data on disk (``np.load(path, mmap_mode="r")``), streamed block by block."""

import warnings

import jax
import numpy as np
import pytest

import inference.em
import models._checks
from inference import ConvergenceWarning, fit
from models import gaussian_mixture as gm


@pytest.fixture(scope="module")
def on_disk(tmp_path_factory):
    X = np.asarray(gm.simulate(jax.random.PRNGKey(0), 1001, 3, num_components=3).data["X"])
    path = tmp_path_factory.mktemp("stream") / "X.npy"
    np.save(path, X)
    return X, np.load(path, mmap_mode="r")


@pytest.mark.parametrize("covariance_type", gm.COVARIANCE_TYPES)
def test_streamed_em_equals_in_memory_em(on_disk, monkeypatch, covariance_type):
    """Blocks of 100 rows (ten chunks of 10) make 1001 rows eleven blocks, the last one padded.
    The sums are grouped by block rather than in one run, so the trace agrees to 1e-12 relative
    and not bit for bit; the start is the same (k-means sees every row of a file this small)."""
    X, mapped = on_disk
    monkeypatch.setattr(inference.em, "STREAM_BLOCK_ROWS", 100)
    options = dict(num_components=3, covariance_type=covariance_type, tol=0.0, max_iter=10, chunk_size=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        in_memory = fit(gm, {"X": X}, "em", **options)
        streamed = fit(gm, {"X": mapped}, "em", **options)
    np.testing.assert_allclose(streamed.losses, in_memory.losses, rtol=1e-12)
    for name in ("pi", "mu", "cov"):
        np.testing.assert_allclose(streamed.params[name], in_memory.params[name], rtol=1e-10, atol=1e-12)
    assert streamed.info["responsibilities"] is None and streamed.info["assignments"] is None
    assert isinstance(streamed.data["X"], np.memmap)


def test_a_nan_on_disk_is_found_by_block(tmp_path, monkeypatch):
    X = np.random.default_rng(0).normal(size=(250, 2))
    X[234, 1] = np.nan
    np.save(tmp_path / "X.npy", X)
    monkeypatch.setattr(models._checks, "STREAM_BLOCK_ROWS", 100)
    with pytest.raises(ValueError, match=r"X must be finite; got 1 NaN or inf value\(s\), the first at index \(234, 1\)"):
        fit(gm, {"X": np.load(tmp_path / "X.npy", mmap_mode="r")}, "em")


def test_data_on_disk_need_the_compiled_engine(on_disk):
    with pytest.raises(ValueError, match=r"X on disk \(np.memmap\) is streamed by the compiled engine only .*'generic'"):
        fit(gm, {"X": on_disk[1]}, "em", engine="generic")
