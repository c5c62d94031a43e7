"""Pick the backend that serves a model: onnxruntime when it is installed, else the model's own.

A `.pt` checkpoint runs from its ONNX export, made on first use and kept by sha256 in the cache
folder (export/cache.py): onnxruntime answers one 28x28 image in ~0.05-0.2 ms where eager PyTorch
takes ~0.3-2 ms (benchmarks/inference.py).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

from ..errors import DigitrecError, one_line
from ..predict import Predictor, load_model

BACKENDS = ("auto", "onnxruntime", "torch")
_log = logging.getLogger("digitrec.serve")


def serving_predictor(model: str | os.PathLike, backend: str = "auto", threads: int = 1) -> tuple[Predictor, str]:
    """The Predictor to serve `model` with, and a note on why that backend (empty when there is no choice)."""
    predictor, onnx, why = choose_backend(model, backend)
    return prepare(predictor, onnx, threads), why


def choose_backend(model: str | os.PathLike, backend: str = "auto") -> tuple[Predictor, bytes | None, str]:
    """(the model as loaded, its ONNX export to run instead or None, a note on why that backend).

    `backend` "auto" runs a `.pt` with onnxruntime when it is installed and the export succeeds,
    else with torch (saying why in the log); "onnxruntime" insists (an error if it cannot);
    "torch" keeps the checkpoint's own. A `.onnx` or `.npz` file has one backend.
    """
    if backend not in BACKENDS:
        raise DigitrecError(f"unknown backend '{backend}'; choose from {', '.join(BACKENDS)}")
    predictor = load_model(model)
    if predictor.metadata.get("engine") != "torch":
        if backend == "torch":
            raise DigitrecError(f"{predictor.path}: --backend torch needs a PyTorch checkpoint (.pt)")
        return predictor, None, ""
    if backend == "torch":
        return predictor, None, "as asked"
    if importlib.util.find_spec("onnxruntime") is None:
        if backend == "onnxruntime":
            raise DigitrecError("--backend onnxruntime: onnxruntime is not installed (pip install onnxruntime)")
        _log.warning("digitrec: onnxruntime is not installed; serving with torch (pip install onnxruntime is faster)")
        return predictor, None, "onnxruntime is not installed"
    from ..export.cache import runnable_export

    try:
        onnx, kept = runnable_export(Path(predictor.path))
        return predictor, onnx, "cached ONNX export" if kept else "ONNX export, in memory: the cache folder is not writable"
    except Exception as exc:  # noqa: BLE001 - whatever the exporter raises, torch can still serve
        if backend == "onnxruntime":
            raise DigitrecError(f"{predictor.path}: cannot run with onnxruntime ({one_line(exc)})") from None
        _log.warning("digitrec: the ONNX export failed (%s); serving with torch", one_line(exc))
        return predictor, None, "the ONNX export failed"


def prepare(predictor: Predictor, onnx: bytes | None, threads: int = 1) -> Predictor:
    """`predictor` ready to serve: with `onnx` (its export), the same model and metadata with the
    probabilities from onnxruntime. Each image gets `threads` threads: the service runs several
    images at once, and one image is too little work to share between cores."""
    if onnx is None:
        if predictor.metadata.get("engine") == "torch":
            import torch

            torch.set_num_threads(threads)
        return predictor
    from ..predict.onnx import onnx_proba_fn, session

    metadata = predictor.metadata | {"engine": "onnxruntime"}
    return Predictor(onnx_proba_fn(session(onnx, threads)), predictor.classes, metadata, predictor.path)
