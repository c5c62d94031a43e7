"""benchmarks/best.py --seeds: a count, a list, or one seed on its own."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest


@pytest.fixture
def best(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "benchmarks"))
    import best as script

    return script


@pytest.mark.parametrize(("text", "seeds"), [("3", [0, 1, 2]), ("0,2", [0, 2]), ("3,", [3]), ("1", [0])])
def test_seeds_are_a_count_or_a_list(best, text, seeds):
    assert best._seeds(text) == seeds


@pytest.mark.parametrize("text", ["0", ",", "0,0", "x", "-1,2"])
def test_no_seeds_a_repeat_or_a_word_is_refused(best, text):
    with pytest.raises(argparse.ArgumentTypeError):
        best._seeds(text)
