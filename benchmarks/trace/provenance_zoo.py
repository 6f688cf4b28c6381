"""The provenance model zoo: does `trace provenance` find the parent of derived models and leave
independent models alone? Beside it, the Nikolic, Baluta & Saxena (2025) tester re-implemented at
its published settings, on the same zoo, in the same run.

Candidates (possible parents): SmolLM2-135M-Instruct (ours) and Gemma-3 270M (an independent
lineage, from the PyPI chunk packages of the ``bench`` extra). References (never attributed):
two small models pretrained here on other corpora. Suspects with known truth
(``provenance_zoo_truth.json``): full fine-tunes and LoRA (peft) adapters of SmolLM2 on several
local corpora, int8 dynamic quantization, magnitude pruning, students distilled from SmolLM2's
answers with ``stillwatch distill`` (other initialisation, size, tokenizer), the same for Gemma
(its "negative twins"), and independent models pretrained here.

Everything is cached under ``benchmarks/out/provenance_zoo/`` (git-ignored): each model directory
and each model's answers are made once, so the command resumes where it stopped; ``--only NAMES``
builds and answers only those models, ``--report`` only evaluates what exists, ``--queries N`` sets
the prompt pool (= the per-suspect budget; answers are cached per pool). The script runs itself
at niceness 15 and computes on one thread, one model at a time.

    .venv/bin/python benchmarks/trace/provenance_zoo.py            # build what is missing, then report
    .venv/bin/python benchmarks/trace/provenance_zoo.py --report   # evaluate the cached answers only

Our test: chat prompts (tasks + random sentences), first-token answers compared as strings
(prefix), paired exact McNemar IUT vs every panel model, Holm over candidates, linear alpha spending
over looks of 250 up to 1,000 queries, alpha = 0.05. Baseline: raw-text random sentences, first
token ``decode().strip()`` compared exactly, pairwise two-sided z / Fisher tests of the best parent
vs each other, Holm at 0.05 (their ``find_best_model``), at the same 1,000-prompt budget (their
default maximum is 5,000; we could not afford it here).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
OUT = ROOT / "benchmarks" / "out" / "provenance_zoo"
MODELS = OUT / "models"
TRUTH = HERE / "provenance_zoo_truth.json"

from _provenance_zoo_settings import (  # noqa: E402
    CANDIDATES, CHAT_ONLY, FULL_POOL_SEED, N_CAL, N_PROFILE, N_QUERIES, REFERENCES, cal_pools, chat_extra, needs_long_answers,
    probe_prompts, prompt_dependence)

log = logging.getLogger("provenance_zoo")

CAL_CHUNK = 4  # calibration seeds answered per model load
STUDENTS = {  # the truth table's "student" -> stillwatch distill student spec (fresh initialisation, other size)
    "small-s1": {"preset": "small-smollm2", "seed": 1},
}
#: the harvest a thief collects (harvest "v3", fourth session): general assistant requests besides
#: reasoning and coding (knowledge, writing, everyday; tool use left out: its prompts alone fill max_len), the
#: teacher's sampled answers (T = 0.7) up to 48 tokens (the chat template and prompt take 36-71
#: SmolLM2 tokens, so max_len 96 keeps ~48 answer tokens), and the students' training run
#: harvest "v4" (fifth session): the students start from a pretrained base (Gemma-3 270M with Gemma's turn format),
#: so a few hundred short answers teach them the teacher's openings (the test compares first words)
#: harvest "v5" (sixth session): v4's prompts, near-greedy answers (T = 0.01)
HARVESTS = {
    "v3": {"n": 1200, "seed": 11, "families": "reasoning,coding,knowledge,writing,everyday", "max_new_tokens": 48, "temperature": 0.7},
    "v4": {"n": 400, "seed": 11, "families": "reasoning,coding,knowledge,writing,everyday", "max_new_tokens": 16, "temperature": 0.7},
    # sixth session: the same prompts answered near-greedily (the CLI's lowest temperature), as the test asks its models
    "v5": {"n": 400, "seed": 11, "families": "reasoning,coding,knowledge,writing,everyday", "max_new_tokens": 16, "temperature": 0.01},
    # fourteenth session: no harvest — ChatGPT's answers in ShareGPT (teacher "sharegpt": the independent students),
    # 1,200 like v3, prompts short enough for max_len 96, answers cut to ~48 tokens
    "sg1": {"n": 1200, "max_prompt_chars": 300, "answer_chars": 200},
}
#: training of the fresh students; a student from a base (``"base"`` in the truth table) overrides these
#: with its own ``train`` settings (partial fine-tune: ``train_layers``)
TRAIN = {"epochs": 4, "lr": 3e-3, "max_len": 96, "batch_size": 16, "train_layers": 0}


def truth_spec() -> dict[str, dict]:
    return json.loads(TRUTH.read_text())["suspects"]


# ---------------------------------------------------------------------------- model building
def _tok(kind: str):
    from stillwatch.models import load_backend
    from stillwatch.models.byte_tokenizer import ByteTokenizer

    return ByteTokenizer() if kind == "byte" else load_backend("smollm2").tokenizer


def _save(model, tok, name: str) -> Path:
    from stillwatch.models.hf import HFBackend

    d = MODELS / name
    tmp = MODELS / f".{name}.tmp"
    HFBackend(model, tok, name=name).save_pretrained(tmp)
    os.replace(tmp, d)
    return d


def build_pretrained(name: str, corpus_name: str, tok_kind: str, seed: int, steps: int = 300, *, layers: int = 2,
                     hidden: int | None = None, inter: int = 256, chars: int = 300_000) -> None:
    """An independent small model pretrained here (fresh init) on a local corpus (default size 2 x 64 byte-level,
    2 x 96 with SmolLM2's tokenizer; the truth table may set ``layers``, ``hidden``, ``inter``, and ``chars``, the
    corpus characters trained on). Resumable: a checkpoint every 100 steps (``models/.NAME.ckpt``), removed once the
    model is saved; the same command resumes an interrupted run."""
    import _provenance_zoo_models as zm

    if (MODELS / name / "config.json").is_file():
        return
    tok = _tok(tok_kind)
    model = zm.fresh_model(tok, layers=layers, hidden=hidden or (64 if tok_kind == "byte" else 96), heads=4,
                           inter=inter, seed=seed)
    text = zm.seeded_texts(zm.corpus(corpus_name, max(400_000, chars)), chars, seed)
    ckpt = MODELS / f".{name}.ckpt"
    loss = zm.lm_train(model, lambda t: tok.encode(t, add_special_tokens=False), text, steps=steps, lr=3e-3,
                       seq=64, batch=8, seed=seed, checkpoint=ckpt)
    log.info("pretrained %s on %s: final loss %.3f", name, corpus_name, loss)
    _save(model, tok, name)
    ckpt.unlink(missing_ok=True)


def build_smollm2_finetune(name: str, corpus_name: str, *, lora: bool, steps: int, seed: int, base: str = "smollm2") -> None:
    """Full fine-tune (lr 5e-5) or LoRA r=8 (lr 1e-3, merged) of SmolLM2 on a local corpus."""
    import _provenance_zoo_models as zm

    from stillwatch.models import load_backend

    if (MODELS / name / "config.json").is_file():
        return
    b = load_backend(base, dtype="float32") if base == "smollm2" else load_backend(str(MODELS / base))
    model = zm.lora_wrap(b.model, seed=seed) if lora else b.model
    text = zm.seeded_texts(zm.corpus(corpus_name), 200_000, seed)
    loss = zm.lm_train(model, lambda t: b.tokenizer.encode(t, add_special_tokens=False), text, steps=steps,
                       lr=1e-3 if lora else 5e-5, seq=64, batch=4, seed=seed)
    if lora:
        model = model.merge_and_unload()
    log.info("fine-tuned %s (%s) on %s: final loss %.3f", name, "LoRA" if lora else "full", corpus_name, loss)
    _save(model, b.tokenizer, name)


def _cli(*args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    # the child inherits this process's niceness (15, see main)
    subprocess.run([sys.executable, "-m", "stillwatch.cli.main", *args], check=True, env=env, cwd=ROOT)


def build_students(spec: dict, wanted: set[str] | None = None) -> None:
    """Harvest the students' teacher (no watermark) on the distill prompts of harvest ``spec["harvest"]``
    and train the truth table's students of that teacher (only those named in ``wanted``, when given)."""
    import _provenance_zoo_models as zm

    teacher, tag, h = spec["teacher"], spec["tag"], spec["harvest"]
    hv = HARVESTS[h]
    prompts = OUT / f"distill_prompts_{h}.jsonl"
    if not prompts.is_file() and teacher != "sharegpt":
        _cli("distill", "prompts", "--out", str(prompts), "--n", str(hv["n"]), "--seed", str(hv["seed"]), "--families", hv["families"])
    tr = OUT / f"harvest_{tag}_{h}.jsonl"
    teacher_arg = "smollm2" if teacher == "smollm2" else str(MODELS / teacher)
    if not (OUT / f"harvest_{tag}_{h}.done").is_file():
        if teacher == "sharegpt":  # answers of a chat model outside the panel, read from the ShareGPT file
            zm.sharegpt_transcripts(tr, hv["n"], max_prompt_chars=hv["max_prompt_chars"], answer_chars=hv["answer_chars"])
        elif teacher == "ref-gemma-chat":  # a prompted base model: harvested through the library, kept as text
            zm.harvest_prompted(prompts, tr, max_new_tokens=hv["max_new_tokens"], temperature=hv["temperature"])
        else:
            _cli("distill", "harvest", "--teacher", teacher_arg, "--prompts", str(prompts), "--out", str(tr),
                 "--no-watermark", "--max-new-tokens", str(hv["max_new_tokens"]), "--temperature", str(hv["temperature"]),
                 "--batch-size", "16", "--accounts", "1")
        (OUT / f"harvest_{tag}_{h}.done").write_text("ok")
    todo = {x: s for x, s in truth_spec().items() if s["kind"] == "student" and s["tag"] == tag and s["harvest"] == h}
    for name, s in todo.items():
        if (MODELS / name / "config.json").is_file() or (wanted is not None and name not in wanted):
            continue
        tr_cfg = {**TRAIN, **s.get("train", {})}
        if "continue_from" in s:  # more epochs for a finished student: `distill train` on its model directory
            build_students({**truth_spec()[s["continue_from"]]}, {s["continue_from"]})
            student = str(MODELS / s["continue_from"])
        elif "base" in s:  # a pretrained base of another lineage, fine-tuned on the answers (the disputes' case)
            if s["base"] != "gemma3-270m-chat" and not (MODELS / s["base"] / "config.json").is_file():
                build(s["base"], truth_spec()[s["base"]])  # a base of the zoo not built yet (build order, --only)
            student = str(zm.gemma_chat_dir(MODELS)) if s["base"] == "gemma3-270m-chat" else str(MODELS / s["base"])
        else:
            student = str(OUT / f"student_{s['student']}.json")
            Path(student).write_text(json.dumps(STUDENTS[s["student"]]))
        work = OUT / "train" / name
        work.parent.mkdir(parents=True, exist_ok=True)
        _cli("distill", "train", "--transcripts", str(tr), "--student", student, "--out", str(work), "--epochs", str(s.get("epochs", tr_cfg["epochs"])),
             "--lr", str(tr_cfg["lr"]), "--max-len", str(tr_cfg["max_len"]), "--batch-size", str(tr_cfg["batch_size"]),
             "--train-layers", str(tr_cfg["train_layers"]), "--eval-fraction", "0.05", "--warmup", str(tr_cfg.get("warmup", 20)))
        os.replace(work, MODELS / name)


