"""Group the strokes of a written number into digits, left to right (cutting touching ones apart)."""

from __future__ import annotations

import itertools

import numpy as np

from .cuts import DIGIT_WIDTH, Cut, Doubt, between, cuts, upright
from .ink import Ink

_SHORT = 0.5  # a piece under this fraction of a digit's height is a bar, dot or speck


def main_ink(ink: Ink) -> np.ndarray:
    """(H, W) bool mask of the main digit: the largest component, pieces near it, big pieces."""
    order = np.argsort(ink.areas)[::-1]
    largest = ink.areas[order[0]]
    box = ink.boxes[order[0]].copy()
    chosen = [order[0] + 1]
    for index in order[1:]:
        size = max(box[2] - box[0], box[3] - box[1])
        near = _gap(box, ink.boxes[index]) <= 0.1 * size and ink.areas[index] >= 0.01 * largest
        if near or ink.areas[index] >= 0.15 * largest:
            chosen.append(index + 1)
            box = _union(box, ink.boxes[index])
    return np.isin(ink.labels, chosen)


def digit_parts(ink: Ink, doubt: Doubt | None = None) -> list[tuple[np.ndarray, tuple[int, int]]]:
    """Ink of each digit, left to right, as (crop (h, w) float32, (x0, y0) of the crop).

    A digit is a list of pieces (label, left, right): a component's pixels between two cut lines,
    so that a component of touching digits can be shared out between them. With `doubt`, touching
    digits are split where the pieces both look like digits and read as digits (see `vision.cuts`).
    """
    keep = np.flatnonzero(ink.areas >= 0.02 * ink.areas.max())  # drop specks
    groups = [([i + 1], ink.boxes[i].copy()) for i in keep]
    heights = np.array([box[3] - box[1] for _, box in groups])
    height = float(np.median(heights[heights >= 0.5 * heights.max()]))  # px, a digit's height
    groups = _merge(groups, lambda a, b: _same_digit(a, b, height))
    tall = [g for g in groups if not _fragment(g[1], height)]
    width = _typical_width([box for _, box in tall], height)
    digits = []  # (pieces, box across the middle row, region of the image holding its pixels)
    for labels, box in tall:
        x0, y0, x1, y1 = box
        crop = ink.ink[y0:y1, x0:x1] * np.isin(ink.labels[y0:y1, x0:x1], labels)
        for left, right in cuts(crop, height, width, doubt):
            left, right = left.moved(x0, y0), right.moved(x0, y0)
            pieces = [(label, left, right) for label in labels]
            middle = np.array([left.xs[len(left.xs) // 2], y0, right.xs[len(right.xs) // 2], y1])
            digits.append((pieces, middle, box.copy()))
    for labels, box in groups:  # a detached bar or dot joins the digit it sits on or beside
        if _fragment(box, height) and digits:
            pieces, host, region = min(digits, key=lambda d: _gap(d[1], box) - _overlap(d[1], box))
            if _gap(host, box) <= 0.25 * height:
                pieces.extend((label, upright(box[0]), upright(box[2])) for label in labels)
                host[:], region[:] = _union(host, box), _union(region, box)
    digits.sort(key=lambda d: d[1][0] + d[1][2])
    return [part for part in (_crop(ink, pieces, region) for pieces, _, region in digits) if part is not None]


def _fragment(box: np.ndarray, height: float) -> bool:
    """A piece too short for a digit: a bar or dot, or a narrow stroke shorter than a '1'."""
    tall = box[3] - box[1]
    return bool(tall < _SHORT * height or (box[2] - box[0] < 0.4 * height and tall < 0.75 * height))


def _merge(groups: list, same) -> list:
    """Merge (labels, box) groups pairwise while `same(box_a, box_b)` holds for some pair."""
    merged = True
    while merged:
        merged = False
        for i, j in itertools.combinations(range(len(groups)), 2):
            if same(groups[i][1], groups[j][1]):
                labels, box = groups.pop(j)
                groups[i] = (groups[i][0] + labels, _union(groups[i][1], box))
                merged = True
                break
    return groups


def _typical_width(boxes: list[np.ndarray], height: float) -> float:
    """A digit's usual width in px: the median of the lone, full-height, not-'1' pieces."""
    widths = [b[2] - b[0] for b in boxes if b[3] - b[1] >= 0.75 * height and 0.45 <= (b[2] - b[0]) / height <= 1.1]
    return float(np.clip(np.median(widths), 0.6 * height, 0.9 * height)) if widths else DIGIT_WIDTH * height


def _crop(ink: Ink, pieces: list[tuple[int, Cut, Cut]], region: np.ndarray):
    """The digit's ink, trimmed: (crop (h, w), (x0, y0)); None when it holds no ink."""
    x0, y0, x1, y1 = region
    labels = ink.labels[y0:y1, x0:x1]
    mask = np.zeros(labels.shape, bool)
    for label, left, right in pieces:
        mask |= (labels == label) & between(left.moved(-x0, -y0), right.moved(-x0, -y0), labels.shape)
    return _trim(ink.ink[y0:y1, x0:x1] * mask, x0, y0)


def _trim(crop: np.ndarray, x0: int, y0: int) -> tuple[np.ndarray, tuple[int, int]] | None:
    ys, xs = np.nonzero(crop > 1e-3)
    if ys.size == 0:
        return None
    return crop[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], (x0 + xs.min(), y0 + ys.min())


def _same_digit(a: np.ndarray, b: np.ndarray, height: float) -> bool:
    """Two pieces belong to one digit when one sits mostly in the other's columns, close by.

    Two tall pieces side by side are two digits (a 7 whose bar overhangs a 1) unless the columns
    overlap almost fully or the two together are no wider than a 1.
    """
    overlap = min(a[2], b[2]) - max(a[0], b[0])
    narrow = min(a[2] - a[0], b[2] - b[0])
    span = max(a[2], b[2]) - min(a[0], b[0])
    vertical_gap = max(a[1], b[1]) - min(a[3], b[3])
    if overlap <= 0 or vertical_gap > 0.5 * height:
        return False
    both_tall = min(a[3] - a[1], b[3] - b[1]) >= 0.6 * height
    if span <= 0.4 * height and not both_tall:  # no wider than a 1, say a 1 drawn in two strokes
        return True
    return overlap >= 0.5 * narrow and (not both_tall or overlap >= 0.8 * narrow)


def _overlap(a: np.ndarray, b: np.ndarray) -> int:
    """Columns two boxes share, in px."""
    return max(0, min(a[2], b[2]) - max(a[0], b[0]))


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])])


def _gap(a: np.ndarray, b: np.ndarray) -> int:
    """Chebyshev distance between two boxes in px (0 when they overlap)."""
    return max(0, max(a[0], b[0]) - min(a[2], b[2]), max(a[1], b[1]) - min(a[3], b[3]))
