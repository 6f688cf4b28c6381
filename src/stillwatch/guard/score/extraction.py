"""What an account (or a campaign) *obtained*: the quantity that stands for "extracted".

Distillation is the transfer of capability through answers; the student learns from answers it has
not seen before, and a repeated answer to a repeated question carries no new information. Machine
pacing and scripting say *how* an account asks, not *what it collected*: a monitor that sends one
fixed health check every minute and receives ``OK`` is automation that extracted nothing (issue 18).
So the detector measures the information collected, and its harvest evidence requires it:

* **distinct prompts** ``D`` — prompts de-duplicated by normalised text (lower case, digit runs ->
  ``0``, whitespace collapsed: the ``prompt_h`` of :func:`~stillwatch.guard.features.tables.sample_features`, over :func:`~stillwatch.guard.features.tables.normalise`), so a
  question re-sent with another counter or timestamp is not new. Estimated from the account's
  uniform sample (``n_prompts``: the sample's distinct share times ``n``; exact when ``n <= K``).
* **novelty** ``nu = D / n`` in (0, 1] — the share of exchanges that asked something new;
  ``1 - nu`` is repetition.
* **answer tokens** ``T`` — the completion tokens of all of its answers, exact over every row (from the
  human reading time of :mod:`~stillwatch.guard.features.rates`, which is linear in them).
* **extracted tokens** ``X = nu * T`` — answer tokens of non-repeated answers (repeated prompts'
  answers are taken to be of average length).
* **extraction multiple** — the human reading time the *extracted* answers demand (``X`` tokens plus
  ``seconds_per_prompt`` per distinct prompt) over the time one person has in the account's span:
  the human-feasible multiple of the information collected. The Compulife argument is about volume
  *of value*: it is this multiple, not the raw one, that says "no person could have used this".

A campaign's figures sum its members' (``T``, and ``D`` times :func:`members_new_share`: a prompt
that several members and no one else send is one prompt the campaign obtained — a class or a CI job
running one script, a fleet of monitors —, counted exactly over every row; without the pairs, the plain
sum, an upper bound), and ``X = nu * T`` with the campaign's novelty ``nu = D / sum n``. Coverage of a
capability space is reported through the capability share and the distinct templates (``n_templates``)
beside these figures.

Use in the scores (:mod:`~stillwatch.guard.score.detect`): an account's harvest evidence is
multiplied by :func:`novelty_weight` and its volume evidence is the extraction multiple's; a
campaign's reading-hours evidence is its extracted hours. Machine pacing and scripting remain in the
coordination evidence as context.
"""

from __future__ import annotations

import numpy as np

from stillwatch.guard.features.rates import HumanRate, human_rate_multiple
from stillwatch.guard.score.cluster import Groups

#: Novelty at which the harvest evidence counts in full. 1: the harvest evidence is weighted by the
#: share of new information, as the extracted tokens are (``X = nu * T``): a monitor (one prompt:
#: nu = 1/n) or a fixed batch job (a handful of prompts cycled) obtains nothing, an evaluation lab
#: re-running one benchmark three times obtains a third of what it reads. (0.5 before issue 13: a
#: benchmark run twice then counted as fully new.) A statement about what "new information" means,
#: not a figure fitted to a simulator.
FULL_NOVELTY = 1.0


