"""Validation of user data at the boundary, in NumPy, before anything is traced by JAX.

Every message names the argument, what was expected and what was received, in the manner of
scikit-learn's ``check_array``.
"""

import itertools
import mmap
import numbers
from collections.abc import Mapping

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
    if array.dtype.kind == "c":
        raise TypeError(f"{name} must be real-valued; got dtype {array.dtype}")
    # booleans, integers and floats only: datetime64 and timedelta64 count as numbers for NumPy,
    # but their units would be silently dropped by the cast to float
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric array; got dtype {array.dtype}")
    return array


def max_abs():
    """The largest magnitude accepted in data: beyond it, squares (every Gaussian log-density
    squares the data) summed over up to 1e8 rows overflow the float type JAX computes in, 1.3e150
    in float64 (``numpyro.enable_x64()``) and 1.8e15 in float32."""
    dtype = np.float64 if jax.config.jax_enable_x64 else np.float32
    return float(np.sqrt(np.finfo(dtype).max)) / 1e4


def _first_index(mask, first_row):
    where = tuple(int(i) for i in np.argwhere(mask)[0])
    return (where[0] + first_row, *where[1:]) if where else where  # () for a 0-d array


def _check_finite(name, array, first_row=0):
    # the common case in two reductions and no temporary array; NaN propagates through max
    if array.size and np.isfinite(peak := max(array.max(), -array.min())) and peak <= max_abs():
        return
    bad = ~np.isfinite(array)
    if bad.any():
        raise ValueError(
            f"{name} must be finite; got {int(bad.sum())} NaN or inf value(s), the first at index "
            f"{_first_index(bad, first_row)}"
        )
    huge = np.abs(array) > max_abs()
    if huge.any():
        raise ValueError(
            f"{name} must have values of magnitude at most {max_abs():.2g} (their squares must not overflow "
            f"{'float64' if jax.config.jax_enable_x64 else 'float32'}); got {array[huge][0]:.3g} at index "
            f"{_first_index(huge, first_row)}"
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
    for methods that stream it (EM of the mixture). Float64 data are not copied (a 1-D ``X`` is
    a view): whoever keeps them copies them, as ``inference.fit`` does for ``Fit.data``.
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
    X = X.astype(np.float64, copy=False)
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
    return jax.device_put(X)  # jnp.asarray would compile a program for each new shape (30 ms each)


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
    """Real-valued targets ``y`` of shape ``(num_data,)``, float64 (not copied if they are)."""
    y = _check_vector("y", y, num_data).astype(np.float64, copy=False)
    _check_finite("y", y)
    return y


def check_labels(y, num_data, num_classes, *, missing=None):
    """Integer labels in ``{0, ..., num_classes - 1}`` of shape ``(num_data,)``, as int64 (not
    copied if they are).

    Floats with integral values (labels read from a CSV file) are accepted. ``missing``, when
    given, is the value that marks a missing label. With every label given, a class without
    any point is an error: nothing can be estimated for it.
    """
    y = _check_vector("y", y, num_data)
    if y.dtype.kind == "f":
        _check_finite("y", y)
        if not np.all(y == np.round(y)):
            raise ValueError(f"y must hold integer class labels; got non-integer values such as {y[y != np.round(y)][0]}")
    # the range is checked in y's own dtype, before the cast to int64: a cast first would wrap a
    # uint64 2**64 - 1 round to -1 (a missing label) and a float 1e20 to a meaningless integer
    inside = (y >= 0) & (y < num_classes)
    if missing is not None:
        inside |= y == missing
    if not inside.all():
        marker = "" if missing is None else f" (or {missing} for a missing label)"
        outside = sorted({int(v) if float(v).is_integer() else v for v in y[~inside].tolist()})
        raise ValueError(f"y must hold labels in {{0, ..., {num_classes - 1}}}{marker}; got {outside[:5]}")
    y = y.astype(np.int64, copy=False)
    if not np.any(y == missing):
        if num_classes <= num_data:  # counts no longer than y: one pass, where np.unique sorts
            empty = np.flatnonzero(np.bincount(y, minlength=num_classes) == 0)[:20].tolist()
        else:  # some class is empty; the first ones, without an array of num_classes counts (it may be huge)
            present = set(y.tolist())
            empty = list(itertools.islice((k for k in range(num_classes) if k not in present), 20))
        if empty:
            raise ValueError(
                f"y must have at least one point in every class 0..{num_classes - 1}; "
                f"class(es) {empty} have no points"
            )
    elif num_classes > num_data:  # as the mixture's num_components
        raise ValueError(
            f"Expected num_data >= num_classes but got num_classes = {num_classes}, num_data = {num_data}"
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
    # a string first: ``array in choices`` compares elementwise, and is ambiguous or passes
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}; got {value!r}")
    return value


def check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {type(value).__name__} {value!r}")
    return bool(value)


def check_array(name, value, shape, *, positive=False):
    """A finite float64 array broadcast to ``shape`` (a parameter given to ``simulate``), > 0
    elementwise when ``positive``."""
    array = _as_numeric(name, value).astype(np.float64)
    try:
        array = np.broadcast_to(array, shape)
    except ValueError as err:
        raise ValueError(f"{name} must broadcast to shape {tuple(shape)}; got shape {array.shape}") from err
    _check_finite(name, array)
    if positive and not np.all(array > 0):
        raise ValueError(f"{name} must be > 0 elementwise; got the value {float(array[array <= 0].ravel()[0])!r}")
    return array


def check_key(name, value):
    """A JAX PRNG key: ``jax.random.key(seed)`` (typed, shape ``()``) or ``jax.random.PRNGKey(seed)``
    (raw, two uint32 words)."""
    dtype = getattr(value, "dtype", None)
    shape = getattr(value, "shape", None)
    typed = dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key) and shape == ()
    raw = dtype == np.uint32 and shape == (2,)
    if not (typed or raw):
        described = f"{type(value).__name__}" + (f" of dtype {dtype} and shape {shape}" if dtype is not None else f" {value!r}")
        raise TypeError(f"{name} must be a JAX PRNG key, such as jax.random.PRNGKey(0); got {described}")
    return value


