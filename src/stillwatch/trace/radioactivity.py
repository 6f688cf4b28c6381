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
  prediction of the next id). Tuples are de-duplicated and windows seen in the scoring prompts are
  excluded. When the scoring texts are watermarked (reading mode), every (h+1)-window of the texts
  themselves is excluded too: a model that merely predicts the text's actual next token (any good
  language model often does) would otherwise repeat the text's colours, not the key's (Sander et al.
  Sec. 4, "filter on scored tuples"). Key-independent texts (the suspect's own answers, unwatermarked
  reference answers) need no such filter: under H0 the predictions and the text are both independent
  of the key, so every distinct tuple is green with probability gamma whether or not the text holds
  it — and keeping those tuples keeps the power (a model trained on our outputs reproduces their
  green bigrams in its own text). The scoring texts are
  either the harvested watermarked answers (``scoring="transcripts"``, Sander et al.'s reading mode) or
  the suspect's own answers to the harvest's prompts (``scoring="suspect"``, the default), or
  unwatermarked reference texts (``scoring="reference"``): see
  :data:`SCORING` for why the default is exact and the reading mode only conservative.
* **Closed model** (only an API). Prompt the suspect, re-tokenize its answers with the teacher's
  tokenizer, and score all (context, token) windows of the answers, de-duplicated, windows seen in the
  prompts excluded.
* **Differential test** (optional, both settings). When the suspect is believed to be an existing
  model fine-tuned on the harvest and that base model is available (a public checkpoint), only
  positions where the suspect departs from the base's own top-1 prediction are scored. Exact for the
  same reason (see :func:`differential_note`), and far more powerful: fine-tuning moves few
  predictions, and those it moves carry the watermark.
* **Combined layers** (``harvest_accounts``). When the harvest is known to have gone through named
  accounts (the ledger, the guard's findings), their account layers were on every harvested answer too,
  and the provider can derive their keys: the provider layer's and those accounts' g-values of the same
  tuples are summed in one exact test (:func:`combined_test`; more fair coins per tuple under the same
  kind of null: H0 then says the suspect is independent of the provider key and of every named account's
  key). The set is named before the test, so no correction applies.
* **Attribution.** The same tuples are scored against every candidate account key in one vectorised
  pass (:func:`stillwatch.mark.attribute_pairs`); each account's p-value is Šidák-corrected for the
  number N of accounts tested, so "account j's layer is present" at level alpha has family-wise
  error <= alpha.
"""

from __future__ import annotations

import hashlib
import logging
import weakref
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
#: "reference" — unwatermarked texts the investigator supplies (e.g. the provider's own unwatermarked
#: answers to the harvest's prompts): key-independent like "suspect", so the test stays exact, and no
#: generation from the suspect is needed (teacher-forced scoring only — the cheapest mode).
SCORING = ("suspect", "transcripts", "reference")
NULL_HYPOTHESIS = (
    "H0: the suspect's parameters are independent of the provider watermark key (it was never trained on "
    "text watermarked with that key); under H0 each distinct (context, token) tuple is green with "
    "probability gamma independently, so the green count is Binomial(n_scored, gamma) (KGW); for a tournament "
    "watermark each of its depth g-values is an independent fair coin, so the count of ones is "
    "Binomial(n_scored * depth, 1/2) (score 'count'), and the weighted sum of the g-values (score 'weighted') "
    "has the exact law of a sum of scaled binomials (stillwatch.core.weighted)."
)


@dataclass(frozen=True)
class RadioactivityConfig:
    """How to run the test. ``max_texts``: scoring texts used (a seeded sample when there are more);
    ``max_new_tokens`` / ``temperature``: the closed setting's answers; ``reanswer_tokens`` /
    ``reanswer_temperature``: the open setting's re-answers (``scoring="suspect"``); ``reanswer_rounds``:
    how many times the suspect answers each scoring prompt (round r samples with seed ``seed + r``; the
    tuples of all rounds are de-duplicated together, so a repeated answer adds nothing);
    ``curve_points``: points of the p-value-versus-tokens curve."""

    setting: str = "open"
    scoring: str = "suspect"
    max_texts: int = 512
    max_new_tokens: int = 128
    temperature: float = 1.0
    reanswer_tokens: int = 128
    reanswer_temperature: float = 1.0
    reanswer_rounds: int = 1
    batch_size: int = 16
    seed: int = 0
    curve_points: int = 12
    alpha: float = 1e-3

    def __post_init__(self) -> None:
        if self.setting not in SETTINGS:
            raise InputError(f"setting must be one of {', '.join(SETTINGS)}, got {self.setting!r}")
        if self.scoring not in SCORING:
            raise InputError(f"scoring must be one of {', '.join(SCORING)}, got {self.scoring!r}")
        for name in ("max_texts", "max_new_tokens", "reanswer_tokens", "reanswer_rounds", "batch_size"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("temperature", "reanswer_temperature"):
            if not getattr(self, name) > 0:
                raise InputError(f"{name} must be > 0, got {getattr(self, name)!r}")
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
    depth: int | None
    curve: list[dict]
    accounts: list[dict] = field(default_factory=list)
    best_account: str | None = None
    best_account_corrected_p_value: float | None = None
    suspect: str = ""
    base: str | None = None
    config: dict = field(default_factory=dict)  # the RadioactivityConfig the test ran with (scoring, re-answers...)
    null_hypothesis: str = NULL_HYPOTHESIS
    #: the provider layer and the named harvest accounts' layers in one exact test (:func:`combined_test`), or None
    combined: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class PredictionCache:
    """Teacher-forced top-1 predictions of local models, computed once per (model, texts).

    A radioactivity study scores the same texts with several keys and models (a control model, a
    wrong key, the suspect) against one base model: the base's predictions do not depend on the key or
    the suspect, so they are computed once. Keyed by the model *object* (two students fine-tuned from
    the same checkpoint share its name, so names cannot tell them apart) and a SHA-256 of the token ids;
    a model's entries are dropped when it is garbage-collected (so its id cannot be reused for another
    model's predictions). Holds predictions only (no key material)."""

    def __init__(self) -> None:
        self._store: dict[tuple, list[np.ndarray]] = {}
        self._watched: set[int] = set()
        self.hits = 0

    @staticmethod
    def _texts_hash(seqs: Sequence[Sequence[int]]) -> str:
        h = hashlib.sha256()
        for s in seqs:
            h.update(np.asarray(s, dtype=np.int64).tobytes() + b"|")
        return h.hexdigest()

    def _forget(self, model_id: int) -> None:
        self._watched.discard(model_id)
        for k in [k for k in self._store if k[0] == model_id]:
            del self._store[k]

    def argmax(self, model: Any, seqs: Sequence[Sequence[int]], batch_size: int) -> list[np.ndarray]:
        key = (id(model), self._texts_hash(seqs))
        if key in self._store:
            self.hits += 1
            return self._store[key]
        out = model.next_token_argmax(seqs, batch_size=batch_size)
        if id(model) not in self._watched:
            weakref.finalize(model, self._forget, id(model))
            self._watched.add(id(model))
        self._store[key] = out
        return out


def model_dtype(model: Any) -> str | None:
    """The dtype a local model computes in (``float32``, ``bfloat16``...), or None when not known."""
    dt = getattr(getattr(model, "model", None), "dtype", None)
    return None if dt is None else str(dt).removeprefix("torch.")


def _argmax(model: Any, seqs: Sequence[Sequence[int]], batch_size: int, cache: PredictionCache | None) -> list[np.ndarray]:
    return cache.argmax(model, seqs, batch_size) if cache is not None else model.next_token_argmax(seqs, batch_size=batch_size)


# ---------------------------------------------------------------------------------------------- pairs
def open_model_pairs(predictions: Sequence[np.ndarray], texts: Sequence[ScoringText], h: int, *,
                     exclude_answers: bool = True, base_predictions: Sequence[np.ndarray] | None = None) -> Pairs:
    """Pairs for the open-model test. ``predictions[i][t]`` is the suspect's top-1 prediction of the id
    after ``texts[i].ids[t]`` (teacher-forced); the pair for it is (ids[t-h+1 : t+1], predictions[t]),
    kept for t >= max(h, score_from) - 1. Exclusions: every (h+1)-window of every text, or, with
    ``exclude_answers=False``, only the windows inside each text's prompt part (``ids[:score_from]``) —
    enough when the scored part is key-independent under H0 (the suspect's own text, or unwatermarked
    reference text): the exclusion of the text's own windows is needed only when the text carries the
    watermark being tested (reading mode), where it keeps the test valid but costs power.

    ``base_predictions`` (the same shapes): the top-1 predictions of the model the suspect is believed
    to be fine-tuned from (differential test): only positions where the suspect's prediction differs
    from the base's are kept — see :func:`differential_note`.

    Requires len(predictions) == len(texts), predictions[i] of shape [len(texts[i].ids)], h >= 1.
    """
    if len(predictions) != len(texts):
        raise ValueError(f"{len(predictions)} prediction arrays for {len(texts)} texts")
    if base_predictions is not None and len(base_predictions) != len(texts):
        raise ValueError(f"{len(base_predictions)} base prediction arrays for {len(texts)} texts")
    ctx_parts, tok_parts, ex_parts = [], [], []
    for i, (pred, text) in enumerate(zip(predictions, texts, strict=True)):
        ids = np.asarray(text.ids, dtype=np.int64)
        pred = np.asarray(pred, dtype=np.int64)
        if pred.shape != ids.shape:
            raise ValueError(f"predictions of shape {pred.shape} for a text of shape {ids.shape}")
        if ids.shape[0] < h:
            continue
        win = np.lib.stride_tricks.sliding_window_view(ids, h)  # [T-h+1, h]; window j ends at t = j+h-1
        first = max(h, text.score_from) - h  # first window index j with t = j+h-1 >= max(h, score_from) - 1
        ctx, tok = win[first:], pred[first + h - 1 :]
        if base_predictions is not None:
            base = np.asarray(base_predictions[i], dtype=np.int64)
            if base.shape != ids.shape:
                raise ValueError(f"base predictions of shape {base.shape} for a text of shape {ids.shape}")
            keep = tok != base[first + h - 1 :]
            ctx, tok = ctx[keep], tok[keep]
        ctx_parts.append(ctx)
        tok_parts.append(tok)
        ex_ids = ids if exclude_answers else ids[: text.score_from]
        if ex_ids.shape[0] > h:
            ex_parts.append(np.lib.stride_tricks.sliding_window_view(ex_ids, h + 1))  # [T-h, h+1]
    return _pairs(ctx_parts, tok_parts, ex_parts, h, len(texts))


def closed_model_pairs(answers: Sequence[np.ndarray], prompts: Sequence[np.ndarray], h: int, *,
                       base_predictions: Sequence[np.ndarray] | None = None) -> Pairs:
    """Pairs for the closed-model test: every (ids[t-h:t], ids[t]) window of every answer; exclusions:
    every (h+1)-window of every prompt. Requires h >= 1. ``base_predictions[i][t]``: a base model's
    top-1 prediction of ``answers[i][t]`` (teacher-forced on prompt + answer); when given, only windows
    whose token differs from it are kept (differential test)."""
    ctx_parts, tok_parts, ex_parts = [], [], []
    for i, ids in enumerate(answers):
        ids = np.asarray(ids, dtype=np.int64)
        if ids.shape[0] > h:
            win = np.lib.stride_tricks.sliding_window_view(ids, h + 1)  # [T-h, h+1]; window j ends at token j+h
            if base_predictions is not None:
                base = np.asarray(base_predictions[i], dtype=np.int64)
                if base.shape != ids.shape:
                    raise ValueError(f"base predictions of shape {base.shape} for an answer of shape {ids.shape}")
                win = win[ids[h:] != base[h:]]
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


def distinct_harvest_accounts(harvest_accounts: Sequence[str]) -> list[str]:
    """``harvest_accounts`` as a list, refused (InputError) if a name repeats: a repeated account's layer would be
    counted twice, and its coins are not independent of themselves."""
    names = list(dict.fromkeys(harvest_accounts))
    if len(names) != len(harvest_accounts):
        raise InputError("a harvest account is named twice: its layer would be counted twice")
    return names


def judged_p_value(p_value: float, combined_p_value: float | None) -> float:
    """The p-value a radioactivity result is judged on. With a combined test (``--harvest-account``) two tests of
    one model are reported — the provider layer alone and with the named accounts' layers — and a reader could
    pick the smaller after seeing both: the smaller times two (Bonferroni over the two) holds the level whichever
    is picked. Without one, the provider test is the one pre-specified test."""
    if combined_p_value is None:
        return float(p_value)
    return min(1.0, 2.0 * min(float(p_value), float(combined_p_value)))


def combined_test(make_pairs: Callable[[int], Pairs], spec: Any, key: Any, account_spec: Any, master: Any,
                  harvest_accounts: Sequence[str]) -> dict:
    """The provider layer (``spec``, ``key``) and the account layers of ``harvest_accounts`` (keys derived from
    ``master``) in one exact test (:func:`stillwatch.mark.score_combined`): H0 — the suspect is independent of
    the provider key and of every named account's key — makes each distinct tuple's g-values under each key
    independent fair coins, and the summed weighted score has an exact lattice law. ``make_pairs(h)`` gives
    the tuples for context width h (each key's tuples de-duplicated under its own spec). The accounts must be
    named before the test (the harvest's accounts); a set chosen by looking at these scores is a search and
    needs a correction for the number of sets tried. With k > 1 accounts the provider layer weighs k and each
    account layer 1 (fixed a priori: a harvest split evenly over the k accounts put each account's layer on 1/k
    of it, and weights proportional to the expected lift maximise the sum's signal-to-noise; with k = 1 both
    weigh 1). Returns the JSON-safe result (no key material)."""
    from stillwatch.mark import LayerTuples, score_combined

    names = distinct_harvest_accounts(harvest_accounts)
    if account_spec is None or master is None:
        raise TraceError("the combined test needs the deployment's account layer spec and the master key")
    by_h: dict[int, Pairs] = {}

    def part(sp, k, m=1):
        h = sp.context_width
        if h not in by_h:
            by_h[h] = make_pairs(h)
        p = by_h[h]
        return LayerTuples(sp, k, p.contexts, p.tokens, p.exclude, multiplier=m)

    res = score_combined([part(spec, key, len(names))] + [part(account_spec, master.account_key(a)) for a in names])
    return {"accounts": names, **res.to_dict()}


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
    base: Any | None = None,
    cache: PredictionCache | None = None,
    harvest_accounts: Sequence[str] = (),
) -> RadioactivityResult:
    """Open-model test of ``suspect`` (a local backend) on ``texts`` (ids in the teacher's tokenizer).
    ``base``: the model the suspect is believed to be fine-tuned from (differential test), in the
    suspect's dtype. ``cache``: reuse predictions already computed for the same (model, texts).
    ``harvest_accounts``: accounts the harvest went through, tested with the provider layer in one exact test
    (:func:`combined_test`; result field ``combined``)."""
    check_open_model(suspect, watermark_tokenizer_id)
    if not texts:
        raise TraceError("no scoring texts for the open-model test")
    seqs = [t.ids.tolist() for t in texts]
    preds = _argmax(suspect, seqs, config.batch_size, cache)
    base_preds = None
    if base is not None:
        check_base(base, watermark_tokenizer_id, suspect)
        base_preds = _argmax(base, seqs, config.batch_size, cache)
    exclude_answers = config.scoring == "transcripts"  # only watermarked scoring text needs its own windows excluded
    return _finish("open", suspect, lambda h: open_model_pairs(preds, texts, h, exclude_answers=exclude_answers,
                                                               base_predictions=base_preds),
                   spec, key, config, account_spec, master, accounts, base, harvest_accounts)


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
    base: Any | None = None,
    base_prompt_ids: Callable[[str], list[int]] | None = None,
    cache: PredictionCache | None = None,
    harvest_accounts: Sequence[str] = (),
) -> RadioactivityResult:
    """Closed-model test: ``suspect.generate`` answers ``prompts``; answers are scored in the teacher's
    token ids (``encode`` re-tokenizes text; with ``same_tokenizer`` the suspect's own completion ids are
    used when it reports them). ``base`` (a local model with the teacher's tokenizer; differential
    test): windows whose token is the base's own top-1 prediction there (teacher-forced on
    ``base_prompt_ids(prompt)`` + answer) are dropped. ``harvest_accounts``: as in :func:`open_model_test`."""
    if not prompts:
        raise TraceError("no prompts for the closed-model test")
    gens = suspect.generate(list(prompts), max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                            seed=config.seed, batch_size=config.batch_size, progress=progress)
    answers = [
        np.asarray(g.completion_ids if (same_tokenizer and g.completion_ids) else encode(g.text), dtype=np.int64)
        for g in gens
    ]
    prompt_ids = [np.asarray(encode(p), dtype=np.int64) for p in prompts]
    base_preds = None
    if base is not None:
        check_base(base, None, suspect if getattr(suspect, "local", False) else None)
        ctx = [list((base_prompt_ids or base.chat_prompt_ids)(p)) for p in prompts]
        full = _argmax(base, [c + a.tolist() for c, a in zip(ctx, answers, strict=True)], config.batch_size, cache)
        # the prediction of answer token t is made at position len(context) + t - 1
        base_preds = [f[len(c) - 1 : len(c) - 1 + len(a)] for f, c, a in zip(full, ctx, answers, strict=True)]
    return _finish("closed", suspect, lambda h: closed_model_pairs(answers, prompt_ids, h, base_predictions=base_preds),
                   spec, key, config, account_spec, master, accounts, base, harvest_accounts)


