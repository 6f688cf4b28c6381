"""Per-layer measurements of the frontier (power, robustness, attribution) on cached answers, shared by
``frontier.py`` and ``weighted_score.py`` (scripts never import each other)."""

from __future__ import annotations

import numpy as np
from _power import prefix_pvalues, substitute, tokens_to_target
from mark._frontier_settings import ACCOUNT

from stillwatch.core import prf, tournament
from stillwatch.core.windows import sliding_windows, unique_windows, window_hash
from stillwatch.mark import MarkConfig, attribute_ids, detect_ids

LENGTHS = (50, 100, 150, 200)
SUBST = (0.1, 0.2, 0.3)
ALPHA = 1e-3


class Layer:
    """Scores one layer (spec + key) of a setting: prefix p-values, p-value of a text, attribution."""

    def __init__(self, spec, key, h: int):
        self.spec, self.key, self.h = spec, key, h

    def pvalue(self, prompt_ids: list[int], ids: np.ndarray) -> float:
        full = np.asarray(list(prompt_ids[-self.h :]) + list(ids), dtype=np.int64)
        return detect_ids(full, self.spec, self.key, exclude_ids=[np.asarray(prompt_ids)]).p_value if len(full) > self.h else 1.0

    def round_ones(self, prompt_ids: list[int], ids: np.ndarray) -> tuple[np.ndarray, int] | None:
        """Tournament layers only: (number of g-values equal to 1 in each round [depth], distinct tuples)
        over the answer's de-duplicated tuples not seen in the prompt (what detection scores)."""
        if self.spec.scheme != "tournament":
            return None
        full = np.asarray(list(prompt_ids[-self.h :]) + list(ids), dtype=np.int64)
        ctx, tok = sliding_windows(full, self.h)
        pc, pt = sliding_windows(np.asarray(prompt_ids, dtype=np.int64), self.h)
        keep = unique_windows(ctx, tok, window_hash(pc, pt))
        u = tournament.words(*self.key.words, prf.fold(ctx[keep]), tok[keep])
        return tournament.g_layers(u, self.spec.depth).sum(axis=1, dtype=np.int64), int(keep.shape[0])

    def prefix(self, prompt_ids: list[int], ids: np.ndarray) -> np.ndarray:
        """p-value after the first T answer tokens, T = 0..len(ids)."""
        full = np.asarray(list(prompt_ids[-self.h :]) + list(ids), dtype=np.int64)
        return prefix_pvalues(full, self.spec, self.key)[self.h :]


def measure_layer(layer, rows, paraphrases, vocab: int, rng) -> dict:
    need, tpr, sub, para = [], {L: [] for L in LENGTHS}, {r: [] for r in SUBST}, []
    strict = {(150, 1e-5): [], (200, 1e-7): []}  # what attribution among 100 / 10,000 at corrected 1e-3 needs
    ones, n_tuples = 0, 0  # per-round g-value counts (tournament layers)
    for x in rows:
        ids = np.asarray(x["ids"], dtype=np.int64)
        pp = layer.prefix(x["prompt_ids"], ids)
        need.append(tokens_to_target(pp))
        ro = layer.round_ones(x["prompt_ids"], ids) if isinstance(layer, Layer) else None  # not the SynthID baseline
        if ro is not None:
            ones, n_tuples = ones + ro[0], n_tuples + ro[1]
        for L in LENGTHS:
            if len(ids) >= L:
                tpr[L].append(pp[L] <= ALPHA)
        for (L, level), v in strict.items():
            if len(ids) >= L:
                v.append(pp[L] <= level)
        if len(ids) >= 100:
            for r in SUBST:
                sub[r].append(layer.pvalue(x["prompt_ids"], substitute(ids, r, vocab, rng)) <= ALPHA)
    for y in paraphrases:
        if len(y["ids"]) >= 50:
            para.append(layer.pvalue(y["prompt_ids"], np.asarray(y["ids"])) <= ALPHA)
    rate = lambda v: (float(np.mean(v)) if v else float("nan"), len(v))  # noqa: E731
    return {"need": np.array(need), "tpr": {L: rate(v) for L, v in tpr.items()}, "sub": {r: rate(v) for r, v in sub.items()},
            "strict": {k: rate(v) for k, v in strict.items()},
            "rounds": (ones / n_tuples) if n_tuples else None,
            "para": rate(para)}


def measure_attribution(cfg: MarkConfig, rows, plain, master) -> dict:
    """Right / wrong account among 100 and 10,000 candidates at 150 and 200 tokens (corrected p < ALPHA)."""
    others = [f"acct-{i:05d}" for i in range(9999)]
    rings = {100: master.key_ring([ACCOUNT] + others[:99]), 10_000: master.key_ring([ACCOUNT] + others)}
    spec = cfg.account_spec(ACCOUNT)
    out = {}
    for N, ring in rings.items():
        for L in (150, 200):
            right = wrong = n = 0
            for x in rows:
                if len(x["ids"]) < L:
                    continue
                ids = np.asarray(x["prompt_ids"][-spec.context_width :] + x["ids"][:L], dtype=np.int64)
                a = attribute_ids(ids, spec, ring, exclude_ids=[np.asarray(x["prompt_ids"])])
                n += 1
                right += a.corrected_p_value < ALPHA and a.best_account == ACCOUNT
                wrong += a.corrected_p_value < ALPHA and a.best_account != ACCOUNT
            out[(N, L)] = (right / n if n else float("nan"), wrong / n if n else float("nan"), n)
        null = [attribute_ids(np.asarray(x["prompt_ids"][-spec.context_width :] + x["ids"], dtype=np.int64), spec, ring,
                              exclude_ids=[np.asarray(x["prompt_ids"])]).corrected_p_value < ALPHA
                for x in plain if len(x["ids"]) > 10]
        out[(N, "null")] = (float(np.mean(null)), len(null))
    return out
