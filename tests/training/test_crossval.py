"""The k-fold harness: folds fixed by seed and data, each fold trained through the recipe's engine."""

import json

import numpy as np
import pytest

from digitrec.evaluation.compare import load_entry
from digitrec.training.crossval import CVOptions, FoldTask, cross_validate, split_hash, train_fold
from digitrec.data import kfold_indices
from digitrec.errors import DigitrecError
from digitrec.recipes import get_recipe
from digitrec.training.run import RunOptions

CLASSES = [str(d) for d in range(10)]


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
    recipe = get_recipe("cnn-baseline").override(epochs=1, batch_size=50)
    plan = kfold_indices(train.labels[:200], 2, seed=0)
    task = FoldTask(recipe, 2, 2, plan[1][0], plan[1][1], "mnist", CLASSES)
    first = train_fold(train.images[:200], train.labels[:200], task)
    train_fold(train.images[:200], train.labels[:200], FoldTask(recipe, 1, 2, *plan[0], "mnist", CLASSES))
    again = train_fold(train.images[:200], train.labels[:200], task)
    assert first["seed"] == recipe.seed + 1 and first["history"][0]["val_acc"] == first["accuracy"]
    assert first["accuracy"] == again["accuracy"] and first["loss"] == again["loss"]


def test_cross_validate_writes_a_complete_summary(fake_mnist, tmp_path):
    recipe = get_recipe("cnn-baseline").override(epochs=2, batch_size=50)
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
    with pytest.raises(DigitrecError, match="already holds a finished cv run"):
        cross_validate(recipe, RunOptions(out=str(tmp_path / "cv"), limit=150, quiet=True), CVOptions(folds=3))


def test_cv_runs_a_scratch_recipe_through_the_same_engine(fake_mnist, tmp_path):
    recipe = get_recipe("nielsen-improved").override(epochs=2)
    result = cross_validate(recipe, RunOptions(out=str(tmp_path / "cv"), limit=600, quiet=True), CVOptions(folds=3, threads=1))
    folds = result.summary["folds"]
    assert [f["seed"] for f in folds] == [0, 1, 2] and all(len(f["history"]) == 2 for f in folds)
    assert all(f["accuracy"] == f["history"][-1]["val_acc"] for f in folds)
    assert result.summary["params"] == 784 * 300 + 300 + 300 * 10 + 10
    assert 0.5 < result.summary["mean"] <= 1.0  # 400 digits, 2 epochs: far above chance (0.1)


def test_a_stopped_cv_run_goes_on_from_the_folds_it_finished(fake_mnist, tmp_path, monkeypatch):
    from digitrec.training import crossval

    recipe = get_recipe("cnn-baseline").override(epochs=1, batch_size=50)
    options, cv = RunOptions(out=str(tmp_path / "straight"), limit=150, quiet=True), CVOptions(folds=3, threads=1)
    straight = cross_validate(recipe, options, cv).summary
    real_fold, trained = crossval.train_fold, []

    def killed_at_fold_3(images, labels, task, bars=False):
        if task.fold == 3 and "killed" not in trained:
            trained.append("killed")
            raise KeyboardInterrupt  # cv.json then holds folds 1 and 2, as after a kill
        trained.append(task.fold)
        return real_fold(images, labels, task, bars)

    monkeypatch.setattr(crossval, "train_fold", killed_at_fold_3)
    stopped = RunOptions(out=str(tmp_path / "stopped"), limit=150, quiet=True)
    with pytest.raises(KeyboardInterrupt):
        cross_validate(recipe, stopped, cv)
    partial = json.loads((tmp_path / "stopped" / "cv.json").read_text())
    assert not partial["complete"] and [f["fold"] for f in partial["folds"]] == [1, 2]
    with pytest.raises(DigitrecError, match="unfinished cv run with other recipe"):
        cross_validate(recipe.override(lr=0.5), stopped, cv)
    resumed = cross_validate(recipe, stopped, cv).summary
    assert trained == [1, 2, "killed", 3]  # folds 1 and 2 were not trained again
    assert [f["accuracy"] for f in resumed["folds"]] == [f["accuracy"] for f in straight["folds"]]
    assert resumed["mean"] == straight["mean"] and resumed["complete"] and resumed["params"] == straight["params"]
