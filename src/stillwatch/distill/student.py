"""Students: a fresh small Llama described by a :class:`StudentConfig` (a preset name or a JSON
file), or an existing Hugging Face model directory to fine-tune.

The student's tokenizer comes from ``StudentConfig.tokenizer``: ``"tiny"`` (the byte tokenizer of
the built-in tiny model), ``"smollm2"`` (the default teacher's tokenizer — what a student needs
for the open-model radioactivity test against a SmolLM2 teacher), or a model directory.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from stillwatch.errors import InputError

#: Named student shapes. ``tiny``: the byte-level tiny Llama. ``small-smollm2``: a 2-layer Llama
#: over SmolLM2's 49,152-token vocabulary with tied embeddings (about 3.3M parameters).
PRESETS: dict[str, dict] = {
    "tiny": {"tokenizer": "tiny", "n_layers": 2, "hidden": 64, "n_heads": 4, "intermediate": 128},
    "small-smollm2": {"tokenizer": "smollm2", "n_layers": 2, "hidden": 64, "n_heads": 4, "intermediate": 256,
                      "tie_embeddings": True},
}


@dataclass(frozen=True)
class StudentConfig:
    """Shape of a fresh student (a transformers ``LlamaConfig`` underneath)."""

    tokenizer: str = "tiny"
    n_layers: int = 2
    hidden: int = 64
    n_heads: int = 4
    intermediate: int = 128
    max_positions: int = 1024
    tie_embeddings: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_layers", "hidden", "n_heads", "intermediate", "max_positions"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InputError(f"StudentConfig.{name} must be an int >= 1, got {v!r}")
        if self.hidden % self.n_heads:
            raise InputError(f"StudentConfig.hidden ({self.hidden}) must be divisible by n_heads ({self.n_heads})")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"StudentConfig.seed must be an int >= 0, got {self.seed!r}")
        if not isinstance(self.tokenizer, str) or not self.tokenizer:
            raise InputError("StudentConfig.tokenizer must be 'tiny', 'smollm2' or a model directory")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "student config") -> StudentConfig:
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - allowed)
        if unknown:
            raise InputError(f"{source}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
        return cls(**d)


#: Existing models a student can start from by name (fine-tuned, not freshly initialised).
PRETRAINED = ("smollm2",)


def resolve_student_config(spec: str, *, seed: int | None = None) -> StudentConfig | None:
    """Parse ``--student``: a preset name, a JSON file with :class:`StudentConfig` fields (an optional
    ``"preset"`` key starts from a preset), or None when ``spec`` names an existing model to fine-tune
    (a name in :data:`PRETRAINED` or a model directory; open it with :func:`load_pretrained_student`)."""
    path = Path(spec).expanduser()
    if spec.lower() in PRETRAINED:
        return None
    if spec in PRESETS:
        d = dict(PRESETS[spec])
    elif path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError(f"student {spec!r} is a directory without config.json (not a model directory)")
        return None
    elif path.is_file():
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"student config {spec}: not valid JSON ({exc.msg})") from None
        if not isinstance(d, dict):
            raise InputError(f"student config {spec}: must be a JSON object")
        preset = d.pop("preset", None)
        if preset is not None:
            if preset not in PRESETS:
                raise InputError(f"student config {spec}: unknown preset {preset!r}; allowed: {', '.join(PRESETS)}")
            d = {**PRESETS[preset], **d}
    else:
        raise InputError(f"student {spec!r} is neither a preset ({', '.join(PRESETS)}), a pretrained model "
                         f"({', '.join(PRETRAINED)}), a JSON config file, nor a model directory")
    if seed is not None:
        d["seed"] = seed
    return StudentConfig.from_dict(d, source=f"student {spec}")


def load_pretrained_student(spec: str) -> Any:
    """An existing model to fine-tune (``'smollm2'``, ``'tiny'`` — the built-in test model's random
    weights — or a model directory), in float32 for training."""
    from stillwatch.models import load_backend

    return load_backend(spec) if spec.lower() == "tiny" else load_backend(spec, dtype="float32")


def load_tokenizer(source: str) -> Any:
    """The tokenizer named by ``source`` ('tiny', 'smollm2', or a model directory)."""
    if source == "tiny":
        from stillwatch.models.byte_tokenizer import ByteTokenizer

        return ByteTokenizer()
    from stillwatch.models import load_backend

    backend = load_backend(source)
    tok = getattr(backend, "tokenizer", None)
    if tok is None:
        raise InputError(f"tokenizer source {source!r} is not a local model with a tokenizer")
    return tok


def build_student(cfg: StudentConfig, *, tokenizer: Any | None = None) -> Any:
    """A freshly initialised student as an ``HFBackend`` (float32). The same config (seed included)
    gives the same weights; the global torch RNG is left untouched."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from stillwatch.models.hf import HFBackend

    tok = tokenizer if tokenizer is not None else load_tokenizer(cfg.tokenizer)
    vocab = len(tok)
    vocab = ((vocab + 63) // 64) * 64 if vocab > 1024 else vocab + (-vocab) % 4  # pad rows for speed
    eos = tok.eos_token_id
    lcfg = LlamaConfig(
        vocab_size=vocab, hidden_size=cfg.hidden, intermediate_size=cfg.intermediate,
        num_hidden_layers=cfg.n_layers, num_attention_heads=cfg.n_heads, num_key_value_heads=cfg.n_heads,
        max_position_embeddings=cfg.max_positions, pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else eos,
        bos_token_id=tok.bos_token_id, eos_token_id=eos, tie_word_embeddings=cfg.tie_embeddings, dtype="float32",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = LlamaForCausalLM(lcfg)
    return HFBackend(model, tok, name=f"student-{cfg.tokenizer}-{cfg.n_layers}x{cfg.hidden}")
