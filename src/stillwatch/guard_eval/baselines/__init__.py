"""Published baselines for harvesting / model-extraction detection, implemented from their papers.

- :mod:`.rate_limit` — plain per-account rate limits (hourly and daily request caps).
- :mod:`.prada` — PRADA (Juuti et al., EuroS&P 2019): per-account Shapiro–Wilk test on the
  distribution of minimum distances between each query and the account's earlier queries.
- :mod:`.seat` — SEAT (Zhang et al., 2021): count of highly similar query pairs per account.
- :mod:`.synchrotrap` — SynchroTrap (Cao et al., CCS 2014): accounts clustered by synchronised
  actions on the same object (here: the same IP address in the same time window).

Each ``run(log, config)`` takes a log in :data:`~stillwatch.guard.log.schema.LOG_SCHEMA` and returns a
:class:`~stillwatch.guard_eval.baselines.common.DetectorOutput`: a score per account (for ROC/PR
metrics), the method's own flag at its documented operating threshold, optional clusters, and
the streaming alarm time per account (when the method would first have fired on the live stream).
"""

from __future__ import annotations

from stillwatch.errors import GuardInputError
from stillwatch.guard_eval.contract import DetectorOutput

BASELINES: tuple[str, ...] = ("rate_limit", "prada", "seat", "synchrotrap")


def run_baseline(name: str, log, config=None) -> DetectorOutput:
    """Run one baseline by name on a log table (``config``: that baseline's config dataclass)."""
    import importlib

    if name not in BASELINES:
        raise GuardInputError(f"unknown baseline {name!r}; choose from {BASELINES}")
    module = importlib.import_module(f"{__name__}.{name}")
    if config is None:
        return module.run(log)
    return module.run(log, config)


__all__ = ["BASELINES", "DetectorOutput", "run_baseline"]
