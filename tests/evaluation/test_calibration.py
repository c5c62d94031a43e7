"""Calibration: measures against hand-computed values, and the temperature fit against data of known temperature."""

import numpy as np
import pytest

from digitrec.evaluation.calibration import (
    NO_VALIDATION, PREDATES, TEMPERATURE_BOUNDS, calibrate_probabilities, calibration_record, calibration_report,
    coverage_table, expected_calibration_error, fit_temperature, format_calibration, not_calibrated, retemper, softmax,
    temperature_nll,
)


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


def _draw(temperature: float, n: int = 10_000, seed: int = 0):
    """Logits, and labels drawn from softmax(logits / temperature): data whose true temperature is known."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 3.0, (n, 10))
    probs = softmax(logits / temperature)
    labels = (probs.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    return logits, labels


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.5])
def test_fit_temperature_recovers_the_temperature_the_labels_were_drawn_from(temperature):
    logits, labels = _draw(temperature)
    assert fit_temperature(logits, labels) == pytest.approx(temperature, rel=0.05)


def test_fit_temperature_finds_the_minimum_a_grid_search_finds():
    logits, labels = _draw(1.8, n=3000, seed=1)
    grid = np.exp(np.linspace(np.log(0.5), np.log(5.0), 2001))
    best = grid[np.argmin([temperature_nll(logits, labels, t) for t in grid])]
    assert fit_temperature(logits, labels) == pytest.approx(best, rel=2e-3)
    shifted = logits - 7.0 * np.arange(len(logits))[:, None] / len(logits)  # any per-row shift: log-probabilities too
    assert fit_temperature(shifted, labels) == pytest.approx(best, rel=2e-3)
    with pytest.raises(ValueError, match="no images"):
        fit_temperature(logits[:0], labels[:0])


def test_a_perfectly_separable_set_stops_at_the_lower_bound():
    logits = np.eye(10) * 5.0  # every image right: the NLL keeps falling as T -> 0
    assert fit_temperature(logits, np.arange(10)) == pytest.approx(TEMPERATURE_BOUNDS[0], rel=1e-3)


def test_temperature_scaling_never_changes_the_label_and_retemper_undoes_it():
    logits, _ = _draw(1.0, n=500)
    raw = softmax(logits).astype(np.float32)
    scaled = retemper(raw, 2.0)
    np.testing.assert_allclose(scaled, softmax(logits / 2.0), rtol=1e-5, atol=1e-7)
    assert np.array_equal(scaled.argmax(1), raw.argmax(1)) and scaled.dtype == np.float32
    np.testing.assert_allclose(retemper(scaled, 1 / 2.0), raw, rtol=1e-4, atol=1e-7)
    assert retemper(raw, 1.0) is raw


def test_calibrate_probabilities_is_temperature_scaling_of_the_logits():
    logits, labels = _draw(2.0, n=4000)
    record = calibrate_probabilities(softmax(logits), labels)
    assert record["temperature"] == pytest.approx(fit_temperature(logits, labels), rel=1e-4)
    assert record["fitted"] and record["images"] == 4000 and record["split"] == "validation"
    assert record["nll_after"] < record["nll_before"] and record["ece_after"] < record["ece_before"]


def test_the_report_says_where_the_temperature_came_from():
    logits, labels = _draw(2.0, n=2000)
    fitted = calibration_record(logits, labels, 2.0)
    probs = softmax(logits / 2.0)  # what the model predicts, its temperature applied
    report = calibration_report(probs, labels, fitted)
    assert report["ece_before"] == pytest.approx(expected_calibration_error(softmax(logits), labels), abs=1e-6)
    assert report["ece_after"] == expected_calibration_error(probs, labels) < report["ece_before"]
    assert sum(b["count"] for b in report["bins_after"]) == 2000
    text = format_calibration(report)
    assert "temperature 2.000, fitted on 2000 validation images" in text and "before (T = 1)" in text
    assert "after (T = 2.000)" in text and "min confidence" in text

    text = format_calibration(calibration_report(probs, labels, not_calibrated(NO_VALIDATION)))
    assert text.startswith("not calibrated: the recipe has no validation split (set --val-fraction")
    assert "before" not in text
    assert format_calibration(calibration_report(probs, labels, None)).startswith(f"not calibrated: {PREDATES}")
