"""The figures of week 1 of the notes, and a learning-curve comparison for section 1.2.

- Fig. 1.1 (Example 1.2): a pmf on {1, 2, 3} and its pushforward through T onto {a, b};
- Fig. 1.2 (Example 1.3): draws of T(X) = X^2, X ~ N(0, 1), against the change-of-variables
  density (chi-square with one degree of freedom);
- section 1.2, after Ng & Jordan (2001): held-out log-loss and accuracy of two generative
  classifiers (LDA, QDA) and a discriminative one (logistic regression) on breast cancer as the
  training set grows.

    python scripts/lecture_figures.py --out-dir out          # tiny: --train-sizes 20 --num-repeats 1
"""

import os
from fractions import Fraction
from functools import partial

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import numpyro  # noqa: E402
from jax import jit, random  # noqa: E402

numpyro.enable_x64()

import datasets  # noqa: E402  (scripts/datasets.py)

from inference import fit  # noqa: E402
from models import gaussian_classifier, logistic_regression, pushforward  # noqa: E402

# Example 1.2: P(X = 1) = 0.2, P(X = 2) = 0.5, P(X = 3) = 0.3 and T(1) = a, T(2) = T(3) = b;
# fractions keep the pushforward exact
EXAMPLE_1_2_PMF = {1: Fraction("0.2"), 2: Fraction("0.5"), 3: Fraction("0.3")}
EXAMPLE_1_2_MAP = {1: "a", 2: "b", 3: "b"}
# Example 1.3: histogram bins of width 0.2 on [0, 5]; about 2.5% of the draws of X^2 lie beyond
EXAMPLE_1_3_EDGES = np.linspace(0.0, 5.0, 26)
TEST_SIZE = 169  # breast-cancer rows held out once (about 30% of the 569)
TRAIN_SIZES = (10, 20, 40, 80, 160, 320)


def _save(fig, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def example_1_2_pmfs():
    """The source pmf of Example 1.2 and its pushforward ``T#P`` (eq. 1.6), as exact fractions.

    Returns
    -------
    source, target : dict
        ``{x: P(X = x)}`` on {1, 2, 3} and ``{t: P(T(X) = t)}`` on {"a", "b"}.
    """
    return dict(EXAMPLE_1_2_PMF), pushforward.discrete_pushforward(EXAMPLE_1_2_PMF, EXAMPLE_1_2_MAP)


def example_1_2(path):
    """Fig. 1.1: the pmf of Example 1.2 and its pushforward, as two bar charts side by side."""
    source, target = example_1_2_pmfs()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), sharey=True)
    panels = ((source, "source $P_X$", "C0"), (target, "pushforward $T_{\\#}P_X$", "C1"))
    for ax, (pmf, title, color) in zip(axes, panels):
        ax.bar([str(v) for v in pmf], [float(p) for p in pmf.values()], color=color, width=0.6)
        for i, p in enumerate(pmf.values()):
            ax.annotate(f"{float(p):.1f}", (i, float(p)), ha="center", va="bottom")
        ax.set(title=title, xlabel="value", ylim=(0, 1))
    axes[0].set_ylabel("probability")
    fig.suptitle("Example 1.2: T(1) = a, T(2) = T(3) = b")
    fig.tight_layout()
    return _save(fig, path)


# Example 1.3's draws and density each as one compiled program: evaluated eagerly, every JAX
# operation of them compiles a program of its own (about 40, some 25 ms each on a cold start)
@partial(jit, static_argnames="num_samples")
def _standard_normal_draws(seed, num_samples):
    return random.normal(random.PRNGKey(seed), (num_samples,))


_square_of_standard_normal_log_prob = jit(lambda y: pushforward.square_of_standard_normal().log_prob(y))


def example_1_3_draws(*, num_samples=10000, seed=0):
    """``num_samples`` draws of X ~ N(0, 1) and of Y = T(X) = X^2 (Example 1.3), from ``PRNGKey(seed)``."""
    x = np.asarray(_standard_normal_draws(seed, num_samples=num_samples))
    return x, x**2


def density_histogram(values, edges):
    """Bin counts and the density estimate ``count_k / (num_values * width_k)``.

    Divided by every value, not only those inside ``edges`` (as ``np.histogram(density=True)``
    would), so that it estimates the density itself when the support runs past the last edge.
    """
    counts, _ = np.histogram(values, bins=edges)
    return counts, counts / (np.size(values) * np.diff(edges))


