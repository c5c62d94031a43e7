"""Turn a person's image of a digit (or a written number) into MNIST-style 28x28 arrays."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage as ndi

from digitrec import _cuts, _ink, _segment
from digitrec.errors import DigitrecError

__all__ = ["Digit", "ImageLike", "PreprocessError", "ink_to_mnist", "split_digits", "to_mnist"]

MAX_PIXELS = 100_000_000  # refuse larger images: ~10x a phone photo, and ~1.6 GB as RGBA floats
WORK_SIDE = 1000  # px on the long side; larger images are shrunk first, for speed
MNIST_SIZE = 28  # px, side of the output
MNIST_BOX = 20  # px, the longer side of the ink's box inside the output (the MNIST construction)
_STROKE_RANGE = (0.9, 6.0)  # px at 28x28: MNIST spans ~1.1-3.9 (1st-99th percentile); left alone
_STROKE_TARGET = 2.0  # px at 28x28: MNIST's median stroke width; thinner or thicker pens move to it
_WORK_BOX = 4 * MNIST_BOX  # px; the ink's box is measured and thickened at this size, then shrunk


class PreprocessError(DigitrecError, ValueError):
    """The image cannot be read, or holds no digit."""


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays field by field is ambiguous
class Digit:
    """One digit found in an image, normalised the MNIST way."""

    image: np.ndarray  # (28, 28) uint8, white ink (255) on black (0)
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in the original image's pixels, ends exclusive


ImageLike = str | Path | bytes | Image.Image | np.ndarray
Classify = Callable[[np.ndarray], np.ndarray]  # (N, 28, 28) uint8 -> (N, classes) probabilities


def to_mnist(image: ImageLike) -> np.ndarray:
    """Return the digit in `image` as a (28, 28) uint8 array, MNIST style (white ink on black).

    Accepts a path, the file's bytes, a PIL image or an array ((H, W) grey or (H, W, 3|4) colour;
    uint8 in [0, 255] or float in [0, 1]). An image that already looks like an MNIST digit is
    returned unchanged. Raises PreprocessError when the file cannot be read or holds no ink.
    """
    grey, name, _ = _load(image)
    if _looks_like_mnist(grey):
        return np.rint(grey * 255).astype(np.uint8)
    ink = _extract(grey, name)
    return ink_to_mnist(ink.ink * _segment.main_ink(ink))


def split_digits(image: ImageLike, classify: Classify | None = None) -> list[Digit]:
    """Return the digits of a written number, left to right, each normalised like `to_mnist`.

    Broken digits (a 5 whose top bar is detached) are merged, touching digits are split where
    the ink is shortest near the expected cut, and specks of noise are ignored. `classify`
    ((N, 28, 28) uint8 -> (N, classes) probabilities, e.g. a predictor's `predict_proba`) lets
    the split of touching digits also weigh how well each candidate piece reads as a digit.
    """
    grey, name, (sx, sy) = _load(image)
    doubt = None if classify is None else _doubt_of(classify)
    digits = []
    for crop, (left, top) in _segment.digit_parts(_extract(grey, name), doubt):
        ys, xs = np.nonzero(crop > 0.25)  # the box of the visible strokes, not of their faint fringe
        x0, y0, x1, y1 = left + xs.min(), top + ys.min(), left + xs.max() + 1, top + ys.max() + 1
        box = (int(x0 * sx), int(y0 * sy), int(np.ceil(x1 * sx)), int(np.ceil(y1 * sy)))
        digits.append(Digit(image=ink_to_mnist(crop), box=box))
    return digits


def ink_to_mnist(ink: np.ndarray) -> np.ndarray:
    """Normalise a cleaned ink map ((H, W) float, 0 = background, 1 = full ink) the MNIST way.

    Crops to the ink, resizes the longer side to 20 px keeping the aspect ratio (bringing thin or
    thick pens to MNIST's stroke width on the way), then pads to 28x28 with the centre of mass at
    the centre.
    """
    ys, xs = np.nonzero(ink > 1e-3)
    if ys.size == 0:
        raise PreprocessError("no digit found: the ink map is empty")
    crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32)
    crop = _fix_stroke(_resize(crop, _WORK_BOX / max(crop.shape)))
    small = _resize(crop, MNIST_BOX / max(crop.shape))
    small /= max(float(small.max()), 1e-6)  # strokes of a far-off shot come out faint
    height, width = small.shape
    rows, cols = np.indices(small.shape)
    mass = small.sum()
    top = _centred_offset((rows * small).sum() / mass, height)
    left = _centred_offset((cols * small).sum() / mass, width)
    out = np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    out[top : top + height, left : left + width] = small
    return np.rint(np.clip(out, 0.0, 1.0) * 255).astype(np.uint8)


def _doubt_of(classify: Classify) -> _cuts.Doubt:
    """Ink crops -> -log of the classifier's top probability for each, read the MNIST way."""

    def doubt(crops: list[np.ndarray]) -> np.ndarray:
        inked = [i for i, crop in enumerate(crops) if (crop > 1e-3).any()]
        values = np.full(len(crops), np.inf)  # an empty piece is no digit
        if inked:
            probs = classify(np.stack([ink_to_mnist(crops[i]) for i in inked]))
            values[inked] = -np.log(np.clip(probs.max(axis=1), 1e-12, 1.0))
        return values

    return doubt


def _extract(grey: np.ndarray, name: str) -> _ink.Ink:
    ink = _ink.extract_ink(grey)
    if ink is None:
        raise PreprocessError(f"no digit found in {name}: the image is blank")
    return ink


def _resize(values: np.ndarray, scale: float) -> np.ndarray:
    """Resize a float (H, W) array by `scale`, keeping the aspect ratio; at least 1 px a side.

    Shrinking averages areas (antialiased, no ringing); enlarging interpolates.
    """
    size = (max(1, round(values.shape[1] * scale)), max(1, round(values.shape[0] * scale)))
    if size == values.shape[::-1]:
        return values
    values = values.astype(np.float32, copy=False)  # Pillow's mode F
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    return np.clip(np.asarray(Image.fromarray(values).resize(size, resample)), 0.0, None)


def _fix_stroke(crop: np.ndarray) -> np.ndarray:
    """Thicken thin pens and thin thick markers to MNIST's stroke width (crop at _WORK_BOX px)."""
    crop = crop / max(float(crop.max()), 1e-6)
    mask = crop > 0.5
    edge = mask & ~ndi.binary_erosion(mask)
    if edge.sum() < 4:
        return crop
    to_output = MNIST_BOX / max(crop.shape)  # output px per crop px
    width = 2 * mask.sum() / edge.sum() * to_output  # stroke width in output px: area / half-perimeter
    if _STROKE_RANGE[0] <= width <= _STROKE_RANGE[1]:
        return crop
    radius = round(abs(_STROKE_TARGET - width) / 2 / to_output)  # crop px to add or remove per side
    if radius < 1:
        return crop
    disk = np.hypot(*np.mgrid[-radius : radius + 1, -radius : radius + 1]) <= radius
    morph = ndi.grey_dilation if width < _STROKE_TARGET else ndi.grey_erosion
    return morph(crop, footprint=disk)


def _centred_offset(centre: float, size: int) -> int:
    """Offset that puts `centre` (px) at the output's centre, keeping the `size` px inside."""
    offset = int(round(MNIST_SIZE / 2 - centre))
    return min(max(offset, 0), MNIST_SIZE - size)


def _looks_like_mnist(grey: np.ndarray) -> bool:
    """True for a 28x28 light digit on black, within a 20x20 box and centred by mass."""
    if grey.shape != (MNIST_SIZE, MNIST_SIZE) or grey.max() < 0.5:
        return False
    ink = grey > 0.1 * grey.max()
    if np.median(grey) > 0.05 or ink.mean() > 0.5:
        return False
    ys, xs = np.nonzero(ink)
    if np.ptp(ys) >= MNIST_BOX or np.ptp(xs) >= MNIST_BOX:
        return False
    rows, cols = np.indices(grey.shape)
    mass = grey.sum()
    centre = np.array([(rows * grey).sum(), (cols * grey).sum()]) / mass
    return bool(np.all(np.abs(centre - MNIST_SIZE / 2) <= 1.0))


# ---------------------------------------------------------------------------- loading


def _load(image: ImageLike) -> tuple[np.ndarray, str, tuple[float, float]]:
    """Read `image` as grey (H, W) float32 in [0, 1], transparency flattened, shrunk to WORK_SIDE.

    Returns the grey array, a name for messages and the (x, y) scale from working to original px.
    """
    if isinstance(image, np.ndarray):
        name = f"<array {image.shape} {image.dtype}>"
        size = image.shape[1::-1]
        grey, alpha = _array_to_grey(image, name)
    elif isinstance(image, Image.Image):
        name = getattr(image, "filename", "") or "<PIL image>"
        size = image.size
        grey, alpha = _pil_to_grey(image, name)
    elif isinstance(image, (str, Path, bytes, bytearray)):
        if isinstance(image, (bytes, bytearray)):
            name, source = f"<{len(image)} bytes>", io.BytesIO(image)
        else:
            name, source = str(image), image
        pil, drafted = _open(source, name)
        size = (pil.size[0] * drafted, pil.size[1] * drafted)
        grey, alpha = _pil_to_grey(pil, name)
    else:
        raise TypeError(f"expected a path, bytes, PIL image or numpy array, got {type(image).__name__}")
    grey = _shrink(grey)
    if alpha is not None:
        grey = _flatten_alpha(grey, _shrink(alpha), name)
    scale = (size[0] / grey.shape[1], size[1] / grey.shape[0])
    return grey, name, scale


def _open(source: str | Path | io.BytesIO, name: str) -> tuple[Image.Image, float]:
    """Open and decode an image file, upright; every failure becomes a PreprocessError.

    Returns the image and the factor by which decoding shrank it (JPEG decodes big photos at
    1/2, 1/4 or 1/8 scale, for speed).
    """
    try:
        pil = Image.open(source)
        _check_size(pil.size, name)
        width = pil.size[0]
        pil.draft(None, (WORK_SIDE, WORK_SIDE))
        pil.load()  # decode now, so that a truncated file fails here
        drafted = width / pil.size[0]
        return ImageOps.exif_transpose(pil), drafted  # phones store photos sideways plus a tag
    except PreprocessError:
        raise
    except FileNotFoundError:
        raise PreprocessError(f"cannot read {name}: no such file") from None
    except IsADirectoryError:
        raise PreprocessError(f"cannot read {name}: it is a directory") from None
    except Image.DecompressionBombError:
        raise PreprocessError(
            f"cannot read {name}: the image is too large (the limit is {MAX_PIXELS // 1_000_000} megapixels)"
        ) from None
    except UnidentifiedImageError:
        raise PreprocessError(f"cannot read {name}: not an image, or an unsupported format") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as error:
        raise PreprocessError(f"cannot read {name}: the file is corrupt or truncated ({error})") from None


def _check_size(size: tuple[int, int], name: str) -> None:
    if size[0] * size[1] == 0:
        raise PreprocessError(f"no digit found in {name}: the image is empty ({size[0]}x{size[1]} px)")
    if size[0] * size[1] > MAX_PIXELS:
        raise PreprocessError(
            f"cannot read {name}: {size[0]}x{size[1]} px is too large "
            f"(the limit is {MAX_PIXELS // 1_000_000} megapixels)"
        )


def _luma(rgb: np.ndarray) -> np.ndarray:
    """Grey from (H, W, 3+) RGB with ITU-R 601 weights, as PIL's convert("L") (no BLAS: see _ink)."""
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def _pil_to_grey(pil: Image.Image, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Grey (H, W) float32 in [0, 1], premultiplied by alpha, and alpha where there is one."""
    _check_size(pil.size, name)
    factor = -(-max(pil.size) // WORK_SIDE)  # ceil; shrink before converting, for speed
    try:
        if pil.mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in pil.info:
            rgba = pil.convert("RGBA").convert("RGBa")  # premultiplied: shrinking keeps edges right
            values = np.asarray(rgba.reduce(factor) if factor > 1 else rgba, np.float32) / 255
            return _luma(values), values[..., 3]
        if pil.mode in ("I", "F") or pil.mode.startswith("I;16"):
            values = np.asarray(pil if pil.mode == "F" else pil.convert("F"), np.float32)
            return _scale_levels(values, "uint16" if pil.mode.startswith("I;16") else None), None
        grey = pil.convert("L")
        return np.asarray(grey.reduce(factor) if factor > 1 else grey, np.float32) / 255, None
    except (OSError, ValueError) as error:
        raise PreprocessError(f"cannot read {name}: cannot convert mode {pil.mode} ({error})") from None


def _array_to_grey(array: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Grey (H, W) float32 in [0, 1], premultiplied by alpha, and alpha for 2 or 4 channels."""
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (2, 3, 4))):
        raise PreprocessError(f"cannot read {name}: expected (H, W), (H, W, 3) or (H, W, 4)")
    _check_size((array.shape[1], array.shape[0]), name)
    values = _scale_levels(np.nan_to_num(array.astype(np.float32)), array.dtype.name)
    if values.ndim == 2:
        return values, None
    channels = values.shape[-1]
    grey = _luma(values) if channels >= 3 else values[..., 0]
    if channels in (2, 4):
        return grey * values[..., -1], values[..., -1]
    return grey, None


def _scale_levels(values: np.ndarray, dtype: str | None) -> np.ndarray:
    """Map raw levels to [0, 1]: by the dtype's range, else by 1, 255 or 65535, else min-max."""
    top = {"uint8": 255.0, "uint16": 65535.0, "bool": 1.0}.get(dtype or "")
    if top is None:
        low, high = float(values.min()), float(values.max())
        top = next((t for t in (1.0, 255.0, 65535.0) if low >= 0 and high <= t), None)
        if top is None:
            return (values - low) / max(high - low, 1e-12)
    return np.clip(values / top, 0.0, 1.0)


def _shrink(values: np.ndarray) -> np.ndarray:
    """Box-shrink an (H, W) array by an integer factor so its long side is at most WORK_SIDE."""
    factor = -(-max(values.shape) // WORK_SIDE)
    if factor == 1:
        return values
    height, width = values.shape[0] // factor, values.shape[1] // factor
    return values[: height * factor, : width * factor].reshape(height, factor, width, factor).mean((1, 3))


def _flatten_alpha(premultiplied: np.ndarray, alpha: np.ndarray, name: str) -> np.ndarray:
    """Composite onto a background so that transparent pixels read as paper.

    A canvas drawing is opaque only where drawn, in one colour: put it on the contrasting colour.
    A cut-out photo is opaque paper with ink on it: put it on the paper's own level.
    """
    opaque = alpha > 0.5
    if not opaque.any():
        raise PreprocessError(f"no digit found in {name}: the image is blank (fully transparent)")
    grey = premultiplied[opaque] / alpha[opaque]
    paper = float(np.median(grey))
    if grey.std() < 0.1:  # one colour: the strokes themselves
        paper = 1.0 if paper < 0.5 else 0.0
    return np.clip(premultiplied + (1.0 - alpha) * paper, 0.0, 1.0).astype(np.float32)
