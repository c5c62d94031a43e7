"""Find the ink in a grey image: flatten the lighting, pick the polarity, group strokes into digits."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

_MIN_CONTRAST = 0.06  # ink must differ from the paper by this much (grey levels in [0, 1])
_NOISE_SIGMAS = 5.0  # and stand this many noise deviations above the paper
_MIN_EXTENT = 0.03  # a digit spans at least this fraction of the image's long side
_BACKGROUND_SIDE = 64  # px; the lighting is fitted on a grid this small (it varies slowly)
_SHORT = 0.5  # a piece under this fraction of a digit's height is a bar, dot or speck
_WIDTH = 0.75  # a digit's usual width in digit heights (MNIST's median but for 1s), when unmeasured
_SPLIT = 1.3  # a group under this many usual digit widths is one digit (wide 0s, 2s with long tails)
_SPLIT_READ = 0.6  # with a classifier to ask, groups this wide are tried as several digits ('1' + '7')
_WIDEST = 2.0  # digit heights: no one digit is wider, so no wider piece is considered
# Weight of the classifier's doubt (-log p) against the shape and cut costs. Measured on 200 numbers
# of photo digits (MNIST test digits outside the benchmark's, touching with chance 0.2, default
# recipe): read right 0.875 without the classifier, 0.89 at weight 1, 0.90 at 2 and 4.
_READ_WEIGHT = 2.0
_ONE = 0.15  # the cost of reading a tall thin piece as a '1' (_piece_cost)
_EIGHT = np.ones((3, 3), bool)  # 8-connectivity: diagonal pixels of a stroke belong together

# Ink crops -> how doubtful reading each as one digit is: -log of the classifier's top probability
# (0: surely a digit; inf for a crop with no ink). Given by the caller, who owns the model.
Doubt = Callable[[list[np.ndarray]], np.ndarray]


@dataclass
class Ink:
    """Cleaned ink of an image, split into connected components."""

    ink: np.ndarray  # (H, W) float32 in [0, 1]: 0 paper, 1 full ink; zero away from the strokes
    labels: np.ndarray  # (H, W) int32 component of each pixel, 0 for paper
    boxes: np.ndarray  # (N, 4) int (x0, y0, x1, y1) of component i + 1, ends exclusive
    areas: np.ndarray  # (N,) pixels of each component


def extract_ink(grey: np.ndarray) -> Ink | None:
    """Separate ink from paper in a grey (H, W) image in [0, 1]; None when there is no ink.

    Fits the paper's lighting with a smooth surface, takes the side with the heavier tail as the
    ink (dark on light or light on dark), thresholds it with hysteresis and keeps its grey levels.
    """
    blur = min(2.0, max(grey.shape) / 400)  # px; about one pixel of a 400 px photo
    smooth = ndi.gaussian_filter(grey, blur) if blur >= 0.5 else grey
    paper = _fit_background(smooth)
    residual = smooth - paper
    step = max(1, int(np.sqrt(residual.size / 40_000)))  # medians of a sample are close enough
    sample = residual[::step, ::step]
    dark_ink = _heavier_tail_is_dark(residual, float(np.median(sample)), _spread(sample))
    # Dark ink: divide by the paper, since lighting multiplies what the paper reflects.
    ink = -residual / np.maximum(paper, 0.1) if dark_ink else residual
    ink -= np.median(ink[::step, ::step])
    noise = _spread(ink[::step, ::step])
    if ink.max() < _MIN_CONTRAST:
        return None
    high = max(_otsu(ink[::step, ::step]), _NOISE_SIGMAS * noise, _MIN_CONTRAST)
    low = max(0.5 * high, 3.0 * noise, 0.5 * _MIN_CONTRAST)
    labels, count = ndi.label(ink > low, _EIGHT)
    strong = np.unique(labels[ink > high])
    keep = np.zeros(count + 1, bool)
    keep[strong] = True  # never label 0: high >= low
    labels, count = ndi.label(keep[labels], _EIGHT)  # hysteresis: faint parts of strong strokes
    spans = [max(y.stop - y.start, x.stop - x.start) for y, x in ndi.find_objects(labels)]
    if count == 0 or max(spans) < max(3, _MIN_EXTENT * max(grey.shape)):
        return None  # no ink, or only specks of noise
    grow = 1 + int(round(blur))  # px; take in the faint fringe of each stroke
    labels = ndi.grey_dilation(labels, size=(2 * grow + 1, 2 * grow + 1))
    boxes = np.zeros((count, 4), int)  # a component swallowed by a neighbour's growth keeps zeros
    for index, found in enumerate(ndi.find_objects(labels)):
        if found is not None:
            boxes[index] = (found[1].start, found[0].start, found[1].stop, found[0].stop)
    level = float(np.percentile(ink[ink > high], 75))  # the strokes' full strength
    floor = 0.5 * low
    ink = np.clip((ink - floor) / max(level - floor, 1e-6), 0.0, 1.0) * (labels > 0)
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    return Ink(ink=ink.astype(np.float32), labels=labels, boxes=boxes, areas=areas)


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

    A digit is a list of pieces (label, x0, x1): a component's pixels in columns [x0, x1), so that
    a component of touching digits can be shared out between them. With `doubt`, touching digits
    are split where the pieces both look like digits and read as digits (see `_cuts`).
    """
    keep = np.flatnonzero(ink.areas >= 0.02 * ink.areas.max())  # drop specks
    groups = [([i + 1], ink.boxes[i].copy()) for i in keep]
    heights = np.array([box[3] - box[1] for _, box in groups])
    height = float(np.median(heights[heights >= 0.5 * heights.max()]))  # px, a digit's height
    groups = _merge(groups, lambda a, b: _same_digit(a, b, height))
    tall = [g for g in groups if not _fragment(g[1], height)]
    width = _typical_width([box for _, box in tall], height)
    digits = []
    for labels, box in tall:
        for left, right in _cuts(ink, labels, box, height, width, doubt):
            pieces = [(label, left, right) for label in labels]
            digits.append((pieces, np.array([left, box[1], right, box[3]])))
    for labels, box in groups:  # a detached bar or dot joins the digit it sits on or beside
        if _fragment(box, height) and digits:
            pieces, host = min(digits, key=lambda d: _gap(d[1], box) - _overlap(d[1], box))
            if _gap(host, box) <= 0.25 * height:
                pieces.extend((label, box[0], box[2]) for label in labels)
                host[:] = _union(host, box)
    digits.sort(key=lambda d: d[1][0] + d[1][2])
    return [part for part in (_crop(ink, *d) for d in digits) if part is not None]


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
    return float(np.clip(np.median(widths), 0.6 * height, 0.9 * height)) if widths else _WIDTH * height


