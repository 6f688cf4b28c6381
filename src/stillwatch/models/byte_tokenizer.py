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
    replaces invalid UTF-8 with U+FFFD. A model generating through :class:`HFBackend` never emits
    invalid UTF-8: :meth:`generation_constraint` masks every byte that could not continue valid
    UTF-8 and :meth:`complete_length` drops a character cut off by the token limit, so a generated
    answer's text encodes back to exactly its ids (its watermark survives decoding).
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

    def generation_constraint(self) -> Utf8Constraint:
        """A logits processor allowing only bytes that keep the generated text valid UTF-8."""
        return Utf8Constraint()

    def complete_length(self, ids: Sequence[int]) -> int:
        """Length of the longest prefix of ``ids`` that does not end inside a UTF-8 character
        (a trailing lead byte with fewer continuation bytes than it announces is cut)."""
        arr = np.asarray(list(ids), dtype=np.int64)
        n = len(arr)
        for back in range(1, min(4, n + 1)):  # at most 3 bytes can belong to an unfinished character
            b = int(arr[n - back])
            if 0x80 <= b <= 0xBF:
                continue
            need = _lead_length(b)
            return n - back if need > back else n
        return n

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


def _lead_length(b: int) -> int:
    """Bytes of the character a lead byte ``b`` starts (1 for ASCII and anything that is not a lead)."""
    if 0xC2 <= b <= 0xDF:
        return 2
    if 0xE0 <= b <= 0xEF:
        return 3
    if 0xF0 <= b <= 0xF4:
        return 4
    return 1


# Byte ranges allowed next, by state: 0 = between characters; 1 = any continuation byte; 2..5 = the
# restricted first continuation after E0, ED, F0, F4 (RFC 3629: no overlong forms, no surrogates,
# nothing above U+10FFFF).
_ALLOWED = (
    [(0x00, 0x7F), (0xC2, 0xF4)],
    [(0x80, 0xBF)],
    [(0xA0, 0xBF)],
    [(0x80, 0x9F)],
    [(0x90, 0xBF)],
    [(0x80, 0x8F)],
)


class Utf8Constraint:
    """Logits processor: -inf for every byte id that cannot follow the ids so far in valid UTF-8
    (special ids >= 256 are allowed only between characters). Reads the last 3 ids of each row;
    vectorised over the batch; inputs are never mutated. Run it before a watermark's processor so
    the watermark chooses among valid bytes only."""

    def __init__(self) -> None:
        self._table = None  # [6, V] bool, built on first use for the scores' width and device

    def _states(self, input_ids):  # [B, L] -> [B] state (see _ALLOWED)
        import torch

        last = input_ids[:, -3:]
        if last.shape[1] < 3:
            last = torch.cat([torch.full((last.shape[0], 3 - last.shape[1]), 256, dtype=last.dtype, device=last.device), last], 1)
        b3, b2, b1 = last[:, 0], last[:, 1], last[:, 2]  # b1 = the most recent id

        def lead(b):
            return (((b >= 0xC2) & (b <= 0xDF)) * 1 + ((b >= 0xE0) & (b <= 0xEF)) * 2 + ((b >= 0xF0) & (b <= 0xF4)) * 3)

        def cont(b):
            return (b >= 0x80) & (b <= 0xBF)

        n1, n2, n3 = lead(b1), lead(b2), lead(b3)
        need = torch.where(n1 > 0, n1, torch.where(cont(b1) & (n2 > 0), n2 - 1,
                                                   torch.where(cont(b1) & cont(b2) & (n3 > 0), n3 - 2, 0)))
        first = torch.where(b1 == 0xE0, 2, torch.where(b1 == 0xED, 3, torch.where(b1 == 0xF0, 4, torch.where(b1 == 0xF4, 5, 1))))
        return torch.where(n1 > 0, first, torch.where(need > 0, 1, 0))

    def __call__(self, input_ids, scores):
        import torch

        V = scores.shape[1]
        if self._table is None or self._table.shape[1] != V or self._table.device != scores.device:
            table = torch.zeros((len(_ALLOWED), V), dtype=torch.bool)
            for state, ranges in enumerate(_ALLOWED):
                for lo, hi in ranges:
                    table[state, lo : hi + 1] = True
            table[0, 256:] = True  # special tokens (eos) only between characters
            self._table = table.to(scores.device)
        allowed = self._table[self._states(input_ids)]  # [B, V]
        return scores.masked_fill(~allowed, float("-inf"))
