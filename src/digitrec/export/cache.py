"""A `.pt` checkpoint's ONNX export, kept in the cache folder under the sha256 of the checkpoint.

predict, read and serve run a PyTorch checkpoint on onnxruntime when it is installed: one image
takes ~0.05 ms there against ~0.2-2 ms in eager PyTorch, and, what a command line feels most, a
checkpoint used before answers without importing torch (~2 s of a ~2.9 s `digitrec predict`).
The first use loads the checkpoint with torch, exports it (checked against PyTorch) and keeps the
file; every use then answers from that file, so the first answer and the later ones agree. The
name holds the checkpoint's sha256 and digitrec's version: a retrained or edited model.pt, or
another digitrec, gets its own export. Deleting $DIGITREC_HOME/onnx is always safe.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Callable, TypeVar

from ..atomic import atomic_path
from ..data.sources import data_home
from ..digest import file_sha256
from ..errors import CheckpointError, one_line
from ..predict import Predictor, load_model
from ..predict.load import model_file
from ..predict.onnx import FORMAT_VERSION, load_onnx
from ..versions import __version__

FOLDER = "onnx"  # under data_home()
_TORCH_SUFFIXES = (".pt", ".pth")
_log = logging.getLogger("digitrec.export")
T = TypeVar("T")


def cached_export_path(checkpoint: str | os.PathLike) -> Path:
    """Where the export of `checkpoint` (a .pt file) is kept, whether or not it is there yet."""
    name = f"{file_sha256(checkpoint)}-digitrec-{__version__}-onnx-{FORMAT_VERSION}.onnx"
    return data_home() / FOLDER / name


def load_fastest(path: str | os.PathLike, threads: int | None = None) -> Predictor:
    """`load_model(path)`, except that a PyTorch checkpoint runs on onnxruntime from its cached
    export when onnxruntime is installed. The Predictor's path stays the checkpoint's (messages
    name the user's file); if the export cannot be made, torch answers and the log says why."""
    path = model_file(path)
    if path.suffix.lower() not in _TORCH_SUFFIXES or importlib.util.find_spec("onnxruntime") is None:
        return load_model(path)
    try:
        predictor = _from_cache(path, threads)
    except Exception as exc:  # noqa: BLE001 - whatever the exporter raises, torch can still answer
        failure = one_line(exc)
    else:
        predictor.path = path
        return predictor
    predictor = load_model(path)  # a bad checkpoint gets the one clear line it always got
    _log.warning("digitrec: the ONNX export of %s failed (%s); answering with torch", path, failure)
    return predictor


def runnable_export(checkpoint: str | os.PathLike) -> tuple[bytes, Path | None]:
    """The ONNX export of `checkpoint`, checked to open in onnxruntime (what serve hands its
    workers), and the cache file that keeps it (None: held in memory only)."""
    def checked(data: bytes) -> bytes:
        load_onnx(Path(checkpoint), data=data)
        return data

    return _opened(Path(checkpoint), checked)


def _from_cache(checkpoint: Path, threads: int | None) -> Predictor:
    predictor, kept = _opened(checkpoint, lambda data: load_onnx(checkpoint, threads=threads, data=data))
    predictor.metadata["onnx_export"] = str(kept) if kept else None  # None: held in memory only
    return predictor


def _opened(checkpoint: Path, open_: Callable[[bytes], T]) -> tuple[T, Path | None]:
    """(`open_` on the export's bytes, the cache file keeping them or None); a cache entry that does
    not open (a disk error, a hand edit) is made again, once. The checkpoint is hashed once."""
    cached = cached_export_path(checkpoint)
    data, kept = _read_or_make(checkpoint, cached)
    try:
        opened = open_(data)
    except CheckpointError:
        cached.unlink(missing_ok=True)
        data, kept = _read_or_make(checkpoint, cached)
        opened = open_(data)
    return opened, cached if kept else None


def _read_or_make(checkpoint: Path, cached: Path) -> tuple[bytes, bool]:
    """(the export's bytes, whether `cached` keeps them): read from the cache, or made (needs torch)
    and written there. A cache folder that cannot be written (a read-only home, a full disk) costs
    speed, not the answer: the export made this run is used from memory, and the log says why."""
    try:
        return cached.read_bytes(), True
    except OSError:  # not made yet (or unreadable): make it
        pass
    from .onnx import checkpoint_to_onnx  # torch: only when there is something to export

    data = checkpoint_to_onnx(checkpoint)  # checked: onnxruntime agrees with PyTorch
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cached) as tmp:  # two commands exporting at once each write whole files
            Path(tmp).write_bytes(data)
    except OSError as exc:
        _log.warning("digitrec: cannot keep the ONNX export in %s (%s); using it from memory this run "
                     "(set DIGITREC_HOME to a writable folder to keep it)", cached.parent, one_line(exc))
        return data, False
    return data, True