def _cuts(
    ink: Ink, labels: list[int], box: np.ndarray, height: float, width: float, doubt: Doubt | None = None
) -> list[tuple[int, int]]:
    """Column ranges of the digits in one group, `width` px wide as a rule.

    A group under `_SPLIT` digit widths (`_SPLIT_READ` with `doubt`) is one digit. A wider one is
    cut at a subset of the local minima of `_cut_cost`, chosen by dynamic programming to minimise
    the ink the cuts cross plus, for each piece, how far it is from a digit's shape
    (`_piece_cost`) and how doubtful the classifier is that it is one digit (segmentation by
    recognition: a '1' touching a '7' is narrower than two digits, but its halves read well).
    """
    x0, y0, x1, y1 = box
    if x1 - x0 < (_SPLIT if doubt is None else _SPLIT_READ) * width:
        return [(x0, x1)]
    crop = ink.ink[y0:y1, x0:x1] * np.isin(ink.labels[y0:y1, x0:x1], labels)
    cost = _cut_cost(crop)
    inked = crop > 0.5
    rows = np.arange(crop.shape[0])[:, None]
    top = np.where(inked, rows, crop.shape[0]).min(axis=0)  # (W,) first inked row, H if none
    bottom = np.where(inked, rows, -1).max(axis=0)  # (W,) last inked row, -1 if none
    inner = np.arange(2, crop.shape[1] - 2)
    minima = inner[(cost[inner] <= cost[inner - 1]) & (cost[inner] <= cost[inner + 1])]
    edges = np.concatenate([[0], minima, [crop.shape[1]]])
    last = edges.size - 1
    pieces = [(i, j) for j in range(1, edges.size) for i in range(j)
              if edges[j] - edges[i] <= _WIDEST * height or (i, j) == (0, last)]
    piece_cost = {}
    for i, j in pieces:
        a, b = edges[i], edges[j]
        extent = max(bottom[a:b].max() - top[a:b].min() + 1, 0)  # px of ink rows in the piece
        piece_cost[i, j] = _piece_cost(b - a, extent, height, width) + (cost[b] if j < last else 0.0)
    if doubt is not None:
        doubts = doubt([crop[:, edges[i] : edges[j]] for i, j in pieces])
        for (i, j), value in zip(pieces, doubts, strict=True):
            piece_cost[i, j] += _READ_WEIGHT * value
    best = np.full(edges.size, np.inf)  # best[j]: cheapest way to cut columns [0, edges[j])
    best[0] = 0.0
    back = np.zeros(edges.size, int)
    for i, j in pieces:  # ordered by j, so best[i] is final when read
        if best[i] + piece_cost[i, j] < best[j]:
            best[j], back[j] = best[i] + piece_cost[i, j], i
    chosen = [last]
    while chosen[-1] != 0:
        chosen.append(back[chosen[-1]])
    cuts = edges[chosen[::-1]]
    return [(x0 + left, x0 + right) for left, right in zip(cuts[:-1], cuts[1:], strict=True)]


