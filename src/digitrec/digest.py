"""sha256 of a file's bytes, read in blocks: how model files are recognised (ensembles, the
built-in model, the ONNX export cache). No torch here, so checking a file costs no torch import."""

from __future__ import annotations

import hashlib
import os


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
