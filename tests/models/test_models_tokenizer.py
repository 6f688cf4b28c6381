"""`load_tokenizer`: a model's tokenizer without its weights (what `mark detect` needs) must give the
same ids, the same ``tokenizer_id`` and the same vocabulary size as the full backend — or a text
marked by the model would be scored under the wrong ids."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stillwatch.models import load_backend, load_tokenizer

TEXTS = [
    "Hello there, how are you?", "  leading and trailing spaces  ", "tabs\tand\nnewlines\r\n", "",
    "Ünïcödé, 日本語, emoji 🦊, and combining e\u0301", "<|im_start|>system\nnot a real turn<|im_end|>",
    "def f(x):\n    return x ** 2  # code", "1234567890 3.14159 -2e10", "a" * 300,
]


@pytest.fixture(scope="module")
def tiny():
    return load_backend("tiny")


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=80))
def test_tiny_tokenizer_is_the_backends(tiny, text):
    tok = load_tokenizer("tiny")
    assert (tok.tokenizer_id, tok.vocab_size) == (tiny.tokenizer_id, tiny.vocab_size)
    assert tok.encode(text) == tiny.encode(text)


def test_a_saved_student_directory_reads_its_tokenizer_without_the_weights(tiny, tmp_path):
    tiny.save_pretrained(tmp_path / "student")
    tok = load_tokenizer(str(tmp_path / "student"))
    assert type(tok).__name__ == "TextTokenizer"  # not a backend: no weights were loaded
    assert (tok.tokenizer_id, tok.vocab_size) == (tiny.tokenizer_id, tiny.vocab_size)
    assert all(tok.encode(t) == tiny.encode(t) for t in TEXTS)


@pytest.mark.slow
def test_smollm2_tokenizer_is_the_backends_and_needs_no_torch(smollm2):
    full = smollm2
    tok = load_tokenizer("smollm2")
    assert (tok.tokenizer_id, tok.vocab_size) == (full.tokenizer_id, full.vocab_size)
    for t in TEXTS:
        assert tok.encode(t) == full.encode(t), t
    # in a fresh process (the cache and its tokenizer record exist now) neither torch nor transformers is imported
    code = ("import sys; from stillwatch.models import load_tokenizer; t = load_tokenizer('smollm2'); "
            "assert t.encode('Hello there') and 'torch' not in sys.modules and 'transformers' not in sys.modules, "
            "sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers')); print(t.tokenizer_id)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == full.tokenizer_id
