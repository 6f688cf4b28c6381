"""Vectorized composition of realistic prompt / response text for the traffic simulator.

Text is built per *template*, never per row: a template such as ``"How do I make {dish} without
{ingredient}?"`` is split into literal pieces and slot names, each slot is a per-row Arrow string
array, and :func:`fill` joins the pieces element-wise with pyarrow compute for all rows using that
template at once. The banks themselves live in :mod:`~stillwatch.guard_sim.textbank` (benign topics) and
:mod:`~stillwatch.guard_sim.textbank_campaigns` (harvesting campaigns and the held-out family).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_SLOT = re.compile(r"\{([a-z_0-9]+)\}")


def parse_template(template: str) -> list[tuple[bool, str]]:
    """Split a template into ``(is_slot, text)`` pieces; ``{name}`` marks a slot.

    >>> parse_template("Hi {name}!")
    [(False, 'Hi '), (True, 'name'), (False, '!')]
    """
    pieces: list[tuple[bool, str]] = []
    pos = 0
    for m in _SLOT.finditer(template):
        if m.start() > pos:
            pieces.append((False, template[pos : m.start()]))
        pieces.append((True, m.group(1)))
        pos = m.end()
    if pos < len(template):
        pieces.append((False, template[pos:]))
    return pieces


def template_slots(templates: Sequence[str]) -> list[str]:
    """All slot names used by any of ``templates``, sorted (a stable order: random draws made per
    slot must not depend on the per-process hash seed of a set)."""
    return sorted({name for t in templates for is_slot, name in parse_template(t) if is_slot})


def pick(vocab: Sequence[str] | pa.Array, idx: np.ndarray) -> pa.Array:
    """``vocab[idx]`` as an Arrow string array (vectorized take)."""
    arr = vocab if isinstance(vocab, pa.Array) else pa.array(list(vocab), type=pa.string())
    return arr.take(pa.array(np.asarray(idx, dtype=np.int64)))


def choice(rng: np.random.Generator, vocab: Sequence[str], n: int, p: np.ndarray | None = None) -> pa.Array:
    """``n`` draws from ``vocab`` (with replacement) as an Arrow string array."""
    return pick(vocab, rng.choice(len(vocab), size=n, p=p))


def fill(templates: Sequence[str], tpl_idx: np.ndarray, slots: Mapping[str, pa.Array]) -> pa.Array:
    """Row ``i`` gets ``templates[tpl_idx[i]]`` with every ``{slot}`` replaced by ``slots[slot][i]``.

    Requires every slot array to have ``len(tpl_idx)`` non-null strings and every slot used by
    the chosen templates to be present in ``slots``. Loops over templates, not rows.
    """
    tpl_idx = np.asarray(tpl_idx, dtype=np.int64)
    n = len(tpl_idx)
    if n == 0:
        return pa.array([], type=pa.string())
    parts: list[pa.Array] = []
    order: list[np.ndarray] = []
    for t in np.unique(tpl_idx):
        rows = np.flatnonzero(tpl_idx == t)
        take = pa.array(rows)
        pieces = []
        for is_slot, text in parse_template(templates[int(t)]):
            if is_slot:
                if text not in slots:
                    raise KeyError(f"template {templates[int(t)]!r} needs slot {text!r}")
                pieces.append(slots[text].take(take))
            else:
                pieces.append(pa.scalar(text, type=pa.string()))
        if not any(isinstance(p, pa.Array) for p in pieces):
            out = pa.repeat(pa.scalar(templates[int(t)], type=pa.string()), len(rows))
        else:
            out = pc.binary_join_element_wise(*pieces, pa.scalar("", type=pa.string()))
        parts.append(out)
        order.append(rows)
    joined = pa.concat_arrays([p.cast(pa.string()) for p in parts])
    inverse = np.empty(n, dtype=np.int64)
    inverse[np.concatenate(order)] = np.arange(n)
    return joined.take(pa.array(inverse))


def join_columns(columns: Sequence[pa.Array | str], sep: str = "") -> pa.Array:
    """Element-wise concatenation of string arrays and literal strings."""
    pieces = [pa.scalar(c, type=pa.string()) if isinstance(c, str) else c for c in columns]
    return pc.binary_join_element_wise(*pieces, pa.scalar(sep, type=pa.string()))


def sentences(rng: np.random.Generator, bank: Sequence[str], counts: np.ndarray, sep: str = " ") -> pa.Array:
    """Row ``i`` gets ``counts[i]`` consecutive sentences of ``bank`` from a random start (cyclic), joined by ``sep``.

    Requires ``counts >= 1``. Loops over distinct counts, not rows.
    """
    counts = np.asarray(counts, dtype=np.int64)
    n = len(counts)
    vocab = pa.array(list(bank), type=pa.string())
    parts: list[pa.Array] = []
    order: list[np.ndarray] = []
    for k in np.unique(counts):
        rows = np.flatnonzero(counts == k)
        base = rng.integers(0, len(bank), size=len(rows))  # consecutive sentences: no repeats while k <= len(bank)
        cols = [pick(vocab, (base + j) % len(bank)) for j in range(int(k))]
        parts.append(cols[0] if k == 1 else pc.binary_join_element_wise(*cols, pa.scalar(sep, type=pa.string())))
        order.append(rows)
    joined = pa.concat_arrays(parts)
    inverse = np.empty(n, dtype=np.int64)
    inverse[np.concatenate(order)] = np.arange(n)
    return joined.take(pa.array(inverse))


def ints_as_text(values: np.ndarray) -> pa.Array:
    """Integers as decimal strings (vectorized cast)."""
    return pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string())


def identifiers(rng: np.random.Generator, prefix: str, n: int, width: int = 12) -> pa.Array:
    """``n`` distinct random identifiers ``prefix + base36 digits`` (vectorized)."""
    alphabet = np.array(list(string.digits + string.ascii_lowercase))
    # sample without collisions: draw, then redraw the (rare) duplicates
    codes = rng.integers(0, 36, size=(n, width))
    while True:
        keys = np.unique(codes, axis=0, return_index=True)[1]
        if len(keys) == n:
            break
        dup = np.setdiff1d(np.arange(n), keys)
        codes[dup] = rng.integers(0, 36, size=(len(dup), width))
    chars = alphabet[codes].astype("S1")  # (n, width) single ASCII bytes
    as_bytes = np.ascontiguousarray(chars).view(f"S{width}").ravel()  # (n,)
    arr = pa.array(as_bytes, type=pa.binary(width)).cast(pa.binary()).cast(pa.string())
    return join_columns([prefix, arr])


def ip_strings(ints: np.ndarray) -> pa.Array:
    """IPv4 addresses (uint32 values) as dotted quads (vectorized)."""
    v = np.asarray(ints, dtype=np.uint64)
    octets = [ints_as_text((v >> np.uint64(s)) & np.uint64(255)) for s in (24, 16, 8, 0)]
    return pc.binary_join_element_wise(*octets, pa.scalar(".", type=pa.string()))


def approx_tokens(text: pa.Array) -> np.ndarray:
    """A tokenizer-free token count: about 4 characters of English per BPE token, at least 1."""
    chars = pc.utf8_length(text).to_numpy(zero_copy_only=False).astype(np.int64)
    return np.maximum(1, (chars + 3) // 4)


def human_wrap(rng: np.random.Generator, body: pa.Array) -> pa.Array:
    """Wrap question bodies the way people do: an optional greeting, optional personal context (a
    role sentence or a remark about someone), a varied question opening, an optional trailing
    remark and the odd typo. Every part is drawn independently from the compositional banks in
    :mod:`~stillwatch.guard_sim.textbank`, so two unrelated users rarely produce the same first or last 32 characters
    unless they both ask in the plainest common phrasing. Vectorized except the typo pass (one
    Python string edit on ~12 % of rows)."""
    from stillwatch.guard_sim import textbank as tb

    m = len(body)
    if m == 0:
        return body
    # varied question openings: per alternative, substitute on its share of rows
    for lead, alts in tb.LEADS.items():
        which = rng.integers(0, len(alts), m)
        for j, alt in enumerate(alts):
            if alt == lead:
                continue
            mask = pa.array(which == j)
            replaced = pc.replace_substring(body, pattern=lead, replacement=alt, max_replacements=1)
            body = pc.if_else(mask, replaced, body)
    # drop the final question mark / full stop on a third of rows (people often do)
    drop = pa.array(rng.random(m) < 0.33)
    body = pc.if_else(drop, pc.replace_substring_regex(body, pattern=r"[?.!]$", replacement=""), body)
    empty = pa.scalar("", type=pa.string())
    greet = join_columns([choice(rng, tb.GREETINGS, m), choice(rng, tb.GREETING_PUNCT, m)])
    greet = pc.if_else(pa.array(rng.random(m) < 0.5), greet, empty)
    role = join_columns(["I'm a ", choice(rng, tb.ROLES, m), " ", choice(rng, tb.ROLE_TAILS, m), ". "])
    other = join_columns([choice(rng, tb.PEOPLE, m), " ", choice(rng, tb.SITUATIONS, m), ". "])
    kind = rng.random(m)
    ctx = pc.if_else(pa.array(kind < 0.3), role, pc.if_else(pa.array(kind < 0.5), other, empty))
    trail = join_columns([choice(rng, [" ", " - ", ", ", "  ", ". "], m), choice(rng, tb.TRAILS, m)])
    trail = pc.if_else(pa.array(rng.random(m) < 0.45), trail, empty)
    out = join_columns([greet, ctx, body, trail])
    # typos: swap two adjacent letters near the start or the end of ~12 % of prompts
    rows = np.flatnonzero(rng.random(m) < 0.12)
    if len(rows):
        texts = out.take(pa.array(rows)).to_pylist()
        pos = rng.random(len(rows))
        near_end = rng.random(len(rows)) < 0.5
        fixed = []
        for t, p, e in zip(texts, pos, near_end):
            if len(t) < 8:
                fixed.append(t)
                continue
            span = min(32, len(t) - 1)
            i = (len(t) - 1 - int(p * span)) if e else int(p * span)
            i = min(max(i, 0), len(t) - 2)
            fixed.append(t[:i] + t[i + 1] + t[i] + t[i + 2:])
        idx = np.full(m, -1, np.int64)
        idx[rows] = np.arange(len(rows))
        patched = pa.array(fixed, type=pa.string())
        take = pa.array(np.where(idx >= 0, idx, 0))
        out = pc.if_else(pa.array(idx >= 0), patched.take(take), out)
    return out
