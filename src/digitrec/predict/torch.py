"""The PyTorch backend: a digitrec checkpoint (.pt) rebuilt from the model registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .predictor import ProbaFn, Predictor


def proba_fn(model, device: str = "cpu", batch_size: int = 1000) -> ProbaFn:
    """float32 (N, 28, 28) in [0, 1] -> probabilities, by a Classifier (it normalises its own input and
    divides its logits by its own temperature)."""
    import torch

    # Channels-last weights: oneDNN's convolutions run about 2x faster on them on the CPU (measured
    # in benchmarks/inference.py); a model without 4-D weights (an MLP) is unchanged.
    model = model.to(device, memory_format=torch.channels_last).eval()

    def proba(images: np.ndarray) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                chunk = torch.from_numpy(images[start:start + batch_size]).to(device).unsqueeze(1)  # (B, 1, 28, 28)
                out.append(torch.softmax(model(chunk), dim=1).float().cpu().numpy())
        return out[0] if len(out) == 1 else np.concatenate(out)

    return proba


def load_torch(path: Path, device: str = "cpu") -> Predictor:
    from ..models import build_model, load_checkpoint

    checkpoint = load_checkpoint(path)
    model = build_model(checkpoint, path)
    metadata = {k: checkpoint.get(k) for k in ("recipe", "dataset", "metrics", "epoch", "versions", "created", "normalization",
                                           "calibration")}
    metadata |= {"model": checkpoint["model"]["name"], "model_args": checkpoint["model"].get("args", {}), "engine": "torch"}
    if "members" in checkpoint:  # an ensemble: what it averages
        metadata["members"] = [member["model"]["name"] for member in checkpoint["members"]]
    return Predictor(proba_fn(model, device), checkpoint["classes"], metadata, path)
