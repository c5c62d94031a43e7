"""Nothing lost: `digitrec train` in a real process, killed with SIGKILL mid-epoch and mid-checkpoint-write,
then `--resume`d, ends exactly where an uninterrupted run ends; model.pt and last.pt stay readable.

The kill points are digitrec.faults' pause points (DIGITREC_PAUSE_AT): the process stops there, says so
in a flag file, and is killed. Every wait is bounded; the training itself takes well under a second.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import digitrec
from digitrec.data import write_kaggle_csv

_WAIT = 120  # s; a bound on each process (startup dominates: importing torch on a busy machine)
# 240 training digits in batches of 10: 24 batches, a progress update after batch 20 and at the end,
# so `progress#3` is inside epoch 2 (its 20th batch) and `write:last.pt#2` is epoch 2's last.pt.
_TRAIN = ["train", "--recipe", "mxnet-mlp", "--epochs", "3", "--batch-size", "10", "--val-fraction", "0.2",
          "--deterministic", "--quiet"]


def _env(tmp_path: Path, pause: str | None = None) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(Path(digitrec.__file__).parents[1]), OMP_NUM_THREADS="1",
               DIGITREC_HOME=str(tmp_path / "home"), DIGITREC_PAUSE_FLAG=str(tmp_path / "paused"))
    env.pop("DIGITREC_PAUSE_AT", None)
    if pause:
        env["DIGITREC_PAUSE_AT"] = pause
    return env


def _digitrec(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "digitrec", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen) -> tuple[int, str]:
    try:
        _, err = process.communicate(timeout=_WAIT)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, err


def _kill_when_paused(process: subprocess.Popen, flag: Path) -> None:
    deadline = time.monotonic() + _WAIT
    while not flag.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"never reached the pause point (exit {process.poll()}): {process.communicate()[1]}")
        time.sleep(0.05)


def _readable(path: Path) -> int:
    """The epoch of a checkpoint, loaded as anyone would load it (weights_only)."""
    checkpoint = torch.load(path, weights_only=True)
    return checkpoint["training"]["epoch"] if "training" in checkpoint else checkpoint["metrics"]["epoch"]


def _results(run: Path) -> tuple[list[dict], dict]:
    with open(run / "history.csv") as handle:
        history = [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]
    weights = torch.load(run / "model.pt", weights_only=True)["state_dict"]
    return history, weights


@pytest.mark.slow
def test_killed_runs_resume_to_the_same_result(small_mnist, tmp_path):
    data = tmp_path / "kaggle"
    write_kaggle_csv(data / "train.csv", small_mnist["train"].images[:300], small_mnist["train"].labels[:300])
    run, reference, flag = tmp_path / "run", tmp_path / "reference", tmp_path / "paused"
    common = [*_TRAIN, "--data", f"kaggle:{data}"]
    straight = _digitrec([*common, "--out", str(reference)], _env(tmp_path))  # alongside, uninterrupted

    # 1. SIGTERM before the first epoch ends, in an --out that existed: only config.json is left, and
    #    --resume starts the run again instead of stopping at "no last checkpoint yet".
    run.mkdir()
    process = _digitrec([*common, "--out", str(run)], _env(tmp_path, "progress#1"))
    _kill_when_paused(process, flag)
    process.send_signal(signal.SIGTERM)
    code, err = _finish(process)
    assert code == 143 and err.strip().splitlines()[-1] == "digitrec: terminated", err
    assert sorted(p.name for p in run.iterdir()) == ["config.json"]

    # 2. SIGKILL inside epoch 2: epoch 1's model.pt and last.pt are there and load.
    flag.unlink()
    process = _digitrec(["train", "--resume", str(run), "--quiet"], _env(tmp_path, "progress#3"))
    _kill_when_paused(process, flag)
    process.kill()
    process.wait(_WAIT)
    assert _readable(run / "last.pt") == 1 and _readable(run / "model.pt") == 1

    # 3. SIGKILL while epoch 2's last.pt is being written: its bytes are in the temporary file, the
    #    old last.pt and model.pt are whole; the temporary file is cleared on resume.
    flag.unlink()
    process = _digitrec(["train", "--resume", str(run), "--quiet"], _env(tmp_path, "write:last.pt#1"))
    _kill_when_paused(process, flag)
    assert [p.name.startswith(".last.") for p in run.iterdir() if p.name.startswith(".")] == [True]
    assert _readable(run / "last.pt") == 1 and _readable(run / "model.pt") in (1, 2)  # model.pt: epoch 2 if it improved
    process.kill()
    process.wait(_WAIT)

    code, err = _finish(_digitrec(["train", "--resume", str(run), "--quiet"], _env(tmp_path)))
    assert code == 0, err
    assert not [p for p in run.iterdir() if p.name.startswith(".")]
    code, err = _finish(straight)
    assert code == 0, err
    history, weights = _results(run)
    expected_history, expected_weights = _results(reference)
    assert len(history) == 3 and history == expected_history
    assert weights.keys() == expected_weights.keys()
    assert all(torch.equal(weights[k], expected_weights[k]) for k in weights)
