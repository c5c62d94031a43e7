"""benchmarks/ensemble_subsets.py: every K-member subset of N runs, on the (small, offline) MNIST test set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def script(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "benchmarks"))
    import _machine
    import ensemble_subsets

    monkeypatch.setattr(_machine, "RESULTS", tmp_path / "results")
    return ensemble_subsets


def test_identical_members_make_every_ensemble_score_as_one_and_a_bad_size_is_refused(script, fake_mnist, tiny_model, tmp_path):
    runs = [str(tiny_model)] * 3
    script.main([*runs, "--members", "2", "--name", "subsets"])
    summary = json.loads((tmp_path / "results" / "subsets.json").read_text())["summary"]
    assert summary["subsets"] == 3 and summary["min"] == summary["max"] == summary["single_mean"] == summary["all_runs"]
    with pytest.raises(SystemExit, match="--members 4: choose 2..3"):
        script.main([*runs, "--members", "4"])
