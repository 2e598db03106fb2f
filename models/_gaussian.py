"""Gaussian class-conditional densities shared by the classifier and the mixture.

Both lecture models share one generative process (eq. 1.3 and Example 1.6):

    pi ~ p(pi),  mu ~ p(mu),  (sigma, corr_chol) ~ p(sigma) p(corr_chol)
    label_n | pi ~ Categorical(pi)
    x_n | label_n = k ~ N(mu_k, cov_k),   cov_k = diag(sigma_k) corr_chol_k corr_chol_k^T diag(sigma_k)

The classifier observes the label (``y``); the mixture sums it out (``z``, enumerated). The
covariance types follow scikit-learn's ``GaussianMixture``:

==========  ==================  ====================  ==================
type        ``sigma``           ``corr_chol``         ``cov``
==========  ==================  ====================  ==================
full        (K, D)              (K, D, D)             (K, D, D)
diag        (K, D)              --                    (K, D, D)
spherical   (K,)                --                    (K, D, D)
tied        (D,)                (D, D)                (D, D)
==========  ==================  ====================  ==================

``corr_chol`` is absent when D = 1, where a correlation matrix is the number one.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax import random
from jax.nn import softmax
from jax.scipy.special import logsumexp
from numpyro.distributions import constraints

from ._components import ComponentNormal, cholesky_log_densities
from ._corr_cholesky import LKJCholesky
from ._priors import Param, sample_params

COVARIANCE_TYPES = ("full", "diag", "spherical", "tied")
# rows per block of the closed forms over many rows (log_joint): a (B, K D) block of whitened rows
# stays in cache, as in EM's chunks (inference.em's chunk_size)
ROW_BLOCK = 4096

# Scale prior: log-normal, so its density vanishes at sigma -> 0 faster than the likelihood of
# a component collapsed on a point grows (Example 1.6's singularity), and MAP stays finite.
# LKJ concentration 2 vanishes likewise at perfect correlation.
_SCALE_PRIOR = (0.0, 2.0)
_LKJ_CONCENTRATION = 2.0


def params(num_groups, num_features, covariance_type, mu_domain=constraints.real):
    """The parameters ``pi, mu, sigma[, corr_chol]`` of K = ``num_groups`` Gaussians in D dims.

    A ``mu_domain`` other than real (the ordered mixture's) takes real priors, which the model
    restricts to that domain.
    """
    K, D = num_groups, num_features
    mu_prior_domain = None if mu_domain is constraints.real else constraints.real
    sigma_shape = {"full": (K, D), "diag": (K, D), "spherical": (K,), "tied": (D,)}[covariance_type]
    spec = {
        "pi": Param((K,), constraints.simplex, lambda: dist.Dirichlet(jnp.ones(K))),
        "mu": Param((K, D), mu_domain, lambda: dist.Normal(0.0, 10.0), mu_prior_domain),
        "sigma": Param(sigma_shape, constraints.positive, lambda: dist.LogNormal(*_SCALE_PRIOR)),
    }
    if covariance_type in ("full", "tied") and D > 1:
        corr_shape = (K, D, D) if covariance_type == "full" else (D, D)
        spec["corr_chol"] = Param(
            corr_shape, constraints.corr_cholesky, lambda: LKJCholesky(D, _LKJ_CONCENTRATION)
        )
    return spec


def scale_tril(sigma, corr_chol, num_groups, num_features, covariance_type):
    """Cholesky factors ``(K, D, D)`` of the covariances; a tied one is broadcast over K."""
    K, D = num_groups, num_features
    eye = jnp.eye(D)
    if covariance_type == "spherical":
        L = sigma[:, None, None] * eye
    elif covariance_type == "diag" or corr_chol is None:
        L = sigma[..., :, None] * eye
    else:
        L = sigma[..., :, None] * corr_chol
    return jnp.broadcast_to(L, (K, D, D))


def generative_model(X, label, *, resolved, label_site, covariance_type, enumerate_label, labelled=None):
    """The shared NumPyro model body; returns nothing, records ``cov`` as a deterministic site.

    The label is observed (``label`` given, ``labelled`` None), sampled (``label`` None) or
    enumerated (``enumerate_label``). With a boolean mask ``labelled``, the label is enumerated
    for every row and ``x``'s density is multiplied by ``1{label_n = k}`` on the labelled rows,
    which keeps only the given label there: the rows without a label (``label`` = -1) are summed
    over, the others scored as observed, in one vectorised plate (the semi-supervised
    classifier).
    """
    num_data, D = X.shape
    values = sample_params(resolved)
    K = values["pi"].shape[-1]
    L = scale_tril(values["sigma"], values.get("corr_chol"), K, D, covariance_type)
    cov = L @ jnp.swapaxes(L, -1, -2)
    numpyro.deterministic("cov", cov[0] if covariance_type == "tied" else cov)
    partly_labelled = labelled is not None
    infer = {"enumerate": "parallel"} if enumerate_label or partly_labelled else {}
    with numpyro.plate("data", num_data):
        if K == 1 and label is None:  # one component: nothing to sum out, so no label site
            k = jnp.zeros(num_data, dtype=jnp.int32)
        else:
            obs = None if partly_labelled else label
            k = numpyro.sample(label_site, dist.Categorical(values["pi"]), obs=obs, infer=infer)
        ruled_out = labelled & (k != label) if partly_labelled else None
        numpyro.sample("X", ComponentNormal(values["mu"], L, k, ruled_out=ruled_out), obs=X)


def spread_means(num_groups, num_features, radius):
    """Well-separated means for simulations: on a circle of ``radius`` in the first two
    coordinates, or ``radius`` apart on a line when D = 1; shape (K, D)."""
    K, D = num_groups, num_features
    angle = 2 * jnp.pi * jnp.arange(K) / K
    if D == 1:
        return radius * jnp.arange(K, dtype=float)[:, None]
    return jnp.zeros((K, D)).at[:, 0].set(radius * jnp.cos(angle)).at[:, 1].set(radius * jnp.sin(angle))


@partial(jax.jit, static_argnums=1)  # op by op, a first draw compiled some twenty small programs (1.1 s)
def sample(rng_key, num_data, pi, mu, cov):
    """Draw labels ``k_n ~ Categorical(pi)`` and ``x_n ~ N(mu_k, cov_k)``; ``cov`` may be tied."""
    K, D = mu.shape
    key_label, key_x = random.split(rng_key)
    label = random.categorical(key_label, jnp.log(pi), shape=(num_data,))
    chol = jnp.broadcast_to(jnp.linalg.cholesky(cov), (K, D, D))
    return label, mu[label] + jnp.einsum("nde,ne->nd", chol[label], random.normal(key_x, (num_data, D)))


def log_joint(X, pi, mu, cov):
    """``log pi_k + log N(x_n | mu_k, cov_k)``, shape ``(N, K)``; ``cov`` is (K, D, D) or (D, D).

    The whitened rows of all K components come from one (B, D) x (D, K D) matrix product
    (:func:`_log_densities`) per block of :data:`ROW_BLOCK` rows (:func:`by_row_blocks`), taken
    about the centre ``pi @ mu`` as in :func:`em_statistics`, so that data far from the origin
    lose no more digits than near it. Pure: callers jit it (4x faster than K triangular solves at
    N = 1e6, D = K = 8).
    """
    X, pi, mu, cov = jnp.asarray(X), jnp.asarray(pi), jnp.asarray(mu), jnp.asarray(cov)
    centre = pi @ mu
    return by_row_blocks(lambda rows: jnp.log(pi) + _log_densities(rows - centre, mu - centre, cov, "full"), X)


def by_row_blocks(f, X, block_rows=None):
    """``f(X)`` for a row-wise ``f`` ((B, D) to (B, ...)), computed :data:`ROW_BLOCK` rows at a time.

    Whole, the (N, K D) whitened rows of :func:`log_joint` went through memory: 512 MB at N = 1e6,
    D = K = 8, and the responsibilities took 0.6 to 0.8 s there, three EM iterations' time. In
    blocks, two at a step as in EM's pass (``inference.em.summed_statistics``; XLA's CPU runtime
    runs the two side by side), its log joint took 113 to 120 ms there, against 187 to 199 ms a
    block at a step and 382 to 407 ms whole, the same to the bit (the softmax of the
    responsibilities inside the blocks was no faster). The last block is padded with
    copies of the first row, whose results are dropped; data of one block are computed whole,
    with no loop to compile.
    """
    block_rows = ROW_BLOCK if block_rows is None else block_rows
    num_rows = X.shape[0]
    if num_rows <= block_rows:
        return f(X)
    num_blocks = -(-num_rows // block_rows)
    padding = jnp.broadcast_to(X[:1], (num_blocks * block_rows - num_rows, *X.shape[1:]))
    blocks = jnp.concatenate([X, padding]).reshape(num_blocks, block_rows, *X.shape[1:])
    _, out = jax.lax.scan(lambda carry, block: (carry, f(block)), None, blocks, unroll=2 if num_blocks > 2 else 1)
    return out.reshape(num_blocks * block_rows, *out.shape[2:])[:num_rows]


def posterior_probs(X, pi, mu, cov):
    """Bayes' rule in log space: ``p(label = k | x_n)``, shape ``(N, K)`` (eq. 1.4 and 1.18)."""
    return softmax(log_joint(X, pi, mu, cov), axis=-1)


