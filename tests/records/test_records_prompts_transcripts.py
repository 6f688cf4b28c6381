"""Prompt generator and the append-only transcript store."""

from __future__ import annotations

import json

import pytest

from stillwatch.distill.prompts import DEFAULT_FAMILIES, FAMILIES, generate_prompts
from stillwatch.errors import InputError
from stillwatch.records import Appender, Transcript, read_prompts, read_transcripts, write_prompts


def test_prompts_are_deterministic_and_cycle_families():
    a, b = generate_prompts(30, seed=3), generate_prompts(30, seed=3)
    assert a == b
    assert generate_prompts(30, seed=4) != a
    assert [p.family for p in a[:6]] == list(DEFAULT_FAMILIES) * 2
    assert len({p.id for p in a}) == 30
    assert len({p.prompt for p in a}) >= 25  # templated, yet varied
    assert any("step by step" in p.prompt for p in a if p.family == "reasoning")
    assert all("tool" in p.prompt for p in a if p.family == "tool_use")


def test_prompt_file_round_trip(tmp_path):
    ps = generate_prompts(7, seed=1)
    write_prompts(tmp_path / "p.jsonl", ps)
    assert read_prompts(tmp_path / "p.jsonl") == ps


@pytest.mark.parametrize(
    ("content", "match"),
    [("", "holds no prompts"), ("{not json\n", "not valid JSON"), ('{"text": "x"}\n', "prompt"),
     ('{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n', "duplicate id 'a'")],
)
def test_bad_prompt_files_name_the_problem(tmp_path, content, match):
    f = tmp_path / "p.jsonl"
    f.write_text(content)
    with pytest.raises(InputError, match=match):
        read_prompts(f)


def test_unknown_family_is_rejected():
    with pytest.raises(InputError, match="unknown prompt families"):
        generate_prompts(3, families=("poetry",))


def _rec(i: int) -> Transcript:
    return Transcript(prompt_id=f"p{i}", prompt=f"q{i}", text=f"a{i}", account="acct-000", completion_ids=(1, 2, i))


def test_writer_appends_and_reader_round_trips(tmp_path):
    f = tmp_path / "t.jsonl"
    with Appender(f) as w:
        assert w.write_many([_rec(0), _rec(1)]) == 2
    with Appender(f) as w:
        w.write_many([_rec(2)])
    got = read_transcripts(f)
    assert [r.prompt_id for r in got] == ["p0", "p1", "p2"]
    assert got[2].completion_ids == (1, 2, 2)


def test_torn_last_line_is_ignored_then_cut_without_losing_complete_records(tmp_path):
    f = tmp_path / "t.jsonl"
    with Appender(f) as w:
        w.write_many([_rec(0), _rec(1)])
    with f.open("a") as fh:
        fh.write('{"prompt_id": "p2", "prompt": "q2", "ans')  # the process died mid-write
    assert [r.prompt_id for r in read_transcripts(f)] == ["p0", "p1"]
    with Appender(f) as w:
        w.write_many([_rec(3)])
    lines = f.read_text().splitlines()
    assert [json.loads(x)["prompt_id"] for x in lines] == ["p0", "p1", "p3"]


def test_corrupt_middle_line_and_missing_fields_are_errors(tmp_path):
    f = tmp_path / "t.jsonl"
    f.write_text('{"prompt_id": "p0"\n' + json.dumps(_rec(1).to_dict()) + "\n")
    with pytest.raises(InputError, match=":1: not valid JSON"):
        read_transcripts(f)
    f.write_text(json.dumps({"prompt_id": "x", "prompt": "q"}) + "\n")
    with pytest.raises(InputError, match="lacks field"):
        read_transcripts(f)


def test_empty_and_missing_transcripts(tmp_path):
    f = tmp_path / "t.jsonl"
    f.write_text("")
    with pytest.raises(InputError, match="holds no records"):
        read_transcripts(f)
    assert read_transcripts(tmp_path / "none.jsonl", allow_empty=True) == []
    with pytest.raises(InputError, match="not found"):
        read_transcripts(tmp_path / "none.jsonl")


def test_general_families_are_varied_and_not_the_provenance_samplers():
    """The knowledge / writing / everyday families (a thief distilling a whole chat model) are opt-in, cycle like
    the others, and share no prompt with the provenance tester's sampler (which must not know the
    thief's prompts): compared against a large draw of that sampler, independently of the generator."""
    from stillwatch.trace.provenance_prompts import sample_prompts

    ps = generate_prompts(400, seed=5, families=FAMILIES)
    assert [p.family for p in ps[:12]] == list(FAMILIES) * 2
    general = [p.prompt for p in ps if p.family in ("knowledge", "writing", "everyday")]
    assert len(general) == sum(1 for i in range(400) if i % 6 >= 3) and len(set(general)) >= 120
    assert set(general).isdisjoint(sample_prompts(5000, seed=0) + sample_prompts(5000, seed=0, stream="profile"))
    assert generate_prompts(30, seed=3) == generate_prompts(30, seed=3, families=DEFAULT_FAMILIES)
