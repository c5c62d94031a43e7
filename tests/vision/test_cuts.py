"""Cut paths between touching digits: what a path that drifts sideways costs."""

from __future__ import annotations

import numpy as np
import pytest

from digitrec.vision.cuts import DRIFT, candidates


@pytest.mark.parametrize("drift", [0, 30])
def test_a_cut_path_pays_for_drifting_sideways(drift):
    # A gap between two digits runs down; a path that wanders far sideways through the ink-free
    # inside of a digit (into a 0 open at the top, out through its lower left) slices the digit.
    # The path still follows the gap, but its cost grows with how far it ends up sideways.
    h = w = 60
    rows = np.arange(h)
    centre = np.rint(45 - drift * (rows / (h - 1)) ** 2).astype(int)  # a curved gap, no straight side
    crop = np.ones((h, w), np.float32)
    for y, x in enumerate(centre):
        crop[y, x - 2 : x + 3] = 0.0
    paths, costs = candidates(crop)
    best = int(np.argmin(costs))
    assert np.all(np.abs(paths[best].xs - centre) <= 2)  # inside the gap all the way down
    drifted = abs(int(paths[best].xs[-1]) - int(paths[best].xs[0]))
    assert costs[best] == pytest.approx(DRIFT * drifted / h, abs=0.01)
    assert (costs[best] > 0.2) == (drift > 0)
