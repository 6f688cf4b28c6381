"""Small I/O helpers shared by the CLI commands: JSONL reading with line-numbered errors, output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stillwatch.errors import InputError
from stillwatch.secretfile import refuse_if_secret


def read_jsonl(path: Path, *, required: tuple[str, ...] = ()) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; errors name the file and line."""
    if not path.exists():
        raise InputError(f"input file not found: {path}")
    with path.open("rb") as fh:
        for no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise InputError(f"{path}:{no}: line is not valid UTF-8") from None
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{no}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}:{no}: expected a JSON object, got {type(obj).__name__}")
            for k in required:
                if not isinstance(obj.get(k), str):
                    raise InputError(f"{path}:{no}: field {k!r} must be a string")
            yield no, obj


def read_lines(path: Path) -> list[str]:
    """Non-blank, stripped lines of a text file (e.g. account ids)."""
    if not path.exists():
        raise InputError(f"file not found: {path}")
    refuse_if_secret(path, "a list")  # a key file given by mistake is never read back as ids
    try:
        return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    except UnicodeDecodeError:
        raise InputError(f"{path} is not valid UTF-8 text") from None


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=False, default=_default)


def _default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