def build_weight_edit(name: str, base: str, op: str) -> None:
    """Pruned copies are saved; int8 dynamic quantization is applied at load (see load_model)."""
    import _provenance_zoo_models as zm

    from stillwatch.models import load_backend

    if op.startswith("prune") and not (MODELS / name / "config.json").is_file():
        b = load_backend("smollm2", dtype="float32") if base == "smollm2" else load_backend(str(MODELS / base))
        zm.prune_magnitude(b.model, int(op[5:]) / 100)
        _save(b.model, b.tokenizer, name)


def load_model(name: str):
    """The zoo model ``name`` as a LocalModel (int8 variants are quantized on load)."""
    import _provenance_zoo_models as zm

    from stillwatch.models import load_backend
    from stillwatch.trace.provenance_query import LocalModel

    spec = json.loads(TRUTH.read_text())["suspects"].get(name, {})
    if name == "ref-gemma-chat":
        return zm.PromptedChat(LocalModel(load_backend(str(MODELS / "gemma3-270m")), batch_size=16), name=name,
                               identity=f"zoo:{name}:v1")
    if name == "smollm2":
        b = load_backend("smollm2", dtype="float32")
    elif spec.get("op") == "int8":
        base = spec["base"]
        b = load_backend("smollm2", dtype="float32") if base == "smollm2" else load_backend(str(MODELS / base))
        zm.quantize_int8(b)
    else:
        b = load_backend(str(MODELS / name))
    b.name = name
    return LocalModel(b, identity=f"zoo:{name}:v1", batch_size=16)


