"""The provenance zoo's pretraining resumes where it stopped (issue 17, eleventh session: a 3,000-step base of a third
lineage runs in the background across sessions). Failure mode played: a run killed between checkpoints. Expected
values come from an uninterrupted run of the same seed, not from the checkpoint code."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "trace"))

import _provenance_zoo_models as zm  # noqa: E402


class _Tok:
    """Characters as ids (a-z and space), enough for a fresh tiny Llama."""

    eos_token_id, pad_token_id, bos_token_id = 0, 0, None

    def __len__(self):
        return 28

    def encode(self, text):
        return [1 + (ord(c) - 97 if c.isalpha() else 26) for c in text.lower() if c.isalpha() or c == " "]


class _Stop(Exception):
    pass


def _train(ckpt, steps=6, stop_at=None):
    torch.manual_seed(0)
    model = zm.fresh_model(_Tok(), layers=1, hidden=16, heads=2, inter=32, seed=5)

    def progress(step, total, loss):
        if step == stop_at:
            raise _Stop

    text = "the quick brown fox jumps over the lazy dog " * 20
    loss = zm.lm_train(model, _Tok().encode, text, steps=steps, lr=1e-2, seq=16, batch=2, seed=3, progress=progress,
                       checkpoint=ckpt, every=2)
    return model, loss


def test_an_interrupted_pretraining_resumes_to_the_same_weights(tmp_path):
    straight, loss = _train(None)
    ckpt = tmp_path / "m.ckpt"
    with pytest.raises(_Stop):
        _train(ckpt, stop_at=5)  # killed after 5 of 6 steps: the last checkpoint holds 4
    assert torch.load(ckpt, weights_only=False)["step"] == 4
    resumed, loss2 = _train(ckpt)
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name
    assert loss2 == pytest.approx(loss)
