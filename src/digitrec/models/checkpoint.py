"""Self-describing checkpoints: weights plus everything needed to rebuild and use the model.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it loads with
`torch.load(weights_only=True)` (no pickled objects), and serving can rebuild the model from the
registry without any training code. Format 3 holds a `Classifier`'s state, its Normalize buffers
and its temperature included, and a readable `calibration` entry describing that temperature.
Older files still load into the same Classifier, at temperature 1 (their raw softmax, as they
predicted when written): format 2 lacks the temperature; format 1, written before normalisation
moved into the model, holds the bare network's state and the normalisation beside it. An
ensemble's checkpoint (model name "ensemble", see ensemble_checkpoint.py) holds no weights of its
own: each entry of its `members` list is a member's checkpoint, rebuilt here like any other.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..atomic import atomic_path
from ..errors import CheckpointError
from ..versions import versions
from .ensemble import Ensemble
from .normalize import Classifier
from .registry import create_model

FORMAT = "digitrec-checkpoint"
FORMAT_VERSION = 3  # 3: + the temperature buffer; 2: the state dict includes the Normalize layer; 1: the bare network's
ENSEMBLE = "ensemble"  # the model name of an ensemble checkpoint; not in the registry (no weights of its own)
NOT_FITTED = "no temperature was fitted to these weights"  # a model.pt written mid-run, or by hand


def model_args(model: nn.Module) -> dict[str, Any]:
    """The model's config as JSON-friendly kwargs for `create_model` (tuples become lists)."""
    config = getattr(model, "config", None)
    if config is None or not dataclasses.is_dataclass(config):
        return {}
    return _jsonable(dataclasses.asdict(config))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def make_checkpoint(
    model: Classifier,
    model_name: str,
    *,
    classes: list[str],
    recipe: dict[str, Any],
    dataset: str,
    metrics: dict[str, Any] | None = None,
    epoch: int | None = None,
    training: dict[str, Any] | None = None,
    calibration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The checkpoint dict: model.pt has no `training` entry, last.pt adds it for --resume.

    `calibration` describes the model's temperature (digitrec.evaluation.calibration's records:
    fitted or not, and why); its `temperature` is always the one in the weights, which is what runs.
    """
    calibration = (calibration or {"fitted": False, "why": NOT_FITTED}) | {"temperature": float(model.temperature)}
    checkpoint = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": {"name": model_name, "args": model_args(model.net)},
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        # a description for people and other tools; the weights' own Normalize buffers are what runs
        "normalization": {"mean": float(model.normalize.mean), "std": float(model.normalize.std), "scale": 255.0},
        "calibration": calibration,
        "classes": list(classes),
        "recipe": recipe,
        "dataset": dataset,
        "metrics": metrics or {},
        "epoch": epoch,
        "versions": versions(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if training is not None:
        checkpoint["training"] = training
    return checkpoint


def save_checkpoint(path: str | os.PathLike, checkpoint: dict[str, Any]) -> Path:
    """Write atomically: a crash mid-save leaves the previous checkpoint intact."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)
    return path


def _why_unreadable(exc: Exception) -> str:
    """torch.load's error in a few words: its messages run to paragraphs, and one of them advises
    weights_only=False, i.e. running whatever code the file holds, which we never do."""
    text = str(exc)
    if "zip archive" in text or "central directory" in text or isinstance(exc, EOFError):
        return "the file is truncated or corrupt"
    if "Weights only load failed" in text:
        return "not a PyTorch file, or one holding Python objects other than weights"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first if len(first) <= 120 else first[:117] + "..."


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load and check a digitrec checkpoint with weights_only=True; CheckpointError if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file")
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol of junk it then refuses
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint ({_why_unreadable(exc)}); expected a model.pt written by "
            "digitrec train"
        ) from exc
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CheckpointError(f"{path}: a PyTorch file, but not a digitrec model (no '{FORMAT}' header)")
    if checkpoint.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written by a newer digitrec (format {checkpoint['format_version']}); upgrade digitrec"
        )
    for key in ("model", "state_dict", "normalization", "classes"):
        if key not in checkpoint:
            raise CheckpointError(f"{path}: incomplete digitrec checkpoint (missing '{key}')")
    spec, classes = checkpoint["model"], checkpoint["classes"]
    well_formed = {
        "model": isinstance(spec, dict) and isinstance(spec.get("name"), str) and isinstance(spec.get("args", {}), dict),
        "state_dict": isinstance(checkpoint["state_dict"], dict),
        "normalization": isinstance(checkpoint["normalization"], dict),
        "classes": isinstance(classes, list) and bool(classes) and all(isinstance(c, str) for c in classes),
        "calibration": isinstance(checkpoint.get("calibration", {}), dict),  # absent before format 3
    }
    for key, ok in well_formed.items():
        if not ok:
            raise CheckpointError(f"{path}: malformed digitrec checkpoint ('{key}' is not what digitrec writes)")
    return checkpoint


def build_model(checkpoint: dict[str, Any], path: str | os.PathLike = "<checkpoint>") -> Classifier | Ensemble:
    """Rebuild the Classifier (normalisation + registry network + temperature) and load its weights,
    in eval mode; an ensemble checkpoint gives an Ensemble of its members' Classifiers. Files from
    before calibration (formats 1 and 2) get temperature 1."""
    spec = checkpoint["model"]
    if spec["name"] == ENSEMBLE:
        return _build_ensemble(checkpoint, path)
    version = checkpoint.get("format_version", 1)
    try:
        if version == 1:
            net = create_model(spec["name"], **spec.get("args", {}))
            net.load_state_dict(checkpoint["state_dict"])
            norm = checkpoint["normalization"]
            model = Classifier(net, norm["mean"], norm["std"])
        else:
            state = checkpoint["state_dict"]
            if version == 2:
                state = {**state, "temperature": torch.tensor(1.0)}
            model = Classifier(create_model(spec["name"], **spec.get("args", {})))
            model.load_state_dict(state)
            if not float(model.temperature) > 0:
                raise ValueError(f"temperature {float(model.temperature)} is not positive")
    except (ValueError, TypeError, RuntimeError, KeyError) as exc:
        raise CheckpointError(f"{path}: cannot rebuild model '{spec.get('name')}' ({str(exc).splitlines()[0]})") from None
    return model.eval()


def _build_ensemble(checkpoint: dict[str, Any], path: str | os.PathLike) -> Ensemble:
    members = checkpoint.get("members")
    well_formed = isinstance(members, list) and len(members) >= 2 and all(
        isinstance(m, dict) and isinstance(m.get("model"), dict) and isinstance(m["model"].get("name"), str)
        and m["model"]["name"] != ENSEMBLE  # ensemble_checkpoint flattens nested ensembles
        and isinstance(m["model"].get("args", {}), dict) and isinstance(m.get("state_dict"), dict)
        for m in members
    )
    if not well_formed:
        raise CheckpointError(f"{path}: malformed digitrec ensemble ('members' is not what digitrec writes)")
    return Ensemble([build_model(member, f"{path} (member {i})") for i, member in enumerate(members, 1)]).eval()