def build(name: str, spec: dict, wanted: set[str] | None = None) -> None:
    kind = spec["kind"]
    if kind == "pretrained":
        build_pretrained(name, spec["corpus"], spec["tokenizer"], spec["seed"], spec.get("steps", 300),
                         **{k: spec[k] for k in ("layers", "hidden", "inter", "chars") if k in spec})
    elif kind in ("finetune", "lora"):
        build_smollm2_finetune(name, spec["corpus"], lora=kind == "lora", steps=spec["steps"], seed=spec["seed"],
                               base=spec.get("base", "smollm2"))
    elif kind == "weight_edit":
        build_weight_edit(name, spec["base"], spec["op"])
    elif kind == "student":
        build_students(spec, wanted)
    elif kind == "random":
        if not (MODELS / name / "config.json").is_file():
            import _provenance_zoo_models as zm

            _save(zm.fresh_model(_tok(spec["tokenizer"]), layers=2, hidden=64, heads=4, inter=256, seed=spec["seed"]),
                  _tok(spec["tokenizer"]), name)


# ---------------------------------------------------------------------------- answering
def test_sets(name: str, n: int, seed: int = 0, tokens: int = 1) -> list[tuple[list[str], str, int]]:
    """(prompts, mode, max_tokens) of a zoo model's answers to the test pool of prompt seed ``seed``: its ``n``
    prompts in chat and raw mode, and in chat mode the prompts a chat-heavy budget split asks beyond them
    (``chat_extra``; every model answers them, so that every suspect can be tested under either split)."""
    from stillwatch.trace.provenance import ProvenanceConfig

    prompts = ProvenanceConfig(max_queries=n, look_every=n, seed=seed).prompts()
    return [(prompts, m, tokens) for m in (("chat",) if name in CHAT_ONLY else ("chat", "raw"))] + [(chat_extra(n, seed), "chat", tokens)]


