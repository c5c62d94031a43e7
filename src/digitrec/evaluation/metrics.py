"""Metrics over a labelled split: accuracy, loss, per-class precision/recall/F1, confusion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np



@dataclass
class Evaluation:
    classes: list[str]
    labels: np.ndarray  # (N,) true classes
    probabilities: np.ndarray  # (N, C)
    accuracy: float
    loss: float  # mean negative log-likelihood of the true class
    confusion: np.ndarray  # (C, C): rows are true classes, columns predictions
    per_class: list[dict[str, Any]]  # precision, recall, f1, support for each class

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy, "loss": self.loss, "count": int(len(self.labels)),
            "per_class": self.per_class, "confusion": self.confusion.tolist(), "classes": self.classes,
        }


def evaluate(predictor, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Metrics of anything with `predict_proba(images)` and `classes` (a Predictor) on labelled images."""
    return evaluate_probabilities(predictor.predict_proba(images), labels, predictor.classes)


def evaluate_probabilities(probabilities: np.ndarray, labels: np.ndarray, classes: list[str]) -> Evaluation:
    labels = np.asarray(labels, dtype=np.int64)
    predictions = probabilities.argmax(axis=1)
    everyone = np.arange(len(classes))
    true_class = probabilities[np.arange(len(labels)), labels]
    loss = float(-np.log(np.clip(true_class, 1e-12, None)).mean())
    confusion = np.bincount(labels * len(classes) + predictions, minlength=len(classes) ** 2).reshape(len(classes), -1)
    precision, recall, f1, support = _precision_recall_f1(confusion)
    per_class = [
        {"class": classes[i], "precision": float(precision[i]), "recall": float(recall[i]),
         "f1": float(f1[i]), "support": int(support[i])}
        for i in everyone
    ]
    return Evaluation(
        classes=list(classes), labels=labels, probabilities=probabilities,
        accuracy=float((predictions == labels).mean()), loss=loss,
        confusion=confusion, per_class=per_class,
    )


def _precision_recall_f1(confusion: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per class, as scikit-learn's `precision_recall_fscore_support(..., zero_division=0)` computes
    them (F1 = 2 tp / (true + predicted)); NumPy here so that evaluating imports no scikit-learn."""
    tp = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1)  # true examples per class
    predicted = confusion.sum(axis=0)

    def ratio(top, bottom):
        return np.divide(top, bottom, out=np.zeros_like(top), where=bottom > 0)

    return ratio(tp, predicted), ratio(tp, support), ratio(2 * tp, support + predicted), support


def format_report(evaluation: Evaluation) -> str:
    """A plain-text report: headline metrics, per-class table, confusion matrix."""
    width = max(5, max(len(c) for c in evaluation.classes))
    lines = [
        f"accuracy {evaluation.accuracy:.4f}  loss {evaluation.loss:.4f}  "
        f"errors {int((evaluation.predictions != evaluation.labels).sum())}/{len(evaluation.labels)}",
        "",
        f"{'class':>{width}s}  precision  recall      f1  support",
    ]
    for row in evaluation.per_class:
        lines.append(f"{row['class']:>{width}s}  {row['precision']:9.4f}  {row['recall']:6.4f}  {row['f1']:6.4f}  {row['support']:7d}")
    lines += ["", "confusion matrix (rows: true, columns: predicted)"]
    short = [c[:5] for c in evaluation.classes]
    cell = max(5, len(str(evaluation.confusion.max())) + 1)
    lines.append(" " * (width + 1) + "".join(f"{c:>{cell}s}" for c in short))
    for name, row in zip(evaluation.classes, evaluation.confusion):
        lines.append(f"{name:>{width}s} " + "".join(f"{v:>{cell}d}" for v in row))
    return "\n".join(lines)
