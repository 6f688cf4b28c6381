"""Asking models for their greedy answer prefix, and caching the panel's answers.

A model is queried for the greedy start of its answer (``max_tokens`` tokens, 1 by default) and the
answer is kept as *decoded text*, so models with different tokenizers are compared as strings.

* A local model (:class:`~stillwatch.models.base.Backend` with weights) answers by teacher-forced
  argmax over the prompt ids (one forward pass per batch, no sampling): ``mode="chat"`` wraps the
  prompt in the model's chat template (what an API serves), ``mode="raw"`` continues the text as is
  (the setting of Nikolic et al. 2025). ``max_tokens > 1``: greedy generation in chat mode, and in
  raw mode the teacher-forced argmax repeated (the greedy token appended, up to end of sequence).
* A remote model (an OpenAI-compatible URL) gets ``max_tokens``, ``temperature=0`` and asks for
  ``logprobs``; when the server returns them, the answer is the top-logprob token of each position
  (the exact greedy token even if the server samples), else the returned text. Servers that refuse
  ``logprobs`` are asked again without it.

:class:`AnswerCache` keeps each panel model's answers on disk under a key made of the model's
identity, the prompt set and the query settings, and stores the prompts' hash beside them: re-testing
a new suspect against the same panel costs only the suspect's queries.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from stillwatch.errors import BackendError, InputError
from stillwatch.models.base import Backend

log = logging.getLogger(__name__)

MODES = ("chat", "raw")


def prompts_digest(prompts: Sequence[str]) -> str:
    """sha256 of the prompt list (order and content)."""
    h = hashlib.sha256()
    for p in prompts:
        h.update(hashlib.sha256(p.encode("utf-8")).digest())
    return h.hexdigest()


class LocalModel:
    """Greedy answers of a local backend. ``identity`` names the weights in cache keys (default: the
    backend's name and tokenizer fingerprint; pass a content hash for directories that change)."""

    modes = MODES

    def __init__(self, backend: Backend, *, identity: str | None = None, batch_size: int = 16) -> None:
        if not getattr(backend, "local", False):
            raise InputError(f"backend {backend.name!r} is remote; use RemoteModel for a URL")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be an int >= 1, got {batch_size!r}")
        self.backend = backend
        self.name = backend.name
        self.identity = identity or f"local:{backend.name}:{backend.tokenizer_id}"
        self.batch_size = batch_size

    def _raw_ids(self, text: str) -> list[int]:
        tok = getattr(self.backend, "tokenizer", None)
        if tok is None:
            return self.backend.encode(text)
        return [int(i) for i in tok.encode(text, add_special_tokens=True)]

    def answers(self, prompts: Sequence[str], *, max_tokens: int = 1, mode: str = "chat") -> list[str]:
        """The decoded greedy answer prefix for each prompt (``""`` when the model ends at once)."""
        _check_query(max_tokens, mode)
        if not prompts:
            return []
        if max_tokens > 1 and mode == "chat":
            gens = self.backend.generate(list(prompts), max_new_tokens=max_tokens, top_k=1, batch_size=self.batch_size)
            return [g.text for g in gens]
        ids = self._prompt_ids(prompts, mode)
        eos = set(getattr(self.backend, "eos_token_ids", ()) or ())
        if max_tokens > 1:
            return _greedy_raw(self.backend, ids, max_tokens, eos, self.batch_size)
        last = _last_argmax(self.backend, ids, self.batch_size)  # [P] greedy next token
        return ["" if int(t) in eos else self.backend.decode([int(t)]) for t in last]

    def _prompt_ids(self, prompts: Sequence[str], mode: str) -> list[list[int]]:
        """Each prompt's ids in ``mode`` (the chat template, or the text as is); a prompt of no tokens is an error."""
        ids = [self.backend.chat_prompt_ids(p) if mode == "chat" else self._raw_ids(p) for p in prompts]
        empty = [i for i, x in enumerate(ids) if not x]
        if empty:
            raise InputError(f"prompt {prompts[empty[0]]!r} encodes to no tokens for {self.name!r}")
        return ids

    def distributions(self, prompts: Sequence[str], *, mode: str = "chat", k: int = 20) -> list[tuple[list[str], list[float]]] | None:
        """The top-``k`` next tokens after each prompt (decoded; ``""`` for end of sequence) and their
        probabilities, in decreasing order: what an API's ``top_logprobs`` returns, from the same forward pass as
        the greedy answer (its first token is the greedy answer). ``None`` for a backend without logits."""
        _check_query(1, mode)
        if not isinstance(k, int) or not 1 <= k <= 100:
            raise InputError(f"k must be an int in 1..100, got {k!r}")
        if not prompts:
            return []
        if not _has_head(self.backend):
            return None
        ids = self._prompt_ids(prompts, mode)
        eos = set(getattr(self.backend, "eos_token_ids", ()) or ())
        top, prob = _last_topk(self.backend, ids, self.batch_size, k)  # [P, k] each; -1: past a small vocabulary
        return [(["" if int(t) in eos else self.backend.decode([int(t)]) for t in row if t >= 0],
                 [float(x) for x, t in zip(pr, row) if t >= 0]) for row, pr in zip(top, prob)]


def _has_head(backend: Backend) -> bool:
    model = getattr(backend, "model", None)
    return model is not None and hasattr(model, "get_decoder") and hasattr(model, "get_output_embeddings")


def _greedy_raw(backend: Backend, ids: list[list[int]], max_tokens: int, eos: set[int], batch_size: int) -> list[str]:
    """Greedy continuation of ``max_tokens`` tokens (or up to end of sequence) after each id list: the
    teacher-forced argmax of :func:`_last_argmax`, appended and asked again (no KV cache: meant for
    the small suspects, e.g. byte-level models, that need a few tokens to say a word)."""
    seqs = [list(x) for x in ids]
    new: list[list[int]] = [[] for _ in ids]
    alive = np.arange(len(ids))
    for _ in range(max_tokens):  # one step per token for every live sequence at once
        if not alive.size:
            break
        nxt = _last_argmax(backend, [seqs[i] for i in alive], batch_size)
        ended = np.isin(nxt, list(eos)) if eos else np.zeros(alive.size, bool)
        for i, t in zip(alive[~ended], nxt[~ended]):  # per sequence, not per token
            seqs[i].append(int(t))
            new[i].append(int(t))
        alive = alive[~ended]
    return [backend.decode(t) if t else "" for t in new]


def _last_argmax(backend: Backend, ids: list[list[int]], batch_size: int) -> np.ndarray:
    """Greedy next token after each sequence (the argmax of :func:`_last_logits` for a transformers model; other
    backends use ``next_token_argmax``)."""
    if not _has_head(backend):
        return np.array([t[-1] for t in backend.next_token_argmax(ids, batch_size=batch_size)], dtype=np.int64)
    out = np.empty(len(ids), dtype=np.int64)
    for idx, logits in _last_logits(backend, ids, batch_size):
        out[idx] = logits.argmax(dim=-1).cpu().numpy()
    return out


def _last_topk(backend: Backend, ids: list[list[int]], batch_size: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most likely next tokens after each sequence and their probabilities (``[P, k]`` each, in
    decreasing order; the softmax is over the tokenizer's rows, :func:`_last_logits`). A vocabulary smaller than
    ``k`` fills the rest of a row with token -1 at probability 0."""
    import torch

    top = np.full((len(ids), k), -1, dtype=np.int64)
    prob = np.zeros((len(ids), k), dtype=np.float64)
    for idx, logits in _last_logits(backend, ids, batch_size):
        kk = min(k, logits.shape[-1])  # a vocabulary smaller than k: all of it
        p, t = torch.softmax(logits.float(), dim=-1).topk(kk, dim=-1)  # [B, kk]
        top[idx, :kk], prob[idx, :kk] = t.cpu().numpy(), p.double().cpu().numpy()
    return top, prob


def _last_logits(backend: Backend, ids: list[list[int]], batch_size: int):
    """Per batch, ``(idx, logits)``: the sequences' indices and their next-token logits ``[B, V]`` over the
    tokenizer's rows (output rows past its vocabulary, padding rows an untrained model may favour, are never a
    token, as in generation). Only the last real position goes through the output layer (right padding; the
    decoder's hidden state at that position is gathered first): with a large vocabulary (Gemma's 262k rows) the
    output layer over every position costs more than the whole decoder. Batches hold sequences of similar
    lengths; the backend's thread count holds while the batches are read."""
    import torch

    model = backend.model
    pad = int(getattr(backend, "pad_token_id", 0) or 0)
    tok = getattr(backend, "tokenizer", None)
    n_tok = len(tok) if tok is not None else None  # None: every output row
    order = np.argsort([len(x) for x in ids], kind="stable")  # similar lengths together
    old_threads = torch.get_num_threads()
    threads = getattr(backend, "num_threads", None)
    try:
        if threads:
            torch.set_num_threads(threads)
        with torch.inference_mode():
            for start in range(0, len(ids), batch_size):
                idx = order[start : start + batch_size]
                lens = np.array([len(ids[i]) for i in idx])
                arr = np.full((len(idx), int(lens.max())), pad, dtype=np.int64)  # [B, T]
                mask = np.zeros_like(arr)
                for r, i in enumerate(idx):  # per sequence in the batch, not per token
                    arr[r, : lens[r]] = ids[i]
                    mask[r, : lens[r]] = 1
                dev = model.device
                hidden = model.get_decoder()(input_ids=torch.from_numpy(arr).to(dev),
                                             attention_mask=torch.from_numpy(mask).to(dev), use_cache=False).last_hidden_state
                h = hidden[torch.arange(len(idx)), torch.from_numpy(lens - 1).to(dev)]  # [B, H]
                yield idx, model.get_output_embeddings()(h)[:, :n_tok]  # [B, V]
    finally:
        torch.set_num_threads(old_threads)


class RemoteModel:
    """Greedy answers from an OpenAI-compatible chat completions API (official ``openai`` client).
    It serves chat mode only: as a panel model it sits raw mode out."""

    modes = ("chat",)

    def __init__(self, base_url: str, *, model: str | None = None, api_key: str | None = None,
                 concurrency: int = 8, timeout: float = 60.0, max_retries: int = 3) -> None:
        import openai

        from stillwatch.models.openai_api import OpenAIBackend

        if not isinstance(concurrency, int) or concurrency < 1:
            raise InputError(f"concurrency must be an int >= 1, got {concurrency!r}")
        # The project's backend resolves the URL and the model name (GET /models, with retries); its
        # generate() samples (temperature > 0) and returns no logprobs, so greedy queries go through
        # a client of our own to the same URL.
        self.backend = OpenAIBackend(base_url, model=model, api_key=api_key, timeout=timeout, max_retries=max_retries)
        self.base_url = self.backend.base_url
        self._api_key = api_key or os.environ.get("OPENAI_API_KEY") or "no-key"
        self._client = openai.OpenAI(base_url=self.base_url, api_key=self._api_key, timeout=timeout, max_retries=max_retries)
        self.concurrency = concurrency
        self.name = self.backend.name
        self.identity = f"remote:{self.name}"
        self._logprobs = True
        self._answered: dict[str, str] = {}  # one-token answers a distribution request got without logprobs

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***")

    @property
    def model(self) -> str:
        """The model name requested (asked from the server once, when not given)."""
        return self.backend.model

    def _guard(self, fn: Callable[[], Any], what: str) -> Any:
        import openai

        try:
            return fn()
        except openai.OpenAIError as exc:
            raise BackendError(f"the API at {self.base_url} failed to {what}: {self._redact(str(exc))}") from None

    def _one(self, prompt: str, max_tokens: int) -> str:
        import openai

        params: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": prompt}],
                                  "max_tokens": max_tokens, "temperature": 0.0}
        if self._logprobs:
            try:
                resp = self._client.chat.completions.create(**params, logprobs=True, top_logprobs=1)
            except openai.BadRequestError:
                log.info("API %s refused logprobs; asking for text only", self.base_url)
                self._logprobs = False
                return self._one(prompt, max_tokens)
            except openai.OpenAIError as exc:
                raise BackendError(f"the API at {self.base_url} failed to answer: {self._redact(str(exc))}") from None
        else:
            resp = self._guard(lambda: self._client.chat.completions.create(**params), "answer")
        if not resp.choices:
            raise BackendError(f"the API at {self.base_url} returned no choices")
        choice = resp.choices[0]
        content = getattr(getattr(choice, "logprobs", None), "content", None)
        if content:
            return "".join((c.top_logprobs[0].token if c.top_logprobs else c.token) for c in content)
        return choice.message.content or ""

    def _dist(self, prompt: str, k: int) -> tuple[list[str], list[float]] | None:
        """One query's top-``k`` first tokens and probabilities, or None when the server gives none (an answer it gave
        without them is kept for :meth:`answers`, so that prompt is not asked twice)."""
        import math

        import openai

        params: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": prompt}],
                                  "max_tokens": 1, "temperature": 0.0, "logprobs": True, "top_logprobs": k}
        try:
            resp = self._client.chat.completions.create(**params)
        except openai.BadRequestError:
            return None
        except openai.OpenAIError as exc:
            raise BackendError(f"the API at {self.base_url} failed to answer: {self._redact(str(exc))}") from None
        if not resp.choices:
            raise BackendError(f"the API at {self.base_url} returned no choices")
        content = getattr(getattr(resp.choices[0], "logprobs", None), "content", None)
        if not content:  # an empty answer (end of sequence at once) or no logprobs at all
            text = resp.choices[0].message.content or ""
            if content is not None and not text:
                return [""], [1.0]
            self._answered[prompt] = text
            return None
        top = content[0].top_logprobs or []
        if not top:
            return None
        toks = [t.token for t in top]
        probs = [min(1.0, max(0.0, math.exp(t.logprob))) if t.logprob is not None else 0.0 for t in top]
        return toks, probs

    def distributions(self, prompts: Sequence[str], *, mode: str = "chat", k: int = 20) -> list[tuple[list[str], list[float]]] | None:
        """Each prompt's top-``k`` first tokens and probabilities from ``top_logprobs`` (one query each), or
        None when the server does not give them (refused, or missing from any answer): the caller then asks
        :meth:`answers`."""
        _check_query(1, mode)
        if mode != "chat":
            raise InputError(f"a remote model ({self.name}) is queried in chat mode only")
        if not isinstance(k, int) or not 1 <= k <= 20:
            raise InputError(f"k must be an int in 1..20 (the API's top_logprobs), got {k!r}")
        if not self._logprobs or not prompts:
            return None if not self._logprobs else []
        first = self._dist(prompts[0], k)  # alone: a server that refuses costs one request, not a look's worth
        got = [first]
        if first is not None and len(prompts) > 1:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts) - 1)) as pool:
                got += list(pool.map(lambda p: self._dist(p, k), prompts[1:]))
        if any(g is None for g in got):
            log.info("API %s gave no top_logprobs; asking for answers only", self.base_url)
            self._logprobs = False
            return None
        return got

    def answers(self, prompts: Sequence[str], *, max_tokens: int = 1, mode: str = "chat") -> list[str]:
        _check_query(max_tokens, mode)
        if mode != "chat":
            raise InputError(f"a remote model ({self.name}) is queried in chat mode only")
        kept = {p: self._answered.pop(p) for p in prompts if p in self._answered} if max_tokens == 1 else {}
        if kept:  # answered already, by a distribution request the server gave no logprobs
            rest = [p for p in prompts if p not in kept]
            new = iter(self.answers(rest, max_tokens=1) if rest else [])
            return [kept[p] if p in kept else next(new) for p in prompts]
        self.model  # resolve once, before the threads start  # noqa: B018
        with ThreadPoolExecutor(max_workers=min(self.concurrency, max(1, len(prompts)))) as pool:
            return list(pool.map(lambda p: self._one(p, max_tokens), prompts))