def marginal_log_density(X, pi, mu, cov):
    """``log sum_k pi_k N(x_n | mu_k, cov_k)``, shape ``(N,)`` (the terms of eq. 1.15)."""
    return logsumexp(log_joint(X, pi, mu, cov), axis=-1)


def weighted_estimates(X, resp, covariance_type, reg_covar=0.0):
    """Weighted ML of ``pi, mu, cov`` given responsibilities ``resp`` of shape (N, K).

    With one-hot ``resp`` this is the classifier's closed-form ML (class frequencies, class
    means, covariances divided by N_c, pooled when tied); with soft ``resp`` it is the M-step
    of EM. ``reg_covar`` is added to the diagonal, as in scikit-learn.
    """
    X, resp = np.asarray(X, dtype=np.float64), np.asarray(resp, dtype=np.float64)
    num_data, D = X.shape
    counts = resp.sum(0)  # N_k
    mu = (resp.T @ X) / counts[:, None]
    diff = X[None, :, :] - mu[:, None, :]
    scatter = np.einsum("nk,knd,kne->kde", resp, diff, diff)  # sum_n r_nk (x - mu)(x - mu)^T
    eye = np.eye(D)
    if covariance_type == "tied":
        cov = scatter.sum(0) / num_data + reg_covar * eye
    else:
        cov = scatter / counts[:, None, None]
        if covariance_type == "diag":
            cov = np.diagonal(cov, axis1=1, axis2=2)[:, :, None] * eye
        elif covariance_type == "spherical":
            cov = np.trace(cov, axis1=1, axis2=2)[:, None, None] / D * eye
        cov = cov + reg_covar * eye
    return {"pi": counts / num_data, "mu": mu, "cov": cov}


