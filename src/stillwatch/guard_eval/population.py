"""Figures per population and the same-run comparison with the baselines (issues 13 and 18).

A total false-positive rate hides a population that is flagged wholesale (an evaluation lab, every
monitor, a class): the goal is <= 1 % of the accounts of **each** benign population
(:data:`POPULATION_FP_GOAL`). Each campaign family gets its own TPR at FPR 1e-4, with the threshold
set on *all* benign accounts of the log. A detector whose account ranking is worse than the plain
rate-limit baseline's on the same log (lower PR-AUC) fails: :func:`versus_baselines`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: At most this share of any benign population's accounts may be flagged.
POPULATION_FP_GOAL = 0.01
#: The baseline a detector must rank at least as well as (PR-AUC).
REFERENCE_BASELINE = "rate_limit"


@dataclass(frozen=True)
class PopulationFigure:
    """One labelled population (``family``) under one detector.

    ``flagged``: share of its accounts the detector's own decision flags; ``above``: share scoring
    strictly above the detector's FPR-``fpr`` threshold over all benign accounts (for a campaign
    family, its TPR at that FPR)."""

    population: str
    benign: bool
    accounts: int
    flagged: float
    above: float

    @property
    def meets_goal(self) -> bool | None:
        """Benign: flagged share <= :data:`POPULATION_FP_GOAL`; campaign families: None (TPR goals
        are judged in :meth:`~stillwatch.guard_eval.evaluate.Evaluation.goals`)."""
        return self.flagged <= POPULATION_FP_GOAL if self.benign else None

    def to_json(self) -> dict:
        return {"population": self.population, "benign": self.benign, "accounts": self.accounts,
                "flagged": round(self.flagged, 6), "above_threshold": round(self.above, 6), "meets_goal": self.meets_goal}


def per_population(family: np.ndarray, is_campaign: np.ndarray, score: np.ndarray, flagged: np.ndarray,
                   fpr: float = 1e-4) -> tuple[PopulationFigure, ...]:
    """Figures per value of ``family`` (aligned arrays over labelled accounts; ``score`` -inf for an
    account the detector never reported). The threshold is the (k+1)-th highest benign score,
    k = floor(fpr * benign accounts), as in :func:`~stillwatch.guard_eval.evaluate.tpr_at_fpr`."""
    family = np.asarray(family).astype(str)
    score = np.asarray(score, np.float64)
    benign = np.sort(score[~is_campaign])[::-1]
    k = int(math.floor(fpr * len(benign) + 1e-9))
    thr = benign[k] if k < len(benign) else -np.inf
    names, inv = np.unique(family, return_inverse=True)
    n = np.bincount(inv, minlength=len(names))
    fl = np.bincount(inv, weights=np.asarray(flagged, np.float64), minlength=len(names))
    ab = np.bincount(inv, weights=(score > thr).astype(np.float64), minlength=len(names))
    camp = np.bincount(inv, weights=is_campaign.astype(np.float64), minlength=len(names)) > 0
    return tuple(PopulationFigure(str(f), not bool(camp[i]), int(n[i]), float(fl[i] / n[i]), float(ab[i] / n[i]))
                 for i, f in enumerate(names))


def versus_baselines(evals) -> dict:
    """Compare Stillwatch's PR-AUC with each baseline's from the same run.

    Returns ``{"stillwatch": pr_auc, "<baseline>": {"pr_auc", "ratio"}, "behind_rate_limit": bool | None}``
    (None when either was not run). ``behind_rate_limit`` True is a failing result."""
    by = {e.detector: e for e in evals}
    sw = by.get("stillwatch")
    out: dict = {"stillwatch": None if sw is None else sw.pr_auc}
    for name, e in by.items():
        if name != "stillwatch":
            out[name] = {"pr_auc": e.pr_auc, "ratio": None if sw is None or e.pr_auc <= 0 else sw.pr_auc / e.pr_auc}
    ref = by.get(REFERENCE_BASELINE)
    out["behind_rate_limit"] = None if sw is None or ref is None else bool(sw.pr_auc < ref.pr_auc)
    return out
