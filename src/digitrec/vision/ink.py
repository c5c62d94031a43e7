"""Find the ink in a grey image: flatten the lighting, pick the polarity, threshold, label strokes."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage as ndi

from .io import PreprocessError
from .stats import median, otsu, quantile, spread

_MIN_CONTRAST = 0.06  # ink must differ from the paper by this much (grey levels in [0, 1])
_NOISE_SIGMAS = 5.0  # and stand this many noise deviations above the paper
_MIN_EXTENT = 0.03  # a digit spans at least this fraction of the image's long side
_BACKGROUND_SIDE = 64  # px; the lighting is fitted on a grid this small (it varies slowly)
_SAMPLE = 20_000  # pixels; medians, spreads and Otsu's threshold are taken on a strided sample this large
_EIGHT = np.ones((3, 3), bool)  # 8-connectivity: diagonal pixels of a stroke belong together


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays field by field is ambiguous
class Levels:
    """How grey levels became ink in `extract_ink`, so that the same can be done at another scale."""

    paper: np.ndarray  # (H, W) float32, the fitted paper level at each pixel of the image
    dark: bool  # dark ink on light paper, else light on dark
    zero: float  # the ink measure of plain paper
    floor: float  # ink measure above `zero` that maps to 0 ...
    level: float  # ... and the one that maps to 1: the strokes' full strength

    def measure(self, grey: np.ndarray, paper: np.ndarray) -> np.ndarray:
        """How far grey levels stand from the paper's, towards the ink (0 on plain paper)."""
        # Dark ink: divide by the paper, since lighting multiplies what the paper reflects.
        ink = (paper - grey) / np.maximum(paper, 0.1) if self.dark else grey - paper
        ink -= self.zero
        return ink

    def normalise(self, measure: np.ndarray) -> np.ndarray:
        """The ink measure mapped to [0, 1]: 0 up to `floor`, 1 from `level`."""
        return np.clip((measure - self.floor) / max(self.level - self.floor, 1e-6), 0.0, 1.0)


@dataclass
class Ink:
    """Cleaned ink of an image, split into connected components."""

    ink: np.ndarray  # (H, W) float32 in [0, 1]: 0 paper, 1 full ink; zero away from the strokes
    labels: np.ndarray  # (H, W) int32 component of each pixel, 0 for paper
    boxes: np.ndarray  # (N, 4) int (x0, y0, x1, y1) of component i + 1, ends exclusive
    areas: np.ndarray  # (N,) pixels of each component
    levels: Levels | None = None  # how `ink` was made from the image's grey levels


