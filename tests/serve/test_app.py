"""The web service through FastAPI's test client: the page, the API, and its answers to bad input."""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
import pytest
from hostile_files import png_header_only
from PIL import Image

from digitrec import load_model
from digitrec.serve import Limits, create_app
from digitrec.serve.app import STATIC
from digitrec.synth import photoize, photoize_number

with warnings.catch_warnings():  # starlette asks for httpx2; httpx is what the project installs
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def predictor(tiny_model):
    return load_model(tiny_model)


@pytest.fixture(scope="module")
def client(predictor):
    return TestClient(create_app(predictor))


def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, "PNG")
    return buffer.getvalue()


def _canvas_drawing(digit: np.ndarray) -> bytes:
    """What the page sends: dark strokes (#111) on a transparent 280x280 canvas, as PNG."""
    alpha = np.asarray(Image.fromarray(digit).resize((200, 200), Image.Resampling.BICUBIC))
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., :3] = 17
    rgba[30:230, 50:250, 3] = np.where(alpha > 90, 255, 0)  # hard-edged strokes, off centre
    return _png(rgba, "RGBA")


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


def test_page_and_assets_are_served_without_any_cdn(client):
    page = client.get("/")
    assert page.status_code == 200 and "<canvas id=\"pad\"" in page.text and "/static/app.js" in page.text
    for name in ("index.html", "app.js", "style.css"):
        text = (STATIC / name).read_text()
        assert client.get(f"/static/{name}").status_code == 200
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text), f"{name} loads something from the network"
    assert "pointermove" in (STATIC / "app.js").read_text()  # drawing uses pointer events (mouse, pen, touch)


def test_health_openapi_and_docs(client):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["model"] == "cnn-baseline" and health["classes"] == [str(d) for d in range(10)]
    assert health["calibrated"] is False and health["temperature"] == 1.0  # the fixture predates calibration
    schema = client.get("/openapi.json").json()
    assert {"/api/predict", "/api/read", "/api/health"} <= set(schema["paths"])
    assert "multipart/form-data" in schema["paths"]["/api/predict"]["post"]["requestBody"]["content"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/api/predict" in docs.text and "cdn" not in docs.text.lower()


def test_predict_a_photo(client, predictor, small_mnist):
    photo = photoize(small_mnist["test"].images[0], np.random.default_rng(0))
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG")
    answer = client.post("/api/predict", files={"file": ("photo.jpg", buffer.getvalue(), "image/jpeg")}).json()
    assert set(answer) == {"label", "confidence", "probabilities", "classes", "input"}
    expected = predictor.predict_image(buffer.getvalue())
    assert answer["label"] == expected.label and answer["confidence"] == pytest.approx(expected.confidence, abs=1e-6)
    assert sum(answer["probabilities"]) == pytest.approx(1, abs=1e-4)
    assert np.array_equal(np.array(answer["input"]), expected.image)
    raw = client.post("/api/predict", content=buffer.getvalue(), headers={"content-type": "image/jpeg"}).json()
    assert raw["label"] == answer["label"]


def test_canvas_drawing_reads_strokes_as_ink(client, small_mnist):
    """Transparent pixels are background: the model must see the strokes white on black, MNIST style."""
    for i in range(3):
        digit = small_mnist["test"].images[i]
        answer = client.post("/api/predict", files={"file": ("drawing.png", _canvas_drawing(digit), "image/png")}).json()
        seen = np.array(answer["input"], np.uint8)
        assert seen[0].max() == 0 and seen[:, 0].max() == 0  # background black
        assert _correlation(seen, digit) > 0.7


def test_pixels_json(client, predictor, small_mnist):
    digit = small_mnist["test"].images[0]
    answer = client.post("/api/predict", json={"pixels": digit.tolist()}).json()
    assert np.array_equal(np.array(answer["input"]), digit)  # an MNIST digit goes through unchanged
    assert answer["label"] == predictor.classes[int(predictor.predict(digit)[0])]
    inverted = client.post("/api/predict", json={"pixels": (255 - digit).tolist()}).json()  # black on white
    assert _correlation(np.array(inverted["input"]), digit) > 0.9


def test_read_a_number(client, small_mnist):
    number = photoize_number(list(small_mnist["test"].images[[1, 2, 3]]), np.random.default_rng(1), touch=0.0)
    buffer = io.BytesIO()
    number.save(buffer, "PNG")
    answer = client.post("/api/read", files={"file": ("n.png", buffer.getvalue(), "image/png")}).json()
    assert len(answer["text"]) == 3 and answer["text"] == "".join(d["label"] for d in answer["digits"])
    assert all(len(d["box"]) == 4 and len(d["input"]) == 28 for d in answer["digits"])


@pytest.mark.parametrize("request_kwargs, status, words", [
    ({"files": {"file": ("x.png", b"hello, not an image", "image/png")}}, 400, "not an image"),
    ({"files": {"file": ("x.png", b"", "image/png")}}, 400, "empty"),
    ({"files": {"file": ("white.png", _png(np.full((50, 50), 255, np.uint8)), "image/png")}}, 422, "blank"),
    ({"files": {"file": ("clear.png", _png(np.zeros((50, 50, 4), np.uint8), "RGBA"), "image/png")}}, 422, "blank"),
    ({"files": {"other": ("x.png", b"x", "image/png")}}, 422, "multipart field 'file'"),
    ({"json": {"pixels": [[0] * 28] * 27}}, 422, "28 rows of 28"),
    ({"json": {"pixels": [[0] * 27] * 28}}, 422, "28 rows of 28"),
    ({"json": {"pixels": [[300] * 28] * 28}}, 422, "0..255"),
    ({"json": {"pixels": [[0.5] * 28] * 28}}, 422, "integers"),
    ({"json": {"image": []}}, 422, "pixels"),
    ({"json": {"pixels": [[0] * 28] * 28}}, 422, "blank"),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "malformed JSON"),
    ({"content": b"hello", "headers": {"content-type": "text/plain"}}, 415, "unsupported content type"),
])
def test_bad_input_gets_a_clear_4xx(client, request_kwargs, status, words):
    for url in ("/api/predict", "/api/read"):
        response = client.post(url, **request_kwargs)
        assert response.status_code == status, response.text
        assert isinstance(response.json()["detail"], str) and words in response.json()["detail"]


