"""Open a person's image (path, bytes, PIL image or array) as grey levels, within size limits."""

from __future__ import annotations

import contextlib
import io
import os
import stat
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import DigitrecError
from .stats import median

MAX_PIXELS = 100_000_000  # refuse larger images: ~10x a phone photo, and ~1.6 GB as RGBA floats
WORK_SIDE = 1000  # px on the long side; larger images are shrunk first, for speed
# Suffixes PIL reads that digitrec treats as images: a folder's other files are skipped.
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm", ".pnm"}
)

ImageLike = str | Path | bytes | Image.Image | np.ndarray


class PreprocessError(DigitrecError, ValueError):
    """The image cannot be read, or holds no digit."""


class UnreadableImage(PreprocessError):
    """The image cannot be read at all (not an image, corrupt, too large): not a question of its content."""


def load_grey(image: ImageLike, name: str | None = None) -> tuple[np.ndarray, str, tuple[float, float]]:
    """Read `image` as grey (H, W) float32 in [0, 1], transparency flattened, shrunk to WORK_SIDE.

    Returns the grey array, a name for messages (`name` if given, else the path or a label such as
    "<812 bytes>") and the (x, y) scale from working to original px.
    """
    if isinstance(image, np.ndarray):
        name = name or f"<array {image.shape} {image.dtype}>"
        size = image.shape[1::-1]
        grey, alpha = _array_to_grey(image, name)
    elif isinstance(image, Image.Image):
        name = name or getattr(image, "filename", "") or "<PIL image>"
        size = image.size
        grey, alpha = _pil_to_grey(image, name)
    elif isinstance(image, (str, Path, bytes, bytearray)):
        if isinstance(image, (bytes, bytearray)):
            name, source = name or f"<{len(image)} bytes>", io.BytesIO(image)
        else:
            name, source = name or str(image), image
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
        if not isinstance(source, io.BytesIO) and not stat.S_ISREG(os.stat(source).st_mode):
            _refuse_special(source, name)
        with quiet_pillow():
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
        raise UnreadableImage(f"cannot read {name}: no such file") from None
    except IsADirectoryError:
        raise UnreadableImage(f"cannot read {name}: it is a directory") from None
    except PermissionError:
        raise UnreadableImage(f"cannot read {name}: permission denied (check the file's permissions)") from None
    except Image.DecompressionBombError:
        raise UnreadableImage(
            f"cannot read {name}: the image is too large (the limit is {MAX_PIXELS // 1_000_000} megapixels)"
        ) from None
    except UnidentifiedImageError:
        raise UnreadableImage(f"cannot read {name}: not an image, or an unsupported format") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as error:
        raise UnreadableImage(f"cannot read {name}: the file is corrupt or truncated ({error})") from None


@contextlib.contextmanager
def quiet_pillow() -> Iterator[None]:
    """Silence Pillow's warnings while opening and decoding: it warns above its own 89.5 MP (digitrec's
    MAX_PIXELS is checked before decoding) and about damaged metadata such as corrupt EXIF or TIFF tags
    (the pixels still decode). Neither is the user's business; each would print lines with a library path."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
        yield


def _refuse_special(path: str | Path, name: str) -> None:
    """Refuse what is not a regular file: opening a FIFO would wait for a writer for ever."""
    if Path(path).is_dir():
        raise IsADirectoryError
    raise UnreadableImage(f"cannot read {name}: not a regular file (a FIFO, socket or device); give an image file")


def _check_size(size: tuple[int, int], name: str) -> None:
    if size[0] * size[1] == 0:
        raise PreprocessError(f"no digit found in {name}: the image is empty ({size[0]}x{size[1]} px)")
    if size[0] * size[1] > MAX_PIXELS:
        raise UnreadableImage(
            f"cannot read {name}: {size[0]}x{size[1]} px is too large "
            f"(the limit is {MAX_PIXELS // 1_000_000} megapixels)"
        )


def _luma(rgb: np.ndarray) -> np.ndarray:
    """Grey from (H, W, 3+) RGB with ITU-R 601 weights, as PIL's convert("L") (no BLAS: see ink.py)."""
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def _pil_to_grey(pil: Image.Image, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Grey (H, W) float32 in [0, 1], premultiplied by alpha, and alpha where there is one."""
    _check_size(pil.size, name)
    factor = -(-max(pil.size) // WORK_SIDE)  # ceil; shrink before converting, for speed
    try:
        if pil.mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in pil.info:
            rgba = pil if pil.mode == "RGBA" else pil.convert("RGBA")
            if factor > 1:
                rgba = rgba.convert("RGBa").reduce(factor)  # premultiplied: shrinking keeps edges right
                values = np.asarray(rgba, np.float32) / 255
                return _luma(values), values[..., 3]
            # Unshrunk: Pillow's grey of the colours (alpha ignored) times alpha is the premultiplied
            # grey, without a float copy of four channels.
            alpha = np.asarray(rgba.getchannel("A"), np.float32) * (1 / 255)
            return np.asarray(rgba.convert("L"), np.float32) * (1 / 255) * alpha, alpha
        if pil.mode in ("I", "F") or pil.mode.startswith("I;16"):
            values = np.asarray(pil if pil.mode == "F" else pil.convert("F"), np.float32)
            return _scale_levels(values, "uint16" if pil.mode.startswith("I;16") else None), None
        grey = pil.convert("L")
        return np.asarray(grey.reduce(factor) if factor > 1 else grey, np.float32) / 255, None
    except (OSError, ValueError) as error:
        raise UnreadableImage(f"cannot read {name}: cannot convert mode {pil.mode} ({error})") from None


def _array_to_grey(array: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Grey (H, W) float32 in [0, 1], premultiplied by alpha, and alpha for 2 or 4 channels."""
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (2, 3, 4))):
        raise UnreadableImage(f"cannot read {name}: expected (H, W), (H, W, 3) or (H, W, 4)")
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
    paper = median(grey)
    if grey.std() < 0.1:  # one colour: the strokes themselves
        paper = 1.0 if paper < 0.5 else 0.0
    out = (1.0 - alpha).astype(np.float32, copy=False)  # premultiplied + (1 - alpha) paper, in place
    out *= paper
    out += premultiplied
    return np.clip(out, 0.0, 1.0, out=out)
