"""A scratch network behind the common `Predictor` interface (NumPy only, no torch)."""

from __future__ import annotations

import os
from pathlib import Path

from ..inference import Predictor
from .checkpoint import load_network_and_metadata


def load_scratch_predictor(path: str | os.PathLike) -> Predictor:
    network, metadata = load_network_and_metadata(path)
    classes = metadata.get("classes") or [str(i) for i in range(network.sizes[-1])]
    info = {"engine": "scratch", "model": metadata.get("model", "scratch"), **metadata}
    # images arrive as float32 (N, 28, 28) in [0, 1], which predict_proba takes as they are
    return Predictor(network.predict_proba, classes, info, Path(path))