def test_size_limits(predictor):
    small = TestClient(create_app(predictor, Limits(upload_bytes=2000, image_pixels=100 * 100)))
    big = _png(np.random.default_rng(0).integers(0, 256, (60, 60), dtype=np.uint8))  # ~3.6 kB of noise
    for kwargs in ({"files": {"file": ("big.png", big, "image/png")}}, {"content": big, "headers": {"content-type": "image/png"}}):
        response = small.post("/api/predict", **kwargs)
        assert response.status_code == 413 and "the limit is 2,000 bytes" in response.json()["detail"]
    wide = _png(np.full((10, 200), 255, np.uint8))  # small file, 2000 px
    huge = _png(np.full((101, 101), 255, np.uint8))  # small file, too many pixels
    assert small.post("/api/predict", files={"file": ("w.png", wide, "image/png")}).status_code == 422  # blank, not too big
    response = small.post("/api/predict", files={"file": ("h.png", huge, "image/png")})
    assert response.status_code == 413 and "101x101 px" in response.json()["detail"]


def test_a_header_past_pils_own_limit_is_too_large_not_unreadable(client):
    # 40000 x 40000 px declared in a 100-byte PNG: Pillow refuses to even open it (a bomb), and
    # the answer is still "too large" (413), not "not an image" (400)
    bomb = png_header_only(40_000, 40_000)
    response = client.post("/api/predict", files={"file": ("bomb.png", bomb, "image/png")})
    assert response.status_code == 413 and "too large" in response.json()["detail"]


class _Stuck:
    """A predictor whose work waits until released: a slow image, without timing anything."""

    classes = [str(d) for d in range(10)]
    metadata: dict = {}

    def __init__(self, real) -> None:
        import threading

        self.real, self.release = real, threading.Event()

    def predict_image(self, image, name=None):
        self.release.wait(30)
        return self.real.predict_image(image, name=name)

    def read_number(self, image, name=None):
        raise RuntimeError("a bug, with /secret/path in its message")


def test_inference_is_bounded_in_number_and_time_and_errors_are_json(predictor, small_mnist):
    stuck = _Stuck(predictor)
    client = TestClient(create_app(stuck, Limits(inference_slots=1, queue_seconds=0.2, request_seconds=1.0)),
                        raise_server_exceptions=False)
    body = {"pixels": small_mnist["test"].images[0].tolist()}
    first = client.post("/api/predict", json=body)  # starts, then passes its time limit
    assert first.status_code == 503 and "took longer than 1 s" in first.json()["detail"]
    second = client.post("/api/predict", json=body)  # the first still holds the only slot
    assert second.status_code == 503 and "busy" in second.json()["detail"] and second.headers["retry-after"] == "1"
    stuck.release.set()
    for _ in range(50):  # the first image's thread gives its slot back once it finishes
        answer = client.post("/api/predict", json=body)
        if answer.status_code == 200:
            break
    assert answer.status_code == 200 and answer.json()["label"] == str(small_mnist["test"].labels[0])
    crash = client.post("/api/read", json=body)
    assert crash.status_code == 500 and crash.json() == {"detail": "internal error; the server's log has the details"}
    assert "Traceback" not in crash.text and "secret" not in crash.text
    missing = client.get("/api/nothing")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/json"
