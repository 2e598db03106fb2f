"""The host buffers that data are padded into: aligned, so that JAX on CPU takes them without a copy."""

import jax
import numpy as np
import pytest

from inference._sharding import CPU_ALIGNMENT, aligned_zeros, sharded_data


@pytest.mark.parametrize("shape, dtype", [((1000, 7), np.float64), (513, bool), ((3, 5, 2), np.int64)])
def test_aligned_zeros_is_zeros_at_an_aligned_address(shape, dtype):
    buffer = aligned_zeros(shape, dtype)
    np.testing.assert_array_equal(buffer, np.zeros(shape, dtype))
    assert buffer.dtype == dtype and buffer.flags.c_contiguous and buffer.flags.writeable
    assert buffer.ctypes.data % CPU_ALIGNMENT == 0


def test_the_device_takes_the_padded_rows_without_a_copy():
    # the point of the alignment: device_put aliases the host buffer (NumPy's own, 16-byte
    # aligned, is copied: 18 ms for 40 MB), which a changed JAX version would break silently
    rng = np.random.default_rng(0)
    data = {"X": rng.normal(size=(1000, 3)), "y": rng.integers(0, 2, size=1000)}
    padded, mask = sharded_data(data, None, block=512)
    assert padded["X"].shape == (1024, 3) and padded["y"].shape == (1024,)
    np.testing.assert_array_equal(padded["X"][:1000], data["X"])
    np.testing.assert_array_equal(padded["X"][1000:], np.repeat(data["X"][:1], 24, axis=0))
    np.testing.assert_array_equal(padded["y"][1000:], np.full(24, data["y"][0]))
    np.testing.assert_array_equal(mask, np.arange(1024) < 1000)
    for host in (padded["X"], padded["y"], mask):
        assert host.ctypes.data % CPU_ALIGNMENT == 0
        assert jax.device_put(host).unsafe_buffer_pointer() == host.ctypes.data
