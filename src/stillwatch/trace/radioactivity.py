"""Watermark radioactivity: was a suspect model trained on our watermarked outputs?

Sander, Fernandez, Durmus, Douze & Furon (2024), "Watermarking Makes Language Models Radioactive".
A model fine-tuned on text carrying a green-list watermark learns to prefer, after a given context
window, the tokens that window's green list holds; a model that never trained on such text does not.

Null hypothesis H0 (both settings): the suspect's parameters are independent of the provider key k
(it was never trained on text watermarked with k). Under H0 each *distinct* (context window, token)
tuple is green with probability gamma independently (the PRF is keyed), so the number of green tuples
among n distinct ones is Binomial(n, gamma); the p-value is the exact binomial tail
(:func:`stillwatch.mark.score_pairs`).

* **Open model** (weights available, same tokenizer as the teacher). Feed scoring texts to the suspect
  teacher-forced and score the pairs (context = the last h ids of the text, token = the suspect's top-1
  prediction of the next id). Tuples are de-duplicated, and every (h+1)-window that occurs in the
  scoring texts themselves is excluded: when the texts are watermarked, a model that merely predicts
  the text's actual next token (any good language model often does) would otherwise repeat the text's
  colours, not the key's (Sander et al. Sec. 4, "filter on scored tuples"). The scoring texts are
  either the harvested watermarked answers (``scoring="transcripts"``, Sander et al.'s reading mode) or
  the suspect's own answers to the harvest's prompts (``scoring="suspect"``, the default): see
  :data:`SCORING` for why the default is exact and the reading mode only conservative.
* **Closed model** (only an API). Prompt the suspect, re-tokenize its answers with the teacher's
  tokenizer, and score all (context, token) windows of the answers, de-duplicated, windows seen in the
  prompts excluded.
* **Attribution.** The same tuples are scored against every candidate account key in one vectorised
  pass (:func:`stillwatch.mark.attribute_pairs`); each account's p-value is Šidák-corrected for the
  number N of accounts tested, so "account j's layer is present" at level alpha has family-wise
  error <= alpha.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from stillwatch.errors import InputError, TokenizerMismatchError, TraceError

log = logging.getLogger(__name__)

SETTINGS = ("open", "closed")
#: Open-model scoring texts: "suspect" — the suspect's own sampled answers to the harvest's prompts
#: (key-independent under H0, so the test is exact; the default), or "transcripts" — the harvested,
#: watermarked answers themselves (Sander et al.'s supervised reading mode; exclusion of the text's own
#: windows then removes green tuples preferentially, so the test is conservative: valid, p-values
#: stochastically larger than uniform, less power — measured in benchmarks/results/trace.md).
SCORING = ("suspect", "transcripts")
NULL_HYPOTHESIS = (
    "H0: the suspect's parameters are independent of the provider watermark key (it was never trained on "
    "text watermarked with that key); under H0 each distinct (context, token) tuple is green with "
    "probability gamma independently, so the green count is Binomial(n_scored, gamma)."
)


@dataclass(frozen=True)
class RadioactivityConfig:
    """How to run the test. ``max_texts``: scoring texts used (a seeded sample when there are more);
    ``curve_points``: points of the p-value-versus-tokens curve."""

    setting: str = "open"
    scoring: str = "suspect"
    max_texts: int = 512
    max_new_tokens: int = 128
    temperature: float = 1.0
    batch_size: int = 16
    seed: int = 0
    curve_points: int = 12
    alpha: float = 1e-3

    def __post_init__(self) -> None:
        if self.setting not in SETTINGS:
            raise InputError(f"setting must be one of {', '.join(SETTINGS)}, got {self.setting!r}")
        if self.scoring not in SCORING:
            raise InputError(f"scoring must be one of {', '.join(SCORING)}, got {self.scoring!r}")
        if self.max_texts < 1 or self.max_new_tokens < 1 or self.batch_size < 1:
            raise InputError("max_texts, max_new_tokens and batch_size must be >= 1")
        if not 0.0 < self.alpha < 1.0:
            raise InputError(f"alpha must be in (0, 1), got {self.alpha}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ScoringText:
    """Token ids fed to (open) or produced by (closed) the suspect. Positions ``>= score_from`` are
    scored: for the open setting the answer part of prompt + answer."""

    ids: np.ndarray
    score_from: int = 0


@dataclass(frozen=True)
class Pairs:
    """(context, token) tuples in text order, plus the windows to exclude."""

    contexts: np.ndarray  # int64 [n, h]
    tokens: np.ndarray  # int64 [n]
    exclude: np.ndarray  # int64 [m, h+1]
    n_texts: int

    @property
    def n(self) -> int:
        return int(self.tokens.shape[0])


@dataclass(frozen=True)
class RadioactivityResult:
    setting: str
    p_value: float
    n_scored: int
    n_green: int | None
    n_tuples: int
    n_texts: int
    gamma: float | None
    spec_fingerprint: str
    curve: list[dict]
    accounts: list[dict] = field(default_factory=list)
    best_account: str | None = None
    best_account_corrected_p_value: float | None = None
    suspect: str = ""
    null_hypothesis: str = NULL_HYPOTHESIS

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------- pairs
def open_model_pairs(predictions: Sequence[np.ndarray], texts: Sequence[ScoringText], h: int) -> Pairs:
    """Pairs for the open-model test. ``predictions[i][t]`` is the suspect's top-1 prediction of the id
    after ``texts[i].ids[t]`` (teacher-forced); the pair for it is (ids[t-h+1 : t+1], predictions[t]),
    kept for t >= max(h, score_from) - 1. Exclusions: every (h+1)-window of every text.

    Requires len(predictions) == len(texts), predictions[i] of shape [len(texts[i].ids)], h >= 1.
    """
    if len(predictions) != len(texts):
        raise ValueError(f"{len(predictions)} prediction arrays for {len(texts)} texts")
    ctx_parts, tok_parts, ex_parts = [], [], []
    for pred, text in zip(predictions, texts, strict=True):
        ids = np.asarray(text.ids, dtype=np.int64)
        pred = np.asarray(pred, dtype=np.int64)
        if pred.shape != ids.shape:
            raise ValueError(f"predictions of shape {pred.shape} for a text of shape {ids.shape}")
        if ids.shape[0] < h:
            continue
        win = np.lib.stride_tricks.sliding_window_view(ids, h)  # [T-h+1, h]; window j ends at t = j+h-1
        first = max(h, text.score_from) - h  # first window index j with t = j+h-1 >= max(h, score_from) - 1
        ctx_parts.append(win[first:])
        tok_parts.append(pred[first + h - 1 :])
        if ids.shape[0] > h:
            ex_parts.append(np.lib.stride_tricks.sliding_window_view(ids, h + 1))  # [T-h, h+1]
    return _pairs(ctx_parts, tok_parts, ex_parts, h, len(texts))


def closed_model_pairs(answers: Sequence[np.ndarray], prompts: Sequence[np.ndarray], h: int) -> Pairs:
    """Pairs for the closed-model test: every (ids[t-h:t], ids[t]) window of every answer; exclusions:
    every (h+1)-window of every prompt. Requires h >= 1."""
    ctx_parts, tok_parts, ex_parts = [], [], []
    for ids in answers:
        ids = np.asarray(ids, dtype=np.int64)
        if ids.shape[0] > h:
            win = np.lib.stride_tricks.sliding_window_view(ids, h + 1)  # [T-h, h+1]
            ctx_parts.append(win[:, :h])
            tok_parts.append(win[:, h])
    for ids in prompts:
        ids = np.asarray(ids, dtype=np.int64)
        if ids.shape[0] > h:
            ex_parts.append(np.lib.stride_tricks.sliding_window_view(ids, h + 1))
    return _pairs(ctx_parts, tok_parts, ex_parts, h, len(answers))


def _pairs(ctx_parts, tok_parts, ex_parts, h: int, n_texts: int) -> Pairs:
    ctx = np.concatenate(ctx_parts).astype(np.int64) if ctx_parts else np.empty((0, h), dtype=np.int64)
    tok = np.concatenate(tok_parts).astype(np.int64) if tok_parts else np.empty(0, dtype=np.int64)
    ex = np.concatenate(ex_parts).astype(np.int64) if ex_parts else np.empty((0, h + 1), dtype=np.int64)
    return Pairs(np.ascontiguousarray(ctx), np.ascontiguousarray(tok), np.ascontiguousarray(ex), n_texts)


# ---------------------------------------------------------------------------------------------- scoring
def score(pairs: Pairs, spec: Any, key: Any, *, curve_points: int = 12) -> tuple[Any, list[dict]]:
    """Score ``pairs`` with one layer key; also the p-value after the first k tuples for
    ``curve_points`` log-spaced k (each point its own exact test on the de-duplicated prefix).
    Returns (DetectionResult, curve [{n_tuples, n_scored, n_green, p_value}])."""
    from stillwatch.mark import score_pairs

    if pairs.n == 0:
        raise TraceError("nothing to score: the scoring texts yield no (context, token) tuple")
    res = score_pairs(pairs.contexts, pairs.tokens, spec, key, exclude_windows=pairs.exclude)
    curve = []
    if curve_points > 0:
        ks = np.unique(np.geomspace(min(16, pairs.n), pairs.n, num=curve_points).astype(np.int64))
        for k in ks.tolist():
            r = score_pairs(pairs.contexts[:k], pairs.tokens[:k], spec, key, exclude_windows=pairs.exclude)
            curve.append({"n_tuples": int(k), "n_scored": r.n_scored, "n_green": r.n_green, "p_value": r.p_value})
    return res, curve


def attribute(pairs: Pairs, account_spec: Any, master: Any, accounts: Sequence[str], *, alpha: float = 1e-3) -> tuple[list[dict], Any]:
    """Test every account key on ``pairs`` in one pass; per account: raw p-value, Šidák-corrected
    p-value (for len(accounts) tests) and whether its layer is judged present at ``alpha``."""
    from stillwatch.core.stats import sidak
    from stillwatch.mark import attribute_pairs

    if not accounts:
        return [], None
    ring = master.key_ring(list(accounts))
    res = attribute_pairs(pairs.contexts, pairs.tokens, account_spec, ring, exclude_windows=pairs.exclude)
    corrected = np.atleast_1d(sidak(res.p_values, len(accounts)))
    rows = [
        {"account": a, "p_value": float(p), "corrected_p_value": float(c), "n_green": None if res.n_green is None else int(g),
         "present": bool(c <= alpha)}
        for a, p, c, g in zip(accounts, res.p_values.tolist(), corrected.tolist(),
                              res.n_green.tolist() if res.n_green is not None else [None] * len(accounts), strict=True)
    ]
    return rows, res


# ---------------------------------------------------------------------------------------------- drivers
def open_model_test(
    suspect: Any,
    texts: Sequence[ScoringText],
    spec: Any,
    key: Any,
    *,
    watermark_tokenizer_id: str | None,
    config: RadioactivityConfig = RadioactivityConfig(),
    account_spec: Any | None = None,
    master: Any | None = None,
    accounts: Sequence[str] = (),
) -> RadioactivityResult:
    """Open-model test of ``suspect`` (a local backend) on ``texts`` (ids in the teacher's tokenizer)."""
    check_open_model(suspect, watermark_tokenizer_id)
    if not texts:
        raise TraceError("no scoring texts for the open-model test")
    preds = suspect.next_token_argmax([t.ids.tolist() for t in texts], batch_size=config.batch_size)
    return _finish("open", suspect, lambda h: open_model_pairs(preds, texts, h), spec, key, config, account_spec,
                   master, accounts)


def closed_model_test(
    suspect: Any,
    prompts: Sequence[str],
    encode: Callable[[str], list[int]],
    spec: Any,
    key: Any,
    *,
    same_tokenizer: bool,
    config: RadioactivityConfig = RadioactivityConfig(),
    account_spec: Any | None = None,
    master: Any | None = None,
    accounts: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
) -> RadioactivityResult:
    """Closed-model test: ``suspect.generate`` answers ``prompts``; answers are scored in the teacher's
    token ids (``encode`` re-tokenizes text; with ``same_tokenizer`` the suspect's own completion ids are
    used when it reports them)."""
    if not prompts:
        raise TraceError("no prompts for the closed-model test")
    gens = suspect.generate(list(prompts), max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                            seed=config.seed, batch_size=config.batch_size, progress=progress)
    answers = [
        np.asarray(g.completion_ids if (same_tokenizer and g.completion_ids) else encode(g.text), dtype=np.int64)
        for g in gens
    ]
    prompt_ids = [np.asarray(encode(p), dtype=np.int64) for p in prompts]
    return _finish("closed", suspect, lambda h: closed_model_pairs(answers, prompt_ids, h), spec, key, config,
                   account_spec, master, accounts)


def check_open_model(suspect: Any, watermark_tokenizer_id: str | None) -> None:
    """Raise unless the open-model test can run on ``suspect``: local weights and the teacher's tokenizer."""
    if not getattr(suspect, "local", False):
        raise TraceError(
            f"the open-model setting needs the suspect's weights; {suspect.name!r} is a remote API — use --setting closed"
        )
    if watermark_tokenizer_id and suspect.tokenizer_id != watermark_tokenizer_id:
        raise TokenizerMismatchError(
            f"the open-model setting needs the suspect to use the teacher's tokenizer (its next-token predictions must be "
            f"ids the watermark was keyed on), but {suspect.name!r} uses a different one "
            f"({suspect.tokenizer_id[:12]}... vs {watermark_tokenizer_id[:12]}...) — use --setting closed"
        )


def _finish(setting, suspect, make_pairs, spec, key, config, account_spec, master, accounts) -> RadioactivityResult:
    pairs = make_pairs(spec.context_width)
    res, curve = score(pairs, spec, key, curve_points=config.curve_points)
    rows: list[dict] = []
    best, best_p = None, None
    if accounts and account_spec is not None and master is not None:
        acc_pairs = pairs if account_spec.context_width == spec.context_width else make_pairs(account_spec.context_width)
        rows, att = attribute(acc_pairs, account_spec, master, accounts, alpha=config.alpha)
        if att is not None:
            best, best_p = att.best_account, float(att.corrected_p_value)
    log.info("%s-model radioactivity: p=%.3g over %d distinct tuples", setting, res.p_value, res.n_scored)
    return RadioactivityResult(
        setting=setting, p_value=float(res.p_value), n_scored=int(res.n_scored), n_green=res.n_green,
        n_tuples=pairs.n, n_texts=pairs.n_texts, gamma=getattr(spec, "gamma", None), spec_fingerprint=spec.fingerprint,
        curve=curve, accounts=rows, best_account=best, best_account_corrected_p_value=best_p, suspect=suspect.name,
    )
