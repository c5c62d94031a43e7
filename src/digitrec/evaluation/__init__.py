"""Judging models: metrics over a labelled split, comparisons with paired tests, and plots."""

from .metrics import Evaluation, evaluate, evaluate_probabilities, format_report

__all__ = ["Evaluation", "evaluate", "evaluate_probabilities", "format_report"]