def query_sets(name: str, n_queries: int) -> list[tuple[list[str], str, int]]:
    """A zoo model's answer sets on the main pool: the test prompts (chat and raw mode; chat only for
    a chat-only reference), plus for the panel the profile prompts (chat) on which its habits are
    estimated, and for a suspect the probe prompts of ``suspect_max_tokens="auto"``."""
    from stillwatch.trace.provenance import ProvenanceConfig

    cfg = ProvenanceConfig(max_queries=n_queries, look_every=n_queries, profile_queries=N_PROFILE)
    extra = cfg.profile_prompts() if name in CANDIDATES + REFERENCES else probe_prompts()
    return test_sets(name, n_queries) + [(extra, "chat", 1)]


def _answer(cache, names: list[str], sets_of, label: str) -> None:
    """Answer every missing set of every model (one load per model)."""
    from rich.progress import Progress

    from stillwatch.trace.provenance_query import cached_answers

    with Progress() as bar:
        task = bar.add_task(label, total=len(names))
        for name in names:
            sets = sets_of(name)
            if all(cache.get(f"zoo:{name}:v1", p, m, t) is not None for p, m, t in sets):
                bar.advance(task)
                continue
            t0 = time.time()
            model = load_model(name)
            for prompts, mode, tokens in sets:
                cached_answers(model, prompts, mode=mode, max_tokens=tokens, cache=cache)
            log.info("%s: answered %s in %.0fs", label, name, time.time() - t0)
            bar.advance(task)


def answer_all(names: list[str], n_queries: int) -> None:
    from stillwatch.trace.provenance import LONG_ANSWER_TOKENS
    from stillwatch.trace.provenance_query import AnswerCache

    cache = AnswerCache(OUT / "answers")
    _answer(cache, names, lambda x: query_sets(x, n_queries), "answering")
    _answer(cache, [x for x in names if needs_long_answers(cache, x)],
            lambda x: test_sets(x, n_queries, tokens=LONG_ANSWER_TOKENS), "long answers")


