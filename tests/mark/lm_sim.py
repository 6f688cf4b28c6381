"""A synthetic language model for fast, torch-free watermark tests: random bigram logits over a small
vocabulary, sampled step by step (vectorised over the batch) with an optional Marker bias."""

from __future__ import annotations

import numpy as np


class BigramLM:
    def __init__(self, vocab: int = 2000, temperature: float = 1.0, seed: int = 0):
        rng = np.random.default_rng(seed)
        # heavy-tailed logits: a few likely continuations per token, like real text
        self.logits = (rng.standard_normal((vocab, vocab)) * 2.5 / temperature).astype(np.float32)
        self.vocab = vocab

    def sample(self, batch: int, length: int, marker=None, seed: int = 1, prompt_len: int = 4) -> np.ndarray:
        """int64 [batch, prompt_len + length]; the first prompt_len ids are a random prompt."""
        rng = np.random.default_rng(seed)
        ids = rng.integers(0, self.vocab, size=(batch, prompt_len))
        for _ in range(length):
            lg = self.logits[ids[:, -1]].astype(np.float64)  # [B, V]
            if marker is not None and marker.uses_tournament:  # the whole vocabulary as candidates
                rows = np.repeat(np.arange(batch), self.vocab)
                cols = np.tile(np.arange(self.vocab), batch)
                z = (lg - lg.max(axis=1, keepdims=True)).reshape(-1)
                p = np.exp(marker.tournament_logprobs(ids[:, -marker.context_width :], rows, cols, z)[0]).reshape(batch, self.vocab)
                nxt = (p.cumsum(axis=1) > rng.random((batch, 1))).argmax(axis=1)
                ids = np.concatenate([ids, nxt[:, None]], axis=1)
                continue
            if marker is not None:
                rows = np.repeat(np.arange(batch), self.vocab)
                cols = np.tile(np.arange(self.vocab), batch)
                z = (lg - lg.max(axis=1, keepdims=True)).reshape(-1)
                bias, gkey = marker.bias_flat(ids[:, -marker.context_width :], rows, cols, z)
                if gkey is not None:
                    gk = gkey.reshape(batch, self.vocab)
                    nxt = gk.argmax(axis=1)
                    covered = np.isfinite(gk.max(axis=1))
                    lg = lg + bias.reshape(batch, self.vocab)
                    p = np.exp(lg - lg.max(axis=1, keepdims=True))
                    p /= p.sum(axis=1, keepdims=True)
                    sampled = (p.cumsum(axis=1) > rng.random((batch, 1))).argmax(axis=1)
                    nxt = np.where(covered, nxt, sampled)
                    ids = np.concatenate([ids, nxt[:, None]], axis=1)
                    continue
                lg = lg + bias.reshape(batch, self.vocab)
            p = np.exp(lg - lg.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            nxt = (p.cumsum(axis=1) > rng.random((batch, 1))).argmax(axis=1)
            ids = np.concatenate([ids, nxt[:, None]], axis=1)
        return ids
