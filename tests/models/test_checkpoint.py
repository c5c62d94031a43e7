"""Checkpoints: written and read in milliseconds, self-describing, and older files still predict the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from digitrec.errors import CheckpointError
from digitrec.models import Classifier, build_model, create_model, list_models, load_checkpoint, make_checkpoint, save_checkpoint
from digitrec.predict import load_model

LEGACY = Path(__file__).parents[1] / "fixtures" / "legacy"
CLASSES = [str(d) for d in range(10)]


@pytest.mark.parametrize("name", list_models())
def test_a_checkpoint_rebuilds_the_same_classifier(name, tmp_path):
    torch.manual_seed(0)
    model = Classifier(create_model(name), 0.1307, 0.3081).eval()
    save_checkpoint(tmp_path / "m.pt", make_checkpoint(model, name, classes=CLASSES, recipe={"name": "r"}, dataset="mnist"))
    checkpoint = torch.load(tmp_path / "m.pt", weights_only=True)  # plain data: no pickled objects
    assert checkpoint["format_version"] == 2 and checkpoint["model"]["name"] == name
    assert checkpoint["normalization"] == {"mean": pytest.approx(0.1307), "std": pytest.approx(0.3081), "scale": 255.0}
    assert {"normalize.mean", "normalize.std"} <= set(checkpoint["state_dict"])  # the layer travels with the weights
    rebuilt = build_model(load_checkpoint(tmp_path / "m.pt"))
    images = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        torch.testing.assert_close(rebuilt(images), model(images), rtol=0, atol=0)


def test_normalisation_happens_inside_the_model():
    net = create_model("mlp")
    plain, normalised = Classifier(net), Classifier(net, 0.5, 0.25)
    images = torch.rand(2, 1, 28, 28)
    with torch.inference_mode():
        torch.testing.assert_close(normalised(images), plain((images - 0.5) / 0.25))
    with pytest.raises(ValueError, match="std must be positive"):
        Classifier(net, 0.0, 0.0)


def test_a_format_1_checkpoint_from_before_the_normalize_layer_predicts_as_it_did():
    """tests/fixtures/legacy: model.pt written by digitrec 899fc1b (normalisation outside the model)
    and the probabilities that version predicted for 50 MNIST test digits (legacy/make.py)."""
    expected = np.load(LEGACY / "expected.npz")
    checkpoint = load_checkpoint(LEGACY / "model.pt")
    assert checkpoint["format_version"] == 1 and "normalize.mean" not in checkpoint["state_dict"]
    predictor = load_model(LEGACY / "model.pt")
    probs = predictor.predict_proba(expected["images"])
    # not bit for bit: inference runs channels-last convolutions, which add up in another order
    np.testing.assert_allclose(probs, expected["probabilities"], rtol=0, atol=2e-6)
    assert np.array_equal(probs.argmax(1), expected["probabilities"].argmax(1))
    assert predictor.metadata["normalization"]["mean"] == pytest.approx(0.1307)


def test_files_that_are_not_checkpoints_are_refused(tmp_path):
    torch.save({"format": "digitrec-checkpoint", "format_version": 99}, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="newer digitrec"):
        load_checkpoint(tmp_path / "future.pt")
    torch.save({"format": "digitrec-checkpoint", "format_version": 2, "model": {}}, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match="missing 'state_dict'"):
        load_checkpoint(tmp_path / "partial.pt")
    model = Classifier(create_model("mlp"))
    checkpoint = make_checkpoint(model, "mlp", classes=CLASSES, recipe={}, dataset="mnist")
    checkpoint["model"] = {"name": "lenet", "args": {}}  # weights of one network, name of another
    with pytest.raises(CheckpointError, match="cannot rebuild model 'lenet'"):
        build_model(checkpoint, "wrong.pt")
    with pytest.raises(CheckpointError, match="no such model file"):
        load_checkpoint(tmp_path / "absent.pt")
