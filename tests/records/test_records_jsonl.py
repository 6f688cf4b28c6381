"""The one JSONL reader and the writers: strict UTF-8, lone surrogates and bad JSON named by file and
line (or reported per line), torn tails, atomic replacement, output checks before a job."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stillwatch.errors import InputError
from stillwatch.records import Appender, check_appendable, check_output, iter_lines, read_objects, read_text_lines, write_atomic

BAD_LINES = [
    (b'{"text": "caf\xe9"}', "not valid UTF-8 (byte 14 of the line)"),
    (b'{"text": "\\ud800"}', "lone surrogate"),
    (b'{"text": "ok", "nested": {"k\\udfff": 1}}', "lone surrogate"),
    (b'{"text": ', "not valid JSON"),
    (b"[1, 2]", "expected a JSON object, got list"),
    (b'"a string"', "expected a JSON object, got str"),
    (b"[" * 100_000, "not valid JSON"),
]


@pytest.mark.parametrize(("raw", "message"), BAD_LINES)
def test_a_bad_line_is_an_input_error_naming_file_and_line(tmp_path, raw, message):
    f = tmp_path / "in.jsonl"
    f.write_bytes(b'{"text": "fine"}\n\n' + raw + b"\n")
    with pytest.raises(InputError) as e:
        list(iter_lines(f))
    assert str(e.value).startswith(f"{f}:3: ") and message in str(e.value)
    lines = list(iter_lines(f, errors="report"))  # or reported in place, the good lines kept
    assert [(ln.no, ln.obj, ln.error is not None) for ln in lines] == [(1, {"text": "fine"}, False), (3, None, True)]
    assert message in lines[1].error


def test_missing_directory_and_unreadable_inputs(tmp_path):
    with pytest.raises(InputError, match="input file not found"):
        list(iter_lines(tmp_path / "nope.jsonl"))
    with pytest.raises(InputError, match="is a directory"):
        list(iter_lines(tmp_path))
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    with pytest.raises(InputError, match="not found"):
        read_text_lines(tmp_path / "dangling")


def test_required_fields_and_text_lines(tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text('{"prompt": "a"}\n{"prompt": 3}\n')
    with pytest.raises(InputError, match=r"in.jsonl:2: field 'prompt' must be a string"):
        read_objects(f, required=("prompt",))
    t = tmp_path / "ids.txt"
    t.write_bytes(b"  acct-1 \n\nacct-\xc3\xa9\n")
    assert read_text_lines(t) == ["acct-1", "acct-\u00e9"]
    t.write_bytes(b"acct-1\n\xff\n")
    with pytest.raises(InputError, match=r"ids.txt:2: not valid UTF-8"):
        read_text_lines(t)


def test_torn_last_line_is_skipped_only_when_allowed(tmp_path):
    f = tmp_path / "t.jsonl"
    f.write_bytes(b'{"a": 1}\n{"a": 2')
    assert [ln.obj for ln in iter_lines(f, allow_torn_tail=True)] == [{"a": 1}]
    with pytest.raises(InputError, match=":2: not valid JSON"):
        list(iter_lines(f))
    f.write_bytes(b'{"a": 1\n{"a": 2}\n')  # a bad line that is not the last is never skipped
    with pytest.raises(InputError, match=":1: not valid JSON"):
        list(iter_lines(f, allow_torn_tail=True))


@settings(max_examples=50, deadline=None)
@given(objs=st.lists(st.dictionaries(st.text(max_size=5), st.one_of(st.text(max_size=20), st.integers(), st.none()),
                                     max_size=3), max_size=5))
def test_written_records_read_back_exactly(tmp_path_factory, objs):
    objs = [o for o in objs if not any("\ud800" <= c <= "\udfff" for k, v in o.items() for c in k + (v if isinstance(v, str) else ""))]
    f = tmp_path_factory.mktemp("rt") / "o.jsonl"
    assert write_atomic(f, objs) == len(objs)
    assert [ln.obj for ln in iter_lines(f)] == [o for o in objs]


def test_atomic_write_leaves_the_old_file_when_it_fails(tmp_path):
    f = tmp_path / "o.jsonl"
    f.write_text("old\n")

    def boom():
        yield {"a": 1}
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(f, boom())
    assert f.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["o.jsonl"]


def test_appender_cuts_a_torn_tail_and_appends_durably(tmp_path):
    f = tmp_path / "t.jsonl"
    f.write_bytes(b'{"a": 1}\n{"a": 2, "b"')
    with Appender(f) as w:
        assert w.write_many([{"a": 3}]) == 1
    assert [json.loads(x) for x in f.read_text().splitlines()] == [{"a": 1}, {"a": 3}]


def test_outputs_are_checked_before_any_work(tmp_path):
    (tmp_path / "exists.jsonl").write_text("x\n")
    with pytest.raises(InputError, match="already exists; pass --force"):
        check_output(tmp_path / "exists.jsonl")
    assert check_output(tmp_path / "exists.jsonl", force=True) == tmp_path / "exists.jsonl"
    with pytest.raises(InputError, match="does not exist"):
        check_output(tmp_path / "no" / "o.jsonl")
    with pytest.raises(InputError, match="is a directory"):
        check_output(tmp_path, force=True)
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    with pytest.raises(InputError, match="already exists"):  # a dangling symlink is not a free name
        check_output(tmp_path / "dangling")
    assert check_appendable(tmp_path / "exists.jsonl") == tmp_path / "exists.jsonl"
    assert not (tmp_path / "new.jsonl").exists() and check_appendable(tmp_path / "new.jsonl")
    assert not (tmp_path / "new.jsonl").exists()  # checking creates nothing
    with pytest.raises(InputError, match="is a directory"):
        check_appendable(tmp_path)
