"""The run directory: atomic files, a fixed history format, and a non-writer that touches nothing."""

from __future__ import annotations

import csv
import json

import numpy as np

from digitrec.training.history import HISTORY_FIELDS, best_record, improved
from digitrec.training.rundir import RunDir, default_run_dir

HISTORY = [
    {"epoch": 1, "lr": 0.1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 0.9, "val_acc": 0.6, "seconds": 1.0},
    {"epoch": 2, "lr": 0.1, "train_loss": 0.5, "train_acc": 0.8, "val_loss": 0.7, "val_acc": 0.8, "seconds": 1.0},
    {"epoch": 3, "lr": 0.1, "train_loss": 0.4, "train_acc": 0.9, "val_loss": 0.8, "val_acc": 0.8, "seconds": 1.0},
]


def test_files_are_written_whole_and_json_takes_numpy_values(tmp_path):
    run = RunDir(tmp_path / "run")
    run.write_json("metrics.json", {"accuracy": np.float32(0.5), "counts": np.arange(3), "path": tmp_path})
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == {"accuracy": 0.5, "counts": [0, 1, 2], "path": str(tmp_path)}
    run.write_history(HISTORY[:1] + [{"epoch": 2, "train_loss": 0.5}])
    with open(tmp_path / "run" / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(HISTORY_FIELDS) and rows[1]["val_acc"] == ""  # a missing value is an empty cell
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["history.csv", "metrics.json"]  # no temporaries


def test_a_reader_writes_nothing(tmp_path):
    reader = RunDir(tmp_path / "other", writer=False)
    reader.write_json("x.json", {})
    reader.write_history(HISTORY)
    reader.save("model.pt", lambda path: path.write_text("x"))
    assert not (tmp_path / "other").exists()


def test_default_run_dirs_never_collide(tmp_path):
    first = default_run_dir("mlp", tmp_path)
    first.mkdir()
    second = default_run_dir("mlp", tmp_path)
    assert second != first and second.name.startswith(first.name)


def test_the_best_epoch_is_the_earliest_best_validation_accuracy():
    assert best_record(HISTORY)["epoch"] == 2  # epoch 3 only ties it
    assert [improved(HISTORY[:n]) for n in (1, 2, 3)] == [True, True, False]
    no_val = [dict(row, val_acc=None, val_loss=None) for row in HISTORY]
    assert best_record(no_val)["epoch"] == 3 and improved(no_val) and best_record([]) is None


def test_keep_last_keeps_the_final_epoch_whatever_validation_says():
    assert best_record(HISTORY, "last")["epoch"] == 3
    assert all(improved(HISTORY[:n], "last") for n in (1, 2, 3))
