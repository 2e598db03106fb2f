"""Rows sharded over JAX devices: the data-parallel layout of EM, ML, MAP and VI.

A one-axis mesh ``("rows",)``; the data's rows are split across it and XLA reduces the sums
(log-likelihoods, gradients, sufficient statistics) across devices. The result equals the
one-device run up to the order of the additions. Several hosts: start each process with
``jax.distributed.initialize()`` and the same code sees every host's devices in ``jax.devices()``.
"""

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec


def device_mesh(count, axis):
    """A one-axis mesh ``(axis,)`` over the first ``count`` devices. Automatic axis types: the
    explicit default fails inside the Gaussian log-density and the M-step's matrix products."""
    return Mesh(np.asarray(jax.devices()[:count]), (axis,), axis_types=(AxisType.Auto,))


def row_mesh(devices):
    """:func:`device_mesh` ``("rows",)`` over the first ``devices`` devices (all when None), or
    None for one device."""
    available = jax.devices()
    count = len(available) if devices is None else devices
    if count > len(available):
        raise ValueError(f"devices must be at most the {len(available)} available JAX device(s); got devices = {devices}")
    if count == 1:
        return None
    return device_mesh(count, "rows")


def fit_mesh(devices, batch_size):
    """:func:`row_mesh` for ML, MAP and VI, which draw minibatches on one device only."""
    mesh = row_mesh(devices)
    if mesh is not None and batch_size is not None:
        raise ValueError(f"batch_size and devices > 1 do not combine (minibatches are drawn on one device); got "
                         f"batch_size = {batch_size} with {mesh.size} devices (devices = {devices})")
    return mesh


# XLA's CPU client takes a host buffer aligned to this many bytes as it is; any other it copies
CPU_ALIGNMENT = 64


def aligned_zeros(shape, dtype=np.float64):
    """``np.zeros(shape, dtype)`` at an address that is a multiple of :data:`CPU_ALIGNMENT`.

    JAX on CPU aliases such an array, as the argument of a compiled function or by
    ``jax.device_put``; NumPy's own allocations are 16-byte aligned, and those it copies: 18 ms
    for the 40 MB of X at N = 1e5, D = 50, a sixth of an ML fit. For buffers that only the
    device will read: one written after the transfer would change the device's array.
    """
    dtype = np.dtype(dtype)
    num_bytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.zeros(num_bytes + CPU_ALIGNMENT, dtype=np.uint8)
    offset = -raw.ctypes.data % CPU_ALIGNMENT
    return raw[offset : offset + num_bytes].view(dtype).reshape(shape)


def placed(mesh, *arrays):
    """The arrays sharded along their first axis over ``mesh`` (unchanged without one)."""
    if mesh is None:
        return arrays
    return tuple(jax.device_put(a, NamedSharding(mesh, PartitionSpec("rows"))) for a in arrays)


def sharded_data(data, mesh, block=1):
    """``(data, mask)`` for a fit over ``mesh``: every array's rows padded to a multiple of
    ``block`` times the mesh's size by repeats of the first row (finite wherever the data are),
    and sharded; the mask is True for data and False for padding
    (:class:`inference.handlers.observed_rows`). Without a mesh and with ``block`` 1, the
    data unchanged and mask None.

    A ``block`` of rows makes data of different sizes one shape: the compiled fits of 1 to
    ``block`` rows are one program, not one per size (a multiple of ``block`` gets its mask too).
    Padded without a mesh, the arrays are new NumPy buffers, aligned (:func:`aligned_zeros`)."""
    if mesh is None and block == 1:
        return data, None
    num_data = len(data["X"])
    padding = -num_data % (block * (1 if mesh is None else mesh.size))
    padded = {}
    for name, value in data.items():
        value = np.asarray(value)
        # into an aligned buffer, which the device takes without a second copy (aligned_zeros)
        padded[name] = aligned_zeros((num_data + padding, *value.shape[1:]), value.dtype)
        padded[name][:num_data] = value
        padded[name][num_data:] = value[:1]
    mask = aligned_zeros(num_data + padding, bool)
    mask[:num_data] = True
    arrays = placed(mesh, *padded.values(), mask)
    return dict(zip(padded, arrays[:-1])), arrays[-1]