def _check_query(max_tokens: int, mode: str) -> None:
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or not 1 <= max_tokens <= 16:
        raise InputError(f"max_tokens must be an int in 1..16, got {max_tokens!r}")
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")


def open_model(spec: str, *, api_key: str | None = None, batch_size: int = 16) -> LocalModel | RemoteModel:
    """A model named as on the command line: an ``http(s)://`` URL (optionally ``URL#model``), or
    anything :func:`~stillwatch.models.load_backend` opens (``smollm2``, ``tiny``, a directory).
    A directory's identity includes its files' sizes and modification times."""
    from stillwatch.models import load_backend

    text = str(spec).strip()
    if text.lower().startswith(("http://", "https://")):
        url, _, model = text.partition("#")
        return RemoteModel(url, model=model or None, api_key=api_key)
    backend = load_backend(text)
    path = Path(text).expanduser()
    identity = None
    if path.is_dir():
        stamp = sorted((f.name, f.stat().st_size, int(f.stat().st_mtime)) for f in path.iterdir() if f.is_file())
        identity = f"dir:{path.resolve()}:{hashlib.sha256(json.dumps(stamp).encode()).hexdigest()[:16]}"
    return LocalModel(backend, identity=identity, batch_size=batch_size)


class AnswerCache:
    """Answers of panel models on disk, one JSON file per (model identity, prompt set, settings).

    A file records the prompts' digest; a hit requires the same digest, so changing the sampler can
    never serve stale answers. Writes are atomic (temporary file + rename)."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory).expanduser()

    def _path(self, identity: str, digest: str, mode: str, max_tokens: int) -> Path:
        key = hashlib.sha256(f"{identity}|{digest}|{mode}|{max_tokens}".encode()).hexdigest()[:32]
        return self.directory / f"{key}.json"

    def get(self, identity: str, prompts: Sequence[str], mode: str, max_tokens: int) -> list[str] | None:
        got = self.get_json(identity, prompts, mode, max_tokens)
        return None if got is None else [str(a) for a in got]

    def get_json(self, identity: str, prompts: Sequence[str], mode: str, max_tokens: int) -> list | None:
        """The stored list as written (one JSON value per prompt: answers, or e.g. [tokens, probabilities] pairs),
        or None when absent, unreadable, of another prompt set or of another length."""
        digest = prompts_digest(prompts)
        path = self._path(identity, digest, mode, max_tokens)
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        answers = rec.get("answers")
        if rec.get("prompts_sha256") != digest or not isinstance(answers, list) or len(answers) != len(prompts):
            return None
        return answers

    def put(self, identity: str, prompts: Sequence[str], mode: str, max_tokens: int, answers: Sequence) -> None:
        """Store one JSON value per prompt (answers; :meth:`get_json` reads any such list back)."""
        digest = prompts_digest(prompts)
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(identity, digest, mode, max_tokens)
        rec = {"identity": identity, "prompts_sha256": digest, "mode": mode, "max_tokens": max_tokens, "answers": list(answers)}
        fd, tmp = tempfile.mkstemp(prefix=".answers-", dir=self.directory)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(rec, fh, ensure_ascii=False)
        os.replace(tmp, path)


def cached_answers(model: LocalModel | RemoteModel, prompts: Sequence[str], *, mode: str, max_tokens: int,
                   cache: AnswerCache | None) -> tuple[list[str], bool]:
    """The model's answers, from ``cache`` when present (returns ``(answers, was_cached)``)."""
    if cache is not None:
        hit = cache.get(model.identity, prompts, mode, max_tokens)
        if hit is not None:
            return hit, True
    answers = model.answers(prompts, max_tokens=max_tokens, mode=mode)
    if cache is not None:
        cache.put(model.identity, prompts, mode, max_tokens, answers)
    return answers, False