def m_step(X, resp, covariance_type, reg_covar=0.0):
    """The parameters ``pi, mu, sigma[, corr_chol]`` of :func:`weighted_estimates`: EM's M-step."""
    theta = weighted_estimates(X, resp, covariance_type, reg_covar)
    return {"pi": theta["pi"], "mu": theta["mu"], **scales_from_cov(theta["cov"], covariance_type)}


def kmeans(rng_key, X, num_groups, max_iter=100):
    """Lloyd's k-means from k-means++ seeds (Arthur & Vassilvitskii, 2007); returns labels (N,).

    Squared distances come from one matrix product, ``|x|^2 - 2 x.c + |c|^2``, and the
    centres from per-group sums, so the cost per pass is O(N K D) without an N x K x D array.
    The seeds are drawn by NumPy's generator, seeded with the bits of ``rng_key``: JAX's draws,
    run op by op, compiled a program each (the key's split per K, the first seed, the others
    per N), 0.29 s of the mixture's first ML fit in a process.
    """
    X = np.asarray(X, dtype=np.float64)
    sq_norms = np.einsum("nd,nd->n", X, X)

    def sq_dist(centres):  # (N, K), clipped at 0 against cancellation
        return np.maximum(sq_norms[:, None] - 2.0 * X @ centres.T + np.einsum("kd,kd->k", centres, centres), 0.0)

    typed = jax.dtypes.issubdtype(rng_key.dtype, jax.dtypes.prng_key)
    rng = np.random.default_rng(np.asarray(random.key_data(rng_key) if typed else rng_key, dtype=np.uint32))
    chosen = [int(rng.integers(len(X)))]
    dist2 = sq_dist(X[chosen])[:, 0]
    for _ in range(num_groups - 1):
        # a chosen point has distance 0 and is never chosen again; all points equal: uniform
        total = dist2.sum()
        chosen.append(int(rng.choice(len(X), p=dist2 / total if total > 0 else None)))
        dist2 = np.minimum(dist2, sq_dist(X[chosen[-1:]])[:, 0])
    centres = X[chosen]
    labels = np.full(len(X), -1)
    for _ in range(max_iter):
        new = sq_dist(centres).argmin(axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        counts = np.bincount(labels, minlength=num_groups)
        sums = np.stack([np.bincount(labels, weights=column, minlength=num_groups) for column in X.T], axis=1)
        centres = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres)
    return labels


