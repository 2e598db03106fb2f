"""The Gaussian mixture (Example 1.6): EM, the marginal likelihood, and choosing K.

Fits ``z ~ Categorical(pi)`` (summed out), ``x | z = k ~ N(mu_k, cov_k)`` (eq. 1.15-1.18) by
every requested method, with components aligned across methods (label switching), and prints
the comparison table. Saves the posterior densities, NUTS's trace and rank plots, the
components' ellipses with the points coloured by responsibility beside EM's log-likelihood
trace, a good and a bad EM initialisation side by side, and the choice of K: AIC and BIC
of EM fits beside LOO of NUTS fits (ArviZ ``compare``) for K = 1, ..., ``--max-k``. The other
K's fits need nothing of the main ones, nor do the main K's criteria and EM's figures when the
methods asked for include neither EM nor NUTS: with ``--jobs`` above 1 (by default one process
per CPU core) they run in other processes beside the main fits, with the same results to the
last digit.

    python scripts/gaussian_mixture.py                         # iris without labels, dequantised, K = 3
    python scripts/gaussian_mixture.py --covariance-type diag --max-k 6
"""

import os
import warnings
from functools import partial

import common
import figures
import jax
import numpy as np
import pandas as pd

from inference import fit
from inference.arviz import import_arviz
from inference.criteria import information_criteria
from models import gaussian_mixture

NAME = gaussian_mixture.__name__.rsplit(".", 1)[-1]  # the outputs' stem, as common names them


def criteria_at(k, data, args, *, covariance_type, with_loo, fitted=None):
    """AIC and BIC of the ML estimate at K = ``k`` (EM; ML for K = 1, which has no latent), and
    the NUTS fit's InferenceData for LOO when ``with_loo``; returns ``(row, idata or None, point
    fit)``. ``fitted``: fits at this K already made by the same calls, reused. The criteria need
    the estimate only, so K = 1's ML skips the Hessian (its standard errors): cold, 0.65 s
    instead of 2.0 s."""
    options = {"num_components": k, "covariance_type": covariance_type}
    done = fitted or {}
    method, method_options = ("em", {}) if k > 1 else ("ml", {"hessian": False})
    point = done[method] if method in done else fit(
        gaussian_mixture, data, method, seed=args.seed, **method_options, **options)
    idata = None
    if with_loo:
        nuts = done["nuts"] if "nuts" in done else fit(
            gaussian_mixture, data, "nuts", seed=args.seed, num_warmup=args.num_warmup,
            num_samples=args.num_samples, num_chains=args.num_chains, progress_bar=args.progress_bar, **options)
        idata = nuts.idata
    # the point fit's last objective is l(theta) at its estimate: no pointwise program to compile
    return {"K": k, **information_criteria(point, log_likelihood=-float(point.losses[-1]))}, idata, point


def criteria_elsewhere(args, k, with_loo):
    """:func:`criteria_at` in another process (``common.in_background``), on :func:`_data`; the
    point fit stays there: the main process needs its row only, and a fit would carry its data."""
    return criteria_at(k, _data(args), args, covariance_type=args.covariance_type, with_loo=with_loo)[:2]


def _options(args):
    """The main fits' model options."""
    return {"num_components": args.num_components, "covariance_type": args.covariance_type}


def _data(args):
    """The data as the main process loads them (the same file, data set or simulation)."""
    return common.load_data(args, gaussian_mixture, **_options(args))[0]


def choose_k(data, args, *, covariance_type, max_k, with_loo, fitted=None, elsewhere=None):
    """The criteria of :func:`criteria_at` for K = 1, ..., ``max_k``; returns ``(table,
    {criterion: chosen K}, {K: point fit})``.

    ``fitted``: the fits already made at K = ``args.num_components`` (the script's main fits),
    reused rather than repeated. ``elsewhere``: ``{K: future}`` of :func:`criteria_elsewhere`,
    the K fitted in other processes, whose point fits stay there.
    """
    rows, idatas, points = [], {}, {}
    for k in range(1, max_k + 1):
        if k in (elsewhere or {}):
            row, idata = elsewhere[k].result()
        else:
            done = fitted if k == args.num_components else None
            row, idata, points[k] = criteria_at(k, data, args, covariance_type=covariance_type, with_loo=with_loo,
                                                fitted=done)
        rows.append(row)
        if idata is not None:
            idatas[k] = idata
    table = pd.DataFrame(rows).set_index("K")
    chosen = {"aic": int(table["aic"].idxmin()), "bic": int(table["bic"].idxmin())}
    if idatas:
        with warnings.catch_warnings():  # Pareto k warnings are kept in the table's column
            warnings.simplefilter("ignore", UserWarning)
            ranked = import_arviz().compare(idatas, ic="loo")
        table["elpd_loo"] = ranked["elpd_loo"].reindex(table.index)
        table["elpd_loo_se"] = ranked["se"].reindex(table.index)
        chosen["loo"] = int(table["elpd_loo"].idxmax())
    return table, chosen, points


