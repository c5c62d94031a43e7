"""scripts/make_builtin_model.py: trains through `digitrec train`, installs model.pt with its record."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from digitrec.cli import app
from digitrec.predict import builtin

SCRIPT = Path(__file__).parents[1] / "scripts" / "make_builtin_model.py"


@pytest.fixture
def script(monkeypatch):
    spec = importlib.util.spec_from_file_location("make_builtin_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # the same `digitrec train`, in this process, so that it sees the test's offline MNIST sample
    monkeypatch.setattr(module, "train", _train_here)
    return module


def _train_here(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output


def test_it_trains_the_recipe_with_the_seed_and_records_the_command(script, fake_mnist, tmp_path, monkeypatch):
    run, weights = tmp_path / "run", tmp_path / "weights"
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    info = script.main(["--recipe", "mxnet-mlp", "--seed", "3", "--run", str(run), "--weights", str(weights),
                        "--", "--epochs", "1", "--limit", "200", "--quiet"])
    metrics = json.loads((run / "metrics.json").read_text())
    assert (metrics["train_device"], metrics["train_threads"]) == ("cpu", torch.get_num_threads())
    assert info["command"] == (f"OMP_NUM_THREADS={torch.get_num_threads()} "
                               "digitrec train --recipe mxnet-mlp --seed 3 --epochs 1 --limit 200 --quiet")
    assert (info["recipe"], info["seed"], info["model"]) == ("mxnet-mlp", 3, "mlp")
    assert info["test_accuracy"] == metrics["test_accuracy"]
    assert (info["train_precision"], info["train_threads"]) == ("fp32", torch.get_num_threads())
    assert json.loads((weights / builtin.INFO_FILE).read_text()) == info
    assert (weights / builtin.MODEL_FILE).read_bytes() == (run / "model.pt").read_bytes()
    monkeypatch.setattr(builtin, "WEIGHTS", weights)
    assert builtin.builtin_model().info["sha256"] == info["sha256"]  # what the commands check on every use


def test_a_model_over_the_size_limit_is_not_installed(script, fake_mnist, tmp_path):
    with pytest.raises(SystemExit, match="over --max-mb 0.001"):
        script.main(["--recipe", "mxnet-mlp", "--run", str(tmp_path / "run"), "--weights", str(tmp_path / "weights"),
                     "--max-mb", "0.001", "--", "--epochs", "1", "--limit", "100", "--quiet"])
    assert not (tmp_path / "weights").exists()


def test_a_finished_run_of_the_recipe_as_it_is_now_is_installed_without_training(script, fake_mnist, tmp_path, monkeypatch):
    run, weights = tmp_path / "run", tmp_path / "weights"
    CliRunner().invoke(app, ["train", "--recipe", "mxnet-mlp", "--seed", "3", "--out", str(run), "--quiet"])
    monkeypatch.setattr(script, "train", lambda args: pytest.fail(f"trained again: {args}"))
    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # the installing shell's: not what the run used
    info = script.main(["--recipe", "mxnet-mlp", "--seed", "3", "--run", str(run), "--weights", str(weights)])
    assert info["command"] == f"OMP_NUM_THREADS={torch.get_num_threads()} digitrec train --recipe mxnet-mlp --seed 3"
    assert (weights / builtin.MODEL_FILE).read_bytes() == (run / "model.pt").read_bytes()
    assert not script._finished_run_of(run, "mxnet-mlp", 4)  # another seed, or other values: trained anew
    assert not script._finished_run_of(run, "mxnet-lenet", 3)


def test_a_run_made_before_threads_were_recorded_takes_the_shells_thread_count(script, tmp_path, monkeypatch):
    (tmp_path / "metrics.json").write_text(json.dumps({"test_accuracy": 0.99}))
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert script._threads_of(tmp_path) == "2"
    (tmp_path / "metrics.json").write_text(json.dumps({"train_device": "cuda", "train_threads": 16}))
    assert script._threads_of(tmp_path) is None  # a GPU run: the CPU's threads do not decide its numbers
