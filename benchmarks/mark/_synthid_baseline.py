"""transformers' SynthID-Text logits processor as the frontier's baseline (one key; no account layer).

Generation: ``SynthIDTextWatermarkLogitsProcessor`` with the hashing, g-values, state and repeated-context
masking of transformers, restricted to each row's candidates (top 1024 within 16 nats of the top, as
our processor does: transformers' own processor scores the whole 49k vocabulary, ~50x the work, too slow
for this shared CPU; SynthID is deployed after top-k anyway). The restriction calls the processor's own
``_compute_keys`` / ``sample_g_values`` / ``update_scores`` on the candidates.

Detection: transformers' ``SynthIDTextWatermarkDetector`` needs a Bayesian detector trained on
watermarked and unwatermarked corpora, which we do not have; we score with the processor's own
``compute_g_values`` and ``compute_context_repetition_mask`` and the paper's mean score (Dathathri et
al. 2024, "mean" scoring function). Its p-value treats the unmasked g-values as fair coins
(Binomial(n * depth, 1/2)); transformers draws them from a fixed random table of 2**16 bits, whose
share of ones is not exactly 1/2, so this p-value is approximate (the FPR on unwatermarked answers is
reported beside it).
"""

from __future__ import annotations

import numpy as np

from stillwatch.core import stats

KEYS = [654, 400, 836, 123, 340, 443, 597, 160, 57, 29, 590, 639, 13, 715, 468, 990, 966, 226, 324, 585, 118, 504, 421, 521,
        129, 669, 732, 225, 90, 960]  # 30 layers, as in the paper's default depth
NGRAM_LEN = 5
CANDIDATES, MARGIN = 1024, 16.0


class SynthIDBaseline:
    """Factory of fresh (stateful) processors, and the scorer of their texts."""

    h = NGRAM_LEN - 1
    depth = len(KEYS)

    def cache_id(self) -> dict:
        return {"synthid-hf": {"ngram_len": NGRAM_LEN, "keys": KEYS, "table": 2**16, "seed": 0, "history": 1024,
                               "candidates": CANDIDATES, "margin": MARGIN}}

    def processor(self):
        import torch
        from transformers import SynthIDTextWatermarkLogitsProcessor

        class TopK(SynthIDTextWatermarkLogitsProcessor):
            def __call__(self, input_ids, scores):
                B = scores.shape[0]
                top = scores.max(dim=-1, keepdim=True).values
                K = min(CANDIDATES, int((scores >= top - MARGIN).sum(dim=-1).max()))
                vals, idx = scores.topk(K, dim=-1)  # [B, K]
                vals = torch.where(vals >= top - MARGIN, vals, torch.full_like(vals, float("-inf")))
                if self.state is None:
                    self._init_state(B)
                else:
                    self.state.context = torch.cat((self.state.context, input_ids[:, -1:]), dim=1)[:, 1:]
                self.state.num_calls += 1
                keys, ctx_hash = self._compute_keys(self.state.context, idx)
                upd = self.update_scores(vals, self.sample_g_values(keys))  # [B, K]
                repeated = (self.state.context_history == ctx_hash[:, None]).any(dim=1, keepdim=True)
                self.state.context_history = torch.cat((ctx_hash[:, None], self.state.context_history), dim=1)[:, :-1]
                out = torch.where(repeated, torch.log_softmax(vals, dim=-1), upd)
                return torch.full_like(scores, float("-inf")).scatter(1, idx, out.to(scores.dtype))

        return TopK(ngram_len=NGRAM_LEN, keys=KEYS, sampling_table_size=2**16, sampling_table_seed=0,
                    context_history_size=1024, device=torch.device("cpu"))

    def _counts(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per answer token: (g-values equal to 1 over the depth, 1 if scored) after the repetition mask."""
        import torch

        proc = self.processor()
        full = torch.as_tensor(np.concatenate([np.zeros(self.h, dtype=np.int64), ids]))[None]  # generation's zero context
        g = proc.compute_g_values(full)[0].numpy()  # [T, depth]
        mask = proc.compute_context_repetition_mask(full)[0].numpy().astype(np.int64)  # [T]
        return g.sum(axis=1) * mask, mask

    def prefix(self, prompt_ids, ids: np.ndarray) -> np.ndarray:
        ones, mask = self._counts(np.asarray(ids, dtype=np.int64))
        n1, n = np.concatenate([[0], np.cumsum(ones)]), np.concatenate([[0], np.cumsum(mask)])
        return np.where(n > 0, stats.binomial_tail(n1, n * self.depth, 0.5), 1.0)

    def pvalue(self, prompt_ids, ids: np.ndarray) -> float:
        return float(self.prefix(prompt_ids, ids)[-1]) if len(ids) else 1.0