def check_values(name, value):
    """A finite float64 array of any shape (a traced value is returned as it is)."""
    if isinstance(value, jax.core.Tracer):
        return value
    array = _as_numeric(name, value).astype(np.float64)
    _check_finite(name, array)
    return array


def check_probabilities(name, value):
    """``value`` (a checked float array, last axis the categories) as probability vectors."""
    if isinstance(value, jax.core.Tracer):
        return value
    # 1e-5: a simplex computed in float32 sums to 1 only within some K * 1.2e-7
    if np.any(value < 0) or np.any(np.abs(value.sum(axis=-1) - 1.0) > 1e-5):
        raise ValueError(
            f"{name} must be a probability vector (entries >= 0 summing to 1); got {np.array2string(value, precision=4)}"
        )
    return value


def check_covariance(name, value):
    """``value`` (a checked float array of shape (..., D, D)) as symmetric positive definite matrices."""
    if isinstance(value, jax.core.Tracer):
        return value
    asymmetry = np.abs(value - np.swapaxes(value, -1, -2)).max(initial=0.0)
    if asymmetry > 1e-6 * max(np.abs(value).max(initial=0.0), np.finfo(np.float64).tiny):
        raise ValueError(f"{name} must be symmetric; got entries that differ from their transpose by up to {asymmetry:.3g}")
    try:
        np.linalg.cholesky(value)
    except np.linalg.LinAlgError:
        smallest = float(np.linalg.eigvalsh(value).min())
        raise ValueError(
            f"{name} must be positive definite; got a matrix whose smallest eigenvalue is {smallest:.3g}"
        ) from None
    return value


_DOMAINS = {"simplex": check_probabilities, "covariance": check_covariance}


def check_theta(theta, shapes, *, optional=(), domains=None):
    """Validated parameters ``theta`` for a fitted model's functions (prediction, densities).

    ``shapes`` maps each parameter used to its shape, or to a list of accepted shapes, whose
    entries are integers or letters (``"K"``, ``"D"``) that must take one value across
    parameters; ``optional`` names the parameters that may be absent; ``domains`` maps a
    parameter to ``"simplex"`` (probability vectors along the last axis) or ``"covariance"``
    (symmetric positive definite). Returns a dict of the parameters used, float64 arrays
    (traced values as they are), checked to be finite; other entries of ``theta`` are ignored.
    """
    if not isinstance(theta, Mapping):
        raise TypeError(f"theta must be a dict {{name: array}} of parameters; got {type(theta).__name__}")
    missing = [name for name in shapes if name not in theta and name not in optional]
    if missing:
        raise ValueError(
            f"theta must have the parameter(s) {list(shapes)}; missing {missing}, got keys {sorted(map(str, theta))}"
        )
    sizes, out = {}, {}
    for name, accepted in shapes.items():
        if name not in theta:
            continue
        label = f"theta[{name!r}]"
        value = check_values(label, theta[name])
        accepted = accepted if isinstance(accepted, list) else [accepted]
        for shape in accepted:
            bound = _match_shape(np.shape(value), shape, sizes)
            if bound is not None:
                sizes = bound
                break
        else:
            expected = " or ".join(str(tuple(shape)).replace("'", "") for shape in accepted)
            known = ", ".join(f"{letter} = {size}" for letter, size in sizes.items())
            raise ValueError(
                f"{label} must have shape {expected}{f' with {known}' if known else ''}; got shape {np.shape(value)}"
            )
        if domains and name in domains:
            value = _DOMAINS[domains[name]](label, value)
        out[name] = value
    return out


def _match_shape(shape, expected, sizes):
    """``sizes`` extended by the letters of ``expected`` if ``shape`` matches it, else None."""
    if len(shape) != len(expected):
        return None
    sizes = dict(sizes)
    for size, want in zip(shape, expected):
        if isinstance(want, str):
            want = sizes.setdefault(want, size)
        if size != want:
            return None
    return sizes


def check_gaussian_theta(theta):
    """``pi`` (K,), ``mu`` (K, D) and ``cov`` (K, D, D) or tied (D, D) of the Gaussian models,
    checked by :func:`check_theta`."""
    return check_theta(
        theta, {"pi": ("K",), "mu": ("K", "D"), "cov": [("K", "D", "D"), ("D", "D")]},
        domains={"pi": "simplex", "cov": "covariance"},
    )
