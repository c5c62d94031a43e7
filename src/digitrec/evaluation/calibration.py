"""Does confidence mean what it says? Expected calibration error, and what a --min-confidence buys.

ECE: the test images are put in equal-width bins by their top probability; ECE is the mean, over
images, of |accuracy of the bin - mean confidence of the bin| (Guo et al. 2017, 15 bins). The
coverage table says, for each threshold, how many images keep a label and how often that label is
wrong: what `digitrec predict --min-confidence T` trades.
"""

from __future__ import annotations

import numpy as np

THRESHOLDS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE of (N, C) probabilities against (N,) labels, in [0, 1]."""
    confidence = probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)  # bin i: (edge i, edge i+1]
    gap = 0.0
    for index in range(bins):
        inside = which == index
        if inside.any():
            gap += inside.sum() * abs(right[inside].mean() - confidence[inside].mean())
    return float(gap / len(labels))


def coverage_table(probabilities: np.ndarray, labels: np.ndarray, thresholds=THRESHOLDS) -> list[dict]:
    """Per threshold: the share of images labelled (confidence >= threshold) and the error rate among them."""
    confidence = probabilities.max(axis=1)
    wrong = probabilities.argmax(axis=1) != labels
    rows = []
    for threshold in thresholds:
        kept = confidence >= threshold
        rows.append({"threshold": threshold, "coverage": float(kept.mean()),
                     "error_rate": float(wrong[kept].mean()) if kept.any() else None, "errors": int(wrong[kept].sum())})
    return rows


def format_calibration(probabilities: np.ndarray, labels: np.ndarray) -> str:
    lines = [f"expected calibration error {expected_calibration_error(probabilities, labels):.4f} (15 bins)",
             "min confidence  labelled  error rate  errors"]
    for row in coverage_table(probabilities, labels):
        rate = "-" if row["error_rate"] is None else f"{100 * row['error_rate']:.2f}%"
        lines.append(f"{row['threshold']:>14.2f}  {100 * row['coverage']:>7.2f}%  {rate:>10}  {row['errors']:>6}")
    return "\n".join(lines)
