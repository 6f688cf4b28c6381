"""Traffic simulator: a benign API population plus harvesting campaigns, with ground-truth labels.

``simulate(scenario, n_exchanges, seed) -> (log, labels)``: ``log`` follows
:data:`~stillwatch.guard.log.schema.LOG_SCHEMA` (exactly ``n_exchanges`` rows, sorted by ``ts`` then
``request_id``), ``labels`` follows :data:`~stillwatch.guard.log.schema.LABEL_SCHEMA` (one row per
account that appears in the log). Generation is vectorized (numpy + pyarrow compute); text is
composed per template, never per row.

Scenario families (``SCENARIOS``): each holds the same kind of benign population plus three
campaigns of one family at different sizes (so "fraction of campaigns recovered" means something),
except ``swarm`` (two very large campaigns), ``mixed`` (one campaign of each kind; the default and
the demo) and ``heldout`` (capabilities, wording and rates never used while developing the detector).

The shape families ``keyrot``, ``reseller30``, ``burst``, ``cohort`` and ``spread``
(:mod:`.shapes`) hold the hard negatives of :mod:`.hard` (popular public prompts
shared verbatim, classes, companies on NAT, evaluation labs, apps, monitors, resellers) beside
three campaigns of one shape; ``simulate(..., hard_negatives=True)`` adds the hard negatives to
any family.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from stillwatch.errors import GuardInputError
from stillwatch.guard.log.schema import LABEL_SCHEMA, LOG_SCHEMA, TS_TYPE
from stillwatch.guard_sim.benign import BenignConfig, benign_population
from stillwatch.guard_sim.campaigns import CampaignSpec, campaign_block
from stillwatch.guard_sim.common import Block, random_ips
from stillwatch.guard_sim import textgen as tg
from stillwatch.guard_sim.hard import SHAPES, HardConfig, public_pool
from stillwatch.guard_sim.hard import hard_negatives as hard_blocks
from stillwatch.guard_sim.shapes import shape_blocks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScenarioConfig:
    """A named scenario: the benign population and the campaigns mixed into it."""

    name: str
    description: str
    campaigns: tuple[CampaignSpec, ...]
    campaign_share: float = 0.15  # fraction of all exchanges that are campaign traffic (before minimums)
    benign: BenignConfig = field(default_factory=BenignConfig)
    cgnat_pool_size: int = 300
    hard: HardConfig | None = None  # hard negatives (simulate_hard) replacing part of the benign traffic
    shapes: tuple[str, ...] = ()  # campaigns of the shapes of simulate_shapes, one per entry

    def __post_init__(self) -> None:
        if not 0.0 <= self.campaign_share < 0.9:
            raise GuardInputError(f"ScenarioConfig.campaign_share={self.campaign_share} must lie in [0, 0.9)")
        bad = [x for x in self.shapes if x not in SHAPES]
        if bad:
            raise GuardInputError(f"ScenarioConfig.shapes has {bad}; allowed: {SHAPES}")


def _three(base: CampaignSpec, sizes: tuple[int, ...]) -> tuple[CampaignSpec, ...]:
    from dataclasses import replace

    return tuple(replace(base, n_accounts=s) for s in sizes)


def _reseller(n: int, **kw) -> CampaignSpec:
    return CampaignSpec(capability="mixed", n_accounts=n, reseller_accounts=n, schedule="random", jitter=1.0, **kw)


SCENARIOS: dict[str, ScenarioConfig] = {
    s.name: s
    for s in [
        ScenarioConfig(
            "cot_templates",
            "chain-of-thought elicitation, slot-filled scaffolds, shared datacenter IPs, round-robin",
            _three(CampaignSpec("cot", templates="slot", infra="shared", schedule="round_robin"), (10, 150, 1500)),
        ),
        ScenarioConfig(
            "cot_paraphrase",
            "chain-of-thought elicitation, paraphrased scaffolds, residential proxies, random assignment, heavy jitter",
            _three(CampaignSpec("cot", templates="paraphrase", infra="noisy", schedule="random", jitter=2.0), (25, 300, 2500)),
        ),
        ScenarioConfig(
            "coding",
            "coding capability: explain-then-code scaffolds, shared infrastructure",
            _three(CampaignSpec("coding", templates="paraphrase", infra="shared"), (10, 80, 800)),
        ),
        ScenarioConfig(
            "agentic",
            "agentic tool-use traces, paraphrased, residential proxies",
            _three(CampaignSpec("agentic", templates="paraphrase", infra="noisy", schedule="random"), (15, 120, 1000)),
        ),
        ScenarioConfig(
            "rubric",
            "rubric-grading prompts (harvesting judgements), slot-filled, shared infrastructure",
            _three(CampaignSpec("rubric", templates="slot", infra="shared"), (10, 60, 400)),
        ),
        ScenarioConfig(
            "reseller",
            "harvest routed through reseller accounts that also carry real customers' traffic (2 legit : 1 harvest)",
            (_reseller(3), _reseller(5), _reseller(8)),
        ),
        ScenarioConfig(
            "pivot",
            "mixed capabilities, pivot to the new model within 2-20 h of its release and harvest harder after it",
            _three(CampaignSpec("mixed", templates="paraphrase", infra="noisy", pivot=True, start_day=1.0, days=5.5),
                   (20, 200, 1200)),
        ),
        ScenarioConfig(
            "swarm",
            "5,000 and 2,000 sybils, a handful of exchanges each, residential proxies, human-like daily rhythm",
            (
                CampaignSpec("cot", n_accounts=5000, templates="paraphrase", infra="noisy", schedule="random",
                             mimic_diurnal=True, jitter=2.0),
                CampaignSpec("coding", n_accounts=2000, templates="paraphrase", infra="noisy", schedule="random",
                             mimic_diurnal=True, jitter=2.0),
            ),
        ),
        ScenarioConfig(
            "heldout",
            "HELD-OUT: analysis / extraction capabilities, unseen scaffolds, diurnal mimicry, other rates",
            (
                CampaignSpec("analysis", n_accounts=12, infra="shared", jitter=0.8, hourly_cap=8, days=4.0, start_day=2.0),
                CampaignSpec("extraction", n_accounts=250, infra="noisy", schedule="random", mimic_diurnal=True, jitter=1.5),
                CampaignSpec("heldout_mixed", n_accounts=1800, infra="noisy", schedule="random", mimic_diurnal=True,
                             jitter=3.0, days=3.0, start_day=3.0),
            ),
            campaign_share=0.10,
        ),
        ScenarioConfig(
            "mixed",
            "one campaign of each kind in one log (the default scenario, used by the demo)",
            (
                CampaignSpec("cot", n_accounts=300, templates="slot", infra="shared"),
                CampaignSpec("coding", n_accounts=40, templates="paraphrase", infra="shared"),
                CampaignSpec("agentic", n_accounts=120, templates="paraphrase", infra="noisy", schedule="random"),
                CampaignSpec("rubric", n_accounts=25, templates="slot", infra="shared"),
                _reseller(4),
            ),
        ),
    ]
}
SCENARIOS.update({
    shape: ScenarioConfig(shape, f"HARD: {desc}; beside popular public prompts, classes, companies on NAT, "
                          "evaluation labs, apps, monitors and resellers", (), hard=HardConfig(), shapes=(shape,) * 3)
    for shape, desc in (
        ("keyrot", "key rotation every few dozen requests behind a handful of datacenter addresses, machine pace"),
        ("reseller30", "resellers whose traffic is 30 % a nightly harvest, 70 % real customers"),
        ("burst", "accounts of any age sending hundreds of requests in one night, then silence"),
        ("cohort", "accounts first seen within one hour, then human-paced"),
        ("spread", "distinct capability prompts over many accounts and keys at a human pace"),
    )
})
#: The shape families (hard negatives in every one of them).
SHAPE_FAMILIES: tuple[str, ...] = SHAPES

#: Families used when developing the detector (``heldout`` and ``mixed`` excluded).
DEVELOPMENT_FAMILIES: tuple[str, ...] = (
    "cot_templates", "cot_paraphrase", "coding", "agentic", "rubric", "reseller", "pivot", "swarm",
)


def list_scenarios() -> dict[str, str]:
    """Scenario name -> one-line description."""
    return {k: v.description for k, v in SCENARIOS.items()}


def get_scenario(name: str) -> ScenarioConfig:
    from stillwatch.errors import InputError

    if name not in SCENARIOS:
        raise InputError(f"unknown scenario {name!r}; choose one of: {', '.join(SCENARIOS)}")
    return SCENARIOS[name]


def _budgets(cfg: ScenarioConfig, n_exchanges: int) -> list[tuple[CampaignSpec, int, int]]:
    """(spec, accounts actually used, harvest exchanges) per campaign; shrinks sybil counts when
    the log is too small to give every account ``min_per_account`` exchanges."""
    total_w = sum(c.budget_weight for c in cfg.campaigns) or 1.0
    budget = cfg.campaign_share * n_exchanges
    out = []
    for c in cfg.campaigns:
        rows = budget * c.budget_weight / total_w
        harvest = int(rows / (1.0 + (c.legit_ratio if c.reseller_accounts else 0.0)))
        n_acc = c.reseller_accounts or c.n_accounts
        harvest = max(harvest, n_acc * c.min_per_account)
        cap = int(0.5 * n_exchanges / max(1, len(cfg.campaigns)))  # never let campaigns crowd out benign traffic
        if harvest > cap:
            harvest = cap
            n_acc = max(min(n_acc, 10), min(n_acc, harvest // c.min_per_account))
        out.append((c, n_acc, harvest))
    return out


def simulate(scenario: str | ScenarioConfig = "mixed", n_exchanges: int = 100_000, seed: int = 0,
             hard_negatives: bool = False) -> tuple[pa.Table, pa.Table]:
    """Simulate ``n_exchanges`` exchanges of a scenario; returns ``(log, labels)``.

    Requires ``n_exchanges >= 1000``. Deterministic for a given (scenario, n_exchanges, seed,
    hard_negatives). ``hard_negatives`` adds :mod:`.simulate_hard`'s populations to a scenario that
    has none.
    """
    from dataclasses import replace

    from stillwatch.errors import InputError

    if n_exchanges < 1000:
        raise InputError(f"n_exchanges={n_exchanges} is too small; the simulator needs at least 1000")
    cfg = get_scenario(scenario) if isinstance(scenario, str) else scenario
    if hard_negatives and cfg.hard is None:
        cfg = replace(cfg, hard=HardConfig())
    rng = np.random.default_rng([seed, 0x5EED])
    cgnat_pool = random_ips(rng, cfg.cgnat_pool_size, first_octets=(100, 100))  # carrier-grade NAT range
    blocks: list[Block] = []
    n_campaign_rows = 0
    for i, (spec, n_acc, harvest) in enumerate(_budgets(cfg, n_exchanges)):
        if spec.reseller_accounts:
            spec = replace(spec, reseller_accounts=n_acc, n_accounts=n_acc)
        else:
            spec = replace(spec, n_accounts=n_acc)
        b = campaign_block(rng, spec, harvest, f"{cfg.name}-c{i}", cfg.name, cgnat_pool)
        blocks.append(b)
        n_campaign_rows += len(b.ts_us)
    pool = public_pool(rng, cfg.hard or HardConfig()) if cfg.hard or cfg.shapes else None
    weights = np.sqrt(np.arange(1, len(cfg.shapes) + 1, dtype=np.float64) * 4.0)
    for j, shape in enumerate(cfg.shapes):  # campaigns of growing size (weights 2, 2.8, 3.5, ...)
        rows = int(cfg.campaign_share * n_exchanges * weights[j] / weights.sum())
        for b in shape_blocks(rng, shape, rows, f"{cfg.name}-s{j}", pool, index=j):
            blocks.append(b)
            n_campaign_rows += len(b.ts_us)
    if n_campaign_rows >= n_exchanges:
        raise InputError(f"n_exchanges={n_exchanges} is too small for scenario {cfg.name!r} ({n_campaign_rows} campaign rows)")
    n_benign = n_exchanges - n_campaign_rows
    if cfg.hard is not None:
        for b in hard_blocks(rng, int(cfg.hard.share * n_benign), cfg.hard, pool, cgnat_pool):
            blocks.append(b)
            n_benign -= len(b.ts_us)
        if n_benign < 100:
            raise InputError(f"n_exchanges={n_exchanges} is too small for scenario {cfg.name!r} with hard negatives")
    blocks.insert(0, benign_population(rng, n_benign, cfg.benign, cgnat_pool))
    return _assemble(rng, blocks)


def _assemble(rng: np.random.Generator, blocks: list[Block]) -> tuple[pa.Table, pa.Table]:
    ts = np.concatenate([b.ts_us for b in blocks])
    n = len(ts)
    # request ids: random, unique, not ordered by account or time; all the same length, so their
    # text order is their numeric order
    rid_num = rng.permutation(n) + 10**11
    rid = tg.join_columns(["req_", tg.ints_as_text(rid_num)])
    cols = {
        "request_id": rid,
        "ts": pa.array(ts, type=pa.int64()).cast(TS_TYPE),
        "account_id": pa.concat_arrays([b.account_id for b in blocks]),
        "api_key_id": pa.concat_arrays([b.api_key_id for b in blocks]),
        "ip": pa.concat_arrays([b.ip for b in blocks]),
        "user_agent": pa.concat_arrays([b.user_agent for b in blocks]),
        "payment_fingerprint": pa.concat_arrays([b.payment_fingerprint.cast(pa.string()) for b in blocks]),
        "model": pa.concat_arrays([b.model for b in blocks]),
        "prompt": pa.concat_arrays([b.prompt for b in blocks]),
        "response": pa.concat_arrays([b.response for b in blocks]),
    }
    cols["prompt_tokens"] = pa.array(tg.approx_tokens(cols["prompt"]) + 8)  # + chat-format overhead
    cols["completion_tokens"] = pa.array(tg.approx_tokens(cols["response"]))
    table = pa.table(cols, schema=LOG_SCHEMA)
    table = table.take(pa.array(np.lexsort((rid_num, ts))))  # == sort_by ts, then request_id
    labels = pa.table(
        {
            "account_id": pa.concat_arrays([b.label_account for b in blocks]),
            "campaign_id": pa.concat_arrays([b.label_campaign for b in blocks]),
            "family": pa.concat_arrays([b.label_family for b in blocks]),
        },
        schema=LABEL_SCHEMA,
    )
    present = pc.is_in(labels["account_id"], value_set=pc.unique(table["account_id"]))
    labels = labels.filter(present).sort_by("account_id")
    return table, labels


def write_simulation(log_table: pa.Table, labels: pa.Table, out: str, labels_out: str) -> None:
    """Write the log and labels as Parquet (zstd)."""
    import pyarrow.parquet as pq

    pq.write_table(log_table, out, compression="zstd")
    pq.write_table(labels, labels_out, compression="zstd")
