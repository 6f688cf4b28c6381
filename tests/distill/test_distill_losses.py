"""Known-answer tests for the distillation losses: expected values are computed by hand from
two-token distributions (softmax([0, ln 3]) = [1/4, 3/4], softmax([0, 0]) = [1/2, 1/2])."""

from __future__ import annotations

import math

import pytest
import torch

from stillwatch.distill.losses import IGNORE_INDEX, forward_kl_loss, generalized_jsd_loss, sequence_kd_loss

P_LOGITS = [0.0, math.log(3.0)]  # p = [0.25, 0.75]
Q_LOGITS = [0.0, 0.0]  # q = [0.5, 0.5]


def _t(rows):
    # float64 so the known-value tests can hold the losses to rel 1e-6: in float32 the JSD's difference of
    # logs carries ~1e-6 relative rounding that depends on the CPU's logsumexp kernel
    return torch.tensor(rows, dtype=torch.float64)


def test_sequence_kd_is_mean_nll_over_unmasked_positions():
    logits = _t([[P_LOGITS, Q_LOGITS, P_LOGITS]])  # [1, 3, 2]
    labels = torch.tensor([[1, 0, IGNORE_INDEX]])
    expected = (-math.log(0.75) - math.log(0.5)) / 2
    assert sequence_kd_loss(logits, labels).item() == pytest.approx(expected, rel=1e-6)


def test_sequence_kd_all_masked_is_zero_and_differentiable():
    logits = _t([[P_LOGITS]]).requires_grad_()
    loss = sequence_kd_loss(logits, torch.tensor([[IGNORE_INDEX]]))
    loss.backward()
    assert loss.item() == 0.0 and logits.grad is not None


def test_forward_kl_known_value():
    s, t = _t([[Q_LOGITS, Q_LOGITS]]), _t([[P_LOGITS, Q_LOGITS]])
    mask = torch.tensor([[True, True]])
    kl_pq = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert forward_kl_loss(s, t, mask).item() == pytest.approx(kl_pq / 2, rel=1e-6)
    # masking the identical pair leaves only KL(p||q)
    assert forward_kl_loss(s, t, torch.tensor([[True, False]])).item() == pytest.approx(kl_pq, rel=1e-6)


def test_forward_kl_temperature_scales_by_tau_squared():
    s, t = _t([[Q_LOGITS]]), _t([[P_LOGITS]])
    # at tau = 2: p = softmax([0, ln 3 / 2]) = [1/(1+sqrt 3), sqrt 3/(1+sqrt 3)], q = [1/2, 1/2]
    r3 = math.sqrt(3.0)
    p0, p1 = 1 / (1 + r3), r3 / (1 + r3)
    expected = 4.0 * (p0 * math.log(p0 / 0.5) + p1 * math.log(p1 / 0.5))
    assert forward_kl_loss(s, t, torch.tensor([[True]]), temperature=2.0).item() == pytest.approx(expected, rel=1e-5)


def test_generalized_jsd_known_value_symmetric():
    s, t = _t([[Q_LOGITS]]), _t([[P_LOGITS]])
    m0, m1 = 0.5 * 0.25 + 0.5 * 0.5, 0.5 * 0.75 + 0.5 * 0.5
    kl_pm = 0.25 * math.log(0.25 / m0) + 0.75 * math.log(0.75 / m1)
    kl_qm = 0.5 * math.log(0.5 / m0) + 0.5 * math.log(0.5 / m1)
    expected = 0.5 * kl_pm + 0.5 * kl_qm
    assert generalized_jsd_loss(s, t, torch.tensor([[True]]), beta=0.5).item() == pytest.approx(expected, rel=1e-6)


def test_generalized_jsd_asymmetric_beta():
    s, t = _t([[Q_LOGITS]]), _t([[P_LOGITS]])
    beta = 0.1
    m0, m1 = beta * 0.25 + (1 - beta) * 0.5, beta * 0.75 + (1 - beta) * 0.5
    kl_pm = 0.25 * math.log(0.25 / m0) + 0.75 * math.log(0.75 / m1)
    kl_qm = 0.5 * math.log(0.5 / m0) + 0.5 * math.log(0.5 / m1)
    expected = beta * kl_pm + (1 - beta) * kl_qm
    assert generalized_jsd_loss(s, t, torch.tensor([[True]]), beta=beta).item() == pytest.approx(expected, rel=1e-6)


def test_losses_are_zero_for_identical_distributions_and_do_not_mutate():
    s = torch.randn(2, 3, 5)
    t = s.clone()
    before = s.clone()
    mask = torch.ones(2, 3, dtype=torch.bool)
    assert forward_kl_loss(s, t, mask).item() == pytest.approx(0.0, abs=1e-6)
    assert generalized_jsd_loss(s, t, mask).item() == pytest.approx(0.0, abs=1e-6)
    assert torch.equal(s, before)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"beta": 0.0}, "beta"), ({"beta": 1.0}, "beta"), ({"temperature": 0.0}, "temperature")],
)
def test_bad_parameters_name_the_field(kwargs, match):
    s = torch.zeros(1, 1, 2)
    with pytest.raises(ValueError, match=match):
        generalized_jsd_loss(s, s, torch.ones(1, 1, dtype=torch.bool), **kwargs)


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="equal shapes"):
        forward_kl_loss(torch.zeros(1, 2, 3), torch.zeros(1, 2, 4), torch.ones(1, 2, dtype=torch.bool))
