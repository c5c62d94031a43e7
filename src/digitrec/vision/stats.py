"""Robust statistics of grey levels, on small arrays: called a dozen times an image, so lean."""

from __future__ import annotations

import numpy as np


def spread(values: np.ndarray) -> float:
    """Standard deviation of the majority (the paper), robust to the ink: 1.4826 MAD."""
    return 1.4826 * median(np.abs(values - median(values)))


def median(values: np.ndarray) -> float:
    """np.median of a finite array, without its NaN checks (called ~15 times an image on small arrays)."""
    return quantile(values, 0.5)


def quantile(values: np.ndarray, q: float) -> float:
    """np.quantile(values, q) of a finite, non-empty array (linear interpolation), by one partition."""
    flat = values.ravel()
    position = q * (flat.size - 1)
    below = int(position)
    if below + 1 >= flat.size:
        return float(np.partition(flat, below)[below])
    low, high = np.partition(flat, (below, below + 1))[below : below + 2]
    return float(low) + (position - below) * (float(high) - float(low))


def otsu(values: np.ndarray) -> float:
    """Otsu's threshold of an array, from a 256-bin histogram."""
    low, high = float(values.min()), float(values.max())
    if low == high:  # as np.histogram: a constant array gets a range 1 wide
        low, high = low - 0.5, high + 0.5
    width = (high - low) / 256
    bins = np.minimum(((values.ravel() - low) / width).astype(np.intp), 255)  # as np.histogram bins
    counts = np.bincount(bins, minlength=256)
    edges = low + width * np.arange(257)
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
