"""k-fold harness and comparison statistics: oracle tests against scipy, folds, files."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from digitrec.compare import Entry, compare, load_entry, paired_test, summarize
from digitrec.crossval import CVOptions, FoldTask, cross_validate, split_hash, train_fold
from digitrec.data import kfold_indices
from digitrec.errors import DigitrecError
from digitrec.recipes import get_recipe
from digitrec.training.run import RunOptions


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


def test_split_hash_is_fixed_by_seed_and_data():
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 255, (200, 28, 28), dtype=np.uint8), rng.integers(0, 10, 200)
    h = split_hash(images, labels, kfold_indices(labels, 5, seed=3))
    assert h == split_hash(images, labels, kfold_indices(labels, 5, seed=3))
    assert h != split_hash(images, labels, kfold_indices(labels, 5, seed=4))
    assert h != split_hash(images, labels, kfold_indices(labels, 4, seed=3))
    assert h != split_hash(images[::-1].copy(), labels, kfold_indices(labels, 5, seed=3))


def test_a_fold_does_not_depend_on_what_ran_before(small_mnist):
    train = small_mnist["train"]
    recipe = get_recipe("cnn-baseline").replace(epochs=1, batch_size=50)
    plan = kfold_indices(train.labels[:200], 2, seed=0)
    task = FoldTask(recipe, 2, 2, plan[1][0], plan[1][1], 10)
    first = train_fold(train.images[:200], train.labels[:200], task)
    train_fold(train.images[:200], train.labels[:200], FoldTask(recipe, 1, 2, *plan[0], 10))
    again = train_fold(train.images[:200], train.labels[:200], task)
    assert first["seed"] == recipe.seed + 1 and first["history"][0]["val_acc"] == first["accuracy"]
    assert first["accuracy"] == again["accuracy"] and first["loss"] == again["loss"]


def test_cross_validate_writes_a_complete_summary(fake_mnist, tmp_path):
    recipe = get_recipe("cnn-baseline").replace(epochs=2, batch_size=50)
    result = cross_validate(recipe, RunOptions(out=str(tmp_path / "cv"), limit=150, quiet=True), CVOptions(folds=3, threads=1))
    s = json.loads((tmp_path / "cv" / "cv.json").read_text())
    assert s == json.loads(json.dumps(result.summary)) and s["complete"]
    assert [f["fold"] for f in s["folds"]] == [1, 2, 3] and [f["seed"] for f in s["folds"]] == [0, 1, 2]
    assert sum(f["held_out_size"] for f in s["folds"]) == 150 == s["train_size"]
    assert all(len(f["history"]) == 2 and f["history"][-1]["val_acc"] == f["accuracy"] for f in s["folds"])
    assert s["mean"] == pytest.approx(np.mean([f["accuracy"] for f in s["folds"]]))
    assert s["ci95"][0] < s["mean"] < s["ci95"][1] and s["threads"] == 1 and s["params"] > 0
    assert "t(0.975, k-1)" in (tmp_path / "cv" / "cv.md").read_text()
    entry = load_entry(tmp_path / "cv")
    assert entry.kind == "cv" and entry.scores == [f["accuracy"] for f in s["folds"]]
    assert entry.held_out_share == pytest.approx(0.5)  # 3 folds: 50 held out per 100 trained on
    with pytest.raises(DigitrecError, match="already holds a cv run"):
        cross_validate(recipe, RunOptions(out=str(tmp_path / "cv"), limit=150, quiet=True), CVOptions(folds=3))


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


def test_fold_curves_draws_every_fold(tmp_path):
    from digitrec.plots import fold_curves

    history = [{"epoch": e, "train_loss": 1 / e, "train_acc": 1 - 1 / (e + 1), "val_loss": 1.1 / e, "val_acc": 0.9} for e in (1, 2, 3)]
    path = fold_curves([history, history], tmp_path / "curves.png")
    assert path.stat().st_size > 1000 and path.read_bytes()[:4] == b"\x89PNG"
