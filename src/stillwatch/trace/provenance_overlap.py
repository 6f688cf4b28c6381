"""The overlap of the suspect's next-token distribution with each panel model's, prompt by prompt, as evidence of
lineage where both give their top-k tokens (``ProvenanceConfig.panel_logprobs``; issue 17, thirteenth session).

:mod:`~stillwatch.trace.provenance_logprobs` scores how likely the suspect finds each panel model's *greedy answer*;
this scores how much the two whole distributions overlap. A student that learnt its teacher's ranking of the
second, third, ... tokens on each prompt shares more of the teacher's distribution on that prompt than on another
prompt, even where its top token is a habit ("The") and the teacher's top token is not in its top k at all.

Statistic (per mode). With ``P_i`` the suspect's top-k distribution on prompt i and ``Q_j,i`` panel model j's, each
aggregated over normalised strings (:func:`string_masses`: tokens decoded, stripped, masses of equal strings added,
blank and end-of-text strings left out), the Bhattacharyya coefficient

    BC(P, Q) = sum_s sqrt(P(s) Q(s))   (over strings s listed by both; 0 <= BC <= 1)

and, for the pair k of prompts ``2k`` and ``2k + 1``,

    c[k, j] = BC(P_2k, Q_j,2k) + BC(P_2k+1, Q_j,2k+1) - BC(P_2k+1, Q_j,2k) - BC(P_2k, Q_j,2k+1)

the overlap on the pair's own prompts minus with the suspect's two distributions swapped.

Null (the same symmetry as the other excess statistics): if the suspect's distributions do not depend on the
prompt (its two are exchangeable within a pair), swapping them leaves their joint law unchanged and negates
``c[k, j]`` for every j at once; so ``c`` joins the sign-flip test of
:func:`~stillwatch.trace.provenance_logprobs.combined_excess_test` as a third unit-norm term and the test stays exact.
What the null does not cover is *generic* closeness: two general language models share prompt-specific continuation
habits (after "The capital of France is" both put mass on "Paris") that no lineage explains, so the candidate must
beat references of its own kind in that mode. The twelfth session measured exactly that on the zoo: in chat mode
(whose references include a chat model) the independents stayed at p >= 0.45, while in raw mode, against narrow
raw references (code, legal text), independents leaned to SmolLM2 (p down to 6e-4). Hence the setting names the
modes where the panel's distributions enter, and the default is none until the zoo measures it.

Attacker model: as :mod:`~stillwatch.trace.provenance_logprobs` — a suspect's owner may refuse or fabricate its
distributions, which can hide a lineage but not manufacture one (the null holds for any prompt-independent
distribution). A *panel* model's distributions are ours (local weights, or a candidate's own API): if a candidate's
API gives none, the statistic is off for that mode, as comparing some rivals by distribution and others not would
not be fair.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stillwatch.errors import InputError
from stillwatch.trace.provenance_logprobs import distribution_arrays


def string_masses(dists: Sequence, *, blank_end_of_text: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(strings [P, K] str, mass [P, K])`` of P top-k lists: each normalised string's total probability at its first
    position in the row, 0 at later repeats of it and at blank strings (whitespace, a broken byte, and with
    ``blank_end_of_text`` the end of text)."""
    toks, probs, _ = distribution_arrays(dists, blank_end_of_text=blank_end_of_text)  # [P, K] each
    same = toks[:, :, None] == toks[:, None, :]  # [P, K, K]
    total = (same * probs[:, None, :]).sum(axis=2)  # [P, K]: the string's mass in its row
    k = toks.shape[1]
    earlier = np.tril(np.ones((k, k), bool), -1)  # [K, K]: b < a
    first = ~(same & earlier[None]).any(axis=2)
    blank = np.char.str_len(toks) == 0
    return toks, np.where(first & ~blank, total, 0.0)


def bhattacharyya(s_tok: np.ndarray, s_mass: np.ndarray, q_tok: np.ndarray, q_mass: np.ndarray) -> np.ndarray:
    """``[P]``: ``sum_s sqrt(P(s) Q(s))`` row by row over strings listed by both (outputs of :func:`string_masses`,
    equal numbers of rows). Requires masses >= 0."""
    if s_tok.shape[0] != q_tok.shape[0]:
        raise InputError(f"the two lists hold {s_tok.shape[0]} and {q_tok.shape[0]} distributions (need equal)")
    match = s_tok[:, :, None] == q_tok[:, None, :]  # [P, Ks, Kq]
    return (match * np.sqrt(s_mass[:, :, None] * q_mass[:, None, :])).sum(axis=(1, 2))


def overlap_scores(suspect: Sequence, panel: Sequence[Sequence], keep_pairs: np.ndarray | None = None, *,
                   blank_end_of_text: bool = True) -> np.ndarray:
    """``c [K, M]`` (module docstring) for the first ``2K`` distributions of the suspect (an odd last one left out)
    against each of the ``M`` panel models' lists (each at least ``2K`` long). ``keep_pairs`` [K] bool: pairs to
    count (the others score 0; the provenance test keeps the pairs where the suspect's top answer is informative on
    both prompts, a function symmetric in the pair)."""
    if not panel:
        raise InputError("the panel holds no model")
    n = len(suspect) // 2 * 2
    if any(len(p) < n for p in panel):
        raise InputError(f"every panel model needs at least {n} distributions")
    s_tok, s_mass = string_masses(list(suspect)[:n], blank_end_of_text=blank_end_of_text)
    swap = np.arange(n) ^ 1
    out = np.zeros((n // 2, len(panel)))
    for j, dists in enumerate(panel):  # a handful of panel models; prompts vectorised
        q_tok, q_mass = string_masses(list(dists)[:n], blank_end_of_text=blank_end_of_text)
        matched = bhattacharyya(s_tok, s_mass, q_tok, q_mass)  # [n]
        crossed = bhattacharyya(s_tok[swap], s_mass[swap], q_tok, q_mass)  # suspect's other prompt vs this one
        out[:, j] = (matched - crossed).reshape(n // 2, 2).sum(axis=1)
    if keep_pairs is not None:
        out[~np.asarray(keep_pairs, dtype=bool)[: n // 2]] = 0.0
    return out