def novelty(n_prompts: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``D / n``: the share of an account's exchanges with a prompt it had not sent before (0 for none)."""
    n = np.asarray(n, np.float64)
    return np.where(n > 0, np.clip(np.asarray(n_prompts, np.float64) / np.maximum(n, 1.0), 0.0, 1.0), 0.0)


def answer_tokens(demand_s: np.ndarray, n: np.ndarray, rate: HumanRate) -> np.ndarray:
    """Completion tokens of all answers, from the reading time they demand (``demand_s = n * seconds_per_prompt
    + T * seconds_per_token``, :func:`~stillwatch.guard.features.rates.human_seconds`)."""
    t = (np.asarray(demand_s, np.float64) - np.asarray(n, np.float64) * rate.seconds_per_prompt) / rate.seconds_per_token
    return np.maximum(t, 0.0)


def extraction(n: np.ndarray, n_prompts: np.ndarray, demand_s: np.ndarray, span_us: np.ndarray,
               rate: HumanRate) -> dict[str, np.ndarray]:
    """Per account (or per campaign, on summed inputs): ``novelty``, ``distinct_prompts``,
    ``answer_tokens``, ``extracted_tokens``, ``extracted_hours`` and ``extraction_multiple`` (module
    docstring)."""
    nu = novelty(n_prompts, n)
    tokens = answer_tokens(demand_s, n, rate)
    distinct = nu * np.asarray(n, np.float64)
    x = nu * tokens
    x_seconds = x * rate.seconds_per_token + distinct * rate.seconds_per_prompt
    return {
        "novelty": nu,
        "distinct_prompts": distinct,
        "answer_tokens": tokens,
        "extracted_tokens": x,
        "extracted_hours": x_seconds / 3600.0,
        "extraction_multiple": human_rate_multiple(x_seconds, span_us, rate),
    }


def novelty_weight(nu: np.ndarray) -> np.ndarray:
    """Harvest evidence weight of novelty: 0 at none, 1 at :data:`FULL_NOVELTY` and above."""
    return np.clip(np.asarray(nu, np.float64) / FULL_NOVELTY, 0.0, 1.0)


def members_new_share(labels: np.ndarray, prompt_acc: np.ndarray, prompt_key: np.ndarray, prompt_fan: np.ndarray,
                      raw: np.ndarray) -> np.ndarray:
    """Per account, the share of its group's summed distinct prompts that the group did not send twice, ``1 - R /
    sum_i D_i``: ``D_i`` is member i's distinct prompts as sent (``raw``, ``n_prompts_raw``), and ``R`` counts ``k -
    1`` for each prompt that ``k >= 2`` members send **and no account outside the group sends** (``prompt_fan == k``).

    Why only the group's own prompts. A prompt sent by members only is one workload run by several of them (a class
    or a CI job running one script, evaluation labs running one private benchmark): the group obtained its answer once.
    A prompt the log's other accounts send too is public, and its copies among the members are what its popularity
    gives (H0: each member asks it as the log's other accounts do — a reseller's customers re-asking a popular
    question through several resellers): not a shared workload, so not subtracted; the group's volume keeps them, as
    it keeps any account's popular questions. Measured: the simulator's reseller30 campaigns (seed 1) send 12-42 of
    their duplicated copies on prompts of their own and 12,120-22,777 on public ones.

    Inputs: (``prompt_acc``, ``prompt_key``, ``prompt_fan``) are every (account, prompt) pair of the prompts >= 2
    accounts send, with the number of accounts that send it (:func:`~stillwatch.guard.features.shared.shared_prompts`;
    the key is the engine's hash of the prompt as sent). Exact counts over every row, the same on every engine. 1 for
    an account alone and without pairs (the live scorer, an older feature table).

    Attacker model: the operator controls what its accounts send. A subtraction lowers its group's volume only when
    its members send the same private prompts, and then the group did obtain each of them once (a repeated prompt's
    second answer is no new information, as for an account's own repeats, :mod:`~stillwatch.guard.score.repetition`).
    Public prompts cannot lower it: their copies are never subtracted. What must hold: a campaign whose members ask
    different questions keeps its whole volume whatever public prompts they share.

    Requires ``labels`` to be group labels (``0 <= labels[i] < len(labels)``, each group's label one of its members'
    indices), ``0 <= prompt_acc < len(labels)`` and each (account, key) pair at most once."""
    a = len(labels)
    lab = np.asarray(labels, np.int64)[np.asarray(prompt_acc, np.int64)]
    key = np.asarray(prompt_key, np.int64)
    fan = np.asarray(prompt_fan, np.int64)
    o = np.lexsort((key, lab))
    lo, ko, fo = lab[o], key[o], fan[o]
    # runs of one (group, prompt): k members send it
    start = np.flatnonzero(np.r_[len(lo) > 0, (lo[1:] != lo[:-1]) | (ko[1:] != ko[:-1])])
    k = np.diff(np.r_[start, len(lo)])
    own = fo[start] == k  # nobody outside the group sends it
    dup = np.bincount(lo[start][own], weights=(k - 1)[own], minlength=a).astype(np.float64)
    total = Groups(labels).sum(np.asarray(raw, np.float64))
    return np.where(total > 0, np.clip((total - dup[labels]) / np.maximum(total, 1.0), 0.0, 1.0), 1.0)
