"""What a guard scan finds: frozen dataclasses and their JSON form.

:class:`Findings` is the contract between the detection pipeline (:mod:`~stillwatch.guard.batch.scan`, :mod:`~stillwatch.guard.live.stream`)
and its users (the CLI, :mod:`~stillwatch.guard_eval.evaluate`, the report). ``accounts`` holds one entry per account
seen, flagged or not, so an evaluation can rank every account by ``score``; :meth:`Findings.to_json`
gives the issue's JSON contract (flagged accounts and campaigns only, each with the signals that
fired and their values).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def _json_safe(value: Any) -> Any:
    """Turn numpy scalars / non-finite floats into plain JSON values (NaN/inf become None)."""
    if hasattr(value, "item") and not isinstance(value, (list, tuple, dict, str)):
        value = value.item()
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


@dataclass(frozen=True)
class AccountFinding:
    """One account's verdict. ``score`` is in [0, 1] (monotone: higher = more likely harvesting).

    ``signals`` maps each signal name to its value for this account (all signals, fired or not);
    ``fired`` names the signals that crossed their documented threshold (the explanation).
    """

    account_id: str
    score: float
    flagged: bool
    campaign_id: str | None
    signals: Mapping[str, float]
    exchanges: int
    human_rate_multiple: float
    fired: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return _json_safe(
            {
                "account_id": self.account_id,
                "score": self.score,
                "flagged": self.flagged,
                "campaign_id": self.campaign_id,
                "exchanges": self.exchanges,
                "human_rate_multiple": self.human_rate_multiple,
                "signals": dict(self.signals),
                "fired": list(self.fired),
            }
        )


@dataclass(frozen=True)
class CampaignFinding:
    """A cluster of coordinated accounts. ``campaign_id`` is derived from its smallest account id."""

    campaign_id: str
    accounts: tuple[str, ...]
    exchanges: int
    human_rate_multiple: float
    score: float
    signals: Mapping[str, float]
    fired: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return _json_safe(
            {
                "campaign_id": self.campaign_id,
                "accounts": list(self.accounts),
                "n_accounts": len(self.accounts),
                "exchanges": self.exchanges,
                "human_rate_multiple": self.human_rate_multiple,
                "score": self.score,
                "signals": dict(self.signals),
                "fired": list(self.fired),
            }
        )


@dataclass(frozen=True)
class Findings:
    """The result of one scan: every account seen, the campaigns, and the malformed-row report."""

    accounts: tuple[AccountFinding, ...]
    campaigns: tuple[CampaignFinding, ...]
    malformed: Mapping[str, int] = field(default_factory=dict)
    n_rows: int = 0
    engine: str = "duckdb"
    human_rate_per_hour: float = 0.0

    @property
    def flagged(self) -> tuple[AccountFinding, ...]:
        return tuple(a for a in self.accounts if a.flagged)

    def account(self, account_id: str) -> AccountFinding:
        """Requires ``account_id`` to have been seen by the scan (KeyError otherwise)."""
        for a in self.accounts:
            if a.account_id == account_id:
                return a
        raise KeyError(account_id)

    def to_json(self) -> dict[str, Any]:
        """The issue's JSON contract: flagged accounts and campaigns, with their explanations."""
        return {
            "n_rows": int(self.n_rows),
            "n_accounts": len(self.accounts),
            "n_flagged": len(self.flagged),
            "engine": self.engine,
            "human_rate_per_hour": _json_safe(self.human_rate_per_hour),
            "malformed": {str(k): int(v) for k, v in self.malformed.items()},
            "accounts": [a.to_json() for a in self.flagged],
            "campaigns": [c.to_json() for c in self.campaigns],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False)
