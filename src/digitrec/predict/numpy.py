"""The NumPy backend: the hand-written network's .npz (no torch, no pickle)."""

from __future__ import annotations

from pathlib import Path

from .predictor import Predictor


def load_numpy(path: Path, device: str = "cpu") -> Predictor:
    from ..scratch import load_network_and_metadata

    if not path.is_file():
        from ..errors import CheckpointError

        raise CheckpointError(f"{path}: no such model file")
    network, metadata = load_network_and_metadata(path)
    classes = metadata.get("classes") or [str(i) for i in range(network.sizes[-1])]
    info = {"engine": "scratch", "model": metadata.get("model", "scratch"), **metadata}
    # images arrive as float32 (N, 28, 28) in [0, 1], which predict_proba takes as they are
    return Predictor(network.predict_proba, classes, info, path)
