"""The NumPy backend: the hand-written network's .npz (no torch, no pickle).

A temperature in the file's `calibration` metadata is applied to the log of the network's
probabilities (softmax(log p / T)): for a softmax output layer, exactly dividing its pre-softmax
outputs by T. Files without one predict their raw probabilities.
"""

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
    calibration = metadata.get("calibration")
    try:
        temperature = float(calibration.get("temperature", 1.0)) if isinstance(calibration, dict) else 1.0
    except (TypeError, ValueError):
        temperature = float("nan")
    if not temperature > 0:
        from ..errors import CheckpointError

        raise CheckpointError(f"{path}: its calibration temperature ({calibration.get('temperature')!r}) is not a positive number")
    if temperature == 1.0:  # images arrive as float32 (N, 28, 28) in [0, 1], which predict_proba takes as they are
        return Predictor(network.predict_proba, classes, info, path)
    from ..evaluation.calibration import retemper

    return Predictor(lambda images: retemper(network.predict_proba(images), temperature), classes, info, path)
