"""`digitrec predict` and `digitrec read` on photo-like images, and the Python API they wrap."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from digitrec import load_model
from digitrec.cli import app
from digitrec.vision import PreprocessError
from digitrec.synth import photoize, photoize_number

runner = CliRunner()


@pytest.fixture(scope="module")
def model(tiny_model):
    return tiny_model


@pytest.fixture(scope="module")
def photos(tmp_path_factory, small_mnist):
    """A folder of 6 photo-like digits (2 in a sub-folder) plus files a search must skip."""
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    test = small_mnist["test"]
    (folder / "more").mkdir()
    (folder / ".hidden").mkdir()
    for i in range(6):
        name = f"more/digit{i}.jpg" if i >= 4 else f"digit{i}.png"
        photoize(test.images[i], rng).save(folder / name)
    photoize(test.images[0], rng).save(folder / ".secret.png")
    photoize(test.images[0], rng).save(folder / ".hidden" / "x.png")
    (folder / "notes.txt").write_text("not an image, and not named like one")
    return folder


def _run(args):
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_text_output_one_line_per_image_with_top_k(model, photos):
    code, out, err = _run(["predict", model, photos])
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == 6  # hidden files, hidden folders and notes.txt are skipped
    assert lines[0].startswith(f"{photos / 'digit0.png'}: ") and lines[-1].startswith(f"{photos / 'more' / 'digit5.jpg'}: ")
    pattern = re.compile(r".+: \d \(\d\.\d{3}\)  \[top 3: \d \d\.\d\d, \d \d\.\d\d, \d \d\.\d\d\]$")
    assert all(pattern.match(line) for line in lines), out
    code, out, _ = _run(["predict", model, photos / "digit0.png", "--top-k", "1"])
    assert code == 0 and re.fullmatch(r".+digit0\.png: \d \(\d\.\d{3}\)\n", out)


def test_json_output_matches_the_python_api(model, photos):
    code, out, _ = _run(["predict", model, photos, "--json", "-k", "2"])
    assert code == 0
    results = json.loads(out)
    assert len(results) == 6
    predictor = load_model(model)
    for result in results:
        assert set(result) == {"path", "label", "confidence", "uncertain", "probabilities", "top_k"}
        prediction = predictor.predict_image(result["path"])
        assert result["label"] == prediction.label and result["uncertain"] is False
        assert result["confidence"] == pytest.approx(prediction.confidence, abs=1e-6)
        assert len(result["probabilities"]) == 10 and sum(result["probabilities"]) == pytest.approx(1, abs=1e-4)
        assert [t["label"] for t in result["top_k"]] == [label for label, _ in prediction.top(2)]
        assert result["label"] == str(int(np.argmax(result["probabilities"])))
    assert prediction.image.shape == (28, 28) and prediction.image.dtype == np.uint8


def test_photo_digits_are_mostly_right(model, small_mnist, photos):
    labels = {f"digit{i}": str(small_mnist["test"].labels[i]) for i in range(6)}
    results = json.loads(_run(["predict", model, photos, "--json"])[1])
    right = sum(r["label"] == labels[r["path"].rsplit("/", 1)[1].split(".")[0]] for r in results)
    assert right >= 5, results  # the fixture model: 98.0% on clean MNIST


def test_below_min_confidence_is_uncertain_not_a_guess(model, photos):
    code, out, _ = _run(["predict", model, photos / "digit0.png", "--min-confidence", "1"])
    assert code == 0 and re.fullmatch(r".+digit0\.png: \? \(uncertain: \d \d\.\d\d, \d \d\.\d\d, \d \d\.\d\d\)\n", out), out
    [result] = json.loads(_run(["predict", model, photos / "digit0.png", "--min-confidence", "1", "--json"])[1])
    assert result["label"] is None and result["uncertain"] is True and 0 < result["confidence"] < 1


def test_one_bad_file_is_reported_and_the_rest_predicted(model, photos, tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    Image.new("L", (60, 60), 255).save(tmp_path / "blank.png")
    code, out, err = _run(["predict", model, photos / "digit1.png", tmp_path / "broken.png", photos / "digit2.png"])
    assert code == 1 and len(out.splitlines()) == 2
    assert err.splitlines() == [f"digitrec: error: cannot read {tmp_path / 'broken.png'}: not an image, or an unsupported format"]
    code, out, err = _run(["predict", model, tmp_path / "blank.png", tmp_path / "missing.png", "--json"])
    assert code == 1 and [r["path"] for r in json.loads(out)] == [str(tmp_path / "blank.png"), str(tmp_path / "missing.png")]
    lines = err.splitlines()
    assert len(lines) == 2 and "blank.png" in lines[0] and "blank" in lines[0].split(":", 2)[2]
    assert "missing.png" in lines[1] and "no such file" in lines[1]


def test_empty_folder_and_bad_options(model, tmp_path):
    code, out, err = _run(["predict", model, tmp_path])
    assert code == 1 and out == "" and "no image files in this folder" in err and str(tmp_path) in err
    for option, value, words in (("--top-k", "0", "between 1 and 10"), ("--min-confidence", "1.5", "between 0 and 1")):
        code, _, err = _run(["predict", model, tmp_path, option, value])
        assert code == 1 and len(err.splitlines()) == 1 and words in err
    code, _, err = _run(["predict", tmp_path / "nope.pt", tmp_path])
    assert code == 1 and err.strip() == f"digitrec: error: {tmp_path / 'nope.pt'}: no such model file"


def test_read_numbers(model, small_mnist, tmp_path):
    rng = np.random.default_rng(3)
    test = small_mnist["test"]
    for name, picks in (("a.png", [1, 2, 3]), ("b.png", [4, 5, 6, 7])):
        photoize_number(list(test.images[picks]), rng, touch=0.0).save(tmp_path / name)
    code, out, _ = _run(["read", model, tmp_path, "--json"])
    assert code == 0
    results = json.loads(out)
    assert [len(r["text"]) for r in results] == [3, 4]
    for result in results:
        assert result["text"] == "".join(d["label"] for d in result["digits"])
        x0s = [d["box"][0] for d in result["digits"]]
        assert x0s == sorted(x0s) and all(len(d["box"]) == 4 and 0 < d["confidence"] <= 1 for d in result["digits"])
    code, out, _ = _run(["read", model, tmp_path / "a.png"])
    assert code == 0 and re.fullmatch(r".+a\.png: \d{3}  \(\d \d\.\d\d, \d \d\.\d\d, \d \d\.\d\d\)\n", out), out


def test_python_api(model, small_mnist):
    predictor = load_model(model)
    digit = small_mnist["test"].images[0]
    prediction = predictor.predict_image(digit)  # an MNIST array passes through unchanged
    assert np.array_equal(prediction.image, digit)
    np.testing.assert_allclose(prediction.probabilities, predictor.predict_proba(digit)[0])
    assert prediction.label == predictor.classes[int(predictor.predict(digit)[0])]
    text, digits = predictor.read_number(np.hstack([small_mnist["test"].images[1], small_mnist["test"].images[2]]))
    assert len(text) == 2 and [d.box[0] < 28 for d in digits] == [True, False]
    with pytest.raises(PreprocessError, match="blank"):
        predictor.predict_image(np.zeros((50, 50), np.uint8))


def test_an_unreadable_file_and_a_fifo_on_the_command_line(model, photos, tmp_path, monkeypatch):
    """Each is one line naming its cause; the other files are still predicted; exit 1; no hang."""
    import os
    import threading

    noperm, fifo = tmp_path / "noperm.png", tmp_path / "pipe.png"
    Image.open(photos / "digit1.png").save(noperm)
    os.mkfifo(fifo)
    real_access, real_open = os.access, Image.open

    def as_a_user(path, mode, *args, **kwargs):  # the tests run as root, who may read anything
        return False if str(path) == str(noperm) else real_access(path, mode, *args, **kwargs)

    def no_permission(source, *args, **kwargs):
        if str(source) == str(noperm):
            raise PermissionError(13, "Permission denied", str(noperm))
        return real_open(source, *args, **kwargs)

    monkeypatch.setattr(os, "access", as_a_user)
    monkeypatch.setattr(Image, "open", no_permission)
    unblock = threading.Timer(10, lambda: os.close(os.open(fifo, os.O_RDWR)))  # a hang fails instead
    unblock.start()
    try:
        for verb in ("predict", "read"):
            code, out, err = _run([verb, model, photos / "digit1.png", noperm, fifo, photos / "digit2.png"])
            assert code == 1 and len(out.splitlines()) == 2, (out, err)
            assert err.splitlines() == [f"digitrec: error: cannot read {noperm}: permission denied (check the file's permissions)",
                                        f"digitrec: error: cannot read {fifo}: not a regular file (a FIFO, socket or device); give an image file"]
        code, _, err = _run(["predict", "--model", fifo, photos / "digit1.png"])  # pipe.png: named like an image
        assert code == 1 and err.strip() == f"digitrec: error: {fifo}: not a regular file (a FIFO, socket or device); give a model file"
    finally:
        unblock.cancel()


def test_serve_on_a_busy_port_is_one_line_before_uvicorn_starts(model):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = _run(["serve", model, "--port", port])
    assert code == 1 and out == ""
    assert err.splitlines() == [f"digitrec: error: port {port} is in use on 127.0.0.1; choose --port"]


def test_without_a_model_the_built_in_one_answers_and_says_so_on_stderr(builtin_model, model, photos, tmp_path, small_mnist):
    from digitrec.digest import file_sha256

    said = [f"model: built-in cnn-baseline (digitrec train --recipe fixture --seed 0, 98.04% MNIST test, "
            f"sha256 {file_sha256(model)[:12]})"]
    images = [photos / "digit0.png", photos / "more"]  # a file, and a folder that holds no model: images both
    code, out, err = _run(["predict", *images])
    assert code == 0 and err.splitlines() == said
    assert out == _run(["predict", model, *images])[1] == _run(["predict", "--model", model, *images])[1]
    code, out, err = _run(["predict", *images, "--json"])
    assert code == 0 and len(json.loads(out)) == 3 and err.splitlines() == said  # stdout stays one JSON document

    photoize_number(list(small_mnist["test"].images[[1, 2, 3]]), np.random.default_rng(3), touch=0.0).save(tmp_path / "n.png")
    code, out, err = _run(["read", tmp_path / "n.png"])
    assert code == 0 and err.splitlines() == said and out == _run(["read", model, tmp_path / "n.png"])[1]


def test_serve_without_a_model_serves_the_built_in_one(builtin_model, small_mnist, monkeypatch):
    import warnings

    import digitrec.serve

    with warnings.catch_warnings():  # starlette asks for httpx2; httpx is what the project installs
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    served = {}  # no socket, no uvicorn: the app the command would run, to send requests to
    monkeypatch.setattr(digitrec.serve, "bind", lambda host, port: (host, port))
    monkeypatch.setattr(digitrec.serve, "run", lambda app, sock: served.update(app=app, sock=sock))
    code, out, err = _run(["serve", "--port", "8123", "--workers", "1"])
    assert served["sock"] == ("127.0.0.1", 8123)
    assert code == 0 and err.startswith("model: built-in cnn-baseline (digitrec train --recipe fixture --seed 0, ")
    assert out.startswith("digitrec: serving cnn-baseline from ") and str(builtin_model / "builtin.pt") in out
    client = TestClient(served["app"])
    digit = small_mnist["test"].images[0]
    answer = client.post("/api/predict", json={"pixels": digit.tolist()}).json()
    assert answer["label"] == str(small_mnist["test"].labels[0])


def test_without_any_model_each_verb_says_so_in_one_line(no_builtin_model, photos):
    line = "digitrec: error: no built-in model in this install; give a model file (digitrec predict MODEL IMAGES...)"
    for args in (["predict", photos / "digit0.png"], ["read", photos / "digit0.png"], ["serve"]):
        code, out, err = _run(args)
        assert (code, out, err.strip()) == (1, "", line), args


def test_a_model_and_no_images_is_a_usage_error(model):
    result = runner.invoke(app, ["predict", str(model)])
    assert result.exit_code == 2 and "no images after the model" in result.output and "Traceback" not in result.output


def test_serve_refuses_an_unknown_backend_and_frees_the_port(model):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, out, err = _run(["serve", model, "--port", port, "--backend", "tensorrt"])
    assert code == 1 and out == ""
    assert err.splitlines() == ["digitrec: error: unknown backend 'tensorrt'; choose from auto, onnxruntime, torch"]
    with socket.socket() as again:  # the socket bound first was closed
        again.bind(("127.0.0.1", port))
