"""Read a written number as digits: find each one, left to right, and frame it the MNIST way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .cuts import Doubt
from .ink import require_ink
from .io import ImageLike, PreprocessError, load_grey
from .mnist import ink_to_mnist
from .segment import digit_parts

Classify = Callable[[np.ndarray], np.ndarray]  # (N, 28, 28) uint8 -> (N, classes) probabilities
MAX_MARKS = 200  # separate marks in one image; a number of 20 digits, each in 5 broken strokes, has 100


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays field by field is ambiguous
class Digit:
    """One digit found in an image, normalised the MNIST way."""

    image: np.ndarray  # (28, 28) uint8, white ink (255) on black (0)
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in the original image's pixels, ends exclusive


def split_digits(image: ImageLike, classify: Classify | None = None, name: str | None = None) -> list[Digit]:
    """Return the digits of a written number, left to right, each normalised like `to_mnist`.

    Broken digits (a 5 whose top bar is detached) are merged, touching digits are split where
    the ink is shortest near the expected cut, and specks of noise are ignored. `classify`
    ((N, 28, 28) uint8 -> (N, classes) probabilities, e.g. a predictor's `predict_proba`) lets
    the split of touching digits also weigh how well each candidate piece reads as a digit.
    `name` labels the image in error messages, as for `to_mnist`.
    """
    grey, name, (sx, sy) = load_grey(image, name)
    doubt = None if classify is None else _doubt_of(classify)
    digits = []
    ink = require_ink(grey, name)
    marks = int((ink.areas >= 0.02 * ink.areas.max()).sum())  # as digit_parts counts them: specks dropped
    if marks > MAX_MARKS:  # the search for cuts grows with the marks: 3,400 of them took a minute
        raise PreprocessError(f"no number found in {name}: {marks} separate marks (the limit is {MAX_MARKS}); "
                              "noise or a texture, not written digits")
    for crop, (left, top) in digit_parts(ink, doubt):
        ys, xs = np.nonzero(crop > 0.25)  # the box of the visible strokes, not of their faint fringe
        if ys.size == 0:
            continue  # only faint fringe: no stroke to read (seen on 1 px high scraps)
        x0, y0, x1, y1 = left + xs.min(), top + ys.min(), left + xs.max() + 1, top + ys.max() + 1
        box = (int(x0 * sx), int(y0 * sy), int(np.ceil(x1 * sx)), int(np.ceil(y1 * sy)))
        digits.append(Digit(image=ink_to_mnist(crop), box=box))
    return digits


def _doubt_of(classify: Classify) -> Doubt:
    """Ink crops -> -log of the classifier's top probability for each, read the MNIST way."""

    def doubt(crops: list[np.ndarray]) -> np.ndarray:
        inked = [i for i, crop in enumerate(crops) if (crop > 1e-3).any()]
        values = np.full(len(crops), np.inf)  # an empty piece is no digit
        if inked:
            probs = classify(np.stack([ink_to_mnist(crops[i]) for i in inked]))
            values[inked] = -np.log(np.clip(probs.max(axis=1), 1e-12, 1.0))
        return values

    return doubt
