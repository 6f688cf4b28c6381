"""`Marker`: both watermark layers for one account, as a generation-time bias.

The numpy method :meth:`Marker.bias_candidates` is the single implementation of the bias; the Hugging
Face processor (:mod:`stillwatch.mark.hf_processor`) only moves tensors to and from it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from stillwatch.core import prf, schemes, tournament
from stillwatch.errors import InputError
from stillwatch.mark.config import MarkConfig
from stillwatch.mark.detect import split_mask
from stillwatch.mark.keys import LayerKey, MasterKey
from stillwatch.mark.spec import WatermarkSpec


@dataclass(frozen=True)
class Layer:
    spec: WatermarkSpec
    key: LayerKey


class Marker:
    """The provider layer plus (optionally) one account's layer.

    Args:
        master: the provider's master secret.
        account_id: the account whose layer to add; None for provider layer only.
        config: the deployment's :class:`MarkConfig`.
        vocab_size: rows of the model's output layer (validated against candidate ids).
    """

    def __init__(self, master: MasterKey, account_id: str | None, config: MarkConfig | None = None, vocab_size: int | None = None):
        if not isinstance(master, MasterKey):
            raise InputError(f"master must be a MasterKey, got {type(master).__name__}")
        if vocab_size is not None and (not isinstance(vocab_size, int) or vocab_size < 2):
            raise InputError(f"vocab_size must be an integer >= 2, got {vocab_size!r}")
        self.config = config or MarkConfig.default()
        self.account_id = account_id
        self.vocab_size = vocab_size
        layers = []
        if account_id is not None and self.config.account is not None:
            layers.append(Layer(self.config.account_spec(account_id), master.account_key(account_id)))
        layers.append(Layer(self.config.provider_spec(), master.provider_key()))
        # KGW layers first, the (at most one) Gumbel layer last: it samples from the biased distribution.
        self.layers: tuple[Layer, ...] = tuple(sorted(layers, key=lambda l: l.spec.scheme == "gumbel"))
        self.context_width = max(l.spec.context_width for l in self.layers)

    def __repr__(self) -> str:
        return f"Marker(account_id={self.account_id!r}, layers={[l.spec.key_id for l in self.layers]})"

    @property
    def provider_spec(self) -> WatermarkSpec:
        return next(l.spec for l in self.layers if l.spec.layer == "provider")

    @property
    def account_spec(self) -> WatermarkSpec | None:
        return next((l.spec for l in self.layers if l.spec.layer == "account"), None)

    def spec_record(self) -> dict[str, Any]:
        """JSON-safe description of the watermark on an answer: both specs and a combined fingerprint."""
        prov = self.provider_spec.to_dict()
        acc = self.account_spec.to_dict() if self.account_spec is not None else None
        body = json.dumps({"provider": prov, "account": acc}, sort_keys=True, separators=(",", ":")).encode()
        rec = {
            "provider": prov,
            "account": acc,
            "sharing": self.config.sharing,
            "fingerprint": "sha256:" + hashlib.sha256(body).hexdigest(),
        }
        if self.uses_tournament:  # generation-only setting (detection does not need it), recorded for reproduction
            rec["order"] = self.config.order
        return rec

    def bias_flat(self, context: np.ndarray, rows: np.ndarray, ids: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Apply every layer to M candidate (row, token) pairs of a batch of B rows.

        Args:
            context: int64 [B, >= context_width] — the last ids of each row (left padding is fine as
                long as each row has at least context_width real ids).
            rows: int64 [M] — row of each candidate, in 0..B-1.
            ids: int64 [M] — candidate token ids.
            z: float [M] — candidate logits minus any per-row constant (e.g. the row maximum).
        Returns:
            (bias float32 [M] to add to the candidates' logits,
             gumbel keys float64 [M] or None when there is no Gumbel layer: the Gumbel layer picks, in
             each row, the candidate with the largest key; rows the Gumbel layer does not cover (split
             sharing) have keys -inf).
        Pure: inputs are not modified.
        """
        context = np.asarray(context, dtype=np.int64)
        rows = np.asarray(rows, dtype=np.int64)
        ids = np.asarray(ids, dtype=np.int64)
        B = context.shape[0]
        if context.ndim != 2 or context.shape[1] < self.context_width:
            raise InputError(f"context must have shape [B, >= {self.context_width}], got {context.shape}")
        if rows.shape != ids.shape or ids.shape != np.shape(z):
            raise InputError(f"rows, ids and z must have the same shape [M], got {rows.shape}, {ids.shape}, {np.shape(z)}")
        if rows.size and (rows.min() < 0 or rows.max() >= B):
            raise InputError(f"rows must be in 0..{B - 1}")
        if self.vocab_size is not None and ids.size and ids.max() >= self.vocab_size:
            raise InputError(f"candidate id {int(ids.max())} is outside the vocabulary of size {self.vocab_size}")
        bias = np.zeros(ids.shape, dtype=np.float32)
        gkey = None
        for layer in self.layers:
            spec = layer.spec
            if spec.scheme == "tournament":  # acts in tournament_logprobs, not as a bias
                continue
            ctx = context[:, context.shape[1] - spec.context_width :]
            active = split_mask(ctx, spec)  # [B] or None
            folds = prf.fold(ctx)[rows]  # [M]
            k0, k1 = layer.key.words
            if spec.scheme == "kgw":
                green = schemes.kgw_green(k0, k1, folds, ids, spec.gamma)  # [M]
                if active is not None:
                    green &= active[rows]
                bias += np.float32(spec.delta) * green
            else:
                r = schemes.gumbel_uniforms(k0, k1, folds, ids)  # [M]
                with np.errstate(over="ignore"):
                    gkey = np.log(r) / np.exp(np.asarray(z, dtype=np.float64) + bias)
                if active is not None:
                    gkey = np.where(active[rows], gkey, -np.inf)
        return bias, gkey

    @property
    def uses_tournament(self) -> bool:
        """True when a layer is a tournament layer: generation then goes through :meth:`tournament_logprobs`."""
        return any(l.spec.scheme == "tournament" for l in self.layers)

    def _play_order(self) -> list[Layer]:
        """The tournament layers in the order of ``config.order`` (the KGW layers are not played)."""
        by = {l.spec.layer: l for l in self.layers if l.spec.scheme == "tournament"}
        first = ("provider", "account") if self.config.order == "provider_first" else ("account", "provider")
        return [by[name] for name in first if name in by]

    def tournament_logprobs(self, context: np.ndarray, rows: np.ndarray, ids: np.ndarray, z: np.ndarray,
                            z_rest: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Log-distribution of the next token under every layer, on M candidate (row, token) pairs.

        KGW layers add their bias to the candidates first; the tournament layers then transform the
        resulting distribution by equation (1) of :mod:`stillwatch.core.tournament` (closed form of
        Dathathri et al.'s tournament sampling), in the play order of ``config.order``. The tokens that
        are not candidates play as one more candidate per row (id ``tournament.REST_TOKEN``, logit
        ``z_rest``: the log of their total mass): if it wins, the sampler draws within them from the
        model's own distribution, so restricting the work to candidates changes nothing in expectation
        over keys. A row where a layer is inactive (split sharing) plays it with all g-values 0, which
        leaves the distribution unchanged. Sampling from the result is sampling from the tournament.

        Args:
            context: int64 [B, >= context_width] — the last ids of each row.
            rows: int64 [M] — row of each candidate; ids: int64 [M] — candidate token ids.
            z: float [M] — candidate logits minus a per-row constant c_b (e.g. the row maximum).
            z_rest: float [B] — log of the total exp(logit - c_b) of each row's other tokens
                (-inf or None: the candidates are the whole vocabulary).
        Returns:
            (log-probabilities float64 [M] of the candidates, of the rest float64 [B]; -inf = 0). Pure.
        """
        context = np.asarray(context, dtype=np.int64)
        rows, ids = np.asarray(rows, dtype=np.int64), np.asarray(ids, dtype=np.int64)
        z = np.asarray(z, dtype=np.float64)
        B = context.shape[0]
        z_rest = np.full(B, -np.inf) if z_rest is None else np.asarray(z_rest, dtype=np.float64)
        if z_rest.shape != (B,):
            raise InputError(f"z_rest must have shape [{B}], got {z_rest.shape}")
        z = z + self.bias_flat(context, rows, ids, z)[0]  # KGW layers' bias (0 without one); validates the inputs
        has_rest = np.nonzero(np.isfinite(z_rest))[0]  # [R]
        rows_all = np.concatenate([rows, has_rest])  # [M + R]
        ids_all = np.concatenate([ids, np.full(has_rest.shape, tournament.REST_TOKEN, dtype=np.int64)])
        with np.errstate(under="ignore"):
            w = np.exp(np.concatenate([z, z_rest[has_rest]]))  # z <= a few nats above c_b: no overflow
        p = w / np.bincount(rows_all, weights=w, minlength=B)[rows_all]  # [M + R]
        g_all = self._play_g(context, rows_all, ids_all)  # [depth, M + R]
        with np.errstate(divide="ignore"):
            out = np.log(tournament.winner_flat(p, rows_all, B, g_all))  # [M + R]
        rest = np.full(B, -np.inf)
        rest[has_rest] = out[rows.shape[0] :]
        return out[: rows.shape[0]], rest

    def tournament_logprobs_dense(self, context: np.ndarray, ids: np.ndarray, z: np.ndarray,
                                  z_rest: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`tournament_logprobs` with the same number K of candidates in every row (what the
        processor's top-K gives): ids int64 [B, K], z float [B, K] (-inf = not a candidate: probability 0,
        its mass must then be in ``z_rest``), z_rest float [B]. Returns (log-probabilities [B, K], of the
        rest [B]); the same numbers as the flat form on the same candidates (tested), computed on a
        [B, K + 1] array (the rest as column K) with :func:`stillwatch.core.tournament.winner_dense`."""
        context = np.asarray(context, dtype=np.int64)
        ids = np.asarray(ids, dtype=np.int64)
        z = np.asarray(z, dtype=np.float64)
        B = context.shape[0]
        if ids.ndim != 2 or ids.shape[0] != B or z.shape != ids.shape:
            raise InputError(f"ids and z must have the same shape [{B}, K], got {ids.shape} and {z.shape}")
        z_rest = np.full(B, -np.inf) if z_rest is None else np.asarray(z_rest, dtype=np.float64)
        if z_rest.shape != (B,):
            raise InputError(f"z_rest must have shape [{B}], got {z_rest.shape}")
        K = ids.shape[1]
        rows = np.broadcast_to(np.arange(B)[:, None], (B, K + 1))  # [B, K + 1]
        bias = self.bias_flat(context, rows[:, :K].ravel(), ids.ravel(), np.where(np.isfinite(z), z, 0.0).ravel())[0]
        z_all = np.concatenate([z + bias.reshape(B, K), z_rest[:, None]], axis=1)  # [B, K + 1]
        ids_all = np.concatenate([ids, np.full((B, 1), tournament.REST_TOKEN, dtype=np.int64)], axis=1)
        with np.errstate(under="ignore", invalid="ignore"):
            w = np.exp(z_all - np.max(z_all, axis=1, keepdims=True))  # a row of all -inf would be nan: rejected below
        total = w.sum(axis=1, keepdims=True)
        if not np.all(total > 0):
            raise InputError("every row needs at least one candidate or a rest with finite logit")
        g_all = self._play_g(context, rows, ids_all)  # [depth, B, K + 1]
        with np.errstate(divide="ignore"):
            out = np.log(tournament.winner_dense(w / total, g_all))  # [B, K + 1]
        return out[:, :K], out[:, K]

    def _play_g(self, context: np.ndarray, rows: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Layer-major g-values [depth_total, *ids.shape] of every tournament layer in the play order of
        ``config.order``, for candidates ``ids`` of rows ``rows`` (same shape); a row where a layer is
        inactive (split sharing) gets g = 0 in that layer."""
        gs = []
        for layer in self._play_order():
            spec = layer.spec
            ctx = context[:, context.shape[1] - spec.context_width :]
            u = tournament.words(*layer.key.words, prf.fold(ctx)[rows], ids)  # [*ids.shape]
            g = tournament.g_layers(u, spec.depth)  # [depth, *ids.shape]
            active = split_mask(ctx, spec)  # [B] or None
            gs.append(g if active is None else g * active[rows].astype(np.uint8))
        return _interleave(gs[0], gs[1]) if self.config.order == "interleaved" and len(gs) == 2 else np.concatenate(gs)

    def hf_processor(self):
        """A transformers ``LogitsProcessor`` applying both layers (needs the ``models`` extra)."""
        from stillwatch.mark.hf_processor import MarkLogitsProcessor

        return MarkLogitsProcessor(self)


def _interleave(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Layer-major g-values of a [ma, ...] and b [mb, ...] alternating (a first), the longer one's extra
    layers at the end: [ma + mb, ...]."""
    n = min(a.shape[0], b.shape[0])
    both = np.stack([a[:n], b[:n]], axis=1).reshape((2 * n,) + a.shape[1:])
    return np.concatenate([both, a[n:], b[n:]])
