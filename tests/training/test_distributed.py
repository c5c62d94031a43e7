"""Data-parallel training and distributed studies under torchrun: real processes, Gloo over loopback.

Every job here is a real `torchrun` (through `digitrec ... --nproc`, or torchrun itself for two
"nodes" on this machine), bounded in time, on a few hundred real digits.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from digitrec.data import write_kaggle_csv

pytestmark = [
    pytest.mark.slow,  # each job starts three Python processes (~5-10 s)
    pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds torchrun's worker processes through /proc"),
]
TIMEOUT = 180  # seconds for any one job
MLP = ["--recipe", "mxnet-mlp", "--limit", "400", "--batch-size", "40", "--deterministic", "--quiet"]


@pytest.fixture(scope="module")
def digits(tmp_path_factory, small_mnist) -> str:
    """The 1000 + 200 real digits as a kaggle:DIR dataset (subprocesses cannot see monkeypatched sources)."""
    folder = tmp_path_factory.mktemp("kaggle")
    for split in ("train", "test"):
        write_kaggle_csv(folder / f"{split}.csv", small_mnist[split].images, small_mnist[split].labels)
    return f"kaggle:{folder}"


def _digitrec(*args, env=None) -> subprocess.CompletedProcess:
    job = _start([sys.executable, "-m", "digitrec", *map(str, args)], env)
    stdout, stderr = job.communicate(timeout=TIMEOUT)
    return subprocess.CompletedProcess(job.args, job.returncode, stdout, stderr)


_STARTED: list[subprocess.Popen] = []


def _start(command: list, env=None) -> subprocess.Popen:
    job = subprocess.Popen([str(c) for c in command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _STARTED.append(job)
    return job


@pytest.fixture(autouse=True)
def _no_process_left_behind():
    """A job that failed or timed out must not leave torchrun's workers running."""
    yield
    while _STARTED:
        job = _STARTED.pop()
        for pid in _descendants(job.pid) + [job.pid]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        job.wait(timeout=TIMEOUT)


def _descendants(pid: int) -> list[int]:
    try:
        found = _children(pid)
    except (FileNotFoundError, ProcessLookupError):
        return []
    return [grandchild for child in found for grandchild in _descendants(child)] + found


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "model.pt", weights_only=True)["state_dict"]


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_processes_end_with_the_weights_of_one(digits, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert _digitrec("train", *MLP, "--epochs", "2", "--data", digits, "--out", one).returncode == 0
    job = _digitrec("train", *MLP, "--epochs", "2", "--data", digits, "--out", two, "--nproc", "2")
    assert job.returncode == 0, job.stderr
    a, b = _weights(one), _weights(two)
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5  # one global batch of 40 either way
    assert _metrics(two)["test_accuracy"] == pytest.approx(_metrics(one)["test_accuracy"], abs=0.006)
    assert json.loads((two / "config.json").read_text())["distributed"]["world"] == 2
    assert job.stdout.count("run directory:") == 1  # rank 0 alone reports
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())


