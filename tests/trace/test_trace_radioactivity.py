"""Radioactivity tests on suspects whose behaviour is known by construction.

* A "perfectly radioactive" suspect: a tiny model whose teacher-forced top-1 prediction is replaced
  by a token that is green under the provider key (found with the Marker's own bias, so there is one
  seeding code path). The open-model test must find it; a wrong key must not.
* Null: an untrained model scored with many independent master keys on key-independent text gives
  p-values that a Kolmogorov-Smirnov test cannot tell from uniform.
* Bad input: a suspect with another tokenizer (open path refuses and says why; closed path works),
  transcripts without a spec, an empty scoring set, a missing key file.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from scipy import stats

from stillwatch.records import Transcript
from stillwatch.errors import InputError, KeyFileError, TokenizerMismatchError, TraceError
from stillwatch.mark import MarkConfig, Marker, MasterKey
from stillwatch.mark.config import LayerParams
from stillwatch.models import load_backend
from stillwatch.trace.api import run_radioactivity
from stillwatch.trace.radioactivity import RadioactivityConfig, ScoringText, open_model_test

CFG = MarkConfig(provider=LayerParams(context_width=1, delta=2.0), account=LayerParams(context_width=1, delta=2.0))


@pytest.fixture(scope="module")
def tiny():
    return load_backend("tiny")


class GreenSuspect:
    """Wraps a local backend; its argmax is a provider-green token for the last id (h = 1), for a
    fraction ``rate`` of positions (chosen by a seeded RNG), else the wrapped model's argmax."""

    def __init__(self, inner, master, rate=1.0, account=None):
        self.inner, self.rate = inner, rate
        self.name, self.tokenizer_id, self.vocab_size, self.local = "green-suspect", inner.tokenizer_id, inner.vocab_size, True
        self.marker = Marker(master, account, config=CFG, vocab_size=inner.vocab_size)

    def chat_prompt_ids(self, p):
        return self.inner.chat_prompt_ids(p)

    def encode(self, t):
        return self.inner.encode(t)

    def next_token_argmax(self, seqs, batch_size=16):
        import torch

        base = self.inner.next_token_argmax(seqs, batch_size=batch_size)
        proc = self.marker.hf_processor()
        rng = np.random.default_rng(0)
        out = []
        for ids, b in zip(seqs, base):
            ids = torch.as_tensor(np.asarray(ids, dtype=np.int64))[:, None]  # [T, 1]: context of width 1
            noise = torch.as_tensor(rng.random((ids.shape[0], self.vocab_size)), dtype=torch.float32)  # [T, V]
            noise[:, 256:] = -1e4  # only byte tokens
            green_tok = proc(ids, noise).argmax(dim=1).numpy()  # the bias (2.0) beats the noise (< 1)
            use = rng.random(ids.shape[0]) < self.rate
            out.append(np.where(use, green_tok, b))
        return out


def _key(label: str) -> MasterKey:
    """A fixed master key per label: the statistical assertions below (a wrong key's p > 1e-3, a KS
    test over keys, a planted suspect's p < 1e-6) would each fail by chance in some runs with fresh
    random keys; with fixed keys a test's outcome is the same in every run."""
    return MasterKey(hashlib.sha256(f"stillwatch-test-key:{label}".encode()).digest())


def _texts(n, seed, length=200):
    rng = np.random.default_rng(seed)
    return [ScoringText(rng.integers(32, 127, size=length).astype(np.int64), score_from=10) for _ in range(n)]


def test_radioactive_suspect_is_detected_and_wrong_key_is_not(tiny):
    master = _key("master")
    suspect = GreenSuspect(tiny, master, rate=0.3)
    texts = _texts(8, 1)
    r = open_model_test(suspect, texts, CFG.provider_spec(), master.provider_key(), watermark_tokenizer_id=tiny.tokenizer_id)
    assert r.p_value < 1e-6 and r.n_scored > 100
    # 30% of predictions are green by construction: far above gamma = 0.25 (the tiny model's own, nearly
    # constant argmax de-duplicates to few tuples, so green ones dominate the scored set)
    assert r.n_green / r.n_scored > 0.4
    # the p-value curve ends at the full test and falls as tuples accumulate
    assert r.curve[-1]["p_value"] == pytest.approx(r.p_value)
    assert r.curve[-1]["p_value"] < r.curve[0]["p_value"]
    wrong = _key("wrong")
    r2 = open_model_test(suspect, texts, CFG.provider_spec(), wrong.provider_key(), watermark_tokenizer_id=tiny.tokenizer_id)
    assert r2.p_value > 1e-3


