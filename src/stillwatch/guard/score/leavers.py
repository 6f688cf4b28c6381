"""Members that leave a time group (score/grouping.py, issue 13): evidence of *what* a member asked, which the
group's time signal cannot see.

* :func:`without_repeaters` — a member that re-sends its prompts far beyond the group's other members (the linked
  clusters' repetition test): a harvest wants new answers.
* :func:`without_replays` — a member whose prompts are, for the most part, one outside account's list beyond chance
  (:mod:`~stillwatch.guard.score.replays`): an evaluation lab's single benchmark pass.

Each is a rule on the members of groups the time nulls already made; neither can add a member, and a group left
with fewer than two members dissolves.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from stillwatch.guard.score.config import DetectConfig
from stillwatch.guard.score.grouping import Groups


def without_repeaters(g: Groups, acc: Mapping[str, np.ndarray], cfg: DetectConfig) -> Groups:
    """``g`` without the members that re-send their prompts far beyond the group's other members
    (:func:`~stillwatch.guard.score.repetition.repeats_beyond`, as a linked cluster's outsiders are found; the
    group is the cluster): an evaluation lab that ran its benchmark twice in one night and went silent is a
    burst-then-dormant carrier by the signal's own test, and a harvest wants new answers. Groups left with
    fewer than two members dissolve; the others keep their smallest remaining member as head."""
    if "n_prompts_raw" not in acc:
        return g
    from stillwatch.guard.score.repetition import repeats_beyond

    a = len(g.head)
    grouped = g.head >= 0
    lab = np.where(grouped, g.head, np.arange(a))
    once = np.asarray(acc["n_once_raw"], np.float64) if "n_once_raw" in acc else None
    out = repeats_beyond(lab, np.asarray(acc["n"], np.float64), np.asarray(acc["n_prompts_raw"], np.float64),
                         grouped, grouped, cfg.link.alpha, once)
    return _drop_members(g, out) if out.any() else g


def without_replays(g: Groups, acc: Mapping[str, np.ndarray], edges, cfg: DetectConfig) -> Groups:
    """``g`` without the members that replayed one outside account's list of prompts
    (:mod:`~stillwatch.guard.score.replays`: an evaluation lab's benchmark pass is a burst-then-dormant carrier, and
    what it asked is another lab's list, not a harvest)."""
    from stillwatch.guard.score.replays import replaying_members

    out = replaying_members(g.head, acc, edges, cfg.link.alpha, cfg.link.pair_budget)
    return _drop_members(g, out) if out.any() else g


def _drop_members(g: Groups, out: np.ndarray) -> Groups:
    """``g`` without the members ``out``: groups left with fewer than two members dissolve, the others keep their
    smallest remaining member as head."""
    a = len(g.head)
    grouped = g.head >= 0
    lab = np.where(grouped, g.head, np.arange(a))
    keep = grouped & ~out
    first = np.full(a, a, np.int64)
    np.minimum.at(first, lab[keep], np.flatnonzero(keep))
    ok = keep & (np.bincount(lab[keep], minlength=a)[lab] >= 2)
    head = np.where(ok, first[lab], -1)
    return Groups(head, np.where(ok, g.kind, 0), np.where(ok, g.p, 1.0), np.where(ok, g.width_us, 0.0), g.score)
