"""The backend interface: batched generation (with an optional logits processor) and
teacher-forced next-token scores.

Token ids are plain Python ints / numpy int64 arrays at this boundary, so that `mark`, `trace`
and `distill` never need to know which framework is behind a backend.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Generation:
    """One answer.

    ``prompt_ids`` are the ids the model was conditioned on (after the chat template), and
    ``completion_ids`` the ids it generated (without padding or the end-of-sequence token);
    both are empty tuples for remote backends that do not expose ids.
    """

    prompt: str
    text: str
    prompt_ids: tuple[int, ...] = ()
    completion_ids: tuple[int, ...] = ()
    finish_reason: str = "stop"


class Backend(abc.ABC):
    """A model that can answer prompts and, where it runs locally, score token sequences.

    Attributes:
        name: a short human-readable name (``smollm2``, ``tiny``, a URL).
        tokenizer_id: a stable fingerprint of the tokenizer (vocabulary + merges); two backends
            with equal ``tokenizer_id`` produce the same ids for the same text.
        vocab_size: number of rows of the output layer (>= the tokenizer's vocabulary).
        local: True when token ids and logits are available (weights on this machine).
    """

    name: str
    tokenizer_id: str
    vocab_size: int
    local: bool = True

    @abc.abstractmethod
    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` with no special tokens and no chat template."""

    @abc.abstractmethod
    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``, skipping special tokens."""

    def chat_prompt_ids(self, prompt: str) -> list[int]:
        """Token ids of ``prompt`` wrapped in the model's chat template, ready for generation."""
        return self.encode(prompt)

    @abc.abstractmethod
    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 128,
        logits_processor: Any | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | None = None,
        batch_size: int = 32,
        progress: Any | None = None,
    ) -> list[Generation]:
        """Answer each prompt (chat template applied), in batches of ``batch_size``.

        ``logits_processor`` is a Hugging Face ``LogitsProcessor`` (or list of them) applied to
        every step; backends that cannot apply one (remote APIs) raise ``BackendError``.
        ``progress`` is an optional callable ``progress(n_done)`` called after each batch.
        Requires max_new_tokens >= 1 and temperature > 0.
        """

    @staticmethod
    def check_generate_args(prompts: Sequence[str], max_new_tokens: int, temperature: float, top_k: int | None, batch_size: int) -> list[str]:
        """Validate :meth:`generate`'s arguments (shared by every backend); returns the prompts as a list."""
        from stillwatch.errors import InputError

        if isinstance(prompts, str):
            raise InputError("prompts must be a list of strings, not a single string")
        prompts = list(prompts)
        if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise InputError(f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}")
        if not temperature > 0:
            raise InputError(f"temperature must be > 0, got {temperature!r}")
        if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
            raise InputError(f"top_k must be None or an int >= 1, got {top_k!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be an int >= 1, got {batch_size!r}")
        return prompts

    def next_token_logits(self, sequences: Sequence[Sequence[int]], *, batch_size: int = 16) -> list[np.ndarray]:
        """Teacher-forced scores: for each sequence of T ids, a float32 array [T, V] whose row t
        holds the logits of the token after position t. Local backends only."""
        from stillwatch.errors import BackendError

        raise BackendError(f"backend {self.name!r} does not expose logits (remote model)")

    def next_token_argmax(self, sequences: Sequence[Sequence[int]], *, batch_size: int = 16) -> list[np.ndarray]:
        """Teacher-forced top-1 predictions: for each sequence of T ids, an int64 array [T] whose
        entry t is the model's most likely next token after position t. Local backends only;
        cheaper than :meth:`next_token_logits` (no [T, V] copy leaves the model)."""
        return [np.asarray(lg.argmax(axis=-1), dtype=np.int64) for lg in self.next_token_logits(sequences, batch_size=batch_size)]
