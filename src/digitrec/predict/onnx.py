"""The onnxruntime backend: an ONNX file written by `digitrec export` (normalisation, temperature and
softmax inside).

The graph takes `images`, float32 (N, 1, 28, 28) in [0, 1] with ink high (MNIST style), for any
batch size N, and returns `probs`, float32 (N, classes) probabilities. The model's description is
in the file's `metadata_props` under `digitrec.*` keys.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import CheckpointError
from .predictor import Predictor

FORMAT = "digitrec-onnx"
FORMAT_VERSION = 1
INPUT_NAME = "images"  # float32 (N, 1, 28, 28) in [0, 1]
OUTPUT_NAME = "probs"  # float32 (N, classes), rows sum to 1
JSON_KEYS = ("format_version", "classes", "model_args", "normalization", "calibration", "metrics", "versions")  # the rest are text
_CHUNK = 1000  # images per onnxruntime call: bounds memory for large batches


def session(model: Path | bytes, threads: int | None = None):
    """An onnxruntime session on the CPU for a file or the model's bytes, logging errors only;
    `threads` intra-op threads (default: onnxruntime's, one per physical core)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings are about graph optimisations
    if threads:
        options.intra_op_num_threads = threads
    source = model if isinstance(model, bytes) else str(model)
    return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def onnx_proba_fn(runtime) -> Callable[[np.ndarray], np.ndarray]:
    """float32 (N, 28, 28) in [0, 1] -> probabilities, by an onnxruntime session of an exported model."""

    def proba(images: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(images[:, None], dtype=np.float32)  # (N, 1, 28, 28)
        chunks = [runtime.run([OUTPUT_NAME], {INPUT_NAME: batch[i : i + _CHUNK]})[0] for i in range(0, len(batch), _CHUNK)]
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    return proba


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The `digitrec.*` metadata of an exported file, JSON values decoded; CheckpointError if none."""
    return _metadata(Path(path), _open_session(Path(path)))


def load_onnx(path: str | os.PathLike, device: str = "cpu", threads: int | None = None,
              data: bytes | None = None) -> Predictor:
    """A Predictor whose probabilities come from onnxruntime running an exported digitrec model.
    `data`: the model's bytes, already read or held in memory only (`path` then names it)."""
    path = Path(path)
    runtime = _open_session(path, threads, data)
    metadata = _metadata(path, runtime)
    inputs = [i.name for i in runtime.get_inputs()]
    if inputs != [INPUT_NAME]:
        raise CheckpointError(f"{path}: expected one input named '{INPUT_NAME}', found {inputs}")

    info = {key: metadata.get(key) for key in ("model", "model_args", "recipe", "normalization", "calibration", "metrics",
                                               "versions")}
    info["engine"] = "onnxruntime"
    return Predictor(onnx_proba_fn(runtime), metadata["classes"], info, path)


def _open_session(path: Path, threads: int | None = None, data: bytes | None = None):
    if data is None and not path.is_file():
        raise CheckpointError(f"{path}: no such model file")
    try:
        return session(path if data is None else data, threads)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types for a bad file
        raise CheckpointError(f"{path}: not a readable ONNX model ({_reason(exc)}); expected a file written by digitrec export") from None


def _reason(exc: Exception) -> str:
    """onnxruntime's message without its prefix and C++ source location, on one line."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    message = re.sub(r"^.*? failed:\s*", "", message)  # "[ONNXRuntimeError] : 7 : ... Load model from X failed:"
    message = re.sub(r"^\S+:\d+ [^(]*\([^)]*\)\s*", "", message)  # "/onnxruntime_src/...cc:256 Model::Model(...)"
    return message[:200]


def _metadata(path: Path, runtime) -> dict[str, Any]:
    props = runtime.get_modelmeta().custom_metadata_map
    if props.get("digitrec.format") != FORMAT:
        raise CheckpointError(f"{path}: an ONNX model, but not one exported by digitrec (no digitrec metadata)")
    metadata: dict[str, Any] = {}
    for key, value in props.items():
        if key.startswith("digitrec."):
            name = key.removeprefix("digitrec.")
            try:
                metadata[name] = json.loads(value) if name in JSON_KEYS else (value or None)
            except json.JSONDecodeError:
                raise CheckpointError(f"{path}: corrupt digitrec ONNX metadata ('{key}' is not JSON)") from None
    if not isinstance(metadata.get("classes"), list) or not metadata["classes"]:
        raise CheckpointError(f"{path}: digitrec ONNX metadata has no class list")
    return metadata