def check_student(name: str, n_queries: int) -> dict | None:
    """Does the student's answer depend on the prompt? Its chat answers to the test prompts (the ones
    the test compares: 8-token answers when the probe asks for them), summarised by
    ``prompt_dependence`` and written next to the model (``prompt_dependence_nN.json``, the zoo's metadata;
    the report prints it; the truth table keeps the figures of the last runs). Run before the report, so a student answering one string is seen as such."""
    from stillwatch.trace.provenance import LONG_ANSWER_TOKENS
    from stillwatch.trace.provenance_query import AnswerCache

    cache = AnswerCache(OUT / "answers")
    tokens = LONG_ANSWER_TOKENS if needs_long_answers(cache, name) else 1
    prompts = test_sets(name, n_queries, tokens=tokens)[0][0]
    answers = cache.get(f"zoo:{name}:v1", prompts, "chat", tokens)
    if answers is None:
        return None
    dep = {**prompt_dependence(answers), "max_tokens": tokens}
    (MODELS / name / f"prompt_dependence_n{n_queries}.json").write_text(json.dumps(dep, indent=1))
    (log.info if dep["prompt_dependent"] else log.warning)("%s: %s", name, dep)
    return dep


def answer_calibration(names: list[str], pools: list[tuple[int, int]]) -> None:
    """The panel and the independents on the calibration pools ((prompt seed, prompts) pairs, see ``cal_pools``), in
    chunks of CAL_CHUNK pools so that an interrupted run leaves whole pools to report on."""
    from stillwatch.trace.provenance import LONG_ANSWER_TOKENS
    from stillwatch.trace.provenance_query import AnswerCache

    cache = AnswerCache(OUT / "answers")
    for lo in range(0, len(pools), CAL_CHUNK):
        chunk = pools[lo:lo + CAL_CHUNK]

        def sets_of(x):
            tokens = LONG_ANSWER_TOKENS if needs_long_answers(cache, x) else 1
            return [st for s, size in chunk for st in test_sets(x, size, s, tokens)]

        _answer(cache, names, sets_of, f"calibration pools {chunk[0][0]}-{chunk[-1][0]}")


def answer_dists(names: list[str], pools: list[tuple[int, int]], n_queries: int) -> None:
    """The suspects' top-k next-token distributions (``LocalModel.distributions``, the same forward pass as their
    one-token answers) on every answer set of theirs that is cached with one-token answers: the main pool (chat, raw,
    the chat-heavy split's extra prompts) and each pool of ``pools`` they answered. Suspects asked for longer answers
    (byte-level) get none (the test uses a suspect's distributions only with one-token answers). The panel models get
    theirs in chat mode (thirteenth session: ``ProvenanceConfig.panel_logprobs``, the report's overlap row)."""
    from rich.progress import Progress

    from _provenance_zoo_settings import DistCache
    from stillwatch.trace.provenance_query import AnswerCache

    cache, dcache = AnswerCache(OUT / "answers"), DistCache(OUT / "dists")
    sets = [(0, n_queries)] + [p for p in pools if p[0] != 0]
    with Progress() as bar:
        task = bar.add_task("distributions", total=len(names))
        for name in names:
            panel = name in CANDIDATES + REFERENCES
            if not panel and needs_long_answers(cache, name):
                bar.advance(task)
                continue
            todo = [(p, m) for seed, size in sets for p, m, _ in test_sets(name, size, seed)
                    if (m == "chat" or not panel) and cache.get(f"zoo:{name}:v1", p, m, 1) is not None
                    and dcache.get(name, p, m) is None]
            if todo:
                t0 = time.time()
                model = load_model(name)
                for prompts, mode in todo:
                    dcache.put(name, prompts, mode, model.distributions(prompts, mode=mode))
                log.info("distributions of %s: %d sets in %.0fs", name, len(todo), time.time() - t0)
            bar.advance(task)


