"""Point estimates by minimising ``-log p(data, theta)``: the engine of ML and MAP.

The objective is the model's log joint density (:func:`inference._density.log_joint`) in the
constrained space, without the Jacobian of the transform to unconstrained space, so its
minimum is MAP; with the prior terms masked out (:class:`inference.handlers.likelihood_only`)
it is ML. Discrete latents marked for enumeration are summed out.

The loss is minimised over the unconstrained coordinates of theta by :func:`inference.optim.minimize`,
full-batch and deterministic, divided by ``num_data`` so that the absolute ``gtol`` means the
same at every data size. The compiled solver is cached (:mod:`inference._compiled`): a second
fit of new data of the same shape does not recompile.

Where the model offers its ML estimate in closed form (the hook ``closed_form_ml``: least
squares, the classifier's class frequencies, means and covariances, one Gaussian), ML takes it
(``closed_form=True``, the default, unless ``init`` or ``batch_size`` asks for the search)
and evaluates the objective there without a step (:func:`inference.optim.evaluate`): the
estimate is exact to round-off, and the program holds no search. For the classifier on iris,
a cold fit took 5.2 s with the search and 1.9 s without (its standard errors: the Hessian).
Where the closed form does not apply (missing labels, a mixture of K > 1, no ML estimate,
a parameter fixed by the priors), or its point fails the gradient test or lies outside a
prior's support, the search runs.

``hessian=True`` (the default) ends with the Hessian of the objective: a saddle or a flat
direction is reported as not converged, and ML gets Wald standard errors from it.
``hessian=False`` skips it, and so the check and the standard errors, for speed. ML takes the
Hessian in closed form where the model offers its observed information (the hook
``observed_information``: logistic regression's ``Z^T diag(w) Z``) and every free parameter is
real, so the unconstrained coordinates are the model's own; otherwise by automatic
differentiation. At N = 1e5 and 51 parameters the closed form takes about half the time.

The rows are padded to a multiple of :data:`ROW_BLOCK` (512) with rows that the likelihood masks
out (:func:`inference._sharding.sharded_data`), so that data of different sizes share a program:
the learning curves of section 1.2 fit logistic regression to training sets of 10 to 320 rows,
six sizes that each compiled a program of 1.0 to 1.3 s, and now compile one. The padding adds
exactly 0 to the objective and its gradient (``log sum_k pi_k``, round-off, per padding row
where a label is summed out); the sums' order, so their last bits, may change.
Minibatch fits (``batch_size``) are not padded: their rows are drawn from the data's own.

With several JAX devices (``devices``: all by default) the rows are sharded across them, padded
to a multiple of ``ROW_BLOCK`` times their number, and XLA sums the loss and its gradient across
devices: the same fit up to the order of the additions.
"""

import warnings
from functools import partial

import jax
import numpy as np
from jax import random
from jax.flatten_util import ravel_pytree
from numpyro.distributions.transforms import IdentityTransform, IndependentTransform

from models._priors import fixed_names

from . import optim
from ._compiled import compiled
from ._density import log_joint
from ._setup import closed_form_start, fit_keys, starting_values, tolerances
from ._sharding import fit_mesh, sharded_data
from .handlers import (
    constrain,
    likelihood_only,
    observed_rows,
    parameter_transforms,
    scale_data,
    unconstrain,
    with_deterministic,
)
from .result import Fit, fit_context

OPTIONS = {
    "optimizer": "lbfgs",
    "max_iter": 1000,
    "gtol": None,
    "ftol": None,
    "learning_rate": 1e-2,
    "batch_size": None,
    "devices": None,
    "hessian": True,
    "init": None,
}
OPTIMIZERS = ("lbfgs", "adam")
# rows a compiled fit takes at least, and a multiple of: 1 to 512 rows are one program, and at
# N = 1e5 the padding is 0.35 % more rows (see the module docstring)
ROW_BLOCK = 512


class ConvergenceWarning(UserWarning):
    """An iterative method stopped before its convergence test was met."""


class IllPosedWarning(ConvergenceWarning):
    """The ML estimate does not exist for these data (the model's ``mle_problem`` says why): what
    the method returns is where it stopped (ML) or held by a guard (EM's ``reg_covar``)."""


def _is_identity(transform):
    """Whether ``transform`` maps every coordinate to itself (``real`` and ``real_vector``
    supports): then the unconstrained coordinates are the parameter's own."""
    while isinstance(transform, IndependentTransform):
        transform = transform.base_transform
    return isinstance(transform, IdentityTransform)