def example_1_3(path, *, num_samples=10000, seed=0):
    """Fig. 1.2: the source N(0, 1) and the pushforward of Example 1.3, T(x) = x^2.

    Right panel: the density histogram of the draws of T(X) (:func:`example_1_3_draws`, bins
    :data:`EXAMPLE_1_3_EDGES`) against ``p_Y(y) = sum_i p_X(g_i(y)) |g_i'(y)|`` with branches
    ``g = +-sqrt(y)`` (eq. 1.6; :func:`models.pushforward.square_of_standard_normal`), which the
    notes write ``exp(-y / 2) / sqrt(2 pi y)``, and scipy's chi2(1) pdf dashed as a check. The
    grid starts at 0.01: the density is unbounded at 0.
    """
    from scipy import stats  # here, not at the top: the classifier's script imports this module for its curves

    x, y = example_1_3_draws(num_samples=num_samples, seed=seed)
    grid = np.linspace(0.01, EXAMPLE_1_3_EDGES[-1], 500)
    change_of_variables = np.exp(np.asarray(_square_of_standard_normal_log_prob(grid)))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    axes[0].hist(x, bins=40, range=(-4, 4), density=True, color="C0", alpha=0.5, label="draws of X")
    axes[0].plot(np.linspace(-4, 4, 400), stats.norm.pdf(np.linspace(-4, 4, 400)), color="C0", label="N(0, 1)")
    axes[0].set(title="source: X ~ N(0, 1)", xlabel="x", ylabel="density")
    _, density = density_histogram(y, EXAMPLE_1_3_EDGES)
    axes[1].stairs(density, EXAMPLE_1_3_EDGES, fill=True, color="C1", alpha=0.5, label="draws of $X^2$")
    axes[1].plot(grid, change_of_variables, color="C1", lw=2, label="change of variables (eq. 1.6)")
    axes[1].plot(grid, stats.chi2(1).pdf(grid), "k--", lw=1, label="scipy chi2(1)")
    axes[1].set(title="pushforward: Y = $X^2$", xlabel="y", ylim=(0, 2.0))
    for ax in axes:
        ax.legend(fontsize=8)
    fig.suptitle(f"Example 1.3 ({num_samples} draws, seed {seed})")
    fig.tight_layout()
    return _save(fig, path)


# section 1.2: a learner fits (X, y) and gives log p(y = c | x) on X_test, (N_test, 2); in log space,
# as a confident QDA fitted to a few points gives some test rows p = 0 in float64
def _gaussian(X, y, X_test, *, shared_covariance):
    theta = gaussian_classifier.mle(X, y, num_classes=2, shared_covariance=shared_covariance)
    return np.asarray(gaussian_classifier.predict_log_proba(theta, X_test))


def _logistic(X, y, X_test):
    # MAP under the model's stated priors a, b ~ N(0, 10^2): small training sets are often
    # perfectly separated, and then the ML estimate does not exist. The curves use the estimate
    # only: without the Hessian's second-order check the program compiles 0.3 s sooner
    theta = fit("logistic_regression", {"X": X, "y": y}, "map", hessian=False).params
    s = np.asarray(logistic_regression.logits(theta, X_test))
    return -np.logaddexp(0.0, np.stack([s, -s], axis=1))  # log sigmoid(-s), log sigmoid(s)


LEARNERS = {
    "LDA": partial(_gaussian, shared_covariance=True),
    "QDA": partial(_gaussian, shared_covariance=False),
    "logistic regression": _logistic,
}


def _class_counts(y, size):
    """Points per class in a stratified subset of ``size``: the proportions of ``y``, rounded."""
    return np.array([round(size * np.mean(y == 0)), size - round(size * np.mean(y == 0))])


