"""Shared fixtures: a small sample of real MNIST (committed), and an offline stand-in source."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from digitrec.data import Split, sources
from digitrec.data.idx import encode_idx

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def small_mnist() -> dict[str, Split]:
    """1000 train + 200 test real MNIST digits (see tests/fixtures/make_fixtures.py)."""
    with np.load(FIXTURES / "mnist_small.npz") as data:
        return {
            "train": Split(data["train_images"], data["train_labels"].astype(np.int64)),
            "test": Split(data["test_images"], data["test_labels"].astype(np.int64)),
        }


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A copy of tests/fixtures/digits.pt: a small CNN trained on full MNIST (98.0% test accuracy; see
    tests/fixtures/make_fixtures.py), for the predict, read, serve and export tests."""
    path = tmp_path_factory.mktemp("tiny-model") / "model.pt"
    shutil.copyfile(FIXTURES / "digits.pt", path)
    return path


@pytest.fixture
def untrained_checkpoint(tmp_path) -> Callable[..., Path]:
    """Write the checkpoint of a freshly built registry model in milliseconds: (name, **kw) -> path."""
    from digitrec.models import Classifier, create_model, make_checkpoint, save_checkpoint

    def write(name: str = "mlp", mean: float = 0.1307, std: float = 0.3081, **model_args) -> Path:
        torch.manual_seed(0)
        model = Classifier(create_model(name, **model_args), mean, std)
        path = tmp_path / f"{name}.pt"
        save_checkpoint(path, make_checkpoint(model, name, classes=[str(d) for d in range(10)],
                                              recipe={"name": "untrained"}, dataset="mnist"))
        return path

    return write


@pytest.fixture
def builtin_model(tmp_path, monkeypatch) -> Path:
    """Make tests/fixtures/digits.pt this install's built-in model (installed as
    scripts/make_builtin_model.py installs one, in a folder of the test's); returns the folder."""
    from digitrec.predict import builtin

    folder = tmp_path / "weights"
    folder.mkdir()
    builtin.install_builtin(FIXTURES / "digits.pt", "digitrec train --recipe fixture --seed 0", folder)
    monkeypatch.setattr(builtin, "WEIGHTS", folder)
    return folder


@pytest.fixture
def no_builtin_model(tmp_path, monkeypatch) -> Path:
    """An install without a built-in model (whatever the checkout holds); returns its empty folder."""
    from digitrec.predict import builtin

    folder = tmp_path / "no-weights"
    folder.mkdir()
    monkeypatch.setattr(builtin, "WEIGHTS", folder)
    return folder


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keep every test away from the user's real cache unless it asks for it."""
    monkeypatch.setenv("DIGITREC_HOME", str(tmp_path_factory.mktemp("digitrec-home")))


@pytest.fixture
def fake_mnist(small_mnist, tmp_path, monkeypatch) -> Path:
    """Replace the `mnist` source by the small sample: raw and .gz IDX files in a folder whose
    checksums are registered, no mirrors, no npm. Returns the folder (an offline 'mirror')."""
    folder = tmp_path / "fake-mnist-files"
    folder.mkdir()
    arrays = {
        "train-images": small_mnist["train"].images, "train-labels": small_mnist["train"].labels.astype(np.uint8),
        "test-images": small_mnist["test"].images, "test-labels": small_mnist["test"].labels.astype(np.uint8),
    }
    real = sources.SOURCES["mnist"]
    files = []
    for raw in real.files:
        data = encode_idx(arrays[raw.key])
        (folder / (raw.filename + ".gz")).write_bytes(gzip.compress(data))
        files.append(sources.RawFile(raw.key, raw.filename, hashlib.sha256(data).hexdigest()))
    fake = sources.Source("mnist", tuple(files), mirrors=(), npm_package=None)
    monkeypatch.setitem(sources.SOURCES, "mnist", fake)
    # seed the cache so load_dataset("mnist") works offline
    sources.fetch("mnist", search_dirs=[folder], progress=False)
    return folder