def _solve(rng_key, start, data, mask, *, model, target, optimizer, max_iter, gtol, ftol, learning_rate, batch_size,
           hessian, curvature, closed_form, information=None):
    """Minimise ``-log p(data, theta) / num_data`` under ``target`` from ``start`` over the
    unconstrained coordinates of theta, or with ``closed_form`` evaluate it at ``start``, the
    minimum; traced by ``jax.jit``, so the whole fit is one program.

    ``mask`` (:func:`inference._sharding.sharded_data`) marks the rows that are data, not
    padding; None for data that need none. ``information(theta, X, y, weights=...)``, the
    model's observed information with its options bound, gives the loss's Hessian where every
    parameter's transform is the identity.
    """
    if mask is not None:
        target = observed_rows(target, mask=mask)
    transforms = parameter_transforms(target, start, data)
    num_data = data["X"].shape[0] if mask is None else mask.sum()

    def loss(unconstrained):
        return -log_joint(target, data, constrain(transforms, unconstrained)) / num_data

    def batch_loss(unconstrained, key):
        rows = random.randint(key, (batch_size,), 0, num_data)
        batch = {name: value[rows] for name, value in data.items()}
        scaled = scale_data(target, factor=num_data / batch_size)
        return -log_joint(scaled, batch, constrain(transforms, unconstrained)) / num_data

    def observed_hessian(theta):
        return information(theta, data["X"], data.get("y"), weights=mask) / num_data

    own_coordinates = all(_is_identity(t) for t in transforms.values())
    hessian_fn = observed_hessian if information is not None and own_coordinates else None

    max_hessian_size = 1000 if hessian else 0
    if closed_form:
        result = optim.evaluate(loss, unconstrain(transforms, start), gtol=gtol, max_hessian_size=max_hessian_size,
                                hessian_fn=hessian_fn)
    else:
        result = optim.minimize(
            loss, unconstrain(transforms, start), optimizer=optimizer,
            max_iter=max_iter, gtol=gtol, ftol=ftol, learning_rate=learning_rate,
            batch_loss_fn=None if batch_size is None else batch_loss, rng_key=rng_key,
            max_hessian_size=max_hessian_size, hessian_fn=hessian_fn,
        )

    def constrained(unconstrained):
        return with_deterministic(model, constrain(transforms, unconstrained), data, rng_key)

    # a closed form is reported as given, not after a round trip through the unconstrained space
    params = with_deterministic(model, start, data, rng_key) if closed_form else constrained(result.params)
    if not curvature or result.hessian is None:
        return params, result._replace(params=None, hessian=None), None
    # the observed information in the unconstrained space (the optimiser's final Hessian of the
    # loss per data point), and the Jacobian of every reported value (deterministic sites
    # included) with respect to it, for the delta method
    flat, unravel = ravel_pytree(result.params)
    jacobian = jax.jacfwd(lambda v: ravel_pytree(constrained(unravel(v)))[0])(flat)
    return params, result._replace(params=None, hessian=None), (result.hessian * num_data, jacobian)


