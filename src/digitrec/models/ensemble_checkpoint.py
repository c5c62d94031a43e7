"""Ensemble checkpoints: several trained models' checkpoints gathered into one self-describing file.

The file is an ordinary digitrec checkpoint (weights_only=True, format 2) whose model name is
"ensemble" and whose `members` list holds one full checkpoint per member: model name and args,
the whole Classifier state dict (its Normalize buffers, and whatever else a Classifier carries),
classes, recipe, metrics, and where it came from (`source`: the file and its sha256). `build_model`
turns it into an `Ensemble`; every command that reads a .pt reads it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
from pathlib import Path
from typing import Any

from ..digest import file_sha256
from ..errors import CheckpointError
from ..versions import versions
from .checkpoint import (
    ENSEMBLE, FORMAT, FORMAT_VERSION, build_model, load_checkpoint, make_checkpoint, save_checkpoint,
)

_TORCH_SUFFIXES = (".pt", ".pth")
_WHAT_TO_GIVE = "members must be PyTorch models (.pt, .pth, or a run folder holding model.pt)"


def write_ensemble(paths: list[str | os.PathLike], out: str | os.PathLike) -> dict[str, Any]:
    """Build the ensemble of `paths` and write it to `out` atomically; return the checkpoint."""
    out = Path(out).expanduser()
    if out.suffix.lower() not in _TORCH_SUFFIXES:
        raise CheckpointError(f"{out}: an ensemble is a PyTorch model; give --out a name ending in .pt")
    checkpoint = make_ensemble_checkpoint(paths)
    for source in checkpoint["built_from"]:
        if out.exists() and Path(source["file"]).resolve() == out.resolve():
            raise CheckpointError(f"{out}: is one of the members; choose another --out")
    save_checkpoint(out, checkpoint)
    return checkpoint


def make_ensemble_checkpoint(paths: list[str | os.PathLike]) -> dict[str, Any]:
    """The checkpoint dict of the ensemble of `paths` (model files or run folders); nested
    ensembles are flattened, so every base model weighs the same."""
    if len(paths) < 2:
        given = f" ({paths[0]})" if paths else ""
        raise CheckpointError(f"an ensemble needs at least 2 members, got {len(paths)}{given}; give two or more models")
    members: list[dict[str, Any]] = []
    built_from = []
    for given in paths:
        file = member_file(Path(given))
        checkpoint = load_checkpoint(file)
        source = {"path": str(file), "sha256": file_sha256(file)}
        built_from.append({"given": str(given), "file": str(file), "sha256": source["sha256"]})
        if checkpoint["model"]["name"] == ENSEMBLE:
            build_model(checkpoint, file)  # refuses a malformed one before its members are read
            for i, member in enumerate(checkpoint["members"], 1):
                inner = member.get("source") if isinstance(member.get("source"), dict) else {}
                members.append(_entry(member, f"{file} (member {i})", inner | {"via": source}))
        else:
            members.append(_entry(checkpoint, file, source))
    _check_compatible(members)
    _check_distinct(members)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": {"name": ENSEMBLE, "args": {}},
        "state_dict": {},  # no weights of its own: each member's are in its entry
        # a description, as in any checkpoint; each member's Normalize buffers are what runs
        "normalization": {"scale": 255.0, "members": [m["normalization"] for m in members]},
        "classes": list(members[0]["classes"]),
        "recipe": {"name": ENSEMBLE, "members": [_recipe_name(m) for m in members]},
        "dataset": _common(m.get("dataset") for m in members),
        "metrics": {},  # the ensemble itself has not been measured: `digitrec evaluate` it
        "epoch": None,
        # no temperature of its own: the averaged probabilities are the members' calibrated ones
        "calibration": {"temperature": 1.0, "fitted": False, "why": _members_calibration(members)},
        "versions": versions(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "members": members,
        "built_from": built_from,
    }


def member_file(path: Path) -> Path:
    """The .pt file a member argument names (a run folder: its model.pt); CheckpointError for
    anything an ensemble cannot hold."""
    path = path.expanduser()
    if path.is_dir():
        for name in ("model.pt", "model.npz", "model.onnx"):
            if (path / name).is_file():
                return member_file(path / name)
        raise CheckpointError(f"{path}: no model.pt in this folder; {_WHAT_TO_GIVE}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        raise CheckpointError(f"{path}: a NumPy network (.npz) cannot join an ensemble; {_WHAT_TO_GIVE}")
    if suffix == ".onnx":
        raise CheckpointError(f"{path}: an ONNX file cannot join an ensemble; give the .pt it was exported from")
    if suffix not in _TORCH_SUFFIXES:
        raise CheckpointError(f"{path}: unknown model type '{path.suffix}'; {_WHAT_TO_GIVE}")
    if not path.exists():
        raise CheckpointError(f"{path}: no such model file; {_WHAT_TO_GIVE}")
    if not path.is_file():  # opening a FIFO would wait for a writer for ever
        raise CheckpointError(f"{path}: not a regular file (a FIFO, socket or device); give a model file")
    return path


def _members_calibration(members: list[dict[str, Any]]) -> str:
    fitted = sum(bool((m.get("calibration") or {}).get("fitted")) for m in members)
    return (f"an ensemble averages its members' probabilities, each with its own temperature "
            f"({fitted} of {len(members)} fitted on a validation split)")


def _entry(checkpoint: dict[str, Any], where: str | Path, source: dict[str, Any]) -> dict[str, Any]:
    """A member's checkpoint as the ensemble stores it: rebuilt (which checks it), then written
    back in the current format, its provenance kept."""
    model = build_model(checkpoint, where)
    entry = make_checkpoint(
        model, checkpoint["model"]["name"], classes=checkpoint["classes"], recipe=checkpoint.get("recipe") or {},
        dataset=checkpoint.get("dataset"), metrics=checkpoint.get("metrics") or {}, epoch=checkpoint.get("epoch"),
        calibration=checkpoint.get("calibration"),
    )
    # the file's own description and dates, not the ones make_checkpoint would give it today
    entry |= {"model": checkpoint["model"], "versions": checkpoint.get("versions"), "created": checkpoint.get("created")}
    return entry | {"source": source, "weights_sha256": _weights_sha256(entry["state_dict"])}


def _weights_sha256(state_dict: dict[str, Any]) -> str:
    """A fingerprint of the weights alone: two copies of one model saved at different times match."""
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        digest.update(key.encode())
        digest.update(state_dict[key].contiguous().numpy().tobytes())
    return digest.hexdigest()


def _input(member: dict[str, Any]) -> tuple[int, int]:
    args = member["model"].get("args", {})
    return int(args.get("in_channels", 1)), int(args.get("image_size", 28))  # the registry's defaults


def _check_compatible(members: list[dict[str, Any]]) -> None:
    first = members[0]
    for member in members[1:]:
        if member["classes"] != first["classes"]:
            raise CheckpointError(
                f"{_where(member)}: predicts {_head(member['classes'])} but {_where(first)} predicts "
                f"{_head(first['classes'])}; members must share their classes"
            )
        if _input(member) != _input(first):
            (channels, side), (first_channels, first_side) = _input(member), _input(first)
            raise CheckpointError(
                f"{_where(member)}: takes {side}x{side} images with {channels} channel(s) but {_where(first)} takes "
                f"{first_side}x{first_side} with {first_channels}; members must take the same input"
            )


def _check_distinct(members: list[dict[str, Any]]) -> None:
    seen: dict[str, dict[str, Any]] = {}
    for member in members:
        twin = seen.setdefault(member["weights_sha256"], member)
        if twin is not member:
            raise CheckpointError(
                f"{_where(member)}: the same weights as {_where(twin)}; give each member once (a copy would count twice)"
            )


def _where(member: dict[str, Any]) -> str:
    source = member["source"]
    via = source.get("via")
    return f"{source.get('path', '?')} (in {via['path']})" if via else str(source.get("path", "?"))


def _head(classes: list[str]) -> str:
    return ", ".join(classes[:3]) + ("..." if len(classes) > 3 else "")


def _recipe_name(member: dict[str, Any]) -> str | None:
    recipe = member.get("recipe")
    return recipe.get("name") if isinstance(recipe, dict) else recipe


def _common(values) -> Any:
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None
