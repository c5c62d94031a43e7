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


def test_a_run_folder_is_reused_only_by_the_command_that_started_it(best, monkeypatch, tmp_path):
    calls = []

    def train(*args):  # stands in for `digitrec train`: writes what a finished run holds
        calls.append(args)
        out = Path(args[args.index("--out") + 1])
        (out / "metrics.json").write_text('{"test_accuracy": 0.99, "epochs_run": 2, "train_seconds": 60}')

    monkeypatch.setattr(best, "_digitrec", train)
    first = best._run("best", 0, tmp_path, ["--epochs", "2"])
    again = best._run("best", 0, tmp_path, ["--epochs", "2"])
    assert len(calls) == 1 and first == again  # read back, not trained again
    with pytest.raises(SystemExit, match=r"started by `digitrec train --recipe best --seed 0 --quiet --epochs 2`, "
                                         r"not `digitrec train --recipe best --seed 0 --quiet`"):
        best._run("best", 0, tmp_path, [])
    (tmp_path / "best-seed1").mkdir()  # a folder best.py did not start (another tool's run, say)
    with pytest.raises(SystemExit, match="started by something else"):
        best._run("best", 1, tmp_path, [])
    assert len(calls) == 1
