"""Frame a digit the MNIST way: 28x28, the ink in a 20 px box, centred by mass, MNIST's stroke width."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from .io import ImageLike, PreprocessError, load_grey
from .locate import digit_ink

MNIST_SIZE = 28  # px, side of the output
MNIST_BOX = 20  # px, the longer side of the ink's box inside the output (the MNIST construction)
_STROKE_RANGE = (0.9, 6.0)  # px at 28x28: MNIST spans ~1.1-3.9 (1st-99th percentile); left alone
_STROKE_TARGET = 2.0  # px at 28x28: MNIST's median stroke width; thinner or thicker pens move to it
_WORK_BOX = 4 * MNIST_BOX  # px; the ink's box is measured and thickened at this size, then shrunk


def to_mnist(image: ImageLike, name: str | None = None) -> np.ndarray:
    """Return the digit in `image` as a (28, 28) uint8 array, MNIST style (white ink on black).

    Accepts a path, the file's bytes, a PIL image or an array ((H, W) grey or (H, W, 3|4) colour;
    uint8 in [0, 255] or float in [0, 1]). An image that already looks like an MNIST digit is
    returned unchanged. Raises PreprocessError when the file cannot be read or holds no ink; its
    message names the image `name` if given, else the path or a label such as "<812 bytes>".
    """
    grey, name, _ = load_grey(image, name)
    if _looks_like_mnist(grey):
        return np.rint(grey * 255).astype(np.uint8)
    return ink_to_mnist(digit_ink(grey, name))


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
    area = int(mask.sum())
    edge = area - int(_erode(mask).sum())  # stroke pixels with a paper neighbour
    if edge < 4:
        return crop
    to_output = MNIST_BOX / max(crop.shape)  # output px per crop px
    width = 2 * area / edge * to_output  # stroke width in output px: area / half-perimeter
    if _STROKE_RANGE[0] <= width <= _STROKE_RANGE[1]:
        return crop
    radius = round(abs(_STROKE_TARGET - width) / 2 / to_output)  # crop px to add or remove per side
    if radius < 1:
        return crop
    disk = np.hypot(*np.mgrid[-radius : radius + 1, -radius : radius + 1]) <= radius
    morph = ndi.grey_dilation if width < _STROKE_TARGET else ndi.grey_erosion
    return morph(crop, footprint=disk)


def _erode(mask: np.ndarray) -> np.ndarray:
    """ndi.binary_erosion(mask): a pixel and its 4 neighbours all set, outside the image unset."""
    inner = np.zeros_like(mask)
    inner[1:-1, 1:-1] = mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    return inner


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
