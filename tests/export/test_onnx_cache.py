"""export.cache: a .pt answers on onnxruntime from an export kept by its sha256; the second use
never imports torch; a changed checkpoint, a damaged entry or a failed export each do the right thing."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from digitrec.errors import CheckpointError
from digitrec.export.cache import cached_export_path, load_fastest
from digitrec.predict import load_model


def test_a_checkpoint_answers_from_its_cached_export_with_the_checkpoints_answers(tiny_model, small_mnist):
    assert not cached_export_path(tiny_model).exists()
    predictor = load_fastest(tiny_model.parent)  # a run folder: its model.pt
    cached = cached_export_path(tiny_model)
    assert cached.is_file() and predictor.metadata["onnx_export"] == str(cached)
    assert predictor.path == tiny_model and predictor.metadata["engine"] == "onnxruntime"
    images = small_mnist["test"].images[:64]
    torch_probs = load_model(tiny_model).predict_proba(images)
    assert np.abs(predictor.predict_proba(images) - torch_probs).max() < 1e-5
    assert (load_fastest(tiny_model).predict_proba(images) == predictor.predict_proba(images)).all()  # reused
    assert [p.name for p in cached.parent.iterdir()] == [cached.name]  # no temporary file left


def test_the_second_use_does_not_import_torch(tiny_model, small_mnist, tmp_path):
    from PIL import Image

    photo = tmp_path / "digit.png"  # an MNIST test digit, dark on light, 3x larger
    Image.fromarray((255 - small_mnist["test"].images[0] * 255).astype(np.uint8)).resize((84, 84)).save(photo)
    load_fastest(tiny_model)
    code = ("import sys; from digitrec.export.cache import load_fastest; "
            f"p = load_fastest({str(tiny_model)!r}); label = p.predict_image({str(photo)!r}).label; "
            "print(label, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [load_model(tiny_model).predict_image(photo).label, "False"]


def test_a_changed_checkpoint_gets_its_own_export_and_a_damaged_entry_is_made_again(tiny_model, untrained_checkpoint, tmp_path):
    other = untrained_checkpoint("fast-cnn")
    assert cached_export_path(other) != cached_export_path(tiny_model)
    load_fastest(tiny_model)
    cached = cached_export_path(tiny_model)
    cached.write_bytes(b"not an onnx graph")
    predictor = load_fastest(tiny_model)
    assert predictor.metadata["engine"] == "onnxruntime" and cached.stat().st_size > 1000
    copy = tmp_path / "copy.pt"
    shutil.copyfile(tiny_model, copy)  # the same bytes elsewhere: the same entry
    assert cached_export_path(copy) == cached


def test_a_failed_export_answers_with_torch_and_a_bad_checkpoint_keeps_its_message(tiny_model, monkeypatch, caplog, tmp_path):
    def broken(path, check=True):
        raise RuntimeError("the exporter\nbroke")

    monkeypatch.setattr("digitrec.export.onnx.checkpoint_to_onnx", broken)
    with caplog.at_level(logging.WARNING, logger="digitrec.export"):
        predictor = load_fastest(tiny_model)
    assert predictor.metadata["engine"] == "torch"
    assert "the ONNX export of" in caplog.text and "failed (the exporter broke); answering with torch" in caplog.text
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(CheckpointError) as raised:
        load_fastest(bad)
    with pytest.raises(CheckpointError) as expected:
        load_model(bad)
    assert str(raised.value) == str(expected.value)


def test_other_model_files_load_as_they_are(tiny_model, tmp_path):
    from digitrec.export import export_checkpoint

    export_checkpoint(tiny_model, tmp_path / "m.onnx")
    predictor = load_fastest(tmp_path / "m.onnx")
    assert predictor.path == tmp_path / "m.onnx" and "onnx_export" not in predictor.metadata
    assert not (cached_export_path(tiny_model)).exists()
    with pytest.raises(CheckpointError, match="no such model file"):
        load_fastest(tmp_path / "missing.pt")


def test_an_unwritable_cache_folder_answers_from_an_export_in_memory(tiny_model, small_mnist, monkeypatch, caplog, tmp_path):
    home = tmp_path / "home-is-a-file"  # mkdir under it fails even for root, unlike chmod
    home.write_text("not a folder")
    monkeypatch.setenv("DIGITREC_HOME", str(home))
    with caplog.at_level(logging.WARNING, logger="digitrec.export"):
        predictor = load_fastest(tiny_model)
    assert predictor.metadata["engine"] == "onnxruntime" and predictor.metadata["onnx_export"] is None
    assert "cannot keep the ONNX export in" in caplog.text and "using it from memory" in caplog.text
    images = small_mnist["test"].images[:16]
    assert np.abs(predictor.predict_proba(images) - load_model(tiny_model).predict_proba(images)).max() < 1e-5
    assert home.read_text() == "not a folder"


def test_serve_runs_an_unwritable_caches_export_from_memory(tiny_model, monkeypatch, tmp_path):
    from digitrec.serve.backend import choose_backend, prepare

    home = tmp_path / "home-is-a-file"
    home.write_text("")
    monkeypatch.setenv("DIGITREC_HOME", str(home))
    predictor, onnx, why = choose_backend(tiny_model)
    assert onnx is not None and len(onnx) > 1000
    assert why == "ONNX export, in memory: the cache folder is not writable"
    probs = prepare(predictor, onnx).predict_proba(np.zeros((2, 28, 28), np.float32))
    assert np.allclose(probs, predictor.predict_proba(np.zeros((2, 28, 28), np.float32)), atol=1e-5)


def test_serve_remakes_a_damaged_cache_entry(tiny_model):
    from digitrec.serve.backend import choose_backend, prepare

    choose_backend(tiny_model)
    cached = cached_export_path(tiny_model)
    cached.write_bytes(b"a disk error")
    predictor, onnx, why = choose_backend(tiny_model)
    assert why == "cached ONNX export" and cached.read_bytes() == onnx and len(onnx) > 1000
    probs = prepare(predictor, onnx).predict_proba(np.zeros((1, 28, 28), np.float32))
    assert probs.shape == (1, 10)
