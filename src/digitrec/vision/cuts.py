"""Cut a group of touching digits apart: candidate cut paths, scored by shape, ink and reading.

A cut is a path from the top of the group to its bottom that crosses as little ink as it can,
moving at most one pixel sideways per row: it slips between a slanted '1' and the '9' it
touches, or around the end of a '7's bar, where any straight cut would slice a stroke.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy import ndimage as ndi

DIGIT_WIDTH = 0.75  # a digit's usual width in digit heights (MNIST's median but for 1s), when unmeasured
_SPLIT = 1.3  # a group under this many usual digit widths is one digit (wide 0s, 2s with long tails)
_SPLIT_READ = 0.6  # with a classifier to ask, groups this wide are tried as several digits ('1' + '7')
_WIDEST = 2.0  # digit heights: no one digit is wider, so no wider piece is considered
# The costs the cutting minimises, per piece and per cut (see `cuts`). A piece shaped like a digit
# costs _DIGIT (a '1': _ONE) and each cut _CUT_WEIGHT x `_path_costs`, so a cut pays for itself
# when it crosses less than about 0.2 of ink (a bridge between two touching digits, not a loop or
# a stroke): read digits are not merged just because the merged blob also reads as a digit, which
# the classifier, trained on single digits, says of '17' ("7", p 1.00) and '41' ("4"). Tuned on
# 3 x 300 numbers of photo digits (MNIST test digits outside realworld.py's, seeds 7, 8, 9,
# keras-kaggle model): touching 20% of the time, read right 0.909 with the earlier costs
# (0.05, 0.15, 1) -> 0.940 with these; not touching 0.962 -> 0.961. (-0.5, -0.4, 2 or 3 and
# -0.3, -0.2, 1 were as good; a cheaper '1', -0.45 to -0.8, split more 6s into '10'.)
_DIGIT = -0.4
_ONE = -0.3
_CUT_WEIGHT = 2.0
# Weight of the classifier's doubt (-log p) against the shape and cut costs (0.89 / 0.90 / 0.90
# read right at weight 1 / 2 / 4 when it was introduced; 1 / 2 / 4 now differ by under 0.01).
_READ_WEIGHT = 2.0
# Straight strokes (a '1') are looked for along lines leaning this much (px sideways per px down),
# covering this share of the rows; their sides are where lines cover at most _EDGE_OUT of them.
_EDGE_SLANTS = np.round(np.arange(-0.5, 0.51, 0.1), 1)
_EDGE_IN = 0.7
_EDGE_OUT = 0.05
# A least-ink path pays this much per px it ends up sideways per px of height: a cut between
# two digits side by side runs mostly downward, while one that drifts far (a 0 open at the top
# entered there and left through its lower-left side) slices a digit. On the numbers the costs
# above were tuned on, drift 0 / 0.6 / 1.0 read 0.9456 / 0.9489 / 0.9478 right when touching,
# 0.9611 for all three when not. Stroke sides (`_stroke_edges`) do not pay: their slant is that
# of the stroke they follow.
DRIFT = 0.6
_SIDEWAYS = 0.02  # px of ink a sideways step costs, so that a straight path wins a tie

# Ink crops -> how doubtful reading each as one digit is: -log of the classifier's top probability
# (0: surely a digit; inf for a crop with no ink). Given by the caller, who owns the model.
Doubt = Callable[[list[np.ndarray]], np.ndarray]


class Cut(NamedTuple):
    """A cut path: the first column right of the cut in each row, from row `top` down.

    Rows above or below the path take its end columns, so a one-row Cut is an upright line.
    """

    xs: np.ndarray  # (rows,) int
    top: int = 0

    def at(self, rows: np.ndarray) -> np.ndarray:
        return self.xs[np.clip(rows - self.top, 0, len(self.xs) - 1)]

    def moved(self, dx: int, dy: int) -> Cut:
        """The same path in coordinates shifted by (dx, dy)."""
        return Cut(self.xs + dx, self.top + dy)


def upright(x: int) -> Cut:
    return Cut(np.array([x]))


def between(left: Cut, right: Cut, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: pixels of an array of `shape` on or right of `left` and left of `right`."""
    rows = np.arange(shape[0])
    cols = np.arange(shape[1])[None, :]
    return (cols >= left.at(rows)[:, None]) & (cols < right.at(rows)[:, None])