def differential_note() -> str:
    """Why the differential test is exact: the kept positions are chosen by comparing the suspect's
    and the base model's predictions (or the suspect's text and the base's predictions). Under H0
    both models are independent of the provider key (the base is a public model the key never
    touched), so the kept (context, token) set is key-independent and each distinct tuple is still
    green with probability gamma. Under H1 fine-tuning on watermarked text changes predictions
    mostly towards green tokens, while the unchanged positions only add Binomial(., gamma) noise:
    dropping them keeps the excess of green tuples and removes most of the variance."""
    return differential_note.__doc__ or ""


def check_base(base: Any, watermark_tokenizer_id: str | None, suspect: Any | None = None) -> None:
    """Raise unless ``base`` can serve the differential test: local weights, the teacher's tokenizer and
    (with a local ``suspect``) the suspect's dtype — in bfloat16 against float32, precision alone moved
    the top-1 prediction at 2.3% of positions (SmolLM2), positions the test would then score as departures."""
    if not getattr(base, "local", False):
        raise TraceError(f"the base model {base.name!r} must be local (its teacher-forced predictions are compared)")
    if watermark_tokenizer_id and base.tokenizer_id != watermark_tokenizer_id:
        raise TokenizerMismatchError(f"the base model {base.name!r} does not use the teacher's tokenizer")
    bd, sd = model_dtype(base), model_dtype(suspect) if suspect is not None else None
    if bd and sd and bd != sd:
        raise TraceError(f"the base model computes in {bd} but the suspect in {sd}: load both in the same dtype "
                         f"(precision alone changes top-1 predictions, which the differential test would count)")


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


