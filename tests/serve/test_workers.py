"""`digitrec serve --workers N`: one port, N processes, each answering with the exported model;
SIGTERM stops them all."""

from __future__ import annotations

import http.client
import io
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
from PIL import Image

from digitrec.serve import workers

SRC = Path(__file__).resolve().parents[2] / "src"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str, body: bytes | None = None) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST" if body else "GET", path, body=body, headers={"Content-Type": "image/png"} if body else {})
    answer = connection.getresponse()
    return answer.status, json.loads(answer.read())


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


@pytest.mark.slow  # ~10 s: the export, then two fresh interpreters importing the web stack
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts the worker processes in /proc")
def test_two_workers_share_the_port_and_stop_together(tiny_model, small_mnist):
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "digitrec", "serve", str(tiny_model), "--port", str(port), "--workers", "2"],
                              env=os.environ | {"PYTHONPATH": str(SRC)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                status, health = _get(port, "/api/health")
                if status == 200 and len(_children(server.pid)) >= 2:
                    break
            except OSError:
                pass
            assert server.poll() is None, server.stderr.read()
            time.sleep(0.3)
        assert health["engine"] == "onnxruntime" and health["model"] == "cnn-baseline"
        digit = small_mnist["test"].images[0]
        buffer = io.BytesIO()
        Image.fromarray(255 - np.pad(digit, 10)).save(buffer, "PNG")
        for _ in range(6):  # whichever worker answers
            status, answer = _get(port, "/api/predict", buffer.getvalue())
            assert status == 200 and answer["label"] == str(small_mnist["test"].labels[0])
        pids = _children(server.pid)
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert out.startswith(f"digitrec: serving cnn-baseline from {tiny_model} with onnxruntime (cached ONNX export), "
                          f"2 worker processes at http://127.0.0.1:{port}/")
    assert "Traceback" not in err
    deadline = time.monotonic() + 10  # the workers went with it (init reaps them)
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [(pid, Path(f"/proc/{pid}/cmdline").read_bytes()) for pid in pids if _alive(pid)]


def test_workers_read_what_the_parent_chose(tiny_model, monkeypatch, tmp_path):
    from digitrec.serve.backend import choose_backend

    predictor, onnx, _ = choose_backend(tiny_model)
    for spec, engine in (({"model": str(tiny_model), "torch": True}, "torch"),):
        monkeypatch.setenv(workers._SPEC, json.dumps(spec))
        app = workers.worker_app()
        assert app.state.predictor.metadata["engine"] == engine
    (tmp_path / "model.onnx").write_bytes(onnx)
    monkeypatch.setenv(workers._SPEC, json.dumps({"model": str(tmp_path / "model.onnx"), "torch": False}))
    assert workers.worker_app().state.predictor.metadata["engine"] == "onnxruntime"
    assert predictor.metadata["engine"] == "torch"


def test_serve_starts_one_worker_per_usable_core_by_default_at_most_four(tiny_model, monkeypatch):
    import digitrec.serve
    import digitrec.training.distributed
    from digitrec.cli import app
    from typer.testing import CliRunner

    started = []
    monkeypatch.setattr(digitrec.serve, "bind", lambda host, port: (host, port))
    monkeypatch.setattr(digitrec.serve, "run", lambda app, sock: started.append(1))
    monkeypatch.setattr(workers, "run_workers", lambda sock, n, predictor, onnx: started.append(n))
    for cores, expected in ((1, 1), (2, 2), (3, 3), (16, 4)):
        monkeypatch.setattr(digitrec.training.distributed, "usable_cores", lambda: cores)
        result = CliRunner().invoke(app, ["serve", str(tiny_model), "--port", "8123"])
        assert result.exit_code == 0 and started[-1] == expected, result.output
        assert (f"{expected} worker processes" in result.output) == (expected > 1)
    result = CliRunner().invoke(app, ["serve", str(tiny_model), "--port", "8123", "--workers", "1"])
    assert result.exit_code == 0 and started[-1] == 1
