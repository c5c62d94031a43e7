"""Does confidence mean what it says? Temperature scaling, expected calibration error, and what a
--min-confidence buys.

Temperature scaling (Guo et al. 2017): divide a model's logits by one number T fitted to minimise
the negative log-likelihood on held-out images. T > 1 softens an over-confident model, T < 1
sharpens an under-confident one; the predicted class never changes, only how sure it claims to be.
ECE: the images are put in equal-width bins by their top probability; ECE is the mean, over
images, of |accuracy of the bin - mean confidence of the bin| (15 bins, as Guo et al.). The
coverage table says, for each threshold, how many images keep a label and how often that label is
wrong: what `digitrec predict --min-confidence T` trades.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

THRESHOLDS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
BINS = 15
TEMPERATURE_BOUNDS = (0.05, 20.0)  # beyond these the model is either a coin or a one-hot: no use fitting on
_GOLDEN = (math.sqrt(5) - 1) / 2  # 0.618...: the golden-section step


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, C) logits, in float64, stable for large logits."""
    shifted = np.asarray(logits, dtype=np.float64)
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def temperature_nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of `labels` under softmax(logits / temperature), in nats."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    top = scaled.max(axis=1, keepdims=True)
    log_norm = (top + np.log(np.exp(scaled - top).sum(axis=1, keepdims=True)))[:, 0]  # log-sum-exp, (N,)
    return float((log_norm - scaled[np.arange(len(labels)), labels]).mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray, bounds: tuple[float, float] = TEMPERATURE_BOUNDS,
                    tolerance: float = 1e-5) -> float:
    """The temperature T in `bounds` that minimises the NLL of softmax(logits / T) on `labels`.

    The NLL is convex in 1/T, hence unimodal in log T, so a golden-section search on log T finds
    its minimum (to `tolerance` in log T, ~30 evaluations) with no gradients and no randomness.
    `logits` may be any per-row shift of them, e.g. log-probabilities: softmax ignores the shift.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        raise ValueError("cannot fit a temperature on no images")
    low, high = math.log(bounds[0]), math.log(bounds[1])

    def cost(log_t: float) -> float:
        return temperature_nll(logits, labels, math.exp(log_t))

    a, b = high - _GOLDEN * (high - low), low + _GOLDEN * (high - low)
    cost_a, cost_b = cost(a), cost(b)
    while high - low > tolerance:
        if cost_a <= cost_b:  # the minimum lies in [low, b]
            high, b, cost_b = b, a, cost_a
            a = high - _GOLDEN * (high - low)
            cost_a = cost(a)
        else:  # in [a, high]
            low, a, cost_a = a, b, cost_b
            b = low + _GOLDEN * (high - low)
            cost_b = cost(b)
    return float(math.exp((low + high) / 2))


def retemper(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """The probabilities the same model gives with its logits divided by `temperature` once more:
    softmax(log p / T). `retemper(p, 1 / T)` undoes a temperature T already applied (to within
    float32: a probability that underflowed to 0 stays 0)."""
    probabilities = np.asarray(probabilities)
    if temperature == 1.0:
        return probabilities
    with np.errstate(divide="ignore"):  # log(0) = -inf is right: the class keeps probability 0
        log_p = np.log(probabilities.astype(np.float64))
    return softmax(log_p / temperature).astype(probabilities.dtype)


def calibration_record(logits: np.ndarray, labels: np.ndarray, temperature: float, split: str = "validation") -> dict[str, Any]:
    """What a checkpoint says about its temperature: the value and the NLL and ECE it changed."""
    logits = np.asarray(logits, dtype=np.float64)
    before, after = softmax(logits), softmax(logits / temperature)
    return {
        "temperature": float(temperature), "fitted": True, "split": split, "images": int(len(labels)),
        "nll_before": temperature_nll(logits, labels, 1.0), "nll_after": temperature_nll(logits, labels, temperature),
        "ece_before": expected_calibration_error(before, labels), "ece_after": expected_calibration_error(after, labels),
    }


def calibrate_probabilities(probabilities: np.ndarray, labels: np.ndarray, split: str = "validation") -> dict[str, Any]:
    """Fit a temperature to a model known only by its probabilities (the NumPy network), on the log
    of them: for a softmax output that is exactly temperature scaling of its logits."""
    tiny = np.finfo(np.float64).tiny  # a probability that underflowed to 0 gets a finite, very low score
    log_p = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), tiny, None))
    return calibration_record(log_p, labels, fit_temperature(log_p, labels), split)


NO_VALIDATION = "the recipe has no validation split (set --val-fraction, or fit one with `digitrec calibrate`)"


def not_calibrated(why: str) -> dict[str, Any]:
    """The calibration entry of a model whose probabilities are its raw softmax (T = 1), and why."""
    return {"temperature": 1.0, "fitted": False, "why": why}


def reliability_bins(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> list[dict[str, Any]]:
    """Per confidence bin (lower, upper]: images in it, their accuracy and mean confidence (None if empty)."""
    confidence = probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)  # bin i: (edge i, edge i+1]
    rows = []
    for index in range(bins):
        inside = which == index
        count = int(inside.sum())
        rows.append({"lower": float(edges[index]), "upper": float(edges[index + 1]), "count": count,
                     "accuracy": float(right[inside].mean()) if count else None,
                     "confidence": float(confidence[inside].mean()) if count else None})
    return rows


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """ECE of (N, C) probabilities against (N,) labels, in [0, 1]."""
    gap = sum(row["count"] * abs(row["accuracy"] - row["confidence"])
              for row in reliability_bins(probabilities, labels, bins) if row["count"])
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


def format_coverage(rows: list[dict]) -> str:
    lines = ["min confidence  labelled  error rate  errors"]
    for row in rows:
        rate = "-" if row["error_rate"] is None else f"{100 * row['error_rate']:.2f}%"
        lines.append(f"{row['threshold']:>14.2f}  {100 * row['coverage']:>7.2f}%  {rate:>10}  {row['errors']:>6}")
    return "\n".join(lines)


PREDATES = "the model file predates calibration (`digitrec calibrate` fits a temperature)"


def calibration_report(probabilities: np.ndarray, labels: np.ndarray, calibration: dict[str, Any] | None) -> dict[str, Any]:
    """How well a model's probabilities (its temperature applied) match its accuracy on labelled
    images, before (T = 1) and after its temperature; `calibration` is the model file's entry."""
    entry = calibration if isinstance(calibration, dict) else not_calibrated(PREDATES)
    temperature = float(entry.get("temperature", 1.0))
    before = retemper(probabilities, 1 / temperature)
    report = {
        "temperature": temperature, "fitted": bool(entry.get("fitted")),
        "ece_before": expected_calibration_error(before, labels), "ece_after": expected_calibration_error(probabilities, labels),
        "coverage": coverage_table(probabilities, labels),
        "bins_before": reliability_bins(before, labels), "bins_after": reliability_bins(probabilities, labels),
    }
    if not report["fitted"]:
        report["why"] = entry.get("why") or "no temperature fitted"
    else:
        report["fitted_on"] = {key: entry.get(key) for key in ("split", "images")}
    return report


def format_calibration(report: dict[str, Any]) -> str:
    """A calibration_report as text: where its temperature came from, ECE before and after, coverage."""
    temperature = report["temperature"]
    if report["fitted"]:
        where = report["fitted_on"]
        lines = [f"calibration: temperature {temperature:.3f}, fitted on {where['images']} {where['split']} images"]
    else:
        lines = [f"not calibrated: {report['why']}" + (f" (its temperature is {temperature:.3f})" if temperature != 1 else "")]
    if temperature != 1:
        lines.append(f"expected calibration error ({BINS} bins): {report['ece_before']:.4f} before (T = 1), "
                     f"{report['ece_after']:.4f} after (T = {temperature:.3f})")
    else:
        lines.append(f"expected calibration error ({BINS} bins): {report['ece_after']:.4f}")
    return "\n".join(lines + ["what --min-confidence buys here:", format_coverage(report["coverage"])])
