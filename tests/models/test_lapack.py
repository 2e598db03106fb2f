"""The CPU lowerings of models._lapack: no LAPACK triangular solve or Cholesky in a compiled
program under jaxlib 0.10 (their batched kernels can deadlock XLA's thread pool), and the same
values as LAPACK's to round-off."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from jax.scipy.linalg import solve_triangular

from models import _lapack


def _batched(L, b):
    return solve_triangular(L, b, lower=True), jnp.linalg.cholesky(L @ jnp.swapaxes(L, -1, -2))


@pytest.mark.skipif(not _lapack.AFFECTED, reason="jaxlib >= 0.11 has no parallel LAPACK batches")
def test_no_lapack_triangular_solve_or_cholesky_is_compiled():
    L = jnp.ones((3, 4, 4)).at[...].set(jnp.tril(jnp.ones((4, 4))))
    text = jax.jit(_batched).lower(L, jnp.ones((3, 4, 2))).as_text()
    assert "trsm" not in text and "potrf" not in text
    assert "triangular_solve" in text and "cholesky" in text  # XLA's own ops


def test_the_values_agree_with_scipy_to_round_off():
    rng = np.random.default_rng(0)
    L = np.tril(rng.normal(size=(5, 6, 6))) + 4 * np.eye(6)
    b = rng.normal(size=(5, 6, 3))
    solved, chol = jax.jit(_batched)(L, b)
    for i in range(5):
        # a well-conditioned triangular system (diagonal ~4): both backward stable, ~1e-15 apart
        np.testing.assert_allclose(solved[i], scipy.linalg.solve_triangular(L[i], b[i], lower=True), rtol=1e-13)
        np.testing.assert_allclose(chol[i], np.linalg.cholesky(L[i] @ L[i].T), rtol=1e-13, atol=1e-14)