def cached_distributions(model: LocalModel | RemoteModel, prompts: Sequence[str], *, mode: str, k: int,
                         cache: AnswerCache | None) -> list[tuple[list[str], list[float]]] | None:
    """The model's top-``k`` next-token distributions on ``prompts`` (cached under ``<identity>:top<k>``), or None
    where it gives none (a mode it does not serve; an API without ``top_logprobs``; nothing is cached then). All or
    none: a model asked again after a refusal is asked again."""
    ident = f"{model.identity}:top{k}"
    hit = cache.get_json(ident, prompts, mode, 1) if cache is not None else None
    if hit is not None:
        return [(list(t), [float(x) for x in p]) for t, p in hit]
    if mode not in getattr(model, "modes", MODES) or not hasattr(model, "distributions"):
        return None
    got = model.distributions(prompts, mode=mode, k=k)
    if got is not None and cache is not None:
        cache.put(ident, prompts, mode, 1, [[list(t), list(p)] for t, p in got])
    return got


def read_candidates(path) -> tuple[list[str], list[str]]:
    """Parse a candidates file: one model per line (``smollm2``, ``tiny``, a directory, a URL);
    a line ``reference: MODEL`` adds an independent reference model (never attributed); blank lines
    and lines starting with ``#`` are ignored (a URL may end in ``#model``). Returns (candidates, references)."""
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise InputError(f"candidates file not found: {p}")
    cands: list[str] = []
    refs: list[str] = []
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"candidates file {p} is not UTF-8 text (byte {exc.start})") from None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("reference:"):
            spec = line.split(":", 1)[1].strip()
            if not spec:
                raise InputError(f"{p}:{lineno}: 'reference:' names no model")
            refs.append(spec)
        else:
            cands.append(line)
    if not cands:
        raise InputError(f"candidates file {p} names no candidate parent")
    if len(cands) + len(refs) < 2:
        raise InputError(f"candidates file {p} needs at least 2 models (a candidate and a rival); add a 'reference: MODEL' line")
    return cands, refs