def extract_ink(grey: np.ndarray, blur: float | None = None) -> Ink | None:
    """Separate ink from paper in a grey (H, W) image in [0, 1]; None when there is no ink.

    `blur` is the Gaussian blur against noise, in px (default: about one pixel of a 400 px photo;
    a caller that shrank a photo passes the original's blur divided by the factor).

    Fits the paper's lighting with a smooth surface, takes the side with the heavier tail as the
    ink (dark on light or light on dark), thresholds it with hysteresis and keeps its grey levels.
    A digit cropped to its own box (strokes reaching three or four edges) leaves too little paper
    for the fit and the polarity vote: it is read again inside a frame of its paper's level.
    """
    if blur is None:
        blur = default_blur(grey.shape)
    found = _extract(grey, blur)
    if found is not None and _edges_touched(found.ink > 0) < 3:
        return found
    margin = max(4, max(grey.shape) // 4)  # px; MNIST itself leaves 4 px around a 20 px digit
    framed = _extract(np.pad(grey, margin, constant_values=_edge_level(grey)), blur)
    if framed is None:
        return found
    inner = (slice(margin, margin + grey.shape[0]), slice(margin, margin + grey.shape[1]))
    found = _components(framed.ink[inner], framed.labels[inner])
    if found is not None and framed.levels is not None:
        found.levels = replace(framed.levels, paper=framed.levels.paper[inner])
    return found


def default_blur(shape: tuple[int, ...]) -> float:
    """Gaussian blur against noise for an image of `shape`, px: about one pixel of a 400 px photo."""
    return min(2.0, max(shape) / 400)


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


def _extract(grey: np.ndarray, blur: float) -> Ink | None:
    """`extract_ink` on the image as it is."""
    smooth = ndi.gaussian_filter(grey, blur) if blur >= 0.5 else grey
    paper = _fit_background(smooth)
    residual = smooth - paper
    step = max(1, int(np.ceil(np.sqrt(residual.size / _SAMPLE))))  # statistics of a sample are close enough
    sample = residual[::step, ::step]
    dark_ink = _heavier_tail_is_dark(sample, median(sample), spread(sample))
    levels = Levels(paper, dark_ink, 0.0, 0.0, 1.0)
    ink = levels.measure(smooth, paper)
    zero = median(ink[::step, ::step])
    ink -= zero
    noise = spread(ink[::step, ::step])
    if ink.max() < _MIN_CONTRAST:
        return None
    high = max(otsu(ink[::step, ::step]), _NOISE_SIGMAS * noise, _MIN_CONTRAST)
    low = max(0.5 * high, 3.0 * noise, 0.5 * _MIN_CONTRAST)
    labels, count = ndi.label(ink > low, _EIGHT)
    strong = ink > high
    keep = np.zeros(count + 1, bool)
    keep[labels[strong]] = True  # never label 0: high >= low
    keep[0] = False
    # Hysteresis: keep the faint parts of strong strokes. Renumbering the kept components in order
    # gives what labelling the kept mask again would, without a second pass over the image.
    renumber = np.cumsum(keep, dtype=np.int32) * keep
    labels, count = renumber[labels], int(keep.sum())
    if count == 0:
        return None
    spans = [max(y.stop - y.start, x.stop - x.start) for y, x in ndi.find_objects(labels)]
    if max(spans) < max(3, _MIN_EXTENT * max(grey.shape)):
        return None  # only specks of noise
    grow = 1 + int(round(blur))  # px; take in the faint fringe of each stroke
    labels = _dilate_labels(labels, grow)
    boxes = np.zeros((count, 4), int)  # a component swallowed by a neighbour's growth keeps zeros
    for index, found in enumerate(ndi.find_objects(labels)):
        if found is not None:
            boxes[index] = (found[1].start, found[0].start, found[1].stop, found[0].stop)
    levels = replace(levels, zero=zero, floor=0.5 * low, level=quantile(ink[strong], 0.75))  # full strength
    ink = levels.normalise(ink) * (labels > 0)
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    return Ink(ink=ink.astype(np.float32), labels=labels, boxes=boxes, areas=areas, levels=levels)


def _dilate_labels(labels: np.ndarray, grow: int) -> np.ndarray:
    """Grey dilation of a label image by a (2 grow + 1) square, computed only around the labels."""
    rows, cols = np.flatnonzero(labels.any(axis=1)), np.flatnonzero(labels.any(axis=0))
    y0, y1 = max(0, rows[0] - 2 * grow), min(labels.shape[0], rows[-1] + 2 * grow + 1)
    x0, x1 = max(0, cols[0] - 2 * grow), min(labels.shape[1], cols[-1] + 2 * grow + 1)
    out = np.zeros_like(labels)
    # The window reaches 2 grow px past the labels so that the filter's edge handling (reflection)
    # sees only what it would see in the whole image: zeros, or the image's own edge.
    window = ndi.grey_dilation(labels[y0:y1, x0:x1], size=(2 * grow + 1, 2 * grow + 1))
    out[y0:y1, x0:x1] = window
    return out


def require_ink(grey: np.ndarray, name: str, blur: float | None = None) -> Ink:
    """`extract_ink`, raising PreprocessError (naming the image `name`) when there is no ink."""
    ink = extract_ink(grey, blur)
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
    values = small.ravel()
    level = median(values)
    if median(np.abs(values - level)) < 1e-4:  # most blocks at one level: flat paper (a drawing)
        return np.full_like(grey, level)
    ys, xs = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
    design = np.stack([term.ravel() for term in _quadratic(ys, xs)], axis=1)  # (n, 6)
    augmented = np.concatenate([design, values[:, None]], axis=1)  # (n, 7): the terms, then the value
    coef = np.array([level, 0, 0, 0, 0, 0])  # start flat, so ink cannot bend the fit
    for step in range(5):
        distance = np.abs(values - np.einsum("ni,i->n", design, coef))
        typical = median(distance)
        # First fit the closest half only (ink is a minority), then all points near that fit.
        inside = distance <= typical if step < 2 else distance < 2.5 * (1.4826 * typical + 1e-3)
        # Normal equations, [gram | rhs] in one product: lstsq's threaded BLAS crawls on a busy
        # machine, and a (6, n) x (n, 7) product with n <= 64 * 64 stays below OpenBLAS's threading
        # threshold.
        normal = (design.T * inside) @ augmented  # (6, 7)
        coef = np.linalg.solve(normal[:, :6] + 1e-9 * np.eye(6), normal[:, 6])
    # Evaluate on the full grid; pixel centres of the small grid map to block centres.
    ys = (np.arange(grey.shape[0]) + 0.5) / factor - 0.5
    xs = (np.arange(grey.shape[1]) + 0.5) / factor - 0.5
    ys, xs = ys * 2 / (height - 1) - 1, xs * 2 / (width - 1) - 1
    ys, xs, c = ys[:, None].astype(np.float32), xs[None, :].astype(np.float32), coef.astype(np.float32)
    return (c[0] + c[2] * ys + c[5] * ys**2) + (c[1] + c[4] * ys) * xs + c[3] * xs**2  # as _quadratic


def _quadratic(ys: np.ndarray, xs: np.ndarray) -> list[np.ndarray]:
    """The terms of a quadratic surface in y and x (broadcast together)."""
    return [np.ones_like(ys * xs), xs, ys, xs**2, xs * ys, ys**2]


def _heavier_tail_is_dark(residual: np.ndarray, centre: float, noise: float) -> bool:
    """Ink is the minority far from the paper's level: compare the mass of the two tails."""
    margin = max(3.0 * noise, 0.5 * _MIN_CONTRAST)
    dark = np.clip(centre - margin - residual, 0.0, None).sum()
    light = np.clip(residual - centre - margin, 0.0, None).sum()
    return bool(dark > light)
