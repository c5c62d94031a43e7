"""Save and load a scratch `Network` as a self-describing .npz (plain arrays, no pickles)."""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from digitrec.atomic import atomic_write
from digitrec.errors import CheckpointError

from .network import Network

FORMAT = "digitrec.scratch.network/1"


class ScratchCheckpointError(CheckpointError, ValueError):
    """A file is not a scratch-network checkpoint (a ValueError, and a CLI-printable error)."""


def save_network(network: Network, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write `network` to exactly `path` (no suffix is added), via a temporary file and a rename.

    `metadata` (classes, recipe, metrics, versions...) is stored as one JSON string, so the file
    describes itself and still loads with allow_pickle=False.
    """
    arrays = {
        "format": np.array(FORMAT),
        "sizes": np.array(network.sizes, dtype=np.int64),
        "activation": np.array(network.activation),
        "output": np.array(network.output),
        "cost": np.array(network.cost),
        "init": np.array(network.init),
        "dtype": np.array(np.dtype(network.dtype).name),
    }
    if metadata is not None:
        arrays["metadata"] = np.array(json.dumps(metadata))
    for l, (w, b) in enumerate(zip(network.weights, network.biases)):
        arrays[f"weight_{l}"], arrays[f"bias_{l}"] = w, b
    with atomic_write(path, "wb") as handle:
        np.savez(handle, **arrays)


def load_network(path: str | os.PathLike) -> Network:
    """Rebuild a `Network` from a file written by `save_network`."""
    return load_network_and_metadata(path)[0]


def load_network_and_metadata(path: str | os.PathLike) -> tuple[Network, dict]:
    """The network and its metadata dict (empty when the file has none)."""
    bad = (ValueError, OSError, EOFError, zipfile.BadZipFile)
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except bad as error:
        raise ScratchCheckpointError(f"{path}: not a scratch network checkpoint ({error})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ScratchCheckpointError(f"{path}: not a scratch network checkpoint (one array, not an .npz)")
    try:
        with data:
            arrays = {key: data[key] for key in data.files}
    except bad as error:
        raise ScratchCheckpointError(f"{path}: not a scratch network checkpoint ({error})") from None

    def text(key: str) -> str:
        if key not in arrays or arrays[key].shape != () or arrays[key].dtype.kind != "U":
            raise ScratchCheckpointError(f"{path}: not a scratch network checkpoint (no '{key}' string)")
        return str(arrays[key])

    if text("format") != FORMAT:
        raise ScratchCheckpointError(f"{path}: format {text('format')!r} is not {FORMAT!r}")
    sizes = [int(s) for s in arrays.get("sizes", np.array([]))]
    try:
        network = Network(
            sizes, activation=text("activation"), output=text("output"), cost=text("cost"),
            init=text("init"), dtype=text("dtype"), seed=0,
        )
    except (ValueError, TypeError) as error:
        raise ScratchCheckpointError(f"{path}: {error}") from None
    for l in range(len(sizes) - 1):
        for key, like in ((f"weight_{l}", network.weights[l]), (f"bias_{l}", network.biases[l])):
            if key not in arrays or arrays[key].shape != like.shape:
                found = arrays[key].shape if key in arrays else "missing"
                raise ScratchCheckpointError(f"{path}: '{key}' should have shape {like.shape}, found {found}")
        network.weights[l] = arrays[f"weight_{l}"].astype(network.dtype)
        network.biases[l] = arrays[f"bias_{l}"].astype(network.dtype)
    metadata = {}
    if "metadata" in arrays:
        try:
            metadata = json.loads(str(arrays["metadata"]))
        except ValueError:
            raise ScratchCheckpointError(f"{path}: its metadata is not valid JSON") from None
    return network, metadata
