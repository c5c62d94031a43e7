"""Find the ink in a grey image: flatten the lighting, pick the polarity, threshold, label strokes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from .io import PreprocessError

_MIN_CONTRAST = 0.06  # ink must differ from the paper by this much (grey levels in [0, 1])
_NOISE_SIGMAS = 5.0  # and stand this many noise deviations above the paper
_MIN_EXTENT = 0.03  # a digit spans at least this fraction of the image's long side
_BACKGROUND_SIDE = 64  # px; the lighting is fitted on a grid this small (it varies slowly)
_EIGHT = np.ones((3, 3), bool)  # 8-connectivity: diagonal pixels of a stroke belong together


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
    A digit cropped to its own box (strokes reaching three or four edges) leaves too little paper
    for the fit and the polarity vote: it is read again inside a frame of its paper's level.
    """
    found = _extract(grey)
    if found is not None and _edges_touched(found.ink > 0) < 3:
        return found
    margin = max(4, max(grey.shape) // 4)  # px; MNIST itself leaves 4 px around a 20 px digit
    framed = _extract(np.pad(grey, margin, constant_values=_edge_level(grey)))
    if framed is None:
        return found
    inner = (slice(margin, margin + grey.shape[0]), slice(margin, margin + grey.shape[1]))
    return _components(framed.ink[inner], framed.labels[inner])


def _edge_level(grey: np.ndarray) -> float:
    """The paper's level from the image's outermost pixels: even a tight crop's edges are mostly paper."""
    ring = np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])
    return float(np.median(ring))


def _edges_touched(mask: np.ndarray) -> int:
    """How many of the image's four edges the mask reaches."""
    return int(mask[0].any()) + int(mask[-1].any()) + int(mask[:, 0].any()) + int(mask[:, -1].any())


def _components(ink: np.ndarray, labels: np.ndarray) -> Ink | None:
    """Renumber the components left in `labels` 1..N (in order) and measure their boxes and areas."""
    kept = np.unique(labels[labels > 0])
    count = kept.size
    if count == 0:
        return None
    renumber = np.zeros(int(labels.max()) + 1, np.int32)
    renumber[kept] = np.arange(1, count + 1)
    labels = renumber[labels]
    boxes = np.array([(x.start, y.start, x.stop, y.stop) for y, x in ndi.find_objects(labels)], int)
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    return Ink(ink=ink * (labels > 0), labels=labels.astype(np.int32), boxes=boxes, areas=areas)


def _extract(grey: np.ndarray) -> Ink | None:
    """`extract_ink` on the image as it is."""
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


def require_ink(grey: np.ndarray, name: str) -> Ink:
    """`extract_ink`, raising PreprocessError (naming the image `name`) when there is no ink."""
    ink = extract_ink(grey)
    if ink is None:
        raise PreprocessError(f"no digit found in {name}: the image is blank")
    return ink


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