def cuts(crop: np.ndarray, height: float, width: float, doubt: Doubt | None = None) -> list[tuple[Cut, Cut]]:
    """The digits in `crop` (one group's ink, (h, w)) as (left, right) cut pairs, crop coordinates.

    A group under `_SPLIT` digit widths (`_SPLIT_READ` with `doubt`) is one digit. A wider one is
    cut along a subset of the candidate paths (`candidates`), chosen by dynamic programming to
    minimise the ink the cuts cross plus, for each piece, how far it is from a digit's shape
    (`_piece_cost`) and how doubtful the classifier is that it is one digit (segmentation by
    recognition: a '1' touching a '7' is narrower than two digits, but its halves read well).
    """
    h, w = crop.shape
    whole = (upright(0), upright(w))
    if w < (_SPLIT if doubt is None else _SPLIT_READ) * width:
        return [whole]
    paths, path_costs = candidates(crop)
    paths = [whole[0], *paths, whole[1]]
    last = len(paths) - 1
    rows = np.arange(h)
    bounds = [p.at(rows)[:, None] for p in paths]  # (h, 1) each: the first column right of the path
    cols = np.arange(w)[None, :]
    pieces, piece_cost, masks = [], {}, {}
    for j in range(1, len(paths)):
        for i in range(j):
            if np.any(bounds[j] < bounds[i]):
                continue  # paths that cross bound no piece
            piece = crop * ((cols >= bounds[i]) & (cols < bounds[j]))  # as `between`, bounds reused
            ys, xs = np.nonzero(piece > 1e-3)
            if ys.size == 0:
                continue
            span = xs.max() - xs.min() + 1  # px
            if span > _WIDEST * height and (i, j) != (0, last):
                continue
            strong = np.flatnonzero((piece > 0.5).any(axis=1))
            extent = strong[-1] - strong[0] + 1 if strong.size else 0  # px of ink rows in the piece
            cut = _CUT_WEIGHT * path_costs[j - 1] if j < last else 0.0
            piece_cost[i, j] = _piece_cost(span, extent, height, width) + cut
            pieces.append((i, j))
            masks[i, j] = piece[:, xs.min() : xs.max() + 1]
    if doubt is not None:
        doubts = doubt([masks[piece] for piece in pieces])
        for piece, value in zip(pieces, doubts, strict=True):
            piece_cost[piece] += _READ_WEIGHT * value
    best = np.full(len(paths), np.inf)  # best[j]: cheapest way to cut the ink left of paths[j]
    best[0] = 0.0
    back = np.zeros(len(paths), int)
    for i, j in pieces:  # ordered by j, so best[i] is final when read
        if best[i] + piece_cost[i, j] < best[j]:
            best[j], back[j] = best[i] + piece_cost[i, j], i
    if not np.isfinite(best[last]):
        return [whole]
    chosen = [last]
    while chosen[-1] != 0:
        chosen.append(back[chosen[-1]])
    chosen = [paths[k] for k in chosen[::-1]]
    return list(zip(chosen[:-1], chosen[1:], strict=True))


def candidates(crop: np.ndarray) -> tuple[list[Cut], list[float]]:
    """Candidate cut paths, left to right, and the cost of cutting along each (`_path_costs`).

    Three kinds: upright cuts where the cost per column has a local minimum (where round digits
    touch, the ink in a column is short); the paths crossing the least ink from each top column
    to the bottom row (one pixel sideways at most per row; dynamic programming over the rows)
    where that least ink has a local minimum (between a slanted '1' and the 9 it leans on); and
    straight lines along the sides of full-height strokes (`_stroke_edges`).
    """
    h, w = crop.shape
    scale = max(float(crop.sum(axis=0).max()), 1e-6)
    inner = np.arange(2, w - 2)
    uprights = np.repeat(np.arange(w)[:, None], h, axis=1)  # (W, h): column x in every row
    upright_cost = ndi.uniform_filter1d(_path_costs(crop, uprights, scale), 3)
    starts = _local_minima(upright_cost, inner)
    chosen = [uprights[starts]]
    costs = [upright_cost[starts]]
    total = crop[-1].astype(np.float64)  # (W,) least ink from each column of the current row down
    moves = np.zeros((h, w), np.int8)  # sideways step from (y, x) to row y + 1
    for y in range(h - 2, -1, -1):
        left = np.concatenate([[np.inf], total[:-1]]) + _SIDEWAYS  # from x, step to x - 1
        right = np.concatenate([total[1:], [np.inf]]) + _SIDEWAYS
        options = np.stack([left, total, right])  # steps -1, 0, +1
        step = options.argmin(axis=0)
        moves[y] = step - 1
        total = crop[y] + options[step, np.arange(w)]
    starts = _local_minima(total, inner)
    paths = np.empty((len(starts), h), int)  # every path from a minimum, traced down together
    paths[:, 0] = starts
    for y in range(1, h):
        paths[:, y] = paths[:, y - 1] + moves[y - 1, paths[:, y - 1]]
    edges = np.array(_stroke_edges(crop), int).reshape(-1, h)
    drift = DRIFT * np.abs(paths[:, -1] - paths[:, 0]) / h  # (K,) see DRIFT
    for more, extra in ((paths, drift), (edges, 0.0)):
        chosen.append(more)
        costs.append(_path_costs(crop, more, scale) + extra)
    found = {}  # one of each path, the first kind to find it setting its cost
    for xs, cost in zip(np.concatenate(chosen), np.concatenate(costs), strict=True):
        found.setdefault(xs.tobytes(), (xs, float(cost)))
    ranked = sorted(found.values(), key=lambda item: item[0].mean())
    return [Cut(xs) for xs, _ in ranked], [cost for _, cost in ranked]


