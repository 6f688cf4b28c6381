"""The human-feasible rate: how many exchanges one person could sustain, and volumes as multiples of it.

Derivation (every constant is a field of :class:`HumanRate`, so a report can restate it):

* A person who *uses* an answer must at least read it. Silent reading of non-fiction runs at about
  **238 words per minute** (Brysbaert 2019, "How many words do we read per minute? A review and
  meta-analysis of reading rate", J. Memory and Language 109, 104047).
* English text averages about **0.75 words per token** (the usual BPE rule of thumb), so an answer of
  ``c`` completion tokens takes ``0.75 * c / 238`` minutes to read.
* Writing or pasting the next prompt and sending it takes at least **5 seconds** (we do not charge for
  typing the prompt: a person may paste it; this keeps the bound generous to the account).
* A *typical* answer of **400 completion tokens** (300 words) therefore takes 75.6 s + 5 s = 80.6 s:
  one person sustains at most **about 44.7 exchanges per hour** (:func:`human_rate_per_hour`).
* Nobody reads around the clock: within any stretch longer than a day, a person is awake and at the
  keyboard at most **16 of every 24 hours**; within a shorter stretch we grant all of it (up to 16 h).

Each account's (and each campaign's) volume is stated as a multiple of this: the *human time its
exchanges demand* (reading time of its own answers, by their token counts, plus 5 s each) divided by
the *time available to one person* over its active span (first to last request, plus one typical
exchange). A multiple of 1 means one person reading full-time could just have kept up; 30 means at
least 30 people reading non-stop — or a machine. The figure is a lower bound on the number of
people needed, since it assumes no pauses to think, eat or sleep within the waking hours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stillwatch.errors import GuardInputError

_US_PER_S = 1_000_000.0
_DAY_S = 86_400.0


@dataclass(frozen=True)
class HumanRate:
    """The constants of the human-feasible rate (see the module docstring for their sources)."""

    words_per_minute: float = 238.0
    words_per_token: float = 0.75
    seconds_per_prompt: float = 5.0
    typical_completion_tokens: float = 400.0
    waking_hours_per_day: float = 16.0

    def __post_init__(self) -> None:
        for name in ("words_per_minute", "words_per_token", "typical_completion_tokens"):
            value = getattr(self, name)
            if not value > 0:
                raise GuardInputError(f"HumanRate.{name} must be > 0, got {value!r}")
        if not self.seconds_per_prompt >= 0:
            raise GuardInputError(f"HumanRate.seconds_per_prompt must be >= 0, got {self.seconds_per_prompt!r}")
        if not 0 < self.waking_hours_per_day <= 24:
            raise GuardInputError(f"HumanRate.waking_hours_per_day must be in (0, 24], got {self.waking_hours_per_day!r}")

    @property
    def seconds_per_token(self) -> float:
        """Reading time per completion token, in seconds."""
        return 60.0 * self.words_per_token / self.words_per_minute

    @property
    def typical_exchange_seconds(self) -> float:
        return self.seconds_per_prompt + self.typical_completion_tokens * self.seconds_per_token


def human_rate_per_hour(rate: HumanRate = HumanRate()) -> float:
    """Exchanges per hour one person can sustain on typical answers (about 44.7 by default)."""
    return 3600.0 / rate.typical_exchange_seconds


def human_seconds(completion_tokens: np.ndarray, rate: HumanRate = HumanRate()) -> np.ndarray:
    """Seconds a person needs for each exchange: 5 s + reading its answer. Negative counts count as 0."""
    c = np.clip(np.asarray(completion_tokens, dtype=np.float64), 0.0, None)
    return rate.seconds_per_prompt + c * rate.seconds_per_token


def available_seconds(span_us: np.ndarray, rate: HumanRate = HumanRate()) -> np.ndarray:
    """Seconds one person can spend at the keyboard within an active span (microseconds).

    Requires ``span_us >= 0`` (negative spans are treated as 0). Spans under a day get all their
    time up to ``waking_hours_per_day``; longer spans get the waking fraction of the whole span.
    One typical exchange is added so that a single request is never "faster than human".
    """
    span_s = np.clip(np.asarray(span_us, dtype=np.float64), 0.0, None) / _US_PER_S
    waking_s = rate.waking_hours_per_day * 3600.0
    usable = np.where(span_s < _DAY_S, np.minimum(span_s, waking_s), span_s * waking_s / _DAY_S)
    return usable + rate.typical_exchange_seconds


def human_rate_multiple(
    demand_seconds: np.ndarray, span_us: np.ndarray, rate: HumanRate = HumanRate()
) -> np.ndarray:
    """Human time demanded / human time available: how many full-time people the volume needs."""
    return np.asarray(demand_seconds, dtype=np.float64) / available_seconds(span_us, rate)
