"""Fit a trained model's temperature on labelled held-out images, and write it into the model file.

The torch engine calls `calibrate` at the end of every run with a validation split; `digitrec calibrate`
calls `calibrate_file` on a model and a labelled set the user names. The maths (a 1-D search for
the temperature that minimises the NLL) is digitrec.evaluation.calibration's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError, DigitrecError
from ..evaluation.calibration import calibrate_probabilities, calibration_record, fit_temperature

# Measured, not assumed: on `nielsen` a temperature fitted to its normalised sigmoid scores lowered
# the validation NLL a little and raised the test ECE from 0.0244 to 0.0334 (benchmarks/calibration.py).
SIGMOID_OUTPUTS = ("the network's output layer is sigmoid: its scores are not a softmax, and a temperature on them "
                   "made the test calibration worse; use a softmax output (e.g. the nielsen-improved recipe)")


def model_logits(model, images: np.ndarray, device: str = "cpu", batch_size: int = 1000) -> np.ndarray:
    """float64 (N, C) logits of a Classifier at its current temperature for uint8 or [0, 1] images (N, 28, 28)."""
    import torch

    from ..predict.predictor import as_batch

    pixels = as_batch(images)  # float32 (N, 28, 28) in [0, 1]
    was_training = model.training
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(pixels), batch_size):
            chunk = torch.from_numpy(pixels[start:start + batch_size]).to(device).unsqueeze(1)  # (B, 1, 28, 28)
            out.append(model(chunk).double().cpu().numpy())
    model.train(was_training)
    return np.concatenate(out)


def calibrate(model, images: np.ndarray, labels: np.ndarray, device: str = "cpu", batch_size: int = 1000,
              split: str = "validation") -> dict[str, Any]:
    """Fit the Classifier's temperature on (images, labels), set its buffer, return the record
    (temperature, NLL and ECE before and after, images used). Any earlier temperature is dropped:
    the fit starts from the raw logits."""
    if len(labels) == 0:
        raise DigitrecError(f"cannot calibrate on an empty {split} split")
    model.temperature.fill_(1.0)
    raw = model_logits(model, images, device, batch_size)
    labels = np.asarray(labels, dtype=np.int64)
    model.temperature.fill_(fit_temperature(raw, labels))
    temperature = float(model.temperature)  # float32, as it runs: the record describes exactly that
    return calibration_record(raw, labels, temperature, split)


def calibrate_file(path: str | os.PathLike, images: np.ndarray, labels: np.ndarray, out: str | os.PathLike,
                   split: str) -> dict[str, Any]:
    """Fit a temperature for the model file `path` (.pt or .npz) on labelled images and write the
    calibrated model to `out` (atomically; `out` may be `path`). Returns the calibration record."""
    path, out = Path(path), Path(out)
    suffix = path.suffix.lower()
    if Path(out).suffix.lower() != suffix:
        raise DigitrecError(f"{out}: the calibrated model is written in its own format; give an --out ending in {path.suffix}")
    if suffix in (".pt", ".pth"):
        return _calibrate_checkpoint(path, images, labels, out, split)
    if suffix == ".npz":
        return _calibrate_network(path, images, labels, out, split)
    if suffix == ".onnx":
        raise CheckpointError(f"{path}: an ONNX graph has its temperature baked in; calibrate the .pt it was exported "
                              "from, then export that again")
    raise CheckpointError(f"{path}: unknown model type '{path.suffix}'; calibrate takes .pt or .npz")


def _calibrate_checkpoint(path: Path, images, labels, out: Path, split: str) -> dict[str, Any]:
    from ..models import build_model, load_checkpoint, save_checkpoint
    from ..models.checkpoint import FORMAT_VERSION

    checkpoint = load_checkpoint(path)
    model = build_model(checkpoint, path)
    record = calibrate(model, images, labels, split=split)
    checkpoint.pop("training", None)  # a last.pt becomes a model file: it no longer resumes the run
    checkpoint |= {"format_version": FORMAT_VERSION, "calibration": record,
                   "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    save_checkpoint(out, checkpoint)
    return record


def _calibrate_network(path: Path, images, labels, out: Path, split: str) -> dict[str, Any]:
    from ..scratch import load_network_and_metadata, save_network

    network, metadata = load_network_and_metadata(path)
    if network.output != "softmax":
        raise DigitrecError(f"{path}: not calibrated: {SIGMOID_OUTPUTS}")
    record = calibrate_probabilities(network.predict_proba(images), labels, split)
    save_network(network, out, metadata | {"calibration": record})
    return record