def hard_start(X, labels, num_groups, covariance_type):
    """A start for optimisers from a hard grouping of some rows (``labels`` < 0: no group).

    Each group is fitted by ML with a ridge of 1e-3 of the data's average variance on its
    covariance, so that a group of one point still starts with a proper Gaussian, and a weight
    of 1e-10 from every row, so that a group without rows gets the data's spread.
    """
    X, labels = np.asarray(X, dtype=np.float64), np.asarray(labels)
    one_hot = np.where(labels[:, None] >= 0, np.eye(num_groups)[labels], 0.0) + 1e-10
    ridge = 1e-3 * np.mean(np.var(X, axis=0)) + 1e-12
    theta = m_step(X, one_hot, covariance_type, reg_covar=ridge)
    return {**theta, "pi": theta["pi"] / theta["pi"].sum()}


def kmeans_start(rng_key, X, num_groups, covariance_type):
    """scikit-learn's default start for a mixture: each k-means cluster fitted by ML."""
    return hard_start(X, kmeans(rng_key, X, num_groups), num_groups, covariance_type)


def broad_start(X, num_groups, covariance_type):
    """A start for optimisers: equal weights, every group at the overall mean and spread.

    A tiny ridge (1e-6 of the average variance) keeps a constant feature's scale positive; when
    every feature is constant it is 1e-6 of the mean square (or 1e-6 for data all zero).
    """
    X = np.asarray(X, dtype=np.float64)
    K, D = num_groups, X.shape[1]
    pooled = weighted_estimates(X, np.ones((len(X), 1)), covariance_type)
    cov = pooled["cov"] if covariance_type == "tied" else pooled["cov"][0]
    ridge = 1e-6 * np.trace(cov) / D
    if not ridge > np.finfo(np.float64).tiny:  # no spread: sigma = 0 would put corr_chol at 0 / 0
        ridge = 1e-6 * (np.mean(X**2) or 1.0)
    cov = cov + ridge * np.eye(D)
    if covariance_type != "tied":
        cov = np.broadcast_to(cov, (K, D, D))
    mu = np.broadcast_to(pooled["mu"], (K, D))
    return {"pi": np.full(K, 1.0 / K), "mu": mu, **scales_from_cov(cov, covariance_type)}


def scales_from_cov(cov, covariance_type):
    """``sigma`` and ``corr_chol`` (when the type has one and D > 1) for given covariances;
    NumPy in, NumPy out, and JAX arrays (traced ones included) likewise."""
    xp = jnp if isinstance(cov, jax.Array) else np
    cov = xp.asarray(cov, dtype=xp.float64 if xp is np else None)
    D = cov.shape[-1]
    var = xp.diagonal(cov, axis1=-2, axis2=-1)
    sd = xp.sqrt(var)
    out = {"sigma": xp.sqrt(var.mean(-1)) if covariance_type == "spherical" else sd}
    if covariance_type in ("full", "tied") and D > 1:
        out["corr_chol"] = xp.linalg.cholesky(cov / (sd[..., :, None] * sd[..., None, :]))
    return out


def _log_densities(rows, mu, cov, covariance_type):
    """``log N(x_b | mu_k, cov_k)``, shape (B, K). Full and tied from the covariances' Cholesky
    factors (:func:`models._components.cholesky_log_densities`); diag and spherical elementwise."""
    K, D = mu.shape
    if covariance_type in ("full", "tied"):
        return cholesky_log_densities(rows, mu, jnp.broadcast_to(jnp.linalg.cholesky(cov), (K, D, D)))
    precision = 1.0 / jnp.diagonal(cov, axis1=-2, axis2=-1)  # (K, D)
    mahalanobis = (rows**2) @ precision.T - 2.0 * rows @ (mu * precision).T + (mu**2 * precision).sum(-1)
    half_log_det = -0.5 * jnp.log(precision).sum(-1)
    return -0.5 * mahalanobis - half_log_det - 0.5 * D * jnp.log(2 * jnp.pi)