def _piece_cost(w: int, extent: int, height: float, width: float) -> float:
    """How unlike one digit a piece `w` px wide with `extent` px of ink rows is (0: a digit).

    A short piece is a fragment of a digit; a tall thin one is a '1'; otherwise pieces much
    narrower or wider than a digit's usual `width` cost in proportion.
    """
    if extent < 0.65 * height:  # a digit's arm or stem, cut off from the rest
        return 3.0
    if w <= 0.4 * height and extent >= 0.8 * height:
        return _ONE  # a '1'
    # MNIST digits but 1s are 0.5-1.1 heights wide (5th-95th percentile), `_WIDTH` usually.
    size = w / max(width / _WIDTH, height)  # in digit heights; wider when this image's digits are wide
    return 0.05 + 4.0 * max(0.0, 0.5 - size) + 2.5 * max(0.0, size - 0.95)


def _cut_cost(crop: np.ndarray) -> np.ndarray:
    """Per column: how much ink a cut there crosses, plus how tall the ink is there.

    Where two round digits touch, the ink per column is high (both sides) but short: the top
    and bottom contours dip towards each other. Both terms are in [0, 1].
    """
    inked = crop > 0.5
    rows = np.arange(crop.shape[0])[:, None]
    top = np.where(inked, rows, crop.shape[0]).min(axis=0)
    bottom = np.where(inked, rows, -1).max(axis=0)
    extent = np.maximum(bottom - top + 1, 0) / crop.shape[0]
    amount = crop.sum(axis=0) / max(float(crop.sum(axis=0).max()), 1e-6)
    return ndi.uniform_filter1d(extent + 0.25 * amount, 3)


def _crop(ink: Ink, pieces: list[tuple[int, int, int]], box: np.ndarray):
    """The digit's ink, trimmed: (crop (h, w), (x0, y0)); None when it holds no ink."""
    x0, y0, x1, y1 = box
    labels = ink.labels[y0:y1, x0:x1]
    columns = np.arange(x0, x1)
    mask = np.zeros(labels.shape, bool)
    for label, left, right in pieces:
        mask |= (labels == label) & ((columns >= left) & (columns < right))[None, :]
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


