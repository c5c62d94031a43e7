"""Fuzzing the preprocessing and the API with Hypothesis: whatever arrives, never a 5xx, never a hang.

1,000 generated inputs (derandomized, so every run tries the same ones): random bytes, PNG and JPEG
files with bytes flipped, cut or inserted, images of odd sizes and modes in every format, and JSON
bodies of the wrong shape, range or type. Each goes to one of to_mnist, split_digits,
/api/predict and /api/read; each example has a deadline, so a hang fails instead of stalling.
"""

from __future__ import annotations

import datetime
import io
import json
import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")  # the `test` extra installs it
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from PIL import Image  # noqa: E402

from digitrec import load_model  # noqa: E402
from digitrec.serve import Limits, create_app  # noqa: E402
from digitrec.vision import PreprocessError, split_digits, to_mnist  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

_MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I", "I;16", "F"]
_FORMATS = {"PNG": {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}, "JPEG": {"L", "RGB", "CMYK"},
            "GIF": {"1", "L", "P"}, "BMP": {"1", "L", "P", "RGB"}, "TIFF": set(_MODES), "WEBP": {"L", "RGB", "RGBA"}}


@pytest.fixture(scope="module")
def client(tiny_model):
    limits = Limits(upload_bytes=256 * 1024, image_pixels=4_000_000)
    with TestClient(create_app(load_model(tiny_model), limits), raise_server_exceptions=False) as client:
        yield client


def _encode(array: np.ndarray, mode: str, fmt: str) -> bytes:
    image = Image.fromarray(array, "L").convert(mode if mode != "I;16" else "I")
    if mode == "I;16":
        image = Image.fromarray((array.astype(np.uint16) * 257))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


@st.composite
def images(draw) -> bytes:
    """A real image file: random size (1-96 px a side), content, mode and format."""
    height, width = draw(st.integers(1, 96)), draw(st.integers(1, 96))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["noise", "flat", "strokes"]))
    if kind == "noise":
        array = rng.integers(0, 256, (height, width), dtype=np.uint8)
    elif kind == "flat":
        array = np.full((height, width), draw(st.integers(0, 255)), np.uint8)
    else:  # dark lines on light paper: something digit-like for the segmenter to chew on
        array = np.full((height, width), 230, np.uint8)
        for _ in range(draw(st.integers(1, 6))):
            y, x = rng.integers(0, height), rng.integers(0, width)
            array[max(0, y - 2): y + 2, : max(1, x)] = 20
            array[: max(1, y), max(0, x - 2): x + 2] = 20
    fmt = draw(st.sampled_from(sorted(_FORMATS)))
    mode = draw(st.sampled_from(sorted(_FORMATS[fmt])))
    return _encode(array, mode, fmt)


@st.composite
def mutated(draw) -> bytes:
    """A real PNG or JPEG with bytes flipped, removed or inserted, or cut short."""
    data = bytearray(draw(images()))
    for _ in range(draw(st.integers(1, 8))):
        how = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if how == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "cut":
            del data[at: at + draw(st.integers(1, 64))]
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        else:
            del data[at:]
    return bytes(data)


_PIXEL = st.one_of(st.integers(-300, 600), st.floats(allow_nan=True), st.booleans(), st.none(), st.text(max_size=3))
pixel_bodies = st.one_of(
    st.lists(st.lists(_PIXEL, min_size=0, max_size=30), min_size=0, max_size=30).map(lambda p: {"pixels": p}),
    st.lists(st.lists(st.integers(0, 255), min_size=28, max_size=28), min_size=28, max_size=28).map(lambda p: {"pixels": p}),
    st.dictionaries(st.text(max_size=8), st.integers()),
    st.lists(st.integers(), max_size=5),
    st.text(max_size=50),
)
uploads = st.one_of(st.binary(max_size=4096), images(), mutated())


@pytest.mark.filterwarnings("error::UserWarning")  # nothing from Pillow may leak either
@settings(max_examples=1000, deadline=datetime.timedelta(seconds=10), derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_input_gets_a_5xx_or_a_traceback(client, data):
    target = data.draw(st.sampled_from(["to_mnist", "split_digits", "/api/predict", "/api/read"]))
    if target in ("to_mnist", "split_digits"):
        upload = data.draw(uploads)
        try:
            result = to_mnist(upload) if target == "to_mnist" else split_digits(upload)
        except PreprocessError:
            return  # the one error preprocessing may raise: a clear message, never a crash
        if target == "to_mnist":
            assert result.shape == (28, 28) and result.dtype == np.uint8
        return
    how = data.draw(st.sampled_from(["multipart", "raw", "json", "junk json"]))
    if how == "multipart":
        answer = client.post(target, files={"file": ("x.png", data.draw(uploads), "image/png")})
    elif how == "raw":
        answer = client.post(target, content=data.draw(uploads), headers={"content-type": "image/png"})
    elif how == "json":
        answer = client.post(target, content=json.dumps(data.draw(pixel_bodies)), headers={"content-type": "application/json"})
    else:
        answer = client.post(target, content=data.draw(st.binary(max_size=200)), headers={"content-type": "application/json"})
    assert answer.status_code < 500, (answer.status_code, answer.text)
    assert "Traceback" not in answer.text
    body = answer.json()
    assert ("detail" in body) == (answer.status_code >= 400), body
