"""Export a trained model to ONNX: the Classifier (its Normalize layer and temperature included) plus a softmax.

An Ensemble exports the same way, as one graph: its members side by side and their averaged
probabilities out.

The graph's input and output and its `digitrec.*` metadata are described in digitrec.predict.onnx,
which loads such files back.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..errors import CheckpointError
from ..models import Classifier, Ensemble, build_model, load_checkpoint
from ..predict.onnx import FORMAT, FORMAT_VERSION, INPUT_NAME, JSON_KEYS, OUTPUT_NAME, session
from ..versions import versions


def export_checkpoint(checkpoint_path: str | os.PathLike, out: str | os.PathLike, *, check: bool = True) -> dict[str, Any]:
    """Export a digitrec `.pt` checkpoint (or a run folder holding model.pt) to `out`; return its metadata."""
    model, fields = _from_checkpoint(checkpoint_path)
    return export_model(model, out, check=check, **fields)


def checkpoint_to_onnx(checkpoint_path: str | os.PathLike, *, check: bool = True) -> bytes:
    """The ONNX file `export_checkpoint` would write, as bytes in memory (`digitrec serve` runs a
    `.pt` with onnxruntime this way); with `check`, onnxruntime must agree with PyTorch on it."""
    model, fields = _from_checkpoint(checkpoint_path)
    proto, _, wrapped = _build(model, **fields)
    data = proto.SerializeToString()
    if check:
        _check_agreement(data, wrapped)
    return data


def _from_checkpoint(checkpoint_path: str | os.PathLike) -> tuple[Classifier | Ensemble, dict[str, Any]]:
    """The model of a `.pt` checkpoint (or a run folder's model.pt) and its description for the export."""
    path = Path(checkpoint_path).expanduser()
    if path.is_dir():
        path = path / "model.pt"
    if path.suffix.lower() not in (".pt", ".pth"):
        raise CheckpointError(f"{path}: export reads a PyTorch checkpoint (.pt, or a run folder with model.pt)")
    checkpoint = load_checkpoint(path)
    model = build_model(checkpoint, path)
    recipe = checkpoint.get("recipe") or {}
    return model, {
        "classes": checkpoint["classes"],
        "model_name": checkpoint["model"]["name"],
        "model_args": checkpoint["model"].get("args", {}),
        "recipe": recipe.get("name") if isinstance(recipe, dict) else None,
        "metrics": checkpoint.get("metrics") or {},
        "calibration": checkpoint.get("calibration"),
    }


def export_model(
    model: Classifier | Ensemble,
    out: str | os.PathLike,
    *,
    classes: list[str],
    model_name: str,
    model_args: dict[str, Any] | None = None,
    recipe: str | None = None,
    metrics: dict[str, Any] | None = None,
    calibration: dict[str, Any] | None = None,
    check: bool = True,
) -> dict[str, Any]:
    """Export a Classifier or Ensemble (pixels in [0, 1] in, logits out) with a softmax on top to `out`, atomically.

    With `check`, the file is run once with onnxruntime on a small random batch and must agree with
    PyTorch (max abs difference of probabilities under 1e-5) before it replaces `out`. The graph
    divides the logits by the model's temperature; `calibration` (the checkpoint's entry) describes it.
    """
    import onnx

    proto, metadata, wrapped = _build(model, classes=classes, model_name=model_name, model_args=model_args,
                                      recipe=recipe, metrics=metrics, calibration=calibration)
    out = Path(out)
    with atomic_path(out) as tmp:
        onnx.save_model(proto, tmp)
        if check:
            _check_agreement(tmp, wrapped)
    return metadata


def _build(model: Classifier | Ensemble, *, classes: list[str], model_name: str, model_args: dict[str, Any] | None = None,
           recipe: str | None = None, metrics: dict[str, Any] | None = None, calibration: dict[str, Any] | None = None):
    """(ONNX proto with the digitrec.* metadata, that metadata, the wrapped module it was traced from)."""
    import onnx
    import torch

    wrapped = _with_softmax(model.eval())
    example = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    proto = _export(wrapped, example)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "classes": list(classes),
        "model": model_name,
        "model_args": model_args or {},
        "recipe": recipe,
        "normalization": _normalization(model) | {"scale": 1.0, "baked_in": True},
        "calibration": _calibration(model, calibration),
        "input": f"{INPUT_NAME}: float32 (N, 1, 28, 28) in [0, 1], ink high (MNIST style)",
        "output": f"{OUTPUT_NAME}: float32 (N, {len(classes)}) probabilities (softmax baked in)",
        "metrics": metrics or {},
        "versions": {"digitrec": versions()["digitrec"], "torch": str(torch.__version__), "onnx": onnx.__version__},
    }
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = f"digitrec.{key}", json.dumps(value) if key in JSON_KEYS else str(value or "")
    proto.producer_name, proto.doc_string = "digitrec", f"digitrec {model_name}: {metadata['output']}"
    return proto, metadata, wrapped


def _normalization(model: Classifier | Ensemble) -> dict[str, Any]:
    """mean and std of the input normalisation baked into the graph: one pair per member for an Ensemble."""
    if isinstance(model, Ensemble):
        return {"members": [_normalization(member) for member in model.members]}
    return {"mean": float(model.normalize.mean), "std": float(model.normalize.std)}


def _calibration(model: Classifier | Ensemble, calibration: dict[str, Any] | None) -> dict[str, Any]:
    """The temperature baked into the graph: one per member for an Ensemble (each averages its own
    calibrated probabilities)."""
    if isinstance(model, Ensemble):
        return {"members": [{"temperature": float(member.temperature)} for member in model.members], "baked_in": True}
    return (calibration or {"fitted": False}) | {"temperature": float(model.temperature), "baked_in": True}


def _with_softmax(model: Classifier | Ensemble):
    """Wrap `model` ((N, 1, 28, 28) in [0, 1] -> logits) to return probabilities."""
    import torch
    from torch import nn

    class Exportable(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.model(images), dim=1)  # (N, classes)

    return Exportable().eval()


def _export(module, example):
    """torch.onnx.export with the dynamo exporter (torch >= 2.9's default), batch size left dynamic."""
    import torch

    batch = torch.export.Dim("batch", min=1)
    # The exporter logs notes (torchvision not installed, ...) and warnings about its own internals:
    # none concern the user, and the CLI's output should stay one line.
    quiet = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo", "torch.fx")]
    levels = [logger.level for logger in quiet]
    try:
        for logger in quiet:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module, (example,), dynamo=True, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                dynamic_shapes={"images": {0: batch}}, verbose=False,
            )
    finally:
        for logger, level in zip(quiet, levels):
            logger.setLevel(level)
    return program.model_proto


def _check_agreement(model: Path | bytes, module) -> None:
    import torch

    images = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected = module(images).numpy()
    got = session(model).run([OUTPUT_NAME], {INPUT_NAME: images.numpy()})[0]
    diff = float(np.abs(got - expected).max())
    if not diff < 1e-5:
        raise CheckpointError(f"ONNX export disagrees with PyTorch (max |probability difference| {diff:.2g}); not written")


