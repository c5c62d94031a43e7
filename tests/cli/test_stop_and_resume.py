"""Stopping a run (an error, Ctrl-C, SIGTERM) never leaves a dead end, a temp file or a traceback."""

import os
import signal

import pytest
from cli_helpers import error_line, ok, runner

from digitrec.cli import _raise_terminated, app
from digitrec.data import write_kaggle_csv

_RUN = ["--recipe", "mxnet-mlp", "--epochs", "1", "--batch-size", "20", "--val-fraction", "0.2", "--quiet"]


@pytest.fixture
def kaggle(small_mnist, tmp_path):
    """A good kaggle:DIR of 200 fixture digits, and a bad one (a pixel that is not an integer)."""
    write_kaggle_csv(tmp_path / "good" / "train.csv", small_mnist["train"].images[:200], small_mnist["train"].labels[:200])
    (tmp_path / "bad").mkdir()
    text = (tmp_path / "good" / "train.csv").read_text().splitlines()
    (tmp_path / "bad" / "train.csv").write_text("\n".join([text[0], text[1].replace(",0,", ",x,", 1)]) + "\n")
    return tmp_path / "good", tmp_path / "bad"


def test_a_run_stopped_before_its_first_epoch_can_be_started_again(kaggle, tmp_path):
    good, bad = kaggle
    pre = tmp_path / "pre"
    pre.mkdir()  # an --out that already existed keeps the config.json of the failed run
    error_line(["train", *_RUN, "--data", f"kaggle:{bad}", "--out", str(pre)], "train.csv")
    assert sorted(p.name for p in pre.iterdir()) == ["config.json"]
    output = ok(["train", *_RUN, "--data", f"kaggle:{good}", "--out", str(pre)])
    assert (pre / "last.pt").is_file() and "history.csv" in os.listdir(pre), output
    error_line(["train", *_RUN, "--data", f"kaggle:{good}", "--out", str(pre)], "already holds a run", "--resume")

    (pre / "last.pt").unlink()  # as if stopped before epoch 1 ended, then --resume: it starts again
    for name in ("model.pt", "history.csv", "metrics.json"):
        (pre / name).unlink()
    result = runner.invoke(app, ["train", "--resume", str(pre)], catch_exceptions=False)
    assert result.exit_code == 0 and (pre / "last.pt").is_file(), result.output


def test_sigterm_is_handled_like_ctrl_c(kaggle, tmp_path, monkeypatch):
    """SIGTERM mid-write: one line, exit 143, no temp file, and the run resumes (the real signal, in-process)."""
    from digitrec.evaluation import plots

    previous = signal.signal(signal.SIGTERM, _raise_terminated)  # what `digitrec` (main) installs
    real_curves = plots.learning_curves

    def stopped_mid_write(history, path, **kw):
        path.write_bytes(b"")  # the 0-byte temp file that the unhandled signal used to leave
        os.kill(os.getpid(), signal.SIGTERM)

    try:
        monkeypatch.setattr(plots, "learning_curves", stopped_mid_write)
        run = tmp_path / "run"
        result = runner.invoke(app, ["train", *_RUN, "--data", f"kaggle:{kaggle[0]}", "--out", str(run)])
        assert result.exit_code == 143, result.output
        assert [line for line in result.output.splitlines() if line.strip()][-1] == "digitrec: terminated"
        assert "Traceback" not in result.output
        assert not [p for p in os.listdir(run) if p.startswith(".")] and (run / "last.pt").is_file()
        monkeypatch.setattr(plots, "learning_curves", real_curves)
        ok(["train", "--resume", str(run), "--quiet"])
        assert (run / "curves.png").stat().st_size > 0 and (run / "metrics.json").is_file()
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_sigterm_while_the_process_exits_ends_it_without_a_traceback():
    """torchrun stops the surviving ranks of a failed job with SIGTERM, which can land while a rank
    runs its atexit clean-up: it must end the process, not print 'Exception ignored ... Traceback'."""
    import subprocess
    import sys

    code = ("import atexit, os, signal, sys; from digitrec.cli import main; "
            "atexit.register(lambda: os.kill(os.getpid(), signal.SIGTERM)); "
            "sys.argv = ['digitrec', '--version']; main()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGTERM and done.stderr == "", done.stderr
