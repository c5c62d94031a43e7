"""The web service: a drawing page and a small REST API over one Predictor (see `create_app`)."""

from __future__ import annotations

import html
import io
import json
import logging
import os
from dataclasses import dataclass
from importlib import resources

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, Field

from ..predict import Prediction, Predictor
from ..vision import PreprocessError, UnreadableImage
from ..vision.io import quiet_pillow
from .gate import InferenceGate

STATIC = resources.files("digitrec") / "serve" / "static"
_log = logging.getLogger("digitrec.serve")


@dataclass(frozen=True)
class Limits:
    """What one request may send; larger requests get 413 before any decoding."""

    upload_bytes: int = 10 * 1024 * 1024  # an image file: a 12 MP phone JPEG is 3-6 MB
    image_pixels: int = 40_000_000  # width x height of an upload, read from its header before decoding
    json_bytes: int = 256 * 1024  # {"pixels": 28x28 ints} is ~3 KB
    inference_slots: int = max(2, os.cpu_count() or 2)  # images processed at once; more wait their turn
    queue_seconds: float = 10.0  # a request waits this long for a slot, then gets 503 (busy)
    request_seconds: float = 20.0  # per image once started; a 1000 px photo takes ~0.05-0.3 s


class PredictionOut(BaseModel):
    label: str = Field(description="Most probable class, e.g. '7'.")
    confidence: float = Field(description="Probability of `label`, 0..1.")
    probabilities: list[float] = Field(description="One probability per class, in the order of `classes`.")
    classes: list[str]
    input: list[list[int]] = Field(description="The 28x28 image the model saw (0 background .. 255 ink).")


class DigitOut(PredictionOut):
    box: list[int] = Field(description="(x0, y0, x1, y1) of the digit in the uploaded image, px, ends exclusive.")


class ReadOut(BaseModel):
    text: str = Field(description="The number read, left to right.")
    digits: list[DigitOut]


class PixelsIn(BaseModel):
    pixels: list[list[int]] = Field(description="28 rows of 28 ints in 0..255: a digit, white ink on black (MNIST) or dark on light.")


_IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}},
            "application/json": {"schema": PixelsIn.model_json_schema()},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    "responses": {code: {"description": text} for code, text in (
        (400, "Not an image, or malformed JSON"), (413, "Upload or image too large"),
        (415, "Unsupported content type"), (422, "No digit found, or wrong pixel shape or range"),
        (503, "Busy, or the image took too long: retry (Retry-After)"),
    )},
}


def create_app(predictor: Predictor, limits: Limits = Limits()) -> FastAPI:
    """A FastAPI app serving `predictor`: the page at /, the API under /api, the schema at /openapi.json."""
    app = FastAPI(
        title="digitrec",
        description="Handwritten-digit recognition: draw or upload a digit, get the model's probabilities.",
        docs_url=None,  # FastAPI's Swagger UI loads from a CDN; /docs below works offline
        redoc_url=None,
    )
    app.state.predictor, app.state.limits = predictor, limits
    gate = InferenceGate(limits.inference_slots, limits.queue_seconds, limits.request_seconds)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not the client's fault: the traceback goes to the server's log, never into a response.
        _log.error("%s %s failed", request.method, request.url.path, exc_info=(type(exc), exc, exc.__traceback__))
        return JSONResponse({"detail": "internal error; the server's log has the details"}, status_code=500)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"))

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs() -> str:
        return _docs_page(app.openapi())

    @app.get("/api/health", summary="Service and model status")
    def health() -> dict:
        meta = predictor.metadata
        recipe = meta.get("recipe")  # a dict in checkpoints, a name in ONNX metadata
        calibration = meta.get("calibration") if isinstance(meta.get("calibration"), dict) else {}
        return {"status": "ok", "model": meta.get("model"), "recipe": recipe.get("name") if isinstance(recipe, dict) else recipe,
                "engine": meta.get("engine"), "classes": predictor.classes, "max_upload_bytes": limits.upload_bytes,
                # whether `confidence` is a calibrated probability (a temperature fitted on held-out images)
                "calibrated": bool(calibration.get("fitted")), "temperature": float(calibration.get("temperature", 1.0))}

    @app.post("/api/predict", response_model=PredictionOut, summary="Predict one digit", openapi_extra=_IMAGE_BODY)
    async def predict(request: Request) -> dict:
        """Send an image (multipart field `file`, or the raw bytes as image/png or image/jpeg) or
        JSON `{"pixels": 28x28 ints}`; get the label, its confidence, all probabilities and the
        28x28 input the model saw."""
        image, name = await _image_from_request(request, limits)
        return _prediction_json(await _run(gate, predictor.predict_image, image, name))

    @app.post("/api/read", response_model=ReadOut, summary="Read a written number", openapi_extra=_IMAGE_BODY)
    async def read(request: Request) -> dict:
        """Send an image of a number (as for /api/predict); get its text and each digit with its box."""
        image, name = await _image_from_request(request, limits)
        text, digits = await _run(gate, predictor.read_number, image, name)
        if not digits:
            raise HTTPException(422, "no digits found in the image")
        return {"text": text, "digits": [_prediction_json(d) | {"box": list(d.box)} for d in digits]}

    return app


async def _run(gate: InferenceGate, function, image: bytes | np.ndarray, name: str):
    """Preprocess and predict in a worker thread, within the gate's bounds, the upload's `name` in
    messages (not "<812 bytes>"); an image that cannot be decoded becomes 400, one without a digit
    (blank) 422."""
    try:
        return await gate.run(function, image, name=name)
    except UnreadableImage as exc:
        raise HTTPException(400, str(exc)) from None
    except PreprocessError as exc:
        raise HTTPException(422, str(exc)) from None


