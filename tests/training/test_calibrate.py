"""Fitting a trained model's temperature and writing it into .pt and .npz files."""

from __future__ import annotations

import numpy as np
import pytest

from digitrec import load_model
from digitrec.errors import CheckpointError, DigitrecError
from digitrec.evaluation.calibration import fit_temperature, retemper
from digitrec.models import build_model, load_checkpoint
from digitrec.scratch import Network, load_network_and_metadata, save_network
from digitrec.training.calibrate import calibrate, calibrate_file, model_logits


def test_calibrate_fits_the_raw_logits_and_sets_the_buffer(tiny_model, small_mnist):
    model = build_model(load_checkpoint(tiny_model))
    images, labels = small_mnist["train"].images[:400], small_mnist["train"].labels[:400]
    model.temperature.fill_(1.0)
    raw = model_logits(model, images)
    model.temperature.fill_(5.0)  # an earlier temperature is dropped, not fitted on top of
    record = calibrate(model, images, labels)
    assert record["temperature"] == pytest.approx(fit_temperature(raw, labels))
    assert float(model.temperature) == pytest.approx(record["temperature"])
    np.testing.assert_allclose(model_logits(model, images), raw / record["temperature"], rtol=1e-5, atol=1e-5)
    assert record["fitted"] and record["images"] == 400 and record["nll_after"] <= record["nll_before"]
    with pytest.raises(DigitrecError, match="empty validation split"):
        calibrate(model, images[:0], labels[:0])


def test_calibrate_file_writes_a_calibrated_checkpoint_beside_the_original(tiny_model, small_mnist, tmp_path):
    images, labels = small_mnist["train"].images[:300], small_mnist["train"].labels[:300]
    before = load_model(tiny_model).predict_proba(images)
    out = tmp_path / "calibrated.pt"
    record = calibrate_file(tiny_model, images, labels, out, split="mnist train")
    checkpoint = load_checkpoint(out)
    assert checkpoint["format_version"] == 3 and checkpoint["calibration"] == record
    assert checkpoint["calibration"]["split"] == "mnist train"
    after = load_model(out).predict_proba(images)
    np.testing.assert_allclose(after, retemper(before, record["temperature"]), atol=2e-5)
    assert np.array_equal(after.argmax(1), before.argmax(1))
    assert "calibration" not in load_checkpoint(tiny_model)  # the original is untouched
    with pytest.raises(DigitrecError, match="ending in .pt"):
        calibrate_file(tiny_model, images, labels, tmp_path / "x.onnx", split="s")
    with pytest.raises(CheckpointError, match="calibrate the .pt it was exported from"):
        calibrate_file(tmp_path / "m.onnx", images, labels, tmp_path / "c.onnx", split="s")


def test_the_numpy_network_gets_its_temperature_through_its_metadata(small_mnist, tmp_path):
    network = Network([784, 20, 10], activation="relu", output="softmax", cost="log-likelihood", init="scaled", seed=0)
    save_network(network, tmp_path / "net.npz", {"classes": [str(d) for d in range(10)], "model": "tiny"})
    images, labels = small_mnist["train"].images[:200], small_mnist["train"].labels[:200]
    record = calibrate_file(tmp_path / "net.npz", images, labels, tmp_path / "net.npz", split="mnist train")  # in place
    _, metadata = load_network_and_metadata(tmp_path / "net.npz")
    assert metadata["calibration"] == record and metadata["model"] == "tiny"
    raw = network.predict_proba(images)
    np.testing.assert_allclose(load_model(tmp_path / "net.npz").predict_proba(images),
                               retemper(raw, record["temperature"]), rtol=1e-5, atol=1e-6)
    assert record["temperature"] != pytest.approx(1.0, abs=1e-3)  # an untrained network is far from calibrated


def test_a_sigmoid_output_network_is_not_calibrated_and_says_why(small_mnist, tmp_path):
    network = Network([784, 20, 10], seed=0)  # sigmoid outputs, as nielsen's
    save_network(network, tmp_path / "net.npz", {"classes": [str(d) for d in range(10)]})
    with pytest.raises(DigitrecError, match="output layer is sigmoid"):
        calibrate_file(tmp_path / "net.npz", small_mnist["train"].images[:50], small_mnist["train"].labels[:50],
                       tmp_path / "out.npz", split="s")
    assert not (tmp_path / "out.npz").exists()