def point_estimate(method, module, data, *, priors, seed, model_options, likelihood, optimizer, max_iter, gtol, ftol,
                   learning_rate, batch_size, devices, hessian, init, closed_form=False):
    """Fit ``module.model`` by ML (``likelihood=True``) or MAP; see the module docstring."""
    mesh = fit_mesh(devices, batch_size)
    key_init, key_solve = fit_keys(seed)
    problem = getattr(module, "mle_problem", None) if likelihood else None
    if problem is not None and (reason := problem(None, data["X"], data.get("y"), **model_options)):
        raise ValueError(reason)
    wanted = likelihood and closed_form and init is None and batch_size is None
    start = closed_form_start(module, data, model_options, priors) if wanted else None
    evaluated = start is not None
    if not evaluated:
        start = starting_values(module, key_init, data, model_options, init, priors)
    gtol, ftol = tolerances(gtol, ftol, optimizer)
    if batch_size is not None and (optimizer != "adam" or batch_size > data["X"].shape[0]):
        raise ValueError(
            f"batch_size needs optimizer='adam' and at most num_data = {data['X'].shape[0]} rows; "
            f"got batch_size = {batch_size} with optimizer = {optimizer!r}"
        )
    model = partial(module.model, priors=priors, **model_options)
    target = likelihood_only(model) if likelihood else model
    # a parameter fixed by the priors is not in the hook's theta, which would take its default
    information = getattr(module, "observed_information", None) if likelihood and not fixed_names(priors) else None
    solver = compiled(
        "ml" if likelihood else "map", module, model_options, priors,
        dict(optimizer=optimizer, max_iter=max_iter, gtol=gtol, ftol=ftol, learning_rate=learning_rate,
             batch_size=batch_size, hessian=hessian, closed_form=evaluated),
        partial(_solve, model=model, target=target, optimizer=optimizer, max_iter=max_iter, gtol=gtol, ftol=ftol,
                learning_rate=learning_rate, batch_size=batch_size, hessian=hessian, curvature=likelihood,
                closed_form=evaluated, information=None if information is None else partial(information, **model_options)),
    )
    block = ROW_BLOCK if batch_size is None else 1
    padded, mask = sharded_data(data, mesh, block)
    params, result, curvature = solver(key_solve, start, padded, mask)
    num_data = data["X"].shape[0]
    # padded without a mesh, the rows are in NumPy buffers of the fit's own: it keeps their first
    # rows as its data, not a second copy of the caller's (at N = 1e5, D = 50, 8 ms of an ML fit);
    # but not a block many times the data's size (N < 256), nor a file's rows read into memory
    owned = (mesh is None and mask is not None and len(mask) <= 2 * num_data
             and not isinstance(data["X"], np.memmap))
    num_steps = int(result.num_steps)
    status = int(result.status)
    if evaluated and status in (optim.NOT_STATIONARY, optim.NOT_FINITE):
        # the closed form's own round-off fails the gradient test (an ill-conditioned design, where
        # the search's Newton polish goes further), or it lies outside a prior's support: search
        return point_estimate(method, module, data, priors=priors, seed=seed, model_options=model_options,
                              likelihood=likelihood, optimizer=optimizer, max_iter=max_iter, gtol=gtol, ftol=ftol,
                              learning_rate=learning_rate, batch_size=batch_size, devices=devices,
                              hessian=hessian, init=init, closed_form=False)
    converged = status in optim.CONVERGED
    message = ("closed form; " if evaluated else "") + optim.STATUS.get(status, "running")
    params = {k: np.asarray(v) for k, v in params.items()}
    overflowed = [k for k, v in params.items() if not np.all(np.isfinite(v))]
    if overflowed:  # never returned: a value of inf or NaN is not an estimate
        raise ValueError(
            f"{method} for {module.__name__.rsplit('.', 1)[-1]}: the search left float64's range after {num_steps} "
            f"step(s) ({', '.join(overflowed)} not finite; status: {message}), as when the data lie far from the "
            f"priors' scale (|X| up to {float(np.max(np.abs(data['X']))):.3g}) or the optimum is at infinity. "
            "Standardise X, or give priors on the data's scale"
        )
    reason = problem(params, data["X"], data.get("y"), **model_options) if problem is not None else None
    if reason:
        converged, message = False, reason
    stderr, covariance = _wald(params, curvature) if converged and curvature is not None else (None, None)
    if not converged:
        warnings.warn(
            f"{method} for {module.__name__.rsplit('.', 1)[-1]} did not converge after {num_steps} steps: "
            f"{message} (max |gradient| = {float(result.grad_norm):.3g} per data point). "
            + ("" if reason else "closed_form=False searches instead." if evaluated else
               "Try another start (init=...), a larger max_iter, or standardised data."),
            IllPosedWarning if reason else ConvergenceWarning,
            stacklevel=4,  # the caller of fit
        )
    return Fit(
        method=method,
        params=params,
        losses=np.asarray(result.losses)[: num_steps + 1] * num_data,  # sliced in NumPy: no program per length
        converged=converged,
        num_steps=num_steps,
        **fit_context(module, {name: value[:num_data] for name, value in padded.items()} if owned else data,
                      priors, seed, model_options, owned=owned),
        method_options=dict(optimizer=optimizer, max_iter=max_iter, gtol=gtol, ftol=ftol,
                            learning_rate=learning_rate, batch_size=batch_size,
                            devices=1 if mesh is None else mesh.size, hessian=hessian, init=init,
                            **({"closed_form": closed_form} if likelihood else {})),
        info={
            "status": message,
            "grad_norm": float(result.grad_norm),
            "min_eigenvalue": float(result.min_eigenvalue),
            "problem": reason,
            "closed_form": evaluated,
        },
        stderr=stderr,
        covariance=covariance,
    )


def _wald(params, curvature):
    """Standard errors and covariance of every reported value by the delta method.

    With H the observed information (Hessian of the negative log-likelihood) in the unconstrained
    coordinates u and J = d theta / d u, ``cov(theta) = J H^{-1} J^T``. At the optimum this is
    the inverse observed information in theta's own (constrained) coordinates wherever theta is
    a free parameter, and its image on the simplex or the correlation factors otherwise.
    """
    hessian, jacobian = (np.asarray(a, dtype=np.float64) for a in curvature)
    try:
        chol = np.linalg.cholesky(0.5 * (hessian + hessian.T))
    except np.linalg.LinAlgError:
        return None, None
    half = np.linalg.solve(chol, jacobian.T)  # L^{-1} J^T, so cov = half^T half
    covariance = half.T @ half
    sd = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    stderr, start = {}, 0
    for name, value in params.items():
        size = np.size(value)
        stderr[name] = sd[start : start + size].reshape(np.shape(value))
        start += size
    return stderr, covariance
