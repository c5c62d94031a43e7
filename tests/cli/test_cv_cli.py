"""`digitrec cv` and `digitrec compare` end to end on a few hundred images; and bad input."""

import json

from cli_helpers import error_line, ok, runner
from digitrec.cli import app

TINY = ["--folds", "3", "--limit", "300", "--epochs", "1", "--batch-size", "50", "--threads", "1", "--quiet"]


def _without_times(cv):
    return [[{k: v for k, v in row.items() if k != "seconds"} for row in fold["history"]] for fold in cv["folds"]]


def test_cv_serial_equals_workers_final_and_compare(fake_mnist, tmp_path):
    serial, parallel, deep, other = (tmp_path / n for n in ("serial", "parallel", "deep", "other"))
    output = ok(["cv", "--recipe", "cnn-baseline", *TINY, "--out", str(serial), "--final"])
    assert "fold 3/3: accuracy" in output and f"cv directory: {serial}" in output and "final test accuracy" in output
    for name in ("cv.json", "cv.md", "curves.png", "boxplot.png", "final/model.pt", "final/metrics.json"):
        assert (serial / name).is_file(), name
    ok(["cv", "--recipe", "cnn-baseline", *TINY, "--out", str(parallel), "--workers", "2"])
    a, b = (json.loads((d / "cv.json").read_text()) for d in (serial, parallel))
    assert a["split"]["hash"] == b["split"]["hash"] and b["workers"] == 2
    assert [f["accuracy"] for f in a["folds"]] == [f["accuracy"] for f in b["folds"]]
    assert _without_times(a) == _without_times(b) and (a["mean"], a["std"]) == (b["mean"], b["std"])
    assert 0 < a["final"]["test_accuracy"] <= 1

    ok(["cv", "--recipe", "cnn-deep", *TINY, "--out", str(deep)])
    ok(["cv", "--recipe", "cnn-deep", *TINY, "--out", str(other), "--seed", "1"])
    table = ok(["compare", str(serial), str(deep), str(other), str(serial / "final"), "--out", str(tmp_path / "cmp")])
    assert "| cnn-baseline (serial) | 3 folds |" in table and "p (paired t)" in table and "p (Wilcoxon)" in table
    assert "not paired, their folds differ" in table and "test split" in table
    report = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert len(report["entries"]) == 4 and [(t["a"], t["b"]) for t in report["tests"]] == [("cnn-baseline (serial)", "cnn-deep (deep)")]
    assert 0 <= report["tests"][0]["p_ttest"] <= 1
    assert (tmp_path / "cmp" / "boxplot.png").is_file() and (tmp_path / "cmp" / "compare.md").is_file()


def test_bad_cv_and_compare_input(fake_mnist, tmp_path):
    error_line(["cv", "--recipe", "nope"], "unknown recipe 'nope'", "cnn-baseline")
    error_line(["cv", "--recipe", "cnn-baseline", "--limit", "20", "--folds", "5", "--out", str(tmp_path / "x")],
                "needs at least 5 examples of every class")
    assert not (tmp_path / "x").exists()
    error_line(["compare", str(tmp_path / "missing")], "no such directory")
    error_line(["compare", str(tmp_path)], "neither a cv directory")
    assert runner.invoke(app, ["cv", "--recipe", "cnn-baseline", "--folds", "1"]).exit_code == 2
