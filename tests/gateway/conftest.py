"""The gateway tests import their helpers (gw_helpers) and the ledger's PostgreSQL fixtures."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for p in (HERE, HERE.parent / "ledger"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
