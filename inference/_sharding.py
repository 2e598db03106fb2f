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
    ``block`` rows are one program, not one per size (a multiple of ``block`` gets its mask too)."""
    if mesh is None and block == 1:
        return data, None
    num_data = len(data["X"])
    padding = -num_data % (block * (1 if mesh is None else mesh.size))
    rows = np.concatenate([np.arange(num_data), np.zeros(padding, dtype=np.int64)])
    mask = np.arange(num_data + padding) < num_data
    names = list(data)
    arrays = placed(mesh, *(np.asarray(data[name])[rows] for name in names), mask)
    return dict(zip(names, arrays[:-1])), arrays[-1]
