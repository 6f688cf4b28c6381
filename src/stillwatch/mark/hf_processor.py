"""Hugging Face ``LogitsProcessor`` adapter for :class:`~stillwatch.mark.marker.Marker`.

Works on any batch size with left padding (it reads only the last ``context_width`` ids of each row).
The bias itself is computed by ``Marker.bias_flat`` (numpy); this class selects each row's candidate
tokens (those within ``margin`` of the row maximum, at most ``candidates``), and scatters the result
back. It never mutates its inputs.

With a tournament layer (SynthID-Text) the processor returns, on each row's K candidates (top-K
within ``margin``), the log of the tournament winner's distribution computed in closed form by
``Marker.tournament_logprobs`` and -inf elsewhere: sampling from the returned logits is sampling from
the tournament (see :mod:`stillwatch.core.tournament`). Tokens more than ``margin`` nats below the top
are dropped before the tournament (probability < e**-margin each, as in the bias path).
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor

from stillwatch.errors import InputError
from stillwatch.mark.marker import Marker


class MarkLogitsProcessor(LogitsProcessor):
    def __init__(self, marker: Marker):
        if not isinstance(marker, Marker):
            raise InputError(f"marker must be a Marker, got {type(marker).__name__}")
        self.marker = marker
        self.candidates = int(marker.config.candidates)
        self.margin = float(marker.config.margin)

    def candidates_of(self, scores: torch.Tensor, top: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(rows [M], cols [M]): the tokens each row's bias is computed for; ``top`` [B] = row maxima."""
        B, V = scores.shape
        if self.candidates == 0 or self.candidates >= V:
            return torch.ones_like(scores, dtype=torch.bool).nonzero(as_tuple=True)
        rows, cols = (scores >= (top - self.margin)[:, None]).nonzero(as_tuple=True)  # [M], [M]
        if int(torch.bincount(rows, minlength=B).max()) > self.candidates:  # a flat row: keep top `candidates`
            idx = torch.topk(scores, self.candidates, dim=-1).indices  # [B, K]
            rows = torch.arange(B, device=scores.device).repeat_interleave(self.candidates)
            cols = idx.reshape(-1)
        return rows, cols

    def tournament(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """Tournament path: log of the winner's distribution on each row's candidates (its top K tokens
        within ``margin`` of the maximum); the other tokens keep their relative probabilities, scaled to
        the mass the tournament leaves them. Touches the [B, V] scores four times (top-K, a copy with the
        candidates masked, its logsumexp, one add); the tournament itself runs on [B, K + 1]."""
        B, V = scores.shape
        k = V if self.candidates == 0 else min(self.candidates, V)
        vals, idx = torch.topk(scores, k, dim=-1, sorted=False)  # [B, K]
        top = vals.max(dim=-1).values  # [B]
        keep = vals >= (top - self.margin)[:, None]  # [B, K] candidates; the others stay in the rest
        out = scores.scatter(1, idx, torch.where(keep, torch.full_like(vals, float("-inf")), vals))  # [B, V] the rest only
        z_rest = (torch.logsumexp(out, dim=-1) - top).double()  # [B] log rest mass (-inf: no rest)
        z = torch.where(keep, vals - top[:, None], torch.full_like(vals, float("-inf"))).double()  # [B, K]
        ctx = input_ids[:, -self.marker.context_width :].cpu().numpy()
        logp, logp_rest = self.marker.tournament_logprobs_dense(ctx, idx.cpu().numpy(), z.cpu().numpy(), z_rest.cpu().numpy())
        shift = torch.from_numpy(logp_rest).to(scores.device) - z_rest  # [B]: log(p_m(rest) / p(rest)), relative to top
        shift = torch.where(torch.isfinite(shift), shift, torch.full_like(shift, float("-inf")))
        out += (shift - top.double())[:, None].to(scores.dtype)  # the rest, rescaled (candidates stay -inf)
        new = torch.where(keep, torch.from_numpy(logp).to(device=scores.device, dtype=scores.dtype), out.gather(1, idx))
        return out.scatter_(1, idx, new)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        B, V = scores.shape  # scores [B, V], input_ids [B, L]
        if input_ids.shape[1] < self.marker.context_width:
            raise InputError(f"prompt has {input_ids.shape[1]} token(s); the watermark needs at least {self.marker.context_width} of context")
        if self.marker.uses_tournament:
            return self.tournament(input_ids, scores)
        top = scores.max(dim=-1).values  # [B]
        rows, cols = self.candidates_of(scores, top)  # [M], [M]
        z = (scores[rows, cols] - top[rows]).float()  # [M]
        ctx = input_ids[:, -self.marker.context_width :].cpu().numpy()
        bias, gkey = self.marker.bias_flat(ctx, rows.cpu().numpy(), cols.cpu().numpy(), z.cpu().numpy())
        out = scores.index_put((rows, cols), torch.from_numpy(bias).to(device=scores.device, dtype=scores.dtype), accumulate=True)
        if gkey is not None:
            dense = torch.full((B, V), float("-inf"), dtype=torch.float64, device=scores.device)
            dense[rows, cols] = torch.from_numpy(gkey).to(scores.device)
            best, chosen = dense.max(dim=-1)  # [B], [B]
            covered = torch.isfinite(best)  # rows under the Gumbel layer
            forced = torch.full_like(out, float("-inf")).scatter(1, chosen[:, None], 0.0)
            out = torch.where(covered[:, None], forced, out)
        return out
