"""Find one digit on a small copy of the image, then read its pixels from the image itself.

The ink search (lighting fit, polarity, thresholds, labelling) costs per pixel and per NumPy
call, and a 280 px drawing has ~9x the pixels it needs to be found. So the digit is searched for
on a copy whose long side is at most DETECT_SIDE; its strokes' levels (paper, polarity, the grey
levels of paper and of full ink) and its mask then turn the full-size pixels of its box into
ink, so that the 28x28 output keeps the image's own sharpness and position. A digit under NEED
px on the copy is searched for again around where it was found, at the coarsest scale that gives
it NEED px: strokes thinner than a pixel of the copy fade into the paper there.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .ink import Ink, default_blur, extract_ink, require_ink
from .segment import main_ink

DETECT_SIDE = 128  # px; long side of the copy the digit is searched on (a 280 px canvas: 94 px)
NEED = 40  # px; the digit's long side on the copy it is found on: twice the output's 20 px box
_MARGIN = 0.5  # paper kept around a digit searched for again, as a fraction of its long side


def digit_ink(grey: np.ndarray, name: str) -> np.ndarray:
    """The main digit's ink (float32 in [0, 1], 0 away from its strokes) in a grey image in [0, 1].

    The map covers the digit's box in `grey`, at `grey`'s scale (the caller crops to the ink
    anyway). Raises PreprocessError (naming `name`) when there is no ink.
    """
    blur = default_blur(grey.shape)  # of the image as given; shrinking by f divides it by f
    factor = -(-max(grey.shape) // DETECT_SIDE)  # ceil
    found = _find(grey, factor, blur) if factor > 1 else None
    if found is None:  # a small image, or nothing on the copy (faint thin strokes average away)
        ink = require_ink(grey, name, blur)
        return ink.ink * main_ink(ink)
    ink, mask = found
    (y0, y1), (x0, x1) = _span(mask.any(axis=1)), _span(mask.any(axis=0))
    if max(y1 - y0, x1 - x0) < NEED:
        again = _search_again(grey, (y0 * factor, y1 * factor, x0 * factor, x1 * factor), factor, blur)
        if again is not None:
            return again
    return _full_size(grey, ink, mask, factor)


def shrink(grey: np.ndarray, factor: int) -> np.ndarray:
    """Average `factor` x `factor` blocks of a float32 (H, W) array (the last ones may be partial)."""
    return np.asarray(Image.fromarray(grey.astype(np.float32, copy=False)).reduce(factor))


def _find(grey: np.ndarray, factor: int, blur: float) -> tuple[Ink, np.ndarray] | None:
    """The ink of `grey` shrunk by `factor` and the mask of its main digit; None if no ink."""
    ink = extract_ink(shrink(grey, factor), blur / factor)
    return None if ink is None else (ink, main_ink(ink))


def _search_again(grey: np.ndarray, box: tuple[int, int, int, int], factor: int, blur: float) -> np.ndarray | None:
    """The digit found in `box` ((y0, y1, x0, x1) px of `grey`) on a copy shrunk by `factor`, searched
    for in the region around it at the coarsest scale that leaves it NEED px; None if not found."""
    y0, y1, x0, x1 = box
    side = max(y1 - y0, x1 - x0)
    pad = int(np.ceil(_MARGIN * side)) + factor
    region = grey[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad]
    fine = max(1, side // NEED)
    if fine == 1:
        ink = extract_ink(region, blur)
        return None if ink is None else ink.ink * main_ink(ink)
    found = _find(region, fine, blur)
    return None if found is None else _full_size(region, *found, fine)


def _full_size(grey: np.ndarray, ink: Ink, mask: np.ndarray, factor: int) -> np.ndarray:
    """The ink of the masked digit in `grey`, from `grey`'s own pixels in the mask's box, with the
    levels found on the copy shrunk by `factor` that `ink` and `mask` describe."""
    (y0, y1), (x0, x1) = _span(mask.any(axis=1)), _span(mask.any(axis=0))  # px on the copy
    top, left = y0 * factor, x0 * factor
    bottom, right = min(grey.shape[0], y1 * factor), min(grey.shape[1], x1 * factor)
    size = (right - left, bottom - top)
    box = (left / factor, top / factor, right / factor, bottom / factor)  # the same box, in px of the copy
    # Pillow maps full-size pixel centres onto the copy exactly as reduce() made it.
    paper = np.asarray(Image.fromarray(ink.levels.paper).resize(size, Image.Resampling.BILINEAR, box=box))
    keep = np.asarray(Image.fromarray(mask.astype(np.uint8)).resize(size, Image.Resampling.NEAREST, box=box))
    levels, pixels = ink.levels, grey[top:bottom, left:right]
    return (levels.normalise(levels.measure(pixels, paper)) * keep).astype(np.float32, copy=False)


def _span(flags: np.ndarray) -> tuple[int, int]:
    """(first, last + 1) index of the True entries of a 1-D array."""
    where = np.flatnonzero(flags)
    return int(where[0]), int(where[-1]) + 1
