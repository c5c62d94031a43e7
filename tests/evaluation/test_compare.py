"""Comparison statistics: oracle tests against scipy, pairing rules, and reading result folders."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from digitrec.errors import DigitrecError
from digitrec.evaluation.compare import Entry, compare, load_entry, paired_test, summarize


def _entry(label, scores, split_hash="h", share=0.25):
    split = {"folds": len(scores), "seed": 0, "stratified": True, "examples": 100, "hash": split_hash}
    return Entry(label, f"/x/{label}", "cv", label, f"{len(scores)} folds", list(scores), summarize(scores),
                 1.0, 10, split, share)


def test_summary_matches_scipy_t_interval():
    scores = [0.9871, 0.9902, 0.9855, 0.9893, 0.9880]
    s = summarize(scores)
    lo, hi = stats.t.interval(0.95, len(scores) - 1, loc=np.mean(scores), scale=stats.sem(scores))
    assert s.mean == pytest.approx(np.mean(scores)) and s.std == pytest.approx(np.std(scores, ddof=1))
    assert s.ci95 == pytest.approx((lo, hi))
    assert summarize([0.5]).std is None and summarize([0.5]).ci95 is None


def test_paired_tests_match_scipy_and_the_corrected_formula():
    a = [0.990, 0.985, 0.992, 0.988, 0.991]
    b = [0.986, 0.984, 0.987, 0.985, 0.986]
    t = paired_test(_entry("a", a), _entry("b", b))
    assert t.p_ttest == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert t.p_wilcoxon == pytest.approx(stats.wilcoxon(a, b).pvalue) == pytest.approx(0.0625)
    assert t.min_p_wilcoxon == pytest.approx(0.0625)  # 5 folds: Wilcoxon can never reach 0.05
    d = np.subtract(a, b)
    t_c = d.mean() / math.sqrt((1 / 5 + 0.25) * d.var(ddof=1))
    assert t.p_corrected == pytest.approx(2 * stats.t.sf(abs(t_c), 4))
    assert t.p_corrected > t.p_ttest and t.mean_difference == pytest.approx(d.mean())
    assert t.verdict.startswith("a better than b")
    same = paired_test(_entry("a", a), _entry("c", a))
    assert same.p_ttest == 1.0 and "no significant" in same.verdict


def _cv_dir(path, recipe, scores, split_hash="h"):
    path.mkdir()
    folds = [{"fold": i + 1, "accuracy": a, "loss": 0.1, "seconds": 2.0, "train_size": 80, "held_out_size": 20}
             for i, a in enumerate(scores)]
    split = {"folds": len(scores), "seed": 0, "stratified": True, "examples": 100, "hash": split_hash}
    (path / "cv.json").write_text(json.dumps({"recipe": recipe, "complete": True, "split": split, "folds": folds, "params": 7}))
    return path


def test_compare_pairs_only_cv_results_on_identical_folds(tmp_path):
    a = _cv_dir(tmp_path / "a", "base", [0.9, 0.8, 0.85])
    b = _cv_dir(tmp_path / "b", "deep", [0.7, 0.75, 0.72])
    c = _cv_dir(tmp_path / "c", "deep", [0.7, 0.71, 0.7], split_hash="other")
    result = compare([a, b, c])
    assert [e.label for e in result.entries] == ["base", "deep (b)", "deep (c)"]
    assert [(t.a, t.b) for t in result.tests] == [("base", "deep (b)")]
    assert len(result.warnings) == 2 and all("not paired, their folds differ" in w for w in result.warnings)
    assert result.entries[0].held_out_share == pytest.approx(0.25) and result.entries[0].seconds == 6.0


def test_load_entry_reads_runs_and_refuses_unfinished_cv(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"recipe": "r", "test_accuracy": 0.98, "params": 5, "train_seconds": 3.0}))
    entry = load_entry(run)
    assert entry.kind == "run" and entry.scores == [0.98] and entry.summary.std is None
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "cv.json").write_text(json.dumps({"recipe": "r", "complete": False, "split": {"folds": 5}, "folds": [{}]}))
    with pytest.raises(DigitrecError, match="unfinished cv run .1 of 5 folds"):
        load_entry(partial)
    with pytest.raises(DigitrecError, match="neither a cv directory"):
        load_entry(tmp_path)
    with pytest.raises(DigitrecError, match="no such directory"):
        load_entry(tmp_path / "missing")
