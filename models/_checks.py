"""Validation of user data at the boundary, in NumPy, before anything is traced by JAX.

Every message names the argument, what was expected and what was received, in the manner of
scikit-learn's ``check_array``.
"""

import mmap
import numbers

import jax
import jax.numpy as jnp
import numpy as np

STREAM_BLOCK_ROWS = 1 << 18  # rows read from disk at a time: 16 MB at D = 8


def _as_numeric(name, value):
    if value is None:
        raise ValueError(f"{name} is required; got None")
    try:
        array = value if isinstance(value, np.memmap) else np.asarray(value)
    except Exception as err:  # ragged lists and the like
        raise TypeError(f"{name} must be a numeric array; could not convert {type(value).__name__}: {err}") from err
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be a numeric array; got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real-valued; got dtype {array.dtype}")
    return array


def _check_finite(name, array, first_row=0):
    bad = ~np.isfinite(array)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        where = (where[0] + first_row, *where[1:])
        raise ValueError(
            f"{name} must be finite; got {int(bad.sum())} NaN or inf value(s), the first at index {where}"
        )


def read_rows(X, begin, end):
    """Rows ``begin:end`` of a memory-mapped ``X`` (``np.load(path, mmap_mode="r")``) as float64.

    A whole mapped file is read with ``np.fromfile`` at the rows' offset rather than through the
    map, so that the pages read never stay resident in the process (its peak memory is one block,
    whatever the file's size); a view of a map is sliced and copied.
    """
    if isinstance(X.base, mmap.mmap) and X.flags.c_contiguous and X.filename is not None:
        D = X.shape[1]
        with open(X.filename, "rb") as file:
            block = np.fromfile(file, dtype=X.dtype, count=(end - begin) * D, offset=X.offset + begin * D * X.itemsize)
        return block.reshape(end - begin, D).astype(np.float64, copy=False)
    return np.array(X[begin:end], dtype=np.float64)


def check_X(X):
    """``X`` as a float array of shape ``(num_data, num_features)``; a 1-D ``X`` is one feature.

    A 2-D ``np.memmap`` (data on disk) is checked block by block and returned as it is, unread,
    for methods that stream it (EM of the mixture).
    """
    X = _as_numeric("X", X)
    if X.ndim == 1 and not isinstance(X, np.memmap):
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"X must be 1-D or 2-D, of shape (num_data, num_features); got shape {X.shape}")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X must have at least one row and one column; got shape {X.shape}")
    if isinstance(X, np.memmap):
        for begin in range(0, len(X), STREAM_BLOCK_ROWS):
            _check_finite("X", read_rows(X, begin, min(begin + STREAM_BLOCK_ROWS, len(X))), first_row=begin)
        return X
    X = X.astype(np.float64)
    _check_finite("X", X)
    return X


def as_features(X):
    """``X`` as a JAX array of shape (num_data, num_features), inside models (no validation)."""
    X = jnp.atleast_1d(X)
    return X[:, None] if X.ndim == 1 else X


def check_features(X, num_features):
    """``X`` for a fitted model's functions: validated when concrete, traced values as they are."""
    if isinstance(X, jax.core.Tracer):
        return as_features(X)
    X = check_X(X)
    if X.shape[1] != num_features:
        raise ValueError(f"X must have {num_features} feature(s), as the parameters do; got shape {X.shape}")
    return jnp.asarray(X)


def _check_vector(name, y, num_data):
    y = _as_numeric(name, y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, of shape (num_data,); got shape {y.shape}")
    if y.shape[0] != num_data:
        raise ValueError(
            f"X and {name} must have the same number of rows; got {num_data} rows in X and {y.shape[0]} in {name}"
        )
    return y


def check_targets(y, num_data):
    """Real-valued targets ``y`` of shape ``(num_data,)``."""
    y = _check_vector("y", y, num_data).astype(np.float64)
    _check_finite("y", y)
    return y


def check_labels(y, num_data, num_classes, *, missing=None):
    """Integer labels in ``{0, ..., num_classes - 1}`` of shape ``(num_data,)``.

    Floats with integral values (labels read from a CSV file) are accepted. ``missing``, when
    given, is the value that marks a missing label. With every label given, a class without
    any point is an error: nothing can be estimated for it.
    """
    y = _check_vector("y", y, num_data)
    if not np.issubdtype(y.dtype, np.integer) and not np.issubdtype(y.dtype, np.bool_):
        _check_finite("y", y)
        if not np.all(y == np.round(y)):
            raise ValueError(f"y must hold integer class labels; got non-integer values such as {y[y != np.round(y)][0]}")
    y = y.astype(np.int64)
    outside = ((y < 0) | (y >= num_classes)) & (y != missing)
    if outside.any():
        marker = "" if missing is None else f" (or {missing} for a missing label)"
        raise ValueError(
            f"y must hold labels in {{0, ..., {num_classes - 1}}}{marker}; got {sorted(set(y[outside].tolist()))[:5]}"
        )
    if not np.any(y == missing):
        counts = np.bincount(y, minlength=num_classes)
        empty = np.flatnonzero(counts == 0).tolist()
        if empty:
            raise ValueError(
                f"y must have at least one point in every class 0..{num_classes - 1}; "
                f"class(es) {empty} have no points"
            )
    return y


def check_int(name, value, *, minimum, maximum=None):
    """An integer option within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {type(value).__name__} {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"{name} must be >= {minimum}{upper}; got {name} = {value}")
    return int(value)


def check_choice(name, value, choices):
    """One of a fixed set of strings."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}; got {value!r}")
    return value


def check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {type(value).__name__} {value!r}")
    return bool(value)
