"""The model that comes with digitrec: weights/builtin.pt in the package, checked against builtin.json.

builtin.json records how the file was made (recipe, seed, the `digitrec train` command that
reproduces it), what it scored, and the sha256 of builtin.pt, which is checked on every use so
that a damaged install is one clear line instead of a wrong answer. `install_builtin` writes both
(scripts/make_builtin_model.py trains the recipe and calls it); no file at all is a valid install.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..atomic import atomic_path, atomic_write_text
from ..digest import file_sha256
from ..errors import CheckpointError, DigitrecError
from .predictor import Predictor

# Package data (pyproject.toml [tool.setuptools.package-data]); a module global so tests can point it elsewhere.
WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
MODEL_FILE = "builtin.pt"
INFO_FILE = "builtin.json"
_REQUIRED = {"sha256": str, "model": str, "command": str, "test_accuracy": (int, float)}
_DATASET_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


class NoBuiltinModel(DigitrecError):
    """This install has no built-in model (a source checkout before one is made, or a slim build)."""


@dataclass(frozen=True)
class BuiltinModel:
    path: Path  # weights/builtin.pt, its sha256 already checked
    info: dict[str, Any]  # builtin.json

    def describe(self) -> str:
        """'built-in fast-cnn (digitrec train --recipe fast --seed 0, 99.10% MNIST test, sha256 ab12cd34ef56)'."""
        info = self.info
        dataset = _DATASET_NAMES.get(info.get("dataset"), info.get("dataset") or "")
        return (f"built-in {info['model']} ({info['command']}, {100 * info['test_accuracy']:.2f}% {dataset} test, "
                f"sha256 {info['sha256'][:12]})")


def builtin_model(folder: Path | None = None) -> BuiltinModel:
    """The built-in model's file and record, its sha256 checked; NoBuiltinModel if there is none,
    CheckpointError if the install is damaged."""
    folder = WEIGHTS if folder is None else folder
    model, info_path = folder / MODEL_FILE, folder / INFO_FILE
    if not model.exists() and not info_path.exists():
        raise NoBuiltinModel("no built-in model in this install; give a model file (digitrec predict MODEL IMAGES...)")
    damaged = "the install is damaged: reinstall digitrec, or give a model file"
    if not info_path.is_file():
        raise CheckpointError(f"{info_path}: missing, so the built-in model cannot be checked; {damaged}")
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{info_path}: unreadable ({type(exc).__name__}); {damaged}") from None
    wrong = [key for key, kind in _REQUIRED.items() if not isinstance(info, dict) or not isinstance(info.get(key), kind)]
    if wrong:
        raise CheckpointError(f"{info_path}: no valid {', '.join(wrong)}; {damaged}")
    if not model.is_file():
        raise CheckpointError(f"{model}: missing; {damaged}")
    found = file_sha256(model)
    if found != info["sha256"]:
        raise CheckpointError(f"{model}: sha256 {found[:12]} is not the recorded {info['sha256'][:12]}; {damaged}")
    return BuiltinModel(model, info)


def load_builtin(device: str = "cpu", loader: Callable[[Path], Predictor] | None = None) -> tuple[Predictor, BuiltinModel]:
    """A Predictor for the built-in model, and its record (`describe()` says which model answers).
    `loader` reads the checkpoint (default: load_model on `device`)."""
    from .load import load_model

    builtin = builtin_model()
    predictor = loader(builtin.path) if loader is not None else load_model(builtin.path, device)
    predictor.metadata["builtin"] = builtin.info
    return predictor, builtin


def install_builtin(checkpoint_path: str | os.PathLike, command: str, folder: Path | None = None) -> dict[str, Any]:
    """Copy a trained model.pt into `folder` (default: the package's weights/) as the built-in model
    and write its record: sha256, the command that reproduces it, and its figures. Returns the record."""
    from ..models import build_model, load_checkpoint
    folder = WEIGHTS if folder is None else folder
    source = Path(checkpoint_path)
    checkpoint = load_checkpoint(source)
    build_model(checkpoint, source)  # it must load before it ships
    metrics, recipe = checkpoint.get("metrics") or {}, checkpoint.get("recipe") or {}
    if not isinstance(metrics.get("test_accuracy"), (int, float)):
        raise CheckpointError(f"{source}: records no test accuracy; install a model.pt written by digitrec train")
    info = {
        "file": MODEL_FILE,
        "sha256": file_sha256(source),
        "bytes": source.stat().st_size,
        "model": checkpoint["model"]["name"],
        "recipe": recipe.get("name") if isinstance(recipe, dict) else recipe,
        "seed": recipe.get("seed") if isinstance(recipe, dict) else None,
        "command": command,
        "dataset": checkpoint.get("dataset"),
        "test_accuracy": metrics["test_accuracy"],
        "test_size": metrics.get("test_size"),
        "params": metrics.get("params"),
        "train_seconds": metrics.get("train_seconds"),
        # a CPU run repeats bit for bit only with the same arithmetic (precision auto is bf16 where
        # the CPU has native bf16), thread count and torch build
        "train_precision": metrics.get("train_precision"),
        "train_threads": metrics.get("train_threads"),
        "versions": checkpoint.get("versions"),
        "created": checkpoint.get("created"),
        "installed": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    # the record last: a crash between the two leaves no record or a sha256 mismatch, and either says damaged
    with atomic_path(folder / MODEL_FILE) as tmp:
        shutil.copyfile(source, tmp)
    atomic_write_text(folder / INFO_FILE, json.dumps(info, indent=2) + "\n")
    return info
