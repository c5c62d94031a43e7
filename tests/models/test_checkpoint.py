"""Checkpoints: written and read in milliseconds, self-describing, and older files still predict the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from digitrec.errors import CheckpointError
from digitrec.models import Classifier, build_model, create_model, list_models, load_checkpoint, make_checkpoint, save_checkpoint
from digitrec.models.checkpoint import NOT_FITTED
from digitrec.predict import load_model

FIXTURES = Path(__file__).parents[1] / "fixtures"
LEGACY = FIXTURES / "legacy"
CLASSES = [str(d) for d in range(10)]


@pytest.mark.parametrize("name", list_models())
def test_a_checkpoint_rebuilds_the_same_classifier(name, tmp_path):
    torch.manual_seed(0)
    model = Classifier(create_model(name), 0.1307, 0.3081).eval()
    save_checkpoint(tmp_path / "m.pt", make_checkpoint(model, name, classes=CLASSES, recipe={"name": "r"}, dataset="mnist"))
    checkpoint = torch.load(tmp_path / "m.pt", weights_only=True)  # plain data: no pickled objects
    assert checkpoint["format_version"] == 3 and checkpoint["model"]["name"] == name
    assert checkpoint["normalization"] == {"mean": pytest.approx(0.1307), "std": pytest.approx(0.3081), "scale": 255.0}
    assert {"normalize.mean", "normalize.std", "temperature"} <= set(checkpoint["state_dict"])  # they travel with the weights
    assert checkpoint["calibration"] == {"temperature": 1.0, "fitted": False, "why": NOT_FITTED}
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


def test_the_temperature_divides_the_logits_and_survives_a_round_trip(tmp_path):
    torch.manual_seed(0)
    model = Classifier(create_model("mlp"), 0.1307, 0.3081).eval()
    images = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        raw = model(images)
    model.temperature.fill_(1.7)
    record = {"fitted": True, "split": "validation", "images": 123, "temperature": 99.0}  # the buffer's value wins
    save_checkpoint(tmp_path / "m.pt", make_checkpoint(model, "mlp", classes=CLASSES, recipe={}, dataset="mnist",
                                                       calibration=record))
    checkpoint = load_checkpoint(tmp_path / "m.pt")
    assert checkpoint["calibration"] == record | {"temperature": pytest.approx(1.7)}
    rebuilt = build_model(checkpoint)
    assert float(rebuilt.temperature) == pytest.approx(1.7)
    with torch.inference_mode():
        torch.testing.assert_close(rebuilt(images), raw / 1.7, rtol=1e-6, atol=1e-7)
    assert load_model(tmp_path / "m.pt").metadata["calibration"]["images"] == 123
    with pytest.raises(ValueError, match="temperature must be positive"):
        Classifier(create_model("mlp"), temperature=0.0)


def test_a_format_2_checkpoint_from_before_calibration_predicts_its_raw_softmax():
    """tests/fixtures/digits.pt is format 2: no temperature in its state dict, no calibration entry."""
    checkpoint = load_checkpoint(FIXTURES / "digits.pt")
    assert checkpoint["format_version"] == 2 and "temperature" not in checkpoint["state_dict"]
    assert "calibration" not in checkpoint
    model = build_model(checkpoint)
    assert float(model.temperature) == 1.0
    images = np.load(FIXTURES / "mnist_small.npz")["test_images"][:50]
    predictor = load_model(FIXTURES / "digits.pt")
    with torch.inference_mode():
        pixels = torch.from_numpy(images).float().div(255).unsqueeze(1)
        expected = torch.softmax(model.net(model.normalize(pixels)), dim=1).numpy()  # the network alone, no temperature
    np.testing.assert_allclose(predictor.predict_proba(images), expected, rtol=0, atol=2e-6)
    assert predictor.metadata["calibration"] is None


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
    assert float(build_model(checkpoint).temperature) == 1.0 and predictor.metadata["calibration"] is None


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