def test_two_nodes_on_one_machine_write_one_run(digits, tmp_path):
    """`torchrun --nnodes 2` twice, one process each, meeting at a c10d rendezvous on 127.0.0.1."""
    port = _free_port()
    env = os.environ | {"GLOO_SOCKET_IFNAME": "lo"}
    launch = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
              "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "digitrec-test",
              "-m", "digitrec", "train", *MLP, "--epochs", "1", "--data", digits, "--out", str(tmp_path / "run")]
    nodes = [_start(launch, env) for _ in range(2)]
    outputs = [node.communicate(timeout=TIMEOUT) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["distributed"] == {"world": 2, "per_node": 1, "device": "cpu"}
    assert "test_accuracy" in _metrics(tmp_path / "run")
    assert sum(out.count("run directory:") for out, _ in outputs) == 1


def test_folds_and_seeds_spread_over_two_processes_equal_a_serial_study(digits, tmp_path):
    args = ["--recipe", "mxnet-mlp", "--limit", "300", "--epochs", "2", "--quiet", "--deterministic", "--data", digits]
    assert _digitrec("cv", *args, "--folds", "2", "--threads", "1", "--out", tmp_path / "cv1").returncode == 0
    job = _digitrec("cv", *args, "--folds", "2", "--out", tmp_path / "cv2", "--nproc", "2")
    assert job.returncode == 0, job.stderr
    serial, spread = (json.loads((tmp_path / name / "cv.json").read_text()) for name in ("cv1", "cv2"))
    assert spread["processes"] == 2 and spread["split"]["hash"] == serial["split"]["hash"]
    assert [(f["accuracy"], f["loss"]) for f in spread["folds"]] == [(f["accuracy"], f["loss"]) for f in serial["folds"]]

    assert _digitrec("train", *args, "--seeds", "1,2,3", "--out", tmp_path / "s1").returncode == 0
    job = _digitrec("train", *args, "--seeds", "1,2,3", "--out", tmp_path / "s2", "--nproc", "2")
    assert job.returncode == 0, job.stderr
    serial, spread = (json.loads((tmp_path / name / "seeds.json").read_text()) for name in ("s1", "s2"))
    assert [r["seed"] for r in spread["runs"]] == [1, 2, 3] and spread["processes"] == 2
    assert [r["test_loss"] for r in spread["runs"]] == [r["test_loss"] for r in serial["runs"]]
    assert all((tmp_path / "s2" / f"seed-{s}" / "model.pt").is_file() for s in (1, 2, 3))


def _kill_rank_one_after_a_checkpoint(args: list, out: Path) -> subprocess.Popen:
    job = _start([sys.executable, "-m", "digitrec", *args])
    deadline = time.monotonic() + TIMEOUT
    while not (out / "last.pt").exists():
        assert job.poll() is None and time.monotonic() < deadline, job.communicate()
        time.sleep(0.05)
    victim = next(pid for pid in _children(job.pid) if _environ(pid).get("RANK") == "1")
    os.kill(victim, signal.SIGKILL)
    return job


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return [int(c) for task in tasks.iterdir() for c in (task / "children").read_text().split()]


def _environ(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(pair.decode(errors="replace").split("=", 1) for pair in pairs if b"=" in pair)


def test_a_killed_rank_stops_the_job_in_one_line_or_is_restarted_to_the_same_result(digits, tmp_path):
    train = ["train", *MLP, "--epochs", "12", "--data", digits, "--nproc", "2"]
    job = _kill_rank_one_after_a_checkpoint([*train, "--out", tmp_path / "dead"], tmp_path / "dead")
    _, stderr = job.communicate(timeout=TIMEOUT)
    assert job.returncode == 1
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines == ["digitrec: error: rank 1 of 2 failed: killed by SIGKILL; the run can continue with --resume"], stderr

    job = _kill_rank_one_after_a_checkpoint([*train, "--max-restarts", "1", "--out", tmp_path / "healed"], tmp_path / "healed")
    stdout, stderr = job.communicate(timeout=TIMEOUT)
    assert job.returncode == 0, stderr
    assert _digitrec(*train, "--out", tmp_path / "whole").returncode == 0
    healed, whole = _metrics(tmp_path / "healed"), _metrics(tmp_path / "whole")
    assert (healed["test_accuracy"], healed["test_loss"]) == (whole["test_accuracy"], whole["test_loss"])
    resumed = _digitrec("train", "--resume", tmp_path / "dead", "--nproc", "2", "--quiet")  # the job that stopped
    assert resumed.returncode == 0, resumed.stderr
    assert _metrics(tmp_path / "dead")["test_loss"] == whole["test_loss"]
    a, b = _weights(tmp_path / "healed"), _weights(tmp_path / "whole")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert np.loadtxt(tmp_path / "healed" / "history.csv", delimiter=",", skiprows=1, usecols=0).tolist() == list(range(1, 13))


def test_a_job_stopped_by_sigterm_says_terminated_in_one_line_and_stays_resumable(digits, tmp_path):
    out = tmp_path / "stopped"
    job = _start([sys.executable, "-m", "digitrec", "train", *MLP, "--epochs", "12", "--data", digits, "--nproc", "2", "--out", out])
    deadline = time.monotonic() + TIMEOUT
    while not (out / "last.pt").exists():
        assert job.poll() is None and time.monotonic() < deadline, job.communicate()
        time.sleep(0.05)
    job.send_signal(signal.SIGTERM)  # to the launcher, as a scheduler or `timeout` stops a job
    _, stderr = job.communicate(timeout=TIMEOUT)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert (job.returncode, lines) == (128 + signal.SIGTERM, ["digitrec: terminated"]), stderr
    assert (out / "last.pt").is_file() and (out / "config.json").is_file()


def test_the_numpy_engine_says_it_does_not_run_data_parallel(digits, tmp_path):
    job = _digitrec("train", "--recipe", "nielsen", "--epochs", "1", "--data", digits, "--out", tmp_path / "r", "--nproc", "2")
    lines = [line for line in job.stderr.splitlines() if line.strip()]
    assert job.returncode == 1 and len(lines) == 1, job.stderr
    assert "does not run data-parallel" in lines[0] and "choose a torch recipe" in lines[0]
    assert not (tmp_path / "r").exists()
