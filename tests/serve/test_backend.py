"""serve.backend: a .pt is served by onnxruntime from its cached export, with torch when that
cannot be, and the choice is said."""

from __future__ import annotations

import importlib.util
import logging

import numpy as np
import pytest

from digitrec import load_model
from digitrec.errors import DigitrecError
from digitrec.serve import backend
from digitrec.serve.backend import choose_backend, prepare, serving_predictor


def test_a_checkpoint_is_served_by_onnxruntime_with_its_own_metadata(tiny_model, small_mnist):
    predictor, why = serving_predictor(tiny_model)
    torch_predictor = load_model(tiny_model)
    assert why == "cached ONNX export" and predictor.metadata["engine"] == "onnxruntime"
    assert predictor.path == torch_predictor.path and predictor.classes == torch_predictor.classes
    assert {k: v for k, v in predictor.metadata.items() if k != "engine"} == \
        {k: v for k, v in torch_predictor.metadata.items() if k != "engine"}
    images = small_mnist["test"].images[:64]
    assert np.abs(predictor.predict_proba(images) - torch_predictor.predict_proba(images)).max() < 1e-5
    assert predictor.predict_image(np.pad(images[0], 20)).label == str(small_mnist["test"].labels[0])


def test_torch_when_asked_and_onnx_files_as_they_are(tiny_model, tmp_path):
    predictor, onnx, why = choose_backend(tiny_model, "torch")
    assert onnx is None and why == "as asked" and prepare(predictor, onnx).metadata["engine"] == "torch"
    from digitrec.export import export_checkpoint

    export_checkpoint(tiny_model, tmp_path / "m.onnx")
    predictor, onnx, why = choose_backend(tmp_path / "m.onnx")
    assert onnx is None and why == "" and predictor.metadata["engine"] == "onnxruntime"
    with pytest.raises(DigitrecError, match="--backend torch needs a PyTorch checkpoint"):
        choose_backend(tmp_path / "m.onnx", "torch")
    with pytest.raises(DigitrecError, match="unknown backend 'tensorrt'; choose from auto, onnxruntime, torch"):
        choose_backend(tiny_model, "tensorrt")


def test_a_failed_export_falls_back_to_torch_and_says_so(tiny_model, monkeypatch, caplog):
    def broken(path, check=True):
        raise RuntimeError("the exporter\nbroke")

    monkeypatch.setattr("digitrec.export.onnx.checkpoint_to_onnx", broken)
    with caplog.at_level(logging.WARNING, logger="digitrec.serve"):
        predictor, onnx, why = choose_backend(tiny_model)
    assert onnx is None and predictor.metadata["engine"] == "torch" and why == "the ONNX export failed"
    assert "the ONNX export failed (the exporter broke); serving with torch" in caplog.text
    with pytest.raises(DigitrecError, match="cannot run with onnxruntime \\(the exporter broke\\)"):
        choose_backend(tiny_model, "onnxruntime")


def test_without_onnxruntime_torch_serves(tiny_model, monkeypatch, caplog):
    real = importlib.util.find_spec
    monkeypatch.setattr(backend.importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    with caplog.at_level(logging.WARNING, logger="digitrec.serve"):
        predictor, onnx, why = choose_backend(tiny_model)
    assert onnx is None and why == "onnxruntime is not installed" and "serving with torch" in caplog.text
    with pytest.raises(DigitrecError, match="onnxruntime is not installed"):
        choose_backend(tiny_model, "onnxruntime")