def generative_vs_discriminative(path, *, train_sizes=TRAIN_SIZES, num_repeats=10, seed=0):
    """Section 1.2 after Ng & Jordan (2001): learning curves of LDA, QDA and logistic regression.

    Data: breast cancer, ``datasets.breast_cancer()`` (3 standardised features), of which
    :data:`TEST_SIZE` rows, drawn once from ``seed``, are held out. For each training size, each
    of ``num_repeats`` training sets is a stratified random subset of the other rows (class
    proportions kept). LDA and QDA are fitted by their closed-form ML (Example 1.1, eq. 1.3-1.4);
    logistic regression (eq. 1.2) by MAP, since on small sets ML often does not exist.

    On the held-out rows, ``log_loss = -mean_n log p(y_n | x_n)`` (from log-probabilities, finite
    where a probability underflows to 0) and ``accuracy`` (argmax rule) are averaged over the repeats.

    Parameters
    ----------
    path : str
        Where the PNG goes (two panels, log-loss and accuracy, against size on a log axis).
    train_sizes : sequence of int, default (10, 20, 40, 80, 160, 320)
        Each must leave every class at least D + 1 = 4 points (the ML covariance of QDA is
        singular otherwise) and be at most ``569 - TEST_SIZE = 400``.
    num_repeats : int, default 10
    seed : int, default 0
        Seeds the held-out split and the training subsets.

    Returns
    -------
    path : str
    table : dict
        ``{model: {"train_size": [...], "log_loss": [...], "accuracy": [...]}}``, one entry per size.
    """
    data, description = datasets.breast_cancer()
    X, y = data["X"], data["y"]
    if isinstance(num_repeats, bool) or not isinstance(num_repeats, (int, np.integer)) or num_repeats < 1:
        raise ValueError(f"num_repeats must be an integer >= 1; got {num_repeats!r}")
    rng = np.random.default_rng(seed)
    test, pool = np.split(rng.permutation(len(y)), [TEST_SIZE])
    sizes = [int(n) for n in train_sizes]
    for n in sizes:
        counts = _class_counts(y[pool], n)
        if n > len(pool) or counts.min() < X.shape[1] + 1:
            raise ValueError(
                f"train_sizes must lie in [1, {len(pool)}] and give every class at least D + 1 = {X.shape[1] + 1} "
                f"points; got {n}, with points per class {counts.tolist()}"
            )
    table = {name: {"train_size": list(sizes), "log_loss": [], "accuracy": []} for name in LEARNERS}
    for n in sizes:
        scores = {name: [] for name in LEARNERS}
        for _ in range(num_repeats):
            rows = np.concatenate([
                rng.choice(pool[y[pool] == c], k, replace=False) for c, k in enumerate(_class_counts(y[pool], n))
            ])
            for name, learner in LEARNERS.items():
                log_proba = learner(X[rows], y[rows], X[test])
                log_loss = -np.mean(log_proba[np.arange(len(test)), y[test]])
                scores[name].append((log_loss, np.mean(log_proba.argmax(1) == y[test])))
        for name, (log_loss, accuracy) in ((k, np.mean(v, axis=0)) for k, v in scores.items()):
            table[name]["log_loss"].append(float(log_loss))
            table[name]["accuracy"].append(float(accuracy))

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, key, label in zip(axes, ("log_loss", "accuracy"), ("held-out log-loss (nats)", "held-out accuracy")):
        for (name, row), marker in zip(table.items(), "os^"):
            ax.plot(row["train_size"], row[key], marker=marker, label=name)
        ax.set(xscale="log", xlabel="training-set size", ylabel=label)
        ax.legend(fontsize=8)
    axes[0].set_yscale("log")  # with a few points per class, QDA's log-loss is orders of magnitude above
    fig.suptitle(
        f"{description}; {TEST_SIZE} held out, mean of {num_repeats} training sets per size\n"
        "LDA, QDA: closed-form ML; logistic regression: MAP, a, b ~ N(0, 10^2) (its ML may not exist: separation)",
        fontsize=9,
    )
    fig.tight_layout()
    return _save(fig, path), table


def main(args):
    print(example_1_2(os.path.join(args.out_dir, "fig_1_1_example_1_2.png")))
    print(example_1_3(os.path.join(args.out_dir, "fig_1_2_example_1_3.png"), num_samples=args.num_samples,
                      seed=args.seed))
    path, table = generative_vs_discriminative(
        os.path.join(args.out_dir, "generative_vs_discriminative.png"), train_sizes=args.train_sizes,
        num_repeats=args.num_repeats, seed=args.seed,
    )
    print(f"{path}\n\n  {'model':<20}{'size':>6}{'log-loss':>10}{'accuracy':>10}")
    for name, row in table.items():
        for n, log_loss, accuracy in zip(row["train_size"], row["log_loss"], row["accuracy"]):
            print(f"  {name:<20}{n:>6}{log_loss:>10.4f}{accuracy:>10.4f}")


if __name__ == "__main__":
    import common  # scripts/common.py: staged outputs and one-line errors, as every script

    parser = common.Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-samples", type=int, default=10000, help="draws of X for Example 1.3")
    parser.add_argument("--num-repeats", type=int, default=10, help="training sets per size")
    parser.add_argument("--train-sizes", type=lambda text: [int(n) for n in text.split(",")],
                        default=TRAIN_SIZES, help="comma list")
    common.add_output_args(parser)
    common.run_main(main, parser)