def build_order(spec: dict) -> list[str]:
    """Breadth first, so that an interrupted run reports on every kind of suspect: groups in cost
    order (SmolLM2's students share one harvest, so they are one group; byte-level independents;
    SmolLM2 weight edits; LoRA; SmolLM2-tokenizer independents; Gemma weight edits; Gemma's students;
    full fine-tunes), then round robin over the groups, one suspect at a time."""
    def group(x: str) -> int:
        s = spec[x]
        if s["kind"] == "student":
            return 0 if s["teacher"] == "smollm2" else 6
        if s["kind"] in ("pretrained", "random"):
            return 1 if s["tokenizer"] == "byte" else 4
        if s["kind"] == "weight_edit":
            return 2 if s["base"] == "smollm2" else 5
        return {"lora": 3, "finetune": 7}.get(s["kind"], 9)

    groups: dict[int, list[str]] = {}
    for x in spec:
        groups.setdefault(group(x), []).append(x)
    ranked = [(i if group(x) not in (0, 6) else 0, g, x) for g, xs in groups.items() for i, x in enumerate(xs)]
    return [x for _, _, x in sorted(ranked)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--report", action="store_true", help="only evaluate the answers already cached")
    ap.add_argument("--only", default="", help="comma-separated model names to build/answer (default: all)")
    ap.add_argument("--seeds", type=int, default=12, help=f"calibration: prompt seeds 1..SEEDS, a pool of {N_CAL} "
                    "prompts each, answered by the panel and every independent suspect (0: none)")
    ap.add_argument("--full-pools", type=int, default=0, help=f"calibration: also J pools of the main pool's size "
                    f"(prompt seeds {FULL_POOL_SEED + 1}..), answered by the panel and every independent suspect")
    ap.add_argument("--replicate", type=int, default=0, help="power replicates: also answer the suspects with a parent "
                    "(those in --only) on the first R full-size calibration pools; the report tests them there too")
    ap.add_argument("--dists", action="store_true", help="also compute the suspects' top-k next-token distributions "
                    "(ProvenanceConfig.logprobs) on every pool they answered, and the panel's in chat mode "
                    "(ProvenanceConfig.panel_logprobs) (cached; the report uses what is cached)")
    ap.add_argument("--queries", type=int, default=N_QUERIES, help=f"prompts per mode (a local suspect answers each in chat and raw mode; default {N_QUERIES})")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        os.nice(max(0, 15 - os.nice(0)))  # at niceness 15 whatever it was started with
    except OSError:
        pass
    import torch

    torch.set_num_threads(1)
    MODELS.mkdir(parents=True, exist_ok=True)
    spec = json.loads(TRUTH.read_text())["suspects"]
    suspects = build_order(spec)
    order = CANDIDATES[:1] + [r for r in REFERENCES if r not in CHAT_ONLY] + CANDIDATES[1:] + sorted(CHAT_ONLY) + suspects
    names = [n for n in dict.fromkeys(order) if not args.only or n in args.only.split(",")]
    if not args.report:
        for name in names:
            s = spec.get(name) or json.loads(TRUTH.read_text())["panel"].get(name, {"kind": "builtin"})
            try:
                if name == "gemma3-270m":
                    import _provenance_zoo_models as zm

                    zm.gemma_hf_dir(MODELS)
                else:
                    build(name, s, set(names) if args.only else None)
                answer_all([name], args.queries)
                if spec.get(name, {}).get("kind") == "student":
                    check_student(name, args.queries)
            except Exception:  # one broken model must not stop the zoo; the report lists what is missing
                log.exception("model %s failed; continuing", name)
        independents = [x for x in names if x in spec and spec[x]["parent"] is None]
        if args.seeds and independents:
            answer_calibration([x for x in CANDIDATES + REFERENCES if x in names] + independents,
                               cal_pools(args.seeds, args.full_pools, args.queries))
        positives = [x for x in names if x in spec and spec[x]["parent"] is not None]
        if args.replicate and positives:
            answer_calibration([x for x in CANDIDATES + REFERENCES if x in names] + positives,
                               cal_pools(0, min(args.replicate, args.full_pools), args.queries))
    if args.dists:
        answer_dists([x for x in names if x in spec or x in CANDIDATES + REFERENCES],
                     cal_pools(args.seeds, args.full_pools, args.queries), args.queries)
    from _provenance_zoo_report import report

    report(OUT, TRUTH, CANDIDATES, REFERENCES, args.queries, N_PROFILE, cal_pools(args.seeds, args.full_pools, args.queries),
           command=" ".join(["python benchmarks/trace/provenance_zoo.py", *sys.argv[1:]]),
           machine=f"{platform.machine()}, {os.cpu_count()} vCPU (shared), {platform.python_version()}",
           date=dt.date.today().isoformat())


if __name__ == "__main__":
    main()