def em_statistics(rows, weights, theta, covariance_type):
    """The additive sufficient statistics of EM for a block of rows, at ``theta``; traceable.

    Rows are taken about the centre ``c = sum_k pi_k mu_k`` (the Gaussian family is
    shift-equivariant, and centred second moments lose fewer digits). With ``gamma = softmax(log pi
    + log N)`` (eq. 1.18) times the row weight (0 for padding), the statistics are the log-likelihood
    ``sum_n w_n log sum_k pi_k N(x_n | mu_k, cov_k)`` (eq. 1.15), the number of rows ``sum w``,
    ``N_k = sum gamma``, and the moments ``gamma^T [x, x x^T]``: the upper triangle of ``x x^T``
    (full), its diagonal (diag, spherical), or nothing (tied: ``sum w x x^T``). Full covariances
    take ``sum_n gamma_nk x_n x_n^T`` as one (K D, B) x (B, D) product of the weighted rows
    ``gamma_nk x_n`` with the rows: a table of the B x D (D + 1) / 2 products ``x_i x_j`` to
    multiply by ``gamma^T`` took longer to gather than the product (N = 1e6, D = K = 8).

    Sums of these over blocks (chunks, devices, files) are the statistics of all the data, which
    :func:`em_update` turns into the M-step.
    """
    pi, cov = theta["pi"], theta["cov"]
    centre = pi @ theta["mu"]
    x, mu = rows - centre, theta["mu"] - centre
    joint = jnp.log(pi) + _log_densities(x, mu, cov, covariance_type)
    top = jax.lax.stop_gradient(joint.max(-1, keepdims=True))
    scaled = jnp.exp(joint - top)
    total = scaled.sum(-1)
    gamma = scaled * (weights / total)[:, None]
    K, D = mu.shape
    if covariance_type == "full":
        second = ((gamma[:, :, None] * x[:, None, :]).reshape(-1, K * D).T @ x).reshape(K, D, D)
        i, j = np.triu_indices(D)  # the upper triangle, diagonal included
        moments = jnp.concatenate([gamma.T @ x, second[:, i, j]], axis=1)
    else:
        moments = gamma.T @ (x if covariance_type == "tied" else jnp.concatenate([x, x**2], axis=1))
    stats = {
        "log_likelihood": jnp.sum(weights * (top[:, 0] + jnp.log(total))),
        "num_rows": weights.sum(),
        "counts": gamma.sum(0),
        "moments": moments,
    }
    if covariance_type == "tied":
        stats["scatter"] = x.T @ (x * weights[:, None])
    return stats


def em_update(stats, theta, covariance_type, reg_covar):
    """The M-step (Bishop, 2006, eq. 9.24-9.26, ``reg_covar`` on the diagonal) from the summed
    :func:`em_statistics` taken at ``theta``; returns the next ``pi, mu, cov``; traceable."""
    centre = theta["pi"] @ theta["mu"]
    counts, moments = stats["counts"], stats["moments"]
    K = counts.shape[0]
    D = theta["mu"].shape[-1]
    mean = moments[:, :D] / counts[:, None]
    eye = jnp.eye(D)
    if covariance_type == "full":
        i, j = np.triu_indices(D)
        upper = jnp.zeros((K, D, D)).at[:, i, j].set(moments[:, D:] / counts[:, None])
        second = upper + jnp.swapaxes(upper, -1, -2) - upper * eye
        cov = second - mean[:, :, None] * mean[:, None, :] + reg_covar * eye
    elif covariance_type == "tied":
        cov = (stats["scatter"] - jnp.einsum("k,kd,ke->de", counts, mean, mean)) / stats["num_rows"] + reg_covar * eye
    else:
        var = moments[:, D:] / counts[:, None] - mean**2
        if covariance_type == "spherical":
            var = jnp.broadcast_to(var.mean(-1, keepdims=True), var.shape)
        cov = (var + reg_covar)[:, :, None] * eye
    return {"pi": counts / stats["num_rows"], "mu": mean + centre, "cov": cov}
