"""vision.stats against NumPy: the same medians, quantiles, spreads and Otsu thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from digitrec.vision.stats import median, otsu, quantile, spread


def _otsu_reference(values: np.ndarray) -> float:
    """Otsu's threshold from np.histogram, as vision.ink computed it before vision.stats."""
    counts, edges = np.histogram(values, bins=256, range=(float(values.min()), float(values.max())))
    centres = (edges[:-1] + edges[1:]) / 2
    weight, mass = np.cumsum(counts), np.cumsum(counts * centres)
    below, above = weight, weight[-1] - weight
    valid = (below > 0) & (above > 0)
    between = np.zeros_like(centres)
    between[valid] = below[valid] * above[valid] * (mass[valid] / below[valid] - (mass[-1] - mass[valid]) / above[valid]) ** 2
    return float(edges[1:][np.argmax(between)])


@pytest.mark.parametrize("size", [1, 2, 3, 10, 101, 1000, 8836])
def test_against_numpy(size):
    rng = np.random.default_rng(size)
    for dtype in (np.float32, np.float64):
        values = (rng.random((size,)) ** rng.uniform(0.2, 5)).astype(dtype)
        assert median(values) == pytest.approx(float(np.median(values)), abs=1e-7)
        for q in (0.0, 0.25, 0.75, 1.0):
            assert quantile(values, q) == pytest.approx(float(np.quantile(values, q)), abs=1e-7)
        mad = 1.4826 * float(np.median(np.abs(values - np.median(values))))
        assert spread(values) == pytest.approx(mad, abs=1e-6)
        assert otsu(values) == pytest.approx(_otsu_reference(values), abs=1e-6)
    assert median(np.arange(12.0).reshape(3, 4)) == 5.5  # any shape


def test_otsu_splits_two_populations_and_takes_constants():
    rng = np.random.default_rng(0)
    paper, ink = rng.normal(0.0, 0.01, 5000), rng.normal(0.5, 0.05, 800)
    threshold = otsu(np.concatenate([paper, ink]).astype(np.float32))
    assert (paper < threshold).mean() > 0.99 and (ink > threshold).all()
    assert otsu(np.full(7, 0.3)) == pytest.approx(_otsu_reference(np.full(7, 0.3)))  # np.histogram widens the range