def bad_start(X, *, seed, num_components, covariance_type):
    """Every component starting on the point farthest from the mean (the lecture's bad start)."""
    start = gaussian_mixture.init_values(jax.random.PRNGKey(seed), X, num_components=num_components,
                                         covariance_type=covariance_type)
    far = X[np.argmax(((X - X.mean(0)) ** 2).sum(1))]
    start["mu"] = far + 1e-3 * np.arange(num_components)[:, None]
    start["pi"] = np.full(num_components, 1.0 / num_components)
    return start


def em_figures(good, out_dir, seed):
    """EM's figures: the components of ``good`` (EM's fit from the k-means start) with the points
    coloured by responsibility, and ``good`` beside a run from the bad start."""
    stem = os.path.join(out_dir, NAME)
    paths = [figures.mixture_ellipses(good, f"{stem}_ellipses.png")]
    options = {name: good.options[name] for name in ("num_components", "covariance_type")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the bad start may stop at max_iter: that is the point
        bad = fit(gaussian_mixture, good.data, "em", seed=seed, max_iter=300,
                  init=bad_start(good.data["X"], seed=seed, **options), **options)
    paths.append(figures.em_initialisations(good, bad, f"{stem}_initialisations.png"))
    return paths


def em_figures_elsewhere(args):
    """:func:`em_figures` in another process, from EM fitted there as :func:`criteria_at` fits it
    (in the same process after :func:`criteria_elsewhere` at this K, the program is compiled
    already: 0.04 s): the figures' paths."""
    return em_figures(fit(gaussian_mixture, _data(args), "em", seed=args.seed, **_options(args)), args.out_dir,
                      args.seed)


def make_figures(report, out_dir, seed, good=None, drawn_elsewhere=None, common_elsewhere=None):
    """The common figures (or those that ``common_elsewhere``, a future of
    :func:`common.common_figures`, drew), and for K > 1 :func:`em_figures`: of ``good``, EM's fit
    at the report's K (fitted here when None), or those that ``drawn_elsewhere`` (a future of
    :func:`em_figures_elsewhere`) drew. K = 1 has no latent for EM to fill in."""
    paths = common_elsewhere.result() if common_elsewhere is not None else common.common_figures(report, out_dir)
    if report.options["num_components"] == 1:
        return paths
    if drawn_elsewhere is not None:
        return paths + drawn_elsewhere.result()
    good = good or report.fits.get("em") or fit(gaussian_mixture, report.data, "em", seed=seed, **report.options)
    return paths + em_figures(good, out_dir, seed)


def main(args):
    options = _options(args)
    with_loo = "nuts" in args.method
    # what needs nothing of the main fits: the other K's criteria, and, when the main fits have
    # neither EM nor NUTS (for LOO), the main K's criteria and EM's figures too. With --jobs > 1
    # they are fitted in other processes, started before this one's fits start JAX's runtime
    main_k_elsewhere = args.num_components > 1 and not {"em", "nuts"} & set(args.method)
    ks = [k for k in range(1, args.max_k + 1) if k != args.num_components or main_k_elsewhere]
    tasks = [partial(criteria_elsewhere, args, k, with_loo) for k in ks]
    # last, as the main process needs the figures last: with one background process, a task for
    # the main K's criteria and figures together kept the other K's criteria waiting (0.5 s)
    tasks += [partial(em_figures_elsewhere, args)] if main_k_elsewhere else []
    with common.in_background(args.jobs - 1, tasks) as pending:
        criteria = dict(zip(ks, pending)) if pending else None
        figures_drawn = pending[len(ks)] if pending and main_k_elsewhere else None
        densities = []

        def hand_over(report):
            # the other process, done with its tasks by then, draws the densities while this one
            # writes the outputs (0.4 s of 0.75); with NUTS (LOO) or EM it is busier than this one
            densities.append(pending.submit(partial(common.common_figures, common.figures_report(report), args.out_dir)))

        report = common.fit_and_report(gaussian_mixture, args, on_fitted=hand_over if figures_drawn else None,
                                       **options)
        table, chosen, points = choose_k(report.data, args, covariance_type=args.covariance_type, max_k=args.max_k,
                                         with_loo=with_loo, fitted=report.fits, elsewhere=criteria)
        print(table.to_string(float_format=lambda v: f"{v:.2f}"))
        print("  chosen K: " + ", ".join(f"{criterion} {k}" for criterion, k in chosen.items()))
        table.to_csv(os.path.join(args.out_dir, "choose_k.csv"))
        chosen_row = pd.DataFrame([chosen], index=["chosen K"])
        paths = make_figures(report, args.out_dir, args.seed, points.get(args.num_components),
                             drawn_elsewhere=figures_drawn, common_elsewhere=densities[0] if densities else None)
    return common.finish(report, paths, {"choosing K": table, "chosen K": chosen_row})


def add_arguments(parser):
    parser.add_argument("--num-components", type=int, default=3)
    parser.add_argument("--covariance-type", default="full", choices=gaussian_mixture.COVARIANCE_TYPES)
    parser.add_argument("--max-k", type=int, default=5, help="the largest K compared")
    common.add_jobs_arg(parser, "the choice of K's fits at the other K")
    return parser


def build_parser():
    return add_arguments(common.parser_for(__doc__, default_data="iris_unlabelled"))


if __name__ == "__main__":
    common.run_main(main, build_parser())