@pytest.mark.parametrize("exclude_answers", [True, False])
def test_null_p_values_are_uniform_over_keys(tiny, exclude_answers):
    """An untrained model on key-independent text, scored with 40 independent keys: KS vs U(0,1).
    The binomial test is discrete, so we use the randomised (mid-)p-value-free check: P(p <= u) <= u."""
    from stillwatch.mark import score_pairs
    from stillwatch.trace.radioactivity import open_model_pairs

    texts = _texts(6, 2)
    preds = tiny.next_token_argmax([t.ids.tolist() for t in texts])
    pairs = open_model_pairs(preds, texts, 1, exclude_answers=exclude_answers)
    rng = np.random.default_rng(7)
    ps, n_scored = [], []
    for i in range(40):
        # random-token suspects: the tiny model's argmax is nearly constant, so add seeded random predictions
        toks = np.where(rng.random(pairs.n) < 0.9, rng.integers(0, 256, pairs.n), pairs.tokens)
        r = score_pairs(pairs.contexts, toks, CFG.provider_spec(), _key(f"null-{i}").provider_key(), exclude_windows=pairs.exclude)
        ps.append(r.p_value)
        n_scored.append(r.n_scored)
    assert min(n_scored) > 300
    assert stats.kstest(ps, "uniform").pvalue > 1e-3
    assert np.mean(np.asarray(ps) <= 0.05) <= 0.2


def _transcripts(tiny, master, n=6):
    gens = tiny.generate(["hello there"] * n, max_new_tokens=40, seed=1,
                         logits_processor=Marker(master, "acct-000", config=CFG, vocab_size=tiny.vocab_size).hf_processor())
    spec = Marker(master, "acct-000", config=CFG, vocab_size=tiny.vocab_size).spec_record()
    return [Transcript(prompt_id=f"p{i}", prompt=g.prompt, text=g.text, account=f"acct-00{i % 2}", watermark="local",
                       spec=spec, model="tiny", tokenizer_id=tiny.tokenizer_id, prompt_ids=g.prompt_ids,
                       completion_ids=g.completion_ids) for i, g in enumerate(gens)]


