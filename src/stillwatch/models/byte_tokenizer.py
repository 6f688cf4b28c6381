"""A byte-level tokenizer for the tiny built-in model: ids 0..255 are the bytes of the UTF-8
text, followed by three special tokens (pad, bos, eos).

It offers the small part of the Hugging Face tokenizer API that :class:`~stillwatch.models.hf.HFBackend`
uses (``encode``, ``decode``, ``apply_chat_template``, ``get_vocab``, special-token ids,
``save_pretrained`` / ``from_pretrained``), so a tiny student saved to a directory reopens with
``load_backend(path)``. Needs no torch.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from stillwatch.errors import InputError

#: File name that marks a directory as holding a byte tokenizer.
BYTE_TOKENIZER_FILE = "stillwatch_byte_tokenizer.json"

_FORMAT = "stillwatch-byte-tokenizer/1"


class ByteTokenizer:
    """UTF-8 bytes as tokens 0..255, then ``<pad>`` (256), ``<bos>`` (257), ``<eos>`` (258).

    The chat template is ``"User: {prompt}\\nAssistant: "``. Decoding skips special tokens and
    replaces invalid UTF-8 with U+FFFD (a random model emits arbitrary bytes).
    """

    pad_token = "<pad>"
    bos_token = "<bos>"
    eos_token = "<eos>"
    pad_token_id = 256
    bos_token_id = 257
    eos_token_id = 258
    chat_template = "User: {prompt}\nAssistant: "
    padding_side = "left"

    def __len__(self) -> int:
        return 259

    @property
    def all_special_ids(self) -> list[int]:
        return [self.pad_token_id, self.bos_token_id, self.eos_token_id]

    @property
    def all_special_tokens(self) -> list[str]:
        return [self.pad_token, self.bos_token, self.eos_token]

    def get_vocab(self) -> dict[str, int]:
        """token -> id; bytes are spelled ``<0xNN>`` like SentencePiece byte tokens."""
        vocab = {f"<0x{b:02X}>": b for b in range(256)}
        vocab.update({self.pad_token: 256, self.bos_token: 257, self.eos_token: 258})
        return vocab

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        """Bytes of ``text``; with ``add_special_tokens`` a leading ``<bos>``."""
        if not isinstance(text, str):
            raise InputError(f"text must be a str, got {type(text).__name__}")
        ids = list(text.encode("utf-8"))
        return [self.bos_token_id, *ids] if add_special_tokens else ids

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """Text of ``ids``. Requires every id in 0..258."""
        arr = np.asarray(list(ids), dtype=np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= len(self)):
            bad = int(arr[(arr < 0) | (arr >= len(self))][0])
            raise InputError(f"token id {bad} is outside the byte tokenizer's range 0..{len(self) - 1}")
        if skip_special_tokens:
            return bytes(arr[arr < 256].astype(np.uint8)).decode("utf-8", errors="replace")
        names = {256: self.pad_token, 257: self.bos_token, 258: self.eos_token}
        parts: list[str] = []
        run: list[int] = []
        for i in arr.tolist():  # only when special tokens are shown: per-token loop is fine here
            if i < 256:
                run.append(i)
            else:
                parts.append(bytes(run).decode("utf-8", errors="replace"))
                run = []
                parts.append(names[i])
        parts.append(bytes(run).decode("utf-8", errors="replace"))
        return "".join(parts)

    def apply_chat_template(
        self, messages: Sequence[Mapping[str, str]], *, tokenize: bool = False, add_generation_prompt: bool = True
    ) -> str | list[int]:
        """``"User: ...\\nAssistant: ..."`` lines; a trailing ``"Assistant: "`` with
        ``add_generation_prompt``."""
        lines = []
        for m in messages:
            role = str(m.get("role", "user"))
            lines.append(f"{role.capitalize()}: {m.get('content', '')}\n")
        text = "".join(lines)
        if add_generation_prompt:
            text += "Assistant: "
        return self.encode(text) if tokenize else text

    def fingerprint(self) -> str:
        """sha256 of the canonical vocabulary and special tokens."""
        payload = json.dumps(
            {"format": _FORMAT, "vocab": sorted(self.get_vocab().items(), key=lambda kv: kv[1]),
             "special": {"pad": self.pad_token, "bos": self.bos_token, "eos": self.eos_token},
             "chat_template": self.chat_template},
            sort_keys=True, separators=(",", ":"),
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Write ``stillwatch_byte_tokenizer.json`` into ``directory`` (created if needed)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        (d / BYTE_TOKENIZER_FILE).write_text(json.dumps({"format": _FORMAT, "fingerprint": self.fingerprint()}, indent=1))

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> ByteTokenizer:
        """Reopen a tokenizer saved with :meth:`save_pretrained`."""
        path = Path(directory) / BYTE_TOKENIZER_FILE
        try:
            meta = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read byte tokenizer file {str(path)!r}: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise InputError(f"{str(path)!r} is not a {_FORMAT} file (format={meta.get('format') if isinstance(meta, dict) else None!r})")
        tok = cls()
        if meta.get("fingerprint") != tok.fingerprint():
            raise InputError(f"byte tokenizer in {str(path)!r} has fingerprint {meta.get('fingerprint')!r}, expected {tok.fingerprint()!r}")
        return tok
