"""Several server processes on one listening socket, for machines with more than one core.

Preprocessing an image is many small NumPy calls that hold the GIL, so one process keeps about
one core busy however many threads it runs; a process a core uses them all. The parent binds the
socket and exports the model once; uvicorn's supervisor then starts the workers (fresh
interpreters), restarts any that die and stops them all on Ctrl+C or SIGTERM. Each worker loads
the model itself and builds its own app.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from pathlib import Path

from ..predict import Predictor

_SPEC = "DIGITREC_SERVE_WORKER"  # environment variable: what each worker serves, as JSON
# Each worker holds its own model and interpreter (~135 MB with the `fast` model on onnxruntime),
# so the default stops at 4 however many cores there are.
MAX_DEFAULT_WORKERS = 4


def default_workers() -> int:
    """One worker per usable core, at most MAX_DEFAULT_WORKERS. Measured on 2 cores (Zen 5, the
    `fast` model, 16 connections, benchmarks/results/serve.md): drawings 200 requests/s from one
    process, 382 from two; p99 275 -> 117 ms."""
    from ..training.distributed import usable_cores

    return max(1, min(MAX_DEFAULT_WORKERS, usable_cores()))


def run_workers(sock: socket.socket, workers: int, predictor: Predictor, onnx: bytes | None,
                log_level: str = "info") -> None:
    """Serve `predictor`'s model on `sock` from `workers` processes until interrupted; with `onnx`
    (its export's bytes) they run that with onnxruntime instead."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    folder = Path(tempfile.mkdtemp(prefix="digitrec-serve-"))
    try:
        spec = {"model": str(predictor.path), "torch": predictor.metadata.get("engine") == "torch"}
        if onnx is not None:
            spec = {"model": str(folder / "model.onnx"), "torch": False}
            Path(spec["model"]).write_bytes(onnx)
        os.environ[_SPEC] = json.dumps(spec)  # the workers are spawned with this environment
        host, port = sock.getsockname()[:2]
        config = uvicorn.Config(f"{__name__}:worker_app", factory=True, host=host, port=port, workers=workers,
                                log_level=log_level)
        Multiprocess(config, sockets=[sock]).run()
    finally:
        os.environ.pop(_SPEC, None)
        shutil.rmtree(folder, ignore_errors=True)


def worker_app():
    """The app of one worker process (uvicorn calls this in each)."""
    from ..predict import load_model
    from ..predict.onnx import load_onnx
    from .app import create_app
    from .backend import serving_predictor

    spec = json.loads(os.environ[_SPEC])
    if spec["torch"]:
        predictor, _ = serving_predictor(spec["model"], "torch")
    elif spec["model"].endswith(".onnx"):
        predictor = load_onnx(spec["model"], threads=1)
    else:
        predictor = load_model(spec["model"])
    return create_app(predictor)
