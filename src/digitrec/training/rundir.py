"""The run directory: every file a training run writes goes through here, atomically.

Only the writer process writes (rank 0 under torchrun); the others get a RunDir whose methods do
nothing, so no other module has to ask which rank it is.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import os
from pathlib import Path
from typing import Any, Callable, Sequence

from ..atomic import atomic_write_text
from .history import HISTORY_FIELDS


def default_run_dir(recipe_name: str, root: str | os.PathLike = "runs") -> Path:
    """runs/<recipe>-<timestamp>, with a numeric suffix if that exists already."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{recipe_name}-{stamp}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


# What a run writes at or after the end of its first epoch: a folder holding none of these holds at
# most the config.json of a run stopped before then, which a new run may take over.
_RESULTS = ("last.pt", "model.pt", "model.npz", "history.csv", "metrics.json")


def holds_results(path: str | os.PathLike) -> bool:
    """True when the folder holds a checkpoint, history or metrics of a run (not just its config)."""
    return any((Path(path) / name).exists() for name in _RESULTS)


class RunDir:
    def __init__(self, path: str | os.PathLike, writer: bool = True) -> None:
        self.path = Path(path)
        self.writer = writer
        if writer:
            self.path.mkdir(parents=True, exist_ok=True)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def write_json(self, name: str, data: Any) -> None:
        if self.writer:
            atomic_write_text(self.path / name, json.dumps(data, indent=2, default=_json_default) + "\n")

    def read_json(self, name: str) -> Any:
        return json.loads((self.path / name).read_text())

    def write_history(self, history: Sequence[dict[str, Any]], name: str = "history.csv") -> None:
        if not self.writer:
            return
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=HISTORY_FIELDS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in history:
            writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in HISTORY_FIELDS})
        atomic_write_text(self.path / name, buffer.getvalue())

    def save(self, name: str, save_fn: Callable[[Path], Any]) -> None:
        """Run a writer such as `lambda p: save_checkpoint(p, ckpt)` or a plot, on the writer only."""
        if self.writer:
            save_fn(self.path / name)


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
