"""The Predictor interface: a trained classifier as a NumPy function, whatever backend runs it.

Evaluation, the CLI and the web service all go through `Predictor`; a backend (torch.py,
onnx.py, numpy.py) only supplies the function from images to probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import DigitrecError

ProbaFn = Callable[[np.ndarray], np.ndarray]  # float32 (N, 28, 28) in [0, 1] -> (N, classes)


@dataclass(frozen=True)
class Prediction:
    """One image's prediction: the winning class, its probability, all of them, and what the model saw."""

    label: str  # class name, e.g. "7"
    confidence: float  # probability of `label`
    probabilities: np.ndarray = field(repr=False)  # float32 (classes,), in the order of `classes`
    classes: tuple[str, ...] = field(repr=False)
    image: np.ndarray = field(repr=False)  # uint8 (28, 28), the preprocessed input the model saw
    box: tuple[int, int, int, int] | None = None  # (x0, y0, x1, y1) in the source image (read_number)

    @classmethod
    def from_probs(cls, probs: np.ndarray, classes, image: np.ndarray, box=None) -> "Prediction":
        index = int(np.argmax(probs))
        return cls(classes[index], float(probs[index]), np.asarray(probs, np.float32), tuple(classes), image, box)

    def top(self, k: int) -> list[tuple[str, float]]:
        """The k most probable (class, probability) pairs, best first."""
        order = np.argsort(-self.probabilities, kind="stable")[:k]
        return [(self.classes[i], float(self.probabilities[i])) for i in order]


class Predictor:
    """A trained classifier with a NumPy interface, whatever engine made it."""

    def __init__(self, proba_fn: ProbaFn, classes: list[str], metadata: dict[str, Any], path: Path | None = None):
        self._proba_fn = proba_fn
        self.classes = list(classes)
        self.metadata = metadata  # model name, recipe, metrics, normalisation, versions...
        self.path = path

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities, float32 (N, classes)."""
        batch = as_batch(images)
        if len(batch) == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        return np.asarray(self._proba_fn(batch), dtype=np.float32)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Most probable class index per image, int64 (N,)."""
        return self.predict_proba(images).argmax(axis=1).astype(np.int64)

    def predict_image(self, image, name: str | None = None) -> Prediction:
        """Predict the digit in a photo, scan or drawing (path, bytes, PIL image or array); `name`
        labels the image in error messages."""
        from ..vision import to_mnist

        digit = to_mnist(image, name=name)
        return Prediction.from_probs(self.predict_proba(digit)[0], self.classes, digit)

    def read_number(self, image, name: str | None = None) -> tuple[str, list[Prediction]]:
        """Read a written number: its text and one Prediction (with `box`) per digit, left to right;
        `name` labels the image in error messages."""
        from ..vision import split_digits

        digits = split_digits(image, classify=self.predict_proba, name=name)
        probs = self.predict_proba(np.stack([d.image for d in digits]) if digits else np.zeros((0, 28, 28), np.uint8))
        found = [Prediction.from_probs(p, self.classes, d.image, d.box) for d, p in zip(digits, probs)]
        return "".join(p.label for p in found), found

    def __repr__(self) -> str:
        return f"Predictor({self.metadata.get('model', '?')!r}, classes={len(self.classes)}, path={self.path})"


def as_batch(images: np.ndarray) -> np.ndarray:
    """Accept (28, 28), (N, 28, 28) or (N, 1, 28, 28); uint8 0..255 or float 0..1 -> float32 0..1."""
    array = np.asarray(images)
    if array.ndim == 2:
        array = array[None]
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 3 or array.shape[1:] != (28, 28):
        raise DigitrecError(
            f"expected images of shape (28, 28) or (N, 28, 28), got {array.shape}; "
            "use digitrec.vision.to_mnist for photos"
        )
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if not np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_:
        raise DigitrecError(f"expected numeric images, got dtype {array.dtype}")
    return array.astype(np.float32)
