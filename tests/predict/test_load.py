"""load_model: one table from suffix to backend, run folders, and one clear error for anything else."""

from __future__ import annotations

import numpy as np
import pytest

from digitrec.errors import CheckpointError, DigitrecError
from digitrec.predict import Prediction, Predictor, as_batch, load_model
from digitrec.predict.load import LOADERS
from digitrec.scratch import Network, save_network


def test_each_suffix_has_a_backend(untrained_checkpoint, tmp_path):
    assert set(LOADERS) == {".pt", ".pth", ".npz", ".onnx"}
    torch_model = load_model(untrained_checkpoint("lenet"))
    assert torch_model.metadata["engine"] == "torch" and torch_model.metadata["model"] == "lenet"
    save_network(Network([784, 16, 10], seed=0), tmp_path / "net.npz", {"classes": list("0123456789"), "model": "nielsen"})
    numpy_model = load_model(tmp_path / "net.npz")
    assert numpy_model.metadata["engine"] == "scratch"
    for predictor in (torch_model, numpy_model):
        probs = predictor.predict_proba(np.zeros((4, 28, 28), np.uint8))
        assert probs.shape == (4, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_a_run_folder_gives_its_model(untrained_checkpoint, tmp_path):
    path = untrained_checkpoint("mlp").rename(tmp_path / "model.pt")
    assert load_model(tmp_path).path == path
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no model.pt, model.npz or model.onnx"):
        load_model(tmp_path / "empty")


def test_bad_paths_are_one_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no such model file"):
        load_model(tmp_path / "absent.pt")
    (tmp_path / "model.h5").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="unknown model type '.h5'"):
        load_model(tmp_path / "model.h5")


def test_inputs_are_checked_and_scaled():
    assert as_batch(np.full((28, 28), 255, np.uint8)).max() == 1.0 and as_batch(np.zeros((2, 1, 28, 28))).shape == (2, 28, 28)
    with pytest.raises(DigitrecError, match="use digitrec.vision.to_mnist for photos"):
        as_batch(np.zeros((32, 32)))
    predictor = Predictor(lambda images: np.tile([0.1, 0.7, 0.2], (len(images), 1)), ["a", "b", "c"], {})
    assert predictor.predict(np.zeros((3, 28, 28))).tolist() == [1, 1, 1]
    assert predictor.predict_proba(np.zeros((0, 28, 28))).shape == (0, 3)
    top = Prediction.from_probs(np.array([0.1, 0.7, 0.2]), ["a", "b", "c"], np.zeros((28, 28), np.uint8)).top(2)
    assert [label for label, _ in top] == ["b", "c"]


def test_a_model_is_told_from_an_image_by_its_suffix_or_a_run_folder(untrained_checkpoint, tmp_path):
    from digitrec.predict.load import looks_like_model

    for name in ("m.pt", "M.PTH", "net.npz", "digits.onnx", "missing.pt"):  # a missing model is still a model
        assert looks_like_model(tmp_path / name), name
    for name in ("photo.jpg", "scan.png", "model.h5", "noext"):
        assert not looks_like_model(tmp_path / name), name
    (tmp_path / "photos").mkdir()
    assert not looks_like_model(tmp_path / "photos")  # a folder of images
    untrained_checkpoint("mlp").rename(tmp_path / "photos" / "model.npz.pt")
    assert not looks_like_model(tmp_path / "photos")
    untrained_checkpoint("mlp").rename(tmp_path / "photos" / "model.pt")
    assert looks_like_model(tmp_path / "photos")  # a run folder
