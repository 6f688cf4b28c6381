"""Distillation losses as pure functions (no state, inputs never mutated).

Shapes: ``logits`` [B, T, V] (position t predicts the token at t + 1 *already aligned* — callers
shift), ``labels`` [B, T] int64 with ``IGNORE_INDEX`` where no loss is taken (prompt tokens,
padding), ``mask`` [B, T] bool (True where a loss is taken). Every loss is the mean over the
positions where the mask is True; with no such position it is 0 (and still differentiable).

* :func:`sequence_kd_loss` — sequence-level KD (Kim & Rush 2016): cross-entropy on the teacher's
  sampled answer, prompt tokens masked.
* :func:`forward_kl_loss` — token-level KD (Hinton et al. 2015): KL(p_teacher || p_student) with a
  temperature tau, scaled by tau^2.
* :func:`generalized_jsd_loss` — generalised Jensen–Shannon divergence of GKD (Agarwal et al. 2024,
  eq. 1): JSD_beta(P || Q) = beta KL(P || M) + (1 - beta) KL(Q || M), M = beta P + (1 - beta) Q,
  with P the teacher and Q the student. beta -> 0 gives (beta-scaled) forward KL, beta -> 1
  reverse KL; beta = 0.5 is the symmetric JSD.
"""

from __future__ import annotations

import math

import torch

IGNORE_INDEX = -100


def _masked_mean(per_token: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    # per_token: [B, T] float; mask: [B, T] bool
    m = mask.to(per_token.dtype)
    return (per_token * m).sum() / m.sum().clamp_min(1.0)


def sequence_kd_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``labels`` under ``logits`` over positions with label != IGNORE_INDEX.

    Requires logits [B, T, V], labels [B, T] int64.
    """
    if logits.ndim != 3 or labels.shape != logits.shape[:2]:
        raise ValueError(f"logits must be [B, T, V] and labels [B, T]; got {tuple(logits.shape)} and {tuple(labels.shape)}")
    mask = labels != IGNORE_INDEX  # [B, T]
    safe = labels.clamp_min(0)  # [B, T]
    nll = -torch.log_softmax(_wide(logits), dim=-1).gather(-1, safe.unsqueeze(-1)).squeeze(-1)  # [B, T]
    return _masked_mean(nll, mask)


def forward_kl_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor,
                    *, temperature: float = 1.0) -> torch.Tensor:
    """tau^2 * mean over masked positions of KL(softmax(t / tau) || softmax(s / tau)).

    Requires equal shapes [B, T, V], mask [B, T] bool, temperature > 0.
    """
    _check_pair(student_logits, teacher_logits, mask)
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    log_q = torch.log_softmax(_wide(student_logits) / temperature, dim=-1)  # student [B, T, V]
    log_p = torch.log_softmax(_wide(teacher_logits) / temperature, dim=-1)  # teacher [B, T, V]
    kl = (log_p.exp() * (log_p - log_q)).sum(-1)  # [B, T]
    return _masked_mean(kl, mask) * temperature**2


def generalized_jsd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor,
                         *, beta: float = 0.5, temperature: float = 1.0) -> torch.Tensor:
    """Mean over masked positions of JSD_beta(P_teacher || Q_student) (GKD, Agarwal et al. 2024).

    Requires equal shapes [B, T, V], mask [B, T] bool, 0 < beta < 1, temperature > 0.
    """
    _check_pair(student_logits, teacher_logits, mask)
    if not 0.0 < beta < 1.0:
        raise ValueError(f"beta must be in (0, 1), got {beta}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    log_q = torch.log_softmax(_wide(student_logits) / temperature, dim=-1)  # [B, T, V]
    log_p = torch.log_softmax(_wide(teacher_logits) / temperature, dim=-1)  # [B, T, V]
    # log M = log(beta P + (1 - beta) Q), computed stably in log space
    log_m = torch.logsumexp(torch.stack([log_p + math.log(beta), log_q + math.log1p(-beta)]), dim=0)  # [B, T, V]
    kl_pm = (log_p.exp() * (log_p - log_m)).sum(-1)  # [B, T]
    kl_qm = (log_q.exp() * (log_q - log_m)).sum(-1)  # [B, T]
    return _masked_mean(beta * kl_pm + (1.0 - beta) * kl_qm, mask)


def _wide(x: torch.Tensor) -> torch.Tensor:
    """``x`` in at least float32 (bfloat16 / float16 logits are widened; float64 stays float64)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _check_pair(student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor) -> None:
    if student_logits.shape != teacher_logits.shape or student_logits.ndim != 3:
        raise ValueError(
            f"student and teacher logits must both be [B, T, V] with equal shapes; got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )
    if mask.shape != student_logits.shape[:2]:
        raise ValueError(f"mask must be [B, T] = {tuple(student_logits.shape[:2])}, got {tuple(mask.shape)}")