def _stroke_edges(crop: np.ndarray) -> list[np.ndarray]:
    """Cuts along both sides of each straight stroke that runs (nearly) the crop's whole height.

    A '1' leaning on its neighbour over a stretch has no cheap cut near it, and the least-ink
    paths wander off; a straight line just outside the stroke, parallel to it, is the cut.
    Lines of every slant in _EDGE_SLANTS are tried through each column: a stroke is a run of
    lines with ink in at least _EDGE_IN of the rows, its sides the first lines either way with
    ink in at most _EDGE_OUT of them. Returns each side as a column per row.
    """
    h, w = crop.shape
    inked = crop > 0.5
    rows = np.arange(h)
    edges = []
    for slant in _EDGE_SLANTS:
        lines = np.rint(np.arange(w)[:, None] + slant * (rows - (h - 1) / 2)[None, :]).astype(int)  # (W, h)
        on_ink = (lines >= 0) & (lines < w) & inked[rows[None, :], np.clip(lines, 0, w - 1)]
        support = on_ink.mean(axis=1)  # (W,) share of rows where each line is on ink
        x = 0
        while x < w:
            if support[x] < _EDGE_IN:
                x += 1
                continue
            left = right = x
            while right + 1 < w and support[right + 1] >= _EDGE_IN:
                right += 1
            x = right + 1
            while left > 0 and support[left] > _EDGE_OUT:
                left -= 1
            while right < w - 1 and support[right] > _EDGE_OUT:
                right += 1
            edges += [lines[side] for side in (left, right) if 0 < side < w - 1]
    return edges


def _local_minima(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    return at[(values[at] <= values[at - 1]) & (values[at] <= values[at + 1])]


def _path_costs(crop: np.ndarray, paths: np.ndarray, scale: float) -> np.ndarray:
    """How bad a cut along each path (K, h) (a column per row) is: the height of the ink it crosses
    (from the first to the last inked pixel, per crop height) plus a quarter of the ink's amount
    (per `scale`, the most ink in one column). Both in [0, 1] for an upright cut.

    Where two round digits touch, a cut crosses much ink but only over a short height; a cut
    through a loop crosses little ink but from its top to its bottom.
    """
    h = crop.shape[0]
    values = crop[np.arange(h)[None, :], np.clip(paths, 0, crop.shape[1] - 1)]  # (K, h)
    inked = values > 0.5
    rows = np.arange(h)[None, :]
    first = np.where(inked, rows, h).min(axis=1)
    last = np.where(inked, rows, -1).max(axis=1)
    extent = np.maximum(last - first + 1, 0) / h
    return extent + 0.25 * values.sum(axis=1) / scale


def _piece_cost(w: float, extent: int, height: float, width: float) -> float:
    """How unlike one digit a piece `w` px wide with `extent` px of ink rows is (0: a digit).

    A short piece is a fragment of a digit; a tall thin one is a '1'; otherwise pieces much
    narrower or wider than a digit's usual `width` cost in proportion.
    """
    if extent < 0.65 * height:  # a digit's arm or stem, cut off from the rest
        return 3.0
    if w <= 0.4 * height and extent >= 0.8 * height:
        return _ONE  # a '1'
    # MNIST digits but 1s are 0.5-1.1 heights wide (5th-95th percentile), `DIGIT_WIDTH` usually. Too
    # wide is judged against this image's digits (some people write wide), too narrow against
    # the height alone: the typical width of a number whose 1s touch their neighbours is inflated
    # by the merged pairs, which would make the right narrow pieces look wrong.
    wide = w / max(width / DIGIT_WIDTH, height)  # in digit heights, more when this image's digits are wide
    return _DIGIT + 4.0 * max(0.0, 0.5 - w / height) + 2.5 * max(0.0, wide - 0.95)