def _fit_background(grey: np.ndarray) -> np.ndarray:
    """Paper level under uneven lighting: a quadratic surface fitted robustly to a small grid.

    Trimming points far from the fit on either side drops the ink whatever its polarity: a least
    trimmed squares fit, robust while the ink covers under half the image.
    """
    factor = -(-max(grey.shape) // _BACKGROUND_SIDE)  # ceil
    height, width = grey.shape[0] // factor, grey.shape[1] // factor
    if height < 2 or width < 2:
        return np.full_like(grey, np.median(grey))
    small = grey[: height * factor, : width * factor].reshape(height, factor, width, factor).mean((1, 3))
    ys, xs = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
    design = np.stack([term.ravel() for term in _quadratic(ys, xs)], axis=1)  # (n, 6)
    values = small.ravel()
    coef = np.array([np.median(values), 0, 0, 0, 0, 0])  # start flat, so ink cannot bend the fit
    for step in range(5):
        distance = np.abs(values - np.einsum("ni,i->n", design, coef))
        spread = np.median(distance)
        # First fit the closest half only (ink is a minority), then all points near that fit.
        inside = distance <= spread if step < 2 else distance < 2.5 * (1.4826 * spread + 1e-3)
        chosen = design[inside]  # normal equations: lstsq's threaded BLAS crawls on a busy machine
        gram = np.einsum("ni,nj->ij", chosen, chosen) + 1e-9 * np.eye(6)
        coef = np.linalg.solve(gram, np.einsum("ni,n->i", chosen, values[inside]))
    # Evaluate on the full grid; pixel centres of the small grid map to block centres.
    ys = (np.arange(grey.shape[0]) + 0.5) / factor - 0.5
    xs = (np.arange(grey.shape[1]) + 0.5) / factor - 0.5
    ys, xs = ys * 2 / (height - 1) - 1, xs * 2 / (width - 1) - 1
    ys, xs, c = ys[:, None].astype(np.float32), xs[None, :].astype(np.float32), coef.astype(np.float32)
    return (c[0] + c[2] * ys + c[5] * ys**2) + (c[1] + c[4] * ys) * xs + c[3] * xs**2  # as _quadratic


def _quadratic(ys: np.ndarray, xs: np.ndarray) -> list[np.ndarray]:
    """The terms of a quadratic surface in y and x (broadcast together)."""
    return [np.ones_like(ys * xs), xs, ys, xs**2, xs * ys, ys**2]


def _spread(values: np.ndarray) -> float:
    """Standard deviation of the majority (the paper), robust to the ink: 1.4826 MAD."""
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def _heavier_tail_is_dark(residual: np.ndarray, centre: float, noise: float) -> bool:
    """Ink is the minority far from the paper's level: compare the mass of the two tails."""
    margin = max(3.0 * noise, 0.5 * _MIN_CONTRAST)
    dark = np.clip(centre - margin - residual, 0.0, None).sum()
    light = np.clip(residual - centre - margin, 0.0, None).sum()
    return bool(dark > light)


def _otsu(values: np.ndarray) -> float:
    """Otsu's threshold of an array, from a 256-bin histogram."""
    low, high = float(values.min()), float(values.max())
    counts, edges = np.histogram(values, bins=256, range=(low, high))
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts)
    mass = np.cumsum(counts * centres)
    below, above = weight, weight[-1] - weight
    valid = (below > 0) & (above > 0)
    between = np.zeros_like(centres)
    mean_below = mass[valid] / below[valid]
    mean_above = (mass[-1] - mass[valid]) / above[valid]
    between[valid] = below[valid] * above[valid] * (mean_below - mean_above) ** 2
    return float(edges[1:][np.argmax(between)])