def _foreign_suspect():
    """A tiny Llama with a word-level tokenizer (not the teacher's byte tokenizer)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from stillwatch.models.hf import HFBackend

    words = ["<pad>", "<eos>", "<unk>", "the", "answer", "is", "x", "y", "and", "so"]
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    cfg = LlamaConfig(vocab_size=12, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                      num_key_value_heads=2, pad_token_id=0, eos_token_id=1, bos_token_id=None)
    import torch

    torch.manual_seed(0)
    return HFBackend(LlamaForCausalLM(cfg), tok, name="foreign")


def test_foreign_tokenizer_open_refuses_closed_works(tiny):
    master = _key("master")
    recs = _transcripts(tiny, master)
    foreign = _foreign_suspect()
    with pytest.raises(TokenizerMismatchError, match="open-model setting needs the suspect to use the teacher's tokenizer"):
        run_radioactivity(foreign, master, transcripts=recs, config=RadioactivityConfig(setting="open"))
    r = run_radioactivity(foreign, master, transcripts=recs, teacher=tiny,
                          config=RadioactivityConfig(setting="closed", max_new_tokens=24))
    assert r.setting == "closed" and r.n_scored > 0 and 0.0 <= r.p_value <= 1.0
    assert {a["account"] for a in r.accounts} == {"acct-000", "acct-001"}
    with pytest.raises(TraceError, match="pass the teacher"):
        run_radioactivity(foreign, master, transcripts=recs, config=RadioactivityConfig(setting="closed"))


def test_open_run_on_transcripts_reports_accounts(tiny):
    master = _key("master")
    recs = _transcripts(tiny, master)
    for scoring in ("transcripts", "suspect"):
        r = run_radioactivity(tiny, master, transcripts=recs, config=RadioactivityConfig(scoring=scoring, max_new_tokens=32))
        assert r.n_texts == len(recs)
    d = r.to_dict()
    assert d["setting"] == "open" and d["n_scored"] > 0 and 0 <= d["p_value"] <= 1
    assert {a["account"] for a in d["accounts"]} == {"acct-000", "acct-001"}
    assert all(a["corrected_p_value"] >= a["p_value"] for a in d["accounts"])


def test_transcripts_without_spec_and_missing_key(tiny, tmp_path):
    master = _key("master")
    recs = [Transcript(prompt_id="p", prompt="q", text="", account="a", watermark="server-side")]
    # no spec: falls back to the given settings; no answer to score -> a clear error
    with pytest.raises(TraceError, match="no non-empty answer"):
        run_radioactivity(tiny, master, transcripts=recs, mark_config=CFG,
                          config=RadioactivityConfig(scoring="transcripts"))
    with pytest.raises(KeyFileError, match="not found"):
        MasterKey.load(tmp_path / "missing.key")


def test_attribution_finds_the_account_whose_layer_the_suspect_learned(tiny):
    """A suspect biased towards tokens green under the provider AND acct-002's layer: attribution among
    six accounts names acct-002 with a small corrected p-value and calls no other account present."""
    master = _key("master")
    suspect = GreenSuspect(tiny, master, rate=0.5, account="acct-002")
    accounts = [f"acct-00{i}" for i in range(6)]
    r = open_model_test(suspect, _texts(8, 3), CFG.provider_spec(), master.provider_key(),
                        watermark_tokenizer_id=tiny.tokenizer_id, account_spec=CFG.account_spec("acct-002"),
                        master=master, accounts=accounts)
    assert r.best_account == "acct-002" and r.best_account_corrected_p_value < 1e-6
    rows = {a["account"]: a for a in r.accounts}
    assert rows["acct-002"]["present"] and not any(rows[a]["present"] for a in accounts if a != "acct-002")
    # Šidák: corrected = 1 - (1 - p)^6, computed here independently (6p for tiny p, where 1 - (1 - p)^6
    # cancels to 0 in floating point; the relative error of 6p is below 3p)
    for a in rows.values():
        p = a["p_value"]
        expected = 1 - (1 - p) ** 6 if p > 1e-6 else 6 * p
        assert a["corrected_p_value"] == pytest.approx(expected, rel=1e-5)


def test_reference_scoring_uses_the_given_unwatermarked_texts(tiny):
    master = _key("master")
    recs = _transcripts(tiny, master)
    plain = tiny.generate(["what is x?", "say y"] * 3, max_new_tokens=40, seed=2)
    ref = [Transcript(prompt_id=f"r{i}", prompt=g.prompt, text=g.text, account="x", model="tiny",
                      tokenizer_id=tiny.tokenizer_id, prompt_ids=g.prompt_ids, completion_ids=g.completion_ids)
           for i, g in enumerate(plain)]
    cfg = RadioactivityConfig(scoring="reference")
    suspect = GreenSuspect(tiny, master, rate=0.5)
    r = run_radioactivity(suspect, master, transcripts=recs, reference=ref, config=cfg)
    assert r.n_texts == len(ref) and r.p_value < 1e-6
    # the same texts scored directly give the same result: the reference mode feeds exactly them
    texts = [ScoringText(np.asarray(list(g.prompt_ids) + list(g.completion_ids)), len(g.prompt_ids)) for g in plain]
    r_direct = open_model_test(suspect, texts, CFG.provider_spec(), master.provider_key(), watermark_tokenizer_id=tiny.tokenizer_id)
    assert (r.n_scored, r.n_green) == (r_direct.n_scored, r_direct.n_green)
    with pytest.raises(InputError, match="needs reference transcripts"):
        run_radioactivity(tiny, master, transcripts=recs, config=cfg)
    with pytest.raises(InputError, match="must be unwatermarked"):
        run_radioactivity(tiny, master, transcripts=recs, reference=recs, config=cfg)


def test_differential_test_scores_only_departures_from_the_base(tiny):
    master = _key("master")
    suspect = GreenSuspect(tiny, master, rate=0.05)  # departs from its base (tiny) at ~5% of positions, to green
    texts = _texts(8, 1)
    spec, wm_tok = CFG.provider_spec(), tiny.tokenizer_id
    plain = open_model_test(suspect, texts, spec, master.provider_key(), watermark_tokenizer_id=wm_tok)
    diff = open_model_test(suspect, texts, spec, master.provider_key(), watermark_tokenizer_id=wm_tok, base=tiny)
    assert diff.base == "tiny" and plain.base is None
    assert 0 < diff.n_scored < plain.n_scored
    assert diff.n_green / diff.n_scored > 0.9  # what is left is the departures, green by construction
    assert diff.p_value < 1e-6 and diff.p_value < plain.p_value
    wrong = open_model_test(suspect, texts, spec, _key("wrong").provider_key(), watermark_tokenizer_id=wm_tok, base=tiny)
    assert wrong.p_value > 1e-3 and wrong.n_scored == diff.n_scored
    # the base model itself departs nowhere from itself: nothing to score is a clear error
    with pytest.raises(TraceError, match="nothing to score"):
        open_model_test(tiny, texts, spec, master.provider_key(), watermark_tokenizer_id=wm_tok, base=tiny)


class CountingModel:
    """A local model that counts its teacher-forced passes (delegates to ``inner``)."""

    def __init__(self, inner, dtype=None):
        self.inner, self.calls = inner, 0
        self.name, self.tokenizer_id, self.vocab_size, self.local = inner.name, inner.tokenizer_id, inner.vocab_size, True
        if dtype is not None:
            import torch

            self.model = type("M", (), {"dtype": getattr(torch, dtype)})()

    def next_token_argmax(self, seqs, batch_size=16):
        self.calls += 1
        return self.inner.next_token_argmax(seqs, batch_size=batch_size)


def test_base_predictions_are_computed_once_per_texts_and_dtypes_must_match(tiny):
    from stillwatch.trace.radioactivity import PredictionCache

    master, other = _key("master"), _key("other")
    texts, spec, wm_tok = _texts(6, 3), CFG.provider_spec(), tiny.tokenizer_id
    base = CountingModel(tiny)
    cache = PredictionCache()
    suspect = GreenSuspect(tiny, master, rate=0.05)
    uncached = open_model_test(suspect, texts, spec, master.provider_key(), watermark_tokenizer_id=wm_tok, base=tiny)
    runs = [open_model_test(m, texts, spec, k.provider_key(), watermark_tokenizer_id=wm_tok, base=base, cache=cache)
            for m, k in ((suspect, master), (suspect, other), (GreenSuspect(tiny, other, rate=0.05), master))]
    assert base.calls == 1 and cache.hits >= 2  # suspect, wrong key and control share the base's one pass
    assert (runs[0].n_scored, runs[0].n_green, runs[0].p_value) == (uncached.n_scored, uncached.n_green, uncached.p_value)
    open_model_test(suspect, _texts(6, 4), spec, master.provider_key(), watermark_tokenizer_id=wm_tok, base=base, cache=cache)
    assert base.calls == 2  # other texts: computed again
    twin = CountingModel(tiny)  # same name, tokenizer and dtype as `base`, but another model: never served base's entries
    open_model_test(suspect, texts, spec, master.provider_key(), watermark_tokenizer_id=wm_tok, base=twin, cache=cache)
    assert twin.calls == 1
    with pytest.raises(TraceError, match="base model computes in bfloat16 but the suspect in float32"):
        open_model_test(CountingModel(tiny, "float32"), texts, spec, master.provider_key(), watermark_tokenizer_id=wm_tok,
                        base=CountingModel(tiny, "bfloat16"))


def test_reanswer_length_and_temperature_are_the_open_settings_own(tiny):
    class Recorder(CountingModel):
        def chat_prompt_ids(self, p):
            return self.inner.chat_prompt_ids(p)

        def generate(self, prompts, **kw):
            self.kw = kw
            return self.inner.generate(prompts, **kw)

    master = _key("master")
    rec = Recorder(tiny)
    cfg = RadioactivityConfig(max_texts=4, max_new_tokens=7, temperature=0.5, reanswer_tokens=21, reanswer_temperature=0.7)
    run_radioactivity(rec, master, mark_config=CFG, config=cfg, prompts=["what is x?", "say y", "count to 3", "name a colour"])
    assert rec.kw["max_new_tokens"] == 21 and rec.kw["temperature"] == 0.7


def test_reanswer_rounds_answer_each_prompt_again_with_new_seeds(tiny):
    class Recorder(CountingModel):
        def chat_prompt_ids(self, p):
            return self.inner.chat_prompt_ids(p)

        def generate(self, prompts, **kw):
            self.seeds.append((kw["seed"], len(prompts)))
            return self.inner.generate(prompts, **kw)

    master, prompts = _key("reanswer-rounds"), ["what is x?", "say y", "count to 3"]
    one, three = Recorder(tiny), Recorder(tiny)
    one.seeds, three.seeds = [], []
    r1 = run_radioactivity(one, master, mark_config=CFG, config=RadioactivityConfig(seed=5, reanswer_tokens=12), prompts=prompts)
    r3 = run_radioactivity(three, master, mark_config=CFG, prompts=prompts,
                           config=RadioactivityConfig(seed=5, reanswer_tokens=12, reanswer_rounds=3))
    assert one.seeds == [(5, 3)] and three.seeds == [(5, 3), (6, 3), (7, 3)]
    assert r1.n_texts == 3 and r3.n_texts == 9 and r3.config["reanswer_rounds"] == 3 and r1.config["scoring"] == "suspect"
    # round 0 is the one-round run: its tuples are among the three-round run's (de-duplicated over all rounds)
    assert r1.n_tuples <= r3.n_tuples and r1.n_scored <= r3.n_scored
    with pytest.raises(InputError, match="reanswer_rounds must be >= 1"):
        RadioactivityConfig(reanswer_rounds=0)
    with pytest.raises(InputError, match="reanswer_temperature must be > 0"):
        RadioactivityConfig(reanswer_temperature=0.0)


# ------------------------------------------------------------------------------------------- combined layers
TCFG = MarkConfig.default()  # tournament h = 2, 16 + 16 layers, weighted: the deployed default


class TournamentSuspect:
    """Wraps a local backend; at a fraction ``rate`` of positions (seeded) its argmax is, of 4 seeded random
    byte tokens, the one with the largest summed score under ``master``'s provider key and the account keys of
    ``accounts`` for the last two ids — a student of a harvest that went through those accounts."""

    def __init__(self, inner, master, accounts=(), rate=0.3):
        self.inner, self.rate = inner, rate
        self.name, self.tokenizer_id, self.vocab_size, self.local = "tournament-suspect", inner.tokenizer_id, inner.vocab_size, True
        self.layers = [(TCFG.provider_spec(), master.provider_key())] + [(TCFG.account_spec(a), master.account_key(a)) for a in accounts]

    def next_token_argmax(self, seqs, batch_size=16):
        from stillwatch.core import prf

        base = self.inner.next_token_argmax(seqs, batch_size=batch_size)
        rng = np.random.default_rng(1)
        out = []
        for ids, b in zip(seqs, base):
            ids = np.asarray(ids, dtype=np.int64)
            ctx = np.stack([np.concatenate([[0], ids[:-1]]), ids], axis=1)  # [T, 2]: the two ids ending at t
            cands = rng.integers(32, 127, size=(ids.shape[0], 4))  # [T, 4]
            score = sum(np.stack([sp.scorer.stat(prf.prf(*k.words, ctx, cands[:, j])) for j in range(4)], axis=1)
                        for sp, k in self.layers)  # [T, 4]
            use = rng.random(ids.shape[0]) < self.rate
            out.append(np.where(use, cands[np.arange(ids.shape[0]), score.argmax(axis=1)], b))
        return out


def test_harvest_account_layers_add_power_and_wrong_keys_stay_uniform(tiny):
    """The attacker harvested through acct-002: its student prefers tuples scored high under the provider key
    and acct-002's key. Provider + acct-002 in one test: far stronger than the provider layer alone; the same
    suspect tested with 30 wrong master keys (provider and acct-002 keys all wrong): uniform p-values; naming
    an account the harvest did not use dilutes the evidence but stays valid."""
    from stillwatch.trace.radioactivity import combined_test, open_model_pairs

    master = _key("master")
    suspect = TournamentSuspect(tiny, master, accounts=("acct-002",), rate=0.3)
    texts, wm_tok = _texts(4, 5, length=100), tiny.tokenizer_id  # few tuples: each exact law costs O(n^2)
    r = open_model_test(suspect, texts, TCFG.provider_spec(), master.provider_key(), watermark_tokenizer_id=wm_tok,
                        account_spec=TCFG.account_spec("x"), master=master, harvest_accounts=["acct-002"])
    c = r.combined
    assert c["accounts"] == ["acct-002"] and [x["key_id"] for x in c["layers"]] == ["provider", "account:acct-002"]
    assert c["layers"][0]["p_value"] == pytest.approx(r.p_value, rel=1e-12) and c["n_coins"] == 2 * 16 * r.n_scored
    assert c["p_value"] < 1e-6 and c["p_value"] < r.p_value / 100
    assert r.to_dict()["combined"]["p_value"] == c["p_value"]
    # the same tuples, other keys (the suspect's predictions computed once)
    pairs = open_model_pairs(suspect.next_token_argmax([t.ids.tolist() for t in texts]), texts, 2, exclude_answers=False)
    comb = lambda p, mk, acc: combined_test(lambda h: p, TCFG.provider_spec(), mk.provider_key(), TCFG.account_spec("x"),  # noqa: E731
                                            mk, acc)["p_value"]
    assert comb(pairs, master, ["acct-002"]) == pytest.approx(c["p_value"], rel=1e-12)
    assert comb(pairs, master, ["acct-002", "acct-005"]) > c["p_value"]  # an unused account adds only noise
    ps = [comb(pairs, _key(f"wrong-{i}"), ["acct-002"]) for i in range(30)]
    assert stats.kstest(ps, "uniform").pvalue > 1e-3 and min(ps) > 1e-3
    # a control model (key-independent predictions) with the right keys: uniform over keys as well
    toks = np.random.default_rng(9).integers(32, 127, pairs.n)  # seeded, never looked at a key
    control = type(pairs)(pairs.contexts, toks, pairs.exclude, pairs.n_texts)
    ctl = [comb(control, _key(f"control-{i}"), ["acct-002", "acct-003"]) for i in range(30)]
    assert stats.kstest(ctl, "uniform").pvalue > 1e-3


def test_harvest_accounts_need_tournament_layers_and_distinct_names(tiny):
    master = _key("master")
    # the closed setting runs the same combined test on the suspect's generated answers
    r = run_radioactivity(tiny, master, mark_config=TCFG, prompts=["what is x?", "say y"], harvest_accounts=["a", "b"],
                          config=RadioactivityConfig(setting="closed", max_new_tokens=24))
    assert r.setting == "closed" and r.combined["accounts"] == ["a", "b"]
    assert [x["multiplier"] for x in r.combined["layers"]] == [2, 1, 1] and r.combined["layers"][0]["n_scored"] == r.n_scored
    with pytest.raises(InputError, match="needs tournament layers"):
        run_radioactivity(tiny, master, mark_config=CFG, prompts=["hi"], harvest_accounts=["a"])
    with pytest.raises(InputError, match="named twice"):
        run_radioactivity(tiny, master, mark_config=TCFG, prompts=["hi"], harvest_accounts=["a", "a"])
    no_account = MarkConfig(provider=TCFG.provider, account=None, order=TCFG.order, candidates=TCFG.candidates)
    with pytest.raises(InputError, match="no account layer"):
        run_radioactivity(tiny, master, mark_config=no_account, prompts=["hi"], harvest_accounts=["a"])
