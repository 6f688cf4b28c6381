"""Key-independent per-token hashes of :mod:`stillwatch.core.prf`, tabulated over token ids.

``tok(v)`` and the first step of ``fold`` (``mix(F0 ^ (v + 1))``, the fold of a one-token context) depend
on the token id alone, so a detector that scores many texts can look them up instead of computing them:
one gather per array instead of ~11 arithmetic passes. The tables hold exactly the values the PRF
computes (pinned by tests against :mod:`stillwatch.core.prf`); they grow on demand, in powers of two, up
to :data:`MAX_TABLE` ids (8 MiB per table); larger ids are hashed directly by the caller.
"""

from __future__ import annotations

import numpy as np

from stillwatch.core import prf

MAX_TABLE = 1 << 20  # ids below this are tabulated (every tokenizer in use has a smaller vocabulary)
_MIN_TABLE = 1 << 16


class TokenHashTables:
    """``tok[v] = prf.tok(v)`` and ``fold1[v] = prf.fold([[v]])`` for 0 <= v < size (uint64 arrays)."""

    def __init__(self) -> None:
        self.tok = np.empty(0, dtype=np.uint64)
        self.fold1 = np.empty(0, dtype=np.uint64)

    def covers(self, max_id: int) -> bool:
        """Grow the tables to cover ids 0..max_id if it is below :data:`MAX_TABLE`; False otherwise."""
        if max_id < self.tok.shape[0]:
            return True
        if max_id >= MAX_TABLE:
            return False
        size = max(_MIN_TABLE, 1 << int(max_id).bit_length())
        v = np.arange(size, dtype=np.int64)
        self.tok = prf.tok(v)
        self.fold1 = prf.fold_columns([v], size)
        return True
