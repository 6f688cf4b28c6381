"""The tiny built-in model: a randomly initialised two-layer Llama over a byte-level
vocabulary. It makes the tests fast and needs no download; its answers are noise, which is
exactly what watermark and radioactivity tests want from a model that knows nothing.

``distill`` can train a tiny student from :func:`tiny_config` and :class:`ByteTokenizer`, save it
with ``HFBackend.save_pretrained(dir)`` and reopen it with ``load_backend(dir)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stillwatch.errors import InputError
from stillwatch.models.byte_tokenizer import ByteTokenizer
from stillwatch.models.hf import HFBackend

__all__ = ["TinyConfig", "ByteTokenizer", "tiny_config", "new_tiny_model", "load_tiny"]


@dataclass(frozen=True)
class TinyConfig:
    """Shape of the tiny Llama. ``vocab_size`` is the output layer's row count: the byte
    tokenizer's 259 ids, rounded up to 260."""

    n_layers: int = 2
    hidden: int = 64
    n_heads: int = 4
    intermediate: int = 128
    vocab_size: int = 260
    max_positions: int = 1024

    def __post_init__(self) -> None:
        for field in ("n_layers", "hidden", "n_heads", "intermediate", "max_positions"):
            v = getattr(self, field)
            if not isinstance(v, int) or v < 1:
                raise InputError(f"TinyConfig.{field} must be an int >= 1, got {v!r}")
        if self.hidden % self.n_heads:
            raise InputError(f"TinyConfig.hidden ({self.hidden}) must be divisible by n_heads ({self.n_heads})")
        if not isinstance(self.vocab_size, int) or self.vocab_size < len(ByteTokenizer()):
            raise InputError(f"TinyConfig.vocab_size must be an int >= {len(ByteTokenizer())}, got {self.vocab_size!r}")


def tiny_config(cfg: TinyConfig = TinyConfig(), tokenizer: Any | None = None) -> Any:
    """A transformers ``LlamaConfig`` for the tiny model (float32, untied embeddings).

    With ``tokenizer`` (e.g. SmolLM2's, for a small student of that teacher) the vocabulary size
    and special ids come from it instead of the byte tokenizer: ``vocab_size`` becomes
    ``max(cfg.vocab_size, len(tokenizer))``."""
    from transformers import LlamaConfig

    tok = tokenizer if tokenizer is not None else ByteTokenizer()
    return LlamaConfig(
        vocab_size=max(cfg.vocab_size, len(tok)),
        hidden_size=cfg.hidden,
        intermediate_size=cfg.intermediate,
        num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads,
        num_key_value_heads=cfg.n_heads,
        max_position_embeddings=cfg.max_positions,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=False,
        dtype="float32",
    )


def new_tiny_model(seed: int = 0, cfg: TinyConfig = TinyConfig(), tokenizer: Any | None = None) -> Any:
    """A freshly initialised ``LlamaForCausalLM`` (see :func:`tiny_config` for ``tokenizer``);
    the same ``seed`` gives the same weights. The global torch RNG is left untouched."""
    import torch
    from transformers import LlamaForCausalLM

    if not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be an int >= 0, got {seed!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(tiny_config(cfg, tokenizer))
    return model.eval()


def load_tiny(seed: int = 0, cfg: TinyConfig = TinyConfig(), num_threads: int | None = 1) -> HFBackend:
    """The tiny backend (random weights from ``seed``, byte tokenizer). It computes on one
    thread by default: its matrices are too small to gain from more, and on a busy CPU extra
    OpenMP threads cost ~100x (measured: 0.2 s vs 20 s wall for 8 x 64 tokens at load 14)."""
    return HFBackend(
        new_tiny_model(seed, cfg), ByteTokenizer(), name="tiny" if seed == 0 else f"tiny-seed{seed}", num_threads=num_threads
    )
