"""Export a trained model to ONNX (normalisation and softmax baked in) and load one back as a Predictor.

The exported graph takes `images`, float32 (N, 1, 28, 28) in [0, 1] with ink high (MNIST style),
for any batch size N, and returns `probs`, float32 (N, classes) probabilities (softmax applied).
The model's description is stored in the ONNX `metadata_props` under `digitrec.*` keys: format,
classes, model, model_args, recipe, normalization, input, output, metrics, versions.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .atomic import atomic_path
from .errors import CheckpointError
from .inference import Predictor

FORMAT = "digitrec-onnx"
FORMAT_VERSION = 1
INPUT_NAME = "images"  # float32 (N, 1, 28, 28) in [0, 1]
OUTPUT_NAME = "probs"  # float32 (N, classes), rows sum to 1
_CHUNK = 1000  # images per onnxruntime call: bounds memory for large batches
_JSON_KEYS = ("format_version", "classes", "model_args", "normalization", "metrics", "versions")  # the rest are text


def export_checkpoint(checkpoint_path: str | os.PathLike, out: str | os.PathLike, *, check: bool = True) -> dict[str, Any]:
    """Export a digitrec `.pt` checkpoint (or a run folder holding model.pt) to `out`; return its metadata."""
    from .training.checkpoint import build_model, load_checkpoint

    path = Path(checkpoint_path).expanduser()
    if path.is_dir():
        path = path / "model.pt"
    if path.suffix.lower() not in (".pt", ".pth"):
        raise CheckpointError(f"{path}: export reads a PyTorch checkpoint (.pt, or a run folder with model.pt)")
    checkpoint = load_checkpoint(path)
    model = build_model(checkpoint, path)
    recipe = checkpoint.get("recipe") or {}
    return export_model(
        model,
        out,
        mean=checkpoint["normalization"]["mean"],
        std=checkpoint["normalization"]["std"],
        classes=checkpoint["classes"],
        model_name=checkpoint["model"]["name"],
        model_args=checkpoint["model"].get("args", {}),
        recipe=recipe.get("name") if isinstance(recipe, dict) else None,
        metrics=checkpoint.get("metrics") or {},
        check=check,
    )


def export_model(
    model,
    out: str | os.PathLike,
    *,
    mean: float,
    std: float,
    classes: list[str],
    model_name: str,
    model_args: dict[str, Any] | None = None,
    recipe: str | None = None,
    metrics: dict[str, Any] | None = None,
    check: bool = True,
) -> dict[str, Any]:
    """Export an `nn.Module` (raw logits out, normalised input in) to `out`, written atomically.

    With `check`, the file is run once with onnxruntime on a small random batch and must agree with
    PyTorch (max abs difference of probabilities under 1e-5) before it replaces `out`.
    """
    import onnx
    import torch

    wrapped = _with_normalisation_and_softmax(model.eval(), float(mean), float(std))
    example = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    proto = _export(wrapped, example)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "classes": list(classes),
        "model": model_name,
        "model_args": model_args or {},
        "recipe": recipe,
        "normalization": {"mean": float(mean), "std": float(std), "scale": 1.0, "baked_in": True},
        "input": f"{INPUT_NAME}: float32 (N, 1, 28, 28) in [0, 1], ink high (MNIST style)",
        "output": f"{OUTPUT_NAME}: float32 (N, {len(classes)}) probabilities (softmax baked in)",
        "metrics": metrics or {},
        "versions": {"digitrec": __version__, "torch": str(torch.__version__), "onnx": onnx.__version__},
    }
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = f"digitrec.{key}", json.dumps(value) if key in _JSON_KEYS else str(value or "")
    proto.producer_name, proto.doc_string = "digitrec", f"digitrec {model_name}: {metadata['output']}"
    out = Path(out)
    with atomic_path(out) as tmp:
        onnx.save_model(proto, tmp)
        if check:
            _check_agreement(tmp, wrapped)
    return metadata


def _with_normalisation_and_softmax(model, mean: float, std: float):
    """Wrap `model` (normalised input -> logits) as (N, 1, 28, 28) in [0, 1] -> probabilities."""
    import torch
    from torch import nn

    class Exportable(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.model((images - mean) / std), dim=1)  # (N, classes)

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


def _check_agreement(path: Path, module) -> None:
    import torch

    images = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected = module(images).numpy()
    got = _session(path).run([OUTPUT_NAME], {INPUT_NAME: images.numpy()})[0]
    diff = float(np.abs(got - expected).max())
    if not diff < 1e-5:
        raise CheckpointError(f"ONNX export disagrees with PyTorch (max |probability difference| {diff:.2g}); not written")


def _session(path: Path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings are about graph optimisations
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The `digitrec.*` metadata of an exported file, JSON values decoded; CheckpointError if none."""
    return _metadata(Path(path), _open_session(Path(path)))


def load_onnx_predictor(path: str | os.PathLike) -> Predictor:
    """A Predictor whose probabilities come from onnxruntime running an exported digitrec model."""
    path = Path(path)
    session = _open_session(path)
    metadata = _metadata(path, session)
    inputs = [i.name for i in session.get_inputs()]
    if inputs != [INPUT_NAME]:
        raise CheckpointError(f"{path}: expected one input named '{INPUT_NAME}', found {inputs}")

    def proba(images: np.ndarray) -> np.ndarray:  # float32 (N, 28, 28) in [0, 1]
        batch = np.ascontiguousarray(images[:, None], dtype=np.float32)  # (N, 1, 28, 28)
        chunks = [session.run([OUTPUT_NAME], {INPUT_NAME: batch[i : i + _CHUNK]})[0] for i in range(0, len(batch), _CHUNK)]
        return np.concatenate(chunks)

    info = {key: metadata.get(key) for key in ("model", "model_args", "recipe", "normalization", "metrics", "versions")}
    info["engine"] = "onnxruntime"
    return Predictor(proba, metadata["classes"], info, path)


def _open_session(path: Path):
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file")
    try:
        return _session(path)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types for a bad file
        raise CheckpointError(f"{path}: not a readable ONNX model ({_reason(exc)}); expected a file written by digitrec export") from None


def _reason(exc: Exception) -> str:
    """onnxruntime's message without its prefix and C++ source location, on one line."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    message = re.sub(r"^.*? failed:\s*", "", message)  # "[ONNXRuntimeError] : 7 : ... Load model from X failed:"
    message = re.sub(r"^\S+:\d+ [^(]*\([^)]*\)\s*", "", message)  # "/onnxruntime_src/...cc:256 Model::Model(...)"
    return message[:200]


def _metadata(path: Path, session) -> dict[str, Any]:
    props = session.get_modelmeta().custom_metadata_map
    if props.get("digitrec.format") != FORMAT:
        raise CheckpointError(f"{path}: an ONNX model, but not one exported by digitrec (no digitrec metadata)")
    metadata: dict[str, Any] = {}
    for key, value in props.items():
        if key.startswith("digitrec."):
            name = key.removeprefix("digitrec.")
            try:
                metadata[name] = json.loads(value) if name in _JSON_KEYS else (value or None)
            except json.JSONDecodeError:
                raise CheckpointError(f"{path}: corrupt digitrec ONNX metadata ('{key}' is not JSON)") from None
    if not isinstance(metadata.get("classes"), list) or not metadata["classes"]:
        raise CheckpointError(f"{path}: digitrec ONNX metadata has no class list")
    return metadata
