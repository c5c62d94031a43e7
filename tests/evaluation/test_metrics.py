"""Metrics over a labelled split, checked against scikit-learn and hand counts."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, log_loss

from digitrec.evaluation import evaluate, evaluate_probabilities, format_report
from digitrec.predict import Predictor


def test_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 200)
    probs = rng.dirichlet(np.ones(3), 200).astype(np.float32)
    report = evaluate_probabilities(probs, labels, ["a", "b", "c"])
    assert report.accuracy == pytest.approx(accuracy_score(labels, probs.argmax(1)))
    assert report.loss == pytest.approx(log_loss(labels, probs, labels=[0, 1, 2]), rel=1e-5)
    assert [row["f1"] for row in report.per_class] == pytest.approx(f1_score(labels, probs.argmax(1), average=None))
    assert report.confusion.sum() == 200 and report.confusion.trace() == (probs.argmax(1) == labels).sum()
    assert "confusion matrix" in format_report(report) and report.to_dict()["count"] == 200


def test_per_class_counts_are_exactly_scikit_learns_even_for_a_class_never_predicted():
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 300)
    probs = rng.dirichlet(np.ones(4), 300).astype(np.float32)
    probs[:, 3] = 0  # class 3 is never predicted: precision 0 by zero_division=0
    report = evaluate_probabilities(probs, labels, list("abcd"))
    expected = precision_recall_fscore_support(labels, probs.argmax(1), labels=np.arange(4), zero_division=0)
    for key, values in zip(("precision", "recall", "f1", "support"), expected):
        assert [row[key] for row in report.per_class] == values.tolist()
    assert np.array_equal(report.confusion, confusion_matrix(labels, probs.argmax(1), labels=np.arange(4)))


def test_evaluate_asks_the_predictor():
    predictor = Predictor(lambda images: np.tile([0.2, 0.8], (len(images), 1)), ["no", "yes"], {})
    report = evaluate(predictor, np.zeros((4, 28, 28), np.uint8), np.array([1, 1, 0, 1]))
    assert report.accuracy == 0.75 and report.per_class[0]["support"] == 1 and report.per_class[0]["recall"] == 0.0
