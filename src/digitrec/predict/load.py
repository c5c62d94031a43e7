"""`load_model`: one table from a model file's suffix to the backend that reads it."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import CheckpointError
from .numpy import load_numpy
from .onnx import load_onnx
from .predictor import Predictor
from .torch import load_torch

LOADERS = {".pt": load_torch, ".pth": load_torch, ".npz": load_numpy, ".onnx": load_onnx}
RUN_MODEL_FILES = ("model.pt", "model.npz", "model.onnx")  # looked for, in this order, in a run folder


def looks_like_model(path: str | os.PathLike) -> bool:
    """Whether a command-line argument names a model rather than an image: a model suffix (.pt,
    .pth, .npz, .onnx), whether or not the file exists, or a folder holding a model file."""
    path = Path(path).expanduser()
    if path.suffix.lower() in LOADERS:
        return True
    return path.is_dir() and any((path / name).is_file() for name in RUN_MODEL_FILES)


def model_file(path: str | os.PathLike) -> Path:
    """The model file `path` names: itself, or the model a run folder holds (model.pt first)."""
    path = Path(path).expanduser()
    if path.is_dir():
        found = [path / name for name in RUN_MODEL_FILES if (path / name).is_file()]
        if not found:
            raise CheckpointError(f"{path}: no model.pt, model.npz or model.onnx in this folder")
        path = found[0]
    if not path.exists():
        raise CheckpointError(f"{path}: no such model file")
    if not path.is_file():  # opening a FIFO would wait for a writer for ever
        raise CheckpointError(f"{path}: not a regular file (a FIFO, socket or device); give a model file")
    return path


def load_model(path: str | os.PathLike, device: str = "cpu") -> Predictor:
    """A Predictor from a model file (.pt, .npz, .onnx) or a run directory holding one."""
    path = model_file(path)
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise CheckpointError(f"{path}: unknown model type '{path.suffix}'; expected .pt, .npz or .onnx (or a run folder)")
    return loader(path, device)
