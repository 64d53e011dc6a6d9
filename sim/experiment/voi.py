"""Value of information for the candidates' choice, from the explore sample without extra runs.

The choice is the candidate that leaves the least of the compared metric (a loss). The
expected value of perfect information (EVPI) is what knowing every world's values would save
on average: min_c E[L_c] - E[min_c L_c]. The expected value of partial perfect information
(EVPPI) of a parameter, or of a group of them, is what knowing only those would save:
min_c E[L_c] - E[min_c E[L_c | X]]. Following Strong, Oakley and Brennan (2014, Medical
Decision Making 34:311) the inner expectation E[L_c | X] is a regression of each world's
loss on X, fitted on the worlds already run: here a penalised cubic regression spline,
scikit-learn's `SplineTransformer` (one additive spline per numeric parameter, one indicator
per alternative of a categorical one) with a ridge penalty chosen by generalised
cross-validation (`RidgeCV`), a GAM-like smoother. Its standard error follows the same paper:
the EVPPI is recomputed from draws of the fitted values from their approximate posterior
(ridge coefficients ~ N(beta, sigma^2 (X'X + alpha I)^-1)), and the spread of those draws is
the standard error. Each world's fitted value is its leave-one-out prediction, so a fit that
follows replication noise does not pass for information. All values are in the compared
metric's units. EVPPI is clipped to [0, EVPI]: a regression cannot know more than the worlds.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Named groups of parameters: a parameter belongs to a group when its path contains one of the words.
GROUPS: dict[str, tuple[str, ...]] = {
    "deletion": ("deletion",),
    "covert": ("covert", "egress", "code_review"),
    "gate": ("gate", "review", "false_approval", "false_denial", "approve"),
    "audit": ("audit",),
    "independence": ("independence",),
    "access": ("requests_per_hour", "headcount", "least_resistance"),
}
#: Posterior draws behind each standard error, and their seed.
DRAWS = 200
DRAW_SEED = 2014
#: An EVPPI is resolved (told apart from zero) when it exceeds this many standard errors.
RESOLVED_SE = 2.0
ALPHAS = tuple(10.0 ** k for k in range(-3, 7))
METHOD = ("regression-based EVPPI (Strong, Oakley and Brennan 2014): penalised cubic regression splines "
          "(scikit-learn SplineTransformer + RidgeCV, penalty by generalised cross-validation), additive "
          "over a group's parameters; standard error from 200 draws of the fitted values from their "
          "approximate posterior")


def expected_savings(losses: np.ndarray) -> float:
    """Return min_c mean(L_c) - mean(min_c L_c) of a worlds x candidates array of losses."""
    return float(losses.mean(axis=0).min() - losses.min(axis=1).mean())


def design(columns: Sequence[Sequence[Any]]) -> np.ndarray:
    """Return the regression design of some parameters: a spline basis per number, indicators per category."""
    blocks = [block for block in map(basis, columns) if block is not None]
    if not blocks:
        return np.zeros((len(columns[0]) if columns else 0, 0))
    return np.hstack(blocks)


def basis(column: Sequence[Any]) -> np.ndarray | None:
    """Return one parameter's columns of the design (None for a parameter with one value)."""
    from sklearn.preprocessing import SplineTransformer

    if column and isinstance(column[0], str):
        levels = sorted(set(map(str, column)))
        return np.asarray([[1.0 if v == level else 0.0 for level in levels[1:]] for v in column])
    values = np.asarray(column, dtype=float).reshape(-1, 1)
    distinct = len(np.unique(values))
    if distinct < 2:
        return None
    if distinct <= 3:
        return values
    knots = int(min(8, max(3, len(values) // 8), distinct))
    spline = SplineTransformer(n_knots=knots, degree=3, knots="quantile", extrapolation="linear")
    return np.asarray(spline.fit_transform(values))


class RidgeFits:
    """Ridge fits of several outcomes on one design, sharing every piece that does not depend on the outcome.

    The penalty of each outcome is chosen by generalised (leave-one-out) cross-validation over
    `ALPHAS`, with the same arithmetic, in the same order, as scikit-learn's `RidgeCV` (its
    eigen-decomposition of X'X, used when the worlds outnumber the columns), so the values are
    those `RidgeCV` gives; the decomposition and each penalty's hat matrix are computed once per
    design instead of once per outcome. With no more worlds than columns `RidgeCV` itself fits.
    """

    def __init__(self, centred: np.ndarray) -> None:
        self.centred = centred
        n, p = centred.shape
        self.direct = n > p
        self.posterior: dict[float, tuple[np.ndarray, np.ndarray]] = {}
        self.penalties: list[tuple[float, np.ndarray, np.ndarray]] = []
        if not self.direct:
            return
        x = centred.copy()
        self.offset = x.mean(axis=0)
        x -= self.offset
        self.x = x
        ones = np.ones(n)
        eigenvalues, vectors = np.linalg.eigh(x.T @ x)
        xt_ones = x.T @ ones
        with np.errstate(all="ignore"):  # as RidgeCV's fit, whose warnings were silenced
            for alpha in map(float, ALPHAS):
                hat = (vectors * (1 / (eigenvalues + alpha))) @ vectors.T
                denominator = 1 - np.sum((x @ hat) * x, axis=1)
                denominator -= (ones - x @ (hat @ xt_ones)) * ones / (ones @ ones)
                self.penalties.append((alpha, hat, denominator))

    def fit(self, y: np.ndarray) -> tuple[float, np.ndarray]:
        """Return the penalty chosen for `y` and the fitted values at the design's rows."""
        if not self.direct:
            from sklearn.linear_model import RidgeCV

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = RidgeCV(alphas=ALPHAS).fit(self.centred, y)
            return float(model.alpha_), np.asarray(model.predict(self.centred), dtype=float)
        y = np.array(y, dtype=float)
        y_offset = np.asarray(y.mean(axis=0))
        y -= y_offset
        xt_y = self.x.T @ y
        best: tuple[float, float, np.ndarray] | None = None
        with np.errstate(all="ignore"):
            for alpha, hat, denominator in self.penalties:
                coef = hat @ xt_y
                looe = (y - self.x @ coef) / denominator
                score = np.mean(-(looe ** 2))
                if best is None or score > best[1]:
                    best = (alpha, score, coef)
        assert best is not None
        alpha, _, coef = best
        intercept = y_offset - self.offset @ coef
        return alpha, np.asarray(self.centred @ coef + intercept, dtype=float)

    def inverse(self, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """Return (X'X + alpha I)^-1 and each world's leverage under the penalty `alpha`."""
        found = self.posterior.get(alpha)
        if found is None:
            centred = self.centred
            inverse = np.linalg.pinv(centred.T @ centred + alpha * np.eye(centred.shape[1]))
            # x_i' A x_i for every world at once through one matrix product (einsum's three-operand loop took
            # 3.6 times as long on an 8-column design, and more on a group's wider one; the sums differ from it
            # in the last bits only).
            leverage = np.sum((centred @ inverse) * centred, axis=1) + 1.0 / centred.shape[0]
            found = self.posterior[alpha] = (inverse, leverage)
        return found


def fitted_draws(x: np.ndarray, y: np.ndarray, draws: int, rng: np.random.Generator,
                 fits: RidgeFits | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return the ridge-spline fitted values of y on x (each world's left out of its own fit) and
    `draws` posterior draws of them (draws x worlds); `fits`: the design's shared pieces, when
    several outcomes are fitted on the same x."""
    n = len(y)
    if x.shape[1] == 0:
        flat = np.full(n, y.mean())
        return flat, np.tile(flat, (draws, 1))
    if fits is None:
        fits = RidgeFits(x - x.mean(axis=0))
    centred = fits.centred
    alpha, fitted = fits.fit(y)
    inverse, leverage = fits.inverse(alpha)
    sigma2 = float(np.sum((y - fitted) ** 2)) / max(1.0, n - float(leverage.sum()))
    # Leave-one-out fitted values: a world's own noise does not pull its fit, so a fit of noise saves nothing.
    held_out = y - (y - fitted) / np.maximum(1.0 - leverage, 1e-6)
    root = np.linalg.cholesky(sigma2 * inverse + 1e-12 * np.eye(x.shape[1]))
    beta = rng.standard_normal((draws, x.shape[1])) @ root.T
    drawn = beta @ centred.T
    drawn += held_out  # in place, the same sums (addition commutes exactly): one draws-by-worlds array fewer
    return held_out, drawn


def evppi(losses: np.ndarray, columns: Sequence[Sequence[Any]], evpi: float, seed: int = DRAW_SEED,
          x: np.ndarray | None = None) -> dict[str, float]:
    """Return the EVPPI of some parameters (clipped to [0, EVPI]), its standard error, and whether it is resolved.

    An EVPPI within two standard errors of zero is not resolved: the worlds sampled cannot say
    whether knowing the parameter is worth anything (too few worlds, or heavy tails).

    Args:
        losses: Worlds x candidates, the compared metric in each world (lower is better).
        columns: The parameters' values in the same worlds.
        evpi: The EVPI of the same losses, the ceiling.
        seed: Seed of the posterior draws.
        x: The parameters' design, when already built (`design(columns)`).
    """
    x = design(columns) if x is None else x
    rng = np.random.default_rng(seed)
    # Regress the differences from the first candidate (Strong et al.'s incremental net benefit), not the
    # levels: what all candidates share in a world (its scale) cancels, and the first's fit is exactly zero.
    losses = losses - losses[:, :1]
    shared = RidgeFits(x - x.mean(axis=0)) if x.shape[1] else None
    fits, lowest = [], None
    for c in range(losses.shape[1]):
        fit, drawn = fitted_draws(x, losses[:, c], DRAWS, rng, shared)
        fits.append(fit)
        # The candidates' minimum draw by draw, kept as it goes: np.min over their stack, in the same order.
        lowest = drawn if lowest is None else np.minimum(lowest, drawn, out=lowest)
    assert lowest is not None
    best = float(losses.mean(axis=0).min())
    estimate = best - float(np.min(np.vstack(fits), axis=0).mean())
    samples = [best - mean for mean in lowest.mean(axis=1).tolist()]  # per draw, row by row
    value, se = min(max(estimate, 0.0), evpi), float(np.std(samples, ddof=1))
    return {"evppi": round(value, 6), "se": round(se, 6), "resolved": bool(value > RESOLVED_SE * se)}


def groups_of(keys: Sequence[str]) -> dict[str, list[str]]:
    """Return each named group's parameters among `keys` (groups with none are left out)."""
    found = {name: [k for k in keys if any(word in k.split(":")[-1] for word in words)]
             for name, words in GROUPS.items()}
    return {name: members for name, members in found.items() if members}


def value_of_information(means: dict[str, np.ndarray], parameters: dict[str, list[Any]],
                         keep: np.ndarray | None, metric: str,
                         applies: dict[str, set[str]] | None = None) -> dict[str, Any]:
    """Return EVPI, each parameter's and each group's EVPPI for the choice among `means`' candidates.

    Args:
        means: Each candidate's metric per world.
        parameters: Each parameter's values per world.
        keep: The worlds the record allows (all when None).
        metric: The compared metric (lower is better), whose units the values are in.
        applies: Each parameter's arrangements: only those of some candidate are scored (all when None).
    """
    names = list(means)
    losses = np.vstack([means[n] for n in names]).T
    usable = np.all(np.isfinite(losses), axis=1)
    if keep is not None:
        usable &= np.asarray(keep, dtype=bool)
    section: dict[str, Any] = {"metric": metric, "candidates": names, "worlds": int(usable.sum()), "method": METHOD,
                               "evpi": None, "parameters": {}, "groups": {}}
    if usable.sum() < 8 or len(names) < 2:
        section["note"] = "too few worlds (fewer than 8) or candidates (fewer than 2) to estimate it"
        return section
    losses = losses[usable]
    evpi = expected_savings(losses)
    section["evpi"] = round(evpi, 6)
    chosen = {k: [v for v, u in zip(column, usable, strict=True) if u] for k, column in parameters.items()
              if applies is None or applies[k] & set(names)}
    blocks = {key: basis(column) for key, column in chosen.items()}  # each parameter's design, built once
    scores = {key: evppi(losses, [column], evpi, x=_joined([blocks[key]], len(losses)))
              for key, column in chosen.items()}
    section["parameters"] = dict(sorted(scores.items(), key=lambda item: -item[1]["evppi"]))
    for name, members in groups_of(list(chosen)).items():
        entry = evppi(losses, [chosen[k] for k in members], evpi, x=_joined([blocks[k] for k in members], len(losses)))
        section["groups"][name] = {**entry, "parameters": members}
    return section


def _joined(blocks: Sequence[np.ndarray | None], worlds: int) -> np.ndarray:
    """Return the design of parameters from their own designs (as `design` builds it)."""
    kept = [block for block in blocks if block is not None]
    return np.hstack(kept) if kept else np.zeros((worlds, 0))


def top(section: dict[str, Any], count: int = 3) -> list[tuple[str, float, float]]:
    """Return the `count` parameters of largest EVPPI as (path, evppi, se), largest first."""
    rows = [(k, float(v["evppi"]), float(v["se"])) for k, v in section.get("parameters", {}).items()]
    return [row for row in rows if not math.isnan(row[1])][:count]
