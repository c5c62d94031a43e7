"""Shared fixtures: a small sample of real MNIST (committed), and an offline stand-in source."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

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
def tiny_model(tmp_path_factory, small_mnist) -> Path:
    """model.pt of a cnn-baseline trained once per session through the CLI, for 3 epochs on the
    1000-digit sample read as Kaggle CSVs; shared by the predict, serve, ONNX and browser tests."""
    from typer.testing import CliRunner

    from digitrec.cli import app
    from digitrec.data import write_kaggle_csv

    run = tmp_path_factory.mktemp("tiny-model") / "run"
    data = tmp_path_factory.mktemp("tiny-model-data")
    for split in ("train", "test"):
        write_kaggle_csv(data / f"{split}.csv", small_mnist[split].images, small_mnist[split].labels)
    args = ["train", "--recipe", "cnn-baseline", "--data", f"kaggle:{data}", "--epochs", "3",
            "--batch-size", "40", "--out", str(run), "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return run / "model.pt"


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