def _finish(setting, suspect, make_pairs, spec, key, config, account_spec, master, accounts, base=None,
            harvest_accounts=()) -> RadioactivityResult:
    pairs = make_pairs(spec.context_width)
    res, curve = score(pairs, spec, key, curve_points=config.curve_points)
    rows: list[dict] = []
    best, best_p = None, None
    if accounts and account_spec is not None and master is not None:
        acc_pairs = pairs if account_spec.context_width == spec.context_width else make_pairs(account_spec.context_width)
        rows, att = attribute(acc_pairs, account_spec, master, accounts, alpha=config.alpha)
        if att is not None:
            best, best_p = att.best_account, float(att.corrected_p_value)
    combined = None
    if harvest_accounts:
        combined = combined_test(lambda h: pairs if h == spec.context_width else make_pairs(h), spec, key, account_spec,
                                 master, harvest_accounts)
        log.info("combined provider + %d account layer(s): p=%.3g", len(combined["accounts"]), combined["p_value"])
    log.info("%s-model radioactivity: p=%.3g over %d distinct tuples", setting, res.p_value, res.n_scored)
    return RadioactivityResult(
        setting=setting, p_value=float(res.p_value), n_scored=int(res.n_scored), n_green=res.n_green,
        n_tuples=pairs.n, n_texts=pairs.n_texts, gamma=getattr(spec, "gamma", None), spec_fingerprint=spec.fingerprint,
        depth=getattr(spec, "depth", None),
        curve=curve, accounts=rows, best_account=best, best_account_corrected_p_value=best_p, suspect=suspect.name,
        base=None if base is None else base.name, config=config.to_dict(), combined=combined,
    )
