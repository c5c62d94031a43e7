"""Decoded arrays of the cached IDX files, kept as `.npy` beside them so a load is a memory map.

Each `.npy` is written from verified raw bytes and stamped with the sha256 of the raw file it was
decoded from. A load trusts it while both stamps hold (the raw file's and its own: a few `stat`
calls, no hashing); anything else (a missing, rewritten or unreadable `.npy`, a changed raw file)
rebuilds it from the raw file, which `fetch` verifies first. `verify=True` rebuilds every array
from freshly hashed raw files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from filelock import FileLock

from ..atomic import atomic_path
from .idx import read_idx
from .sources import Source, data_home, fetch, get_source
from .stamps import Stamps

ARRAYS_DIR = ".arrays"  # inside the dataset's cache folder


def load_arrays(name: str, data_dir: str | os.PathLike | None = None, *, download: bool = True,
                verify: bool = False, log=None) -> dict[str, np.ndarray]:
    """key -> array of every file of dataset `name` (e.g. "train-images" -> (60000, 28, 28) uint8).

    Arrays come memory-mapped copy-on-write: reading pages them in, writing to one changes only
    this process's copy. Without `download`, only the cache is looked at.
    """
    source = get_source(name)
    folder = data_home(data_dir) / source.name
    if not verify:
        arrays = _trusted(folder, source)
        if arrays is not None:
            return arrays
    if download or verify:
        paths = fetch(name, data_dir, progress=True, verify=verify, log=log)
    else:  # cache only: the raw files as they are, as `load_dataset(download=False)` always read them
        paths = {raw.key: folder / raw.filename for raw in source.files}
        return {key: read_idx(path) for key, path in paths.items()}
    with FileLock(str(folder / ".lock")):
        stamps = Stamps(folder)
        arrays = {}
        for raw in source.files:
            entry = f"{ARRAYS_DIR}/{raw.filename}.npy"
            array = None if verify or not stamps.matches(entry, raw.sha256) else _open(folder / entry)
            if array is None:
                _write(folder / entry, read_idx(paths[raw.key]))
                stamps.record(entry, raw.sha256)
                array = _open(folder / entry)
            arrays[raw.key] = array
        stamps.save()
    return arrays


def _trusted(folder: Path, source: Source) -> dict[str, np.ndarray] | None:
    """The arrays when every raw file and every `.npy` still match their stamps, else None."""
    stamps = Stamps(folder)
    arrays = {}
    for raw in source.files:
        entry = f"{ARRAYS_DIR}/{raw.filename}.npy"
        if not (stamps.matches(raw.filename, raw.sha256) and stamps.matches(entry, raw.sha256)):
            return None
        array = _open(folder / entry)
        if array is None:
            return None
        arrays[raw.key] = array
    return arrays


def _open(path: Path) -> np.ndarray | None:
    try:
        return np.asarray(np.load(path, mmap_mode="c", allow_pickle=False))  # a plain ndarray view of the map
    except (OSError, ValueError, EOFError):
        return None  # a damaged header or a truncated file: rebuilt by the caller


def _write(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        np.save(tmp, array, allow_pickle=False)
