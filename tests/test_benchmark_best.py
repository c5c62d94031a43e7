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


def test_one_seed_is_its_own_row_and_several_get_a_mean(best):
    row = {"seed": 3, "test_accuracy": 0.9966, "val_accuracy": 0.997, "epochs": 30, "train_minutes": 24.3}
    one = best._table({"seeds": 1, "mean_accuracy": 0.9966, "mean_train_minutes": 24.3}, [row], [], None)
    assert "| seed 3 | 0.9966 | 0.9970 | 30 | 24.3 |" in one and "mean" not in one
    two = best._table({"seeds": 2, "mean_accuracy": 0.9967, "std_accuracy": 0.0001, "mean_train_minutes": 24.0},
                      [row, dict(row, seed=4, test_accuracy=0.9968)], [], None)
    assert "| **mean of 2 seeds** | **0.9967** ± 0.0001 | | | 24.0 |" in two
