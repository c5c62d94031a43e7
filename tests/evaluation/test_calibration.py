"""Calibration measures against hand-computed values."""

import numpy as np
import pytest

from digitrec.evaluation.calibration import coverage_table, expected_calibration_error


def test_ece_by_hand():
    # 4 images: two at confidence 0.9 (one right), two at 0.6 (both right); 15 bins
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6]])
    labels = np.array([0, 1, 1, 1])
    # bin of 0.9: accuracy 0.5 vs 0.9 -> 0.4 x 2 images; bin of 0.6: accuracy 1.0 vs 0.6 -> 0.4 x 2
    assert expected_calibration_error(probs, labels) == pytest.approx(0.4)
    assert expected_calibration_error(np.eye(3), np.arange(3)) == 0.0  # sure and right


def test_coverage_table():
    probs = np.array([[0.95, 0.05], [0.55, 0.45], [0.2, 0.8], [0.6, 0.4]])
    labels = np.array([0, 1, 1, 0])  # the 0.55 one is wrong
    rows = {r["threshold"]: r for r in coverage_table(probs, labels, thresholds=(0.0, 0.58, 0.99))}
    assert rows[0.0] == {"threshold": 0.0, "coverage": 1.0, "error_rate": 0.25, "errors": 1}
    assert rows[0.58]["coverage"] == 0.75 and rows[0.58]["error_rate"] == 0.0
    assert rows[0.99] == {"threshold": 0.99, "coverage": 0.0, "error_rate": None, "errors": 0}