def _prediction_json(prediction: Prediction) -> dict:
    return {
        "label": prediction.label,
        "confidence": round(prediction.confidence, 6),
        "probabilities": [round(float(p), 6) for p in prediction.probabilities],
        "classes": list(prediction.classes),
        "input": prediction.image.astype(int).tolist(),
    }


async def _image_from_request(request: Request, limits: Limits) -> tuple[bytes | np.ndarray, str]:
    """The image a request carries, and a name for messages: file bytes (checked to be an image of
    sane size) or a uint8 (28, 28) pixel array."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    name = "the uploaded image"
    if kind == "application/json":
        return _pixels(await _body(request, limits.json_bytes)), "the pixels"
    if kind == "multipart/form-data":
        body = await _body(request, limits.upload_bytes, slack=64 * 1024)  # room for the multipart headers
        form = await Request(request.scope, _replay(body)).form(max_files=1, max_fields=5)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(422, "send the image as a file in the multipart field 'file'")
        data = await upload.read()
        name = f"'{upload.filename}'" if upload.filename else name
    elif kind.startswith("image/") or kind == "application/octet-stream":
        data = await _body(request, limits.upload_bytes)
    else:
        raise HTTPException(415, f"unsupported content type '{kind or 'none'}'; send multipart/form-data "
                                 "(field 'file'), an image/* body, or application/json {\"pixels\": ...}")
    if len(data) > limits.upload_bytes:
        raise HTTPException(413, _too_large(len(data), limits.upload_bytes))
    _check_image(data, limits)
    return data, name


async def _body(request: Request, limit: int, slack: int = 0) -> bytes:
    """The request body, refused with 413 once it passes `limit` + `slack` bytes (whatever Content-Length says)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + slack:
        raise HTTPException(413, _too_large(int(declared), limit))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit + slack:
            raise HTTPException(413, _too_large(size, limit, at_least=True))
        chunks.append(chunk)
    return b"".join(chunks)


def _replay(body: bytes):
    """An ASGI receive() that hands back an already-read body, so Starlette can parse the form."""
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _too_large(size: int, limit: int, at_least: bool = False) -> str:
    return f"upload too large ({'over ' if at_least else ''}{size:,} bytes); the limit is {limit:,} bytes"


def _check_image(data: bytes, limits: Limits) -> None:
    """400 unless `data` is an image file; 413 if its header announces too many pixels."""
    if not data:
        raise HTTPException(400, "the uploaded file is empty")
    try:
        with quiet_pillow():  # the pixel limit here is checked below, from the header
            image = Image.open(io.BytesIO(data))
        with image:
            width, height = image.size  # read from the header; nothing is decoded yet
    except Image.DecompressionBombError:  # PIL refuses headers past 2 x its own pixel limit
        raise HTTPException(413, f"image too large; the limit is {limits.image_pixels:,} pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise HTTPException(400, "the upload is not an image (or not one PIL can read: PNG, JPEG, GIF, BMP, TIFF, WebP)") from None
    if width * height > limits.image_pixels:
        raise HTTPException(413, f"image too large: {width}x{height} px; the limit is {limits.image_pixels:,} pixels")


def _pixels(body: bytes) -> np.ndarray:
    """uint8 (28, 28) from JSON {"pixels": 28 rows of 28 ints in 0..255}; 400 or 422 with the reason."""
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(400, f"malformed JSON ({exc})") from None
    pixels = payload.get("pixels") if isinstance(payload, dict) else None
    if pixels is None:
        raise HTTPException(422, 'expected a JSON object {"pixels": 28 rows of 28 ints in 0..255}')
    shape_ok = isinstance(pixels, list) and len(pixels) == 28 and all(isinstance(row, list) and len(row) == 28 for row in pixels)
    if not shape_ok:
        rows = len(pixels) if isinstance(pixels, list) else "no"
        raise HTTPException(422, f"pixels must be 28 rows of 28 ints (got {rows} rows, or rows of another length)")
    flat = [value for row in pixels for value in row]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in flat):
        raise HTTPException(422, "pixels must be integers in 0..255")
    if min(flat) < 0 or max(flat) > 255:
        raise HTTPException(422, f"pixels must be in 0..255 (got {min(flat)}..{max(flat)})")
    return np.array(pixels, dtype=np.uint8)


def _docs_page(schema: dict) -> str:
    """A plain HTML summary of the OpenAPI schema: Swagger UI needs a CDN, this page does not."""
    rows = []
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            kinds = ", ".join(op.get("requestBody", {}).get("content", {})) or "-"
            rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                        f"<td>{html.escape(op.get('summary', ''))}</td><td>{html.escape(kinds)}</td>"
                        f"<td>{html.escape(op.get('description', ''))}</td></tr>")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>digitrec API</title>"
        "<link rel='stylesheet' href='/static/style.css'></head><body class='docs'><h1>digitrec API</h1>"
        "<p>The machine-readable schema is at <a href='/openapi.json'>/openapi.json</a>. Errors are JSON "
        "<code>{\"detail\": \"...\"}</code> with a 4xx status.</p><table><tr><th>method</th><th>path</th>"
        "<th>what</th><th>body</th><th>details</th></tr>" + "".join(rows) + "</table>"
        "<p>Example: <code>curl -F file=@digit.png http://127.0.0.1:8000/api/predict</code></p></body></html>"
    )
