"""Training runs end to end on the small real-MNIST sample: files, checkpoints, resume."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from digitrec import load_model
from digitrec.errors import DigitrecError
from digitrec.recipes import Recipe, get_recipe, list_recipes
from digitrec.training.run import RunOptions, check_recipe, resume_run, train_run

RUN_FILES = {"config.json", "history.csv", "metrics.json", "curves.png", "confusion.png", "misclassified.png", "model.pt", "last.pt"}


def tiny(recipe: str = "cnn-baseline", **overrides) -> Recipe:
    return get_recipe(recipe).override(**({"epochs": 2, "batch_size": 50} | overrides))


@pytest.mark.parametrize("name", list_recipes())
def test_every_recipe_passes_its_engines_checks(name):
    recipe = get_recipe(name)
    check_recipe(recipe)  # builds the model, optimizer, schedule and augmentation (torch) or network
    assert recipe.source and recipe.expected_accuracy


def test_run_writes_every_file_and_a_self_describing_checkpoint(fake_mnist, tmp_path):
    result = train_run(tiny(val_fraction=0.1), RunOptions(out=str(tmp_path / "run"), quiet=True))
    assert RUN_FILES <= {p.name for p in (tmp_path / "run").iterdir()}
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.startswith(".")]  # no temp files left
    with open(tmp_path / "run" / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["epoch"] for r in rows] == ["1", "2"] and rows[0]["val_acc"] != ""
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert {"test_accuracy", "test_loss", "train_seconds", "params"} <= set(metrics)
    assert metrics["test_accuracy"] == pytest.approx(result.metrics["test_accuracy"])
    for name in ("curves.png", "confusion.png", "misclassified.png"):
        assert (tmp_path / "run" / name).read_bytes()[:4] == b"\x89PNG"
    checkpoint = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert checkpoint["model"]["name"] == "cnn-baseline"
    assert checkpoint["normalization"] == {"mean": 0.0, "std": 1.0, "scale": 255.0}
    assert checkpoint["recipe"]["name"] == "cnn-baseline" and checkpoint["metrics"]["test_accuracy"] == metrics["test_accuracy"]
    assert {"digitrec", "torch", "python"} <= set(checkpoint["versions"])
    torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    # temperature scaling on the validation split: the buffer that runs, the entry that says so, metrics.json
    calibration = checkpoint["calibration"]
    assert calibration["fitted"] and calibration["split"] == "validation" and calibration["images"] == 100
    assert float(checkpoint["state_dict"]["temperature"]) == pytest.approx(calibration["temperature"])
    assert calibration["temperature"] != 1.0 and calibration["nll_after"] <= calibration["nll_before"]
    assert metrics["calibration"]["temperature"] == calibration["temperature"]
    assert {"test_ece_before", "test_ece_after"} <= set(metrics["calibration"])


def test_loaded_model_predicts_like_the_run(fake_mnist, small_mnist, tmp_path):
    result = train_run(tiny(), RunOptions(out=str(tmp_path / "run"), quiet=True))
    predictor = load_model(tmp_path / "run" / "model.pt")
    images = small_mnist["test"].images
    np.testing.assert_allclose(predictor.predict_proba(images), result.predictor.predict_proba(images), atol=1e-6)
    assert predictor.predict(images[0]).shape == (1,)
    accuracy = (predictor.predict(images) == small_mnist["test"].labels).mean()
    assert accuracy == pytest.approx(result.metrics["test_accuracy"])
    assert load_model(tmp_path / "run").path.name == "model.pt"  # a run folder works too
    # no validation split: no temperature, and the files say why
    checkpoint = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert checkpoint["calibration"]["fitted"] is False and float(checkpoint["state_dict"]["temperature"]) == 1.0
    assert "no validation split" in checkpoint["calibration"]["why"]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["calibration"].items() >= checkpoint["calibration"].items()
    assert metrics["calibration"]["test_ece_before"] == metrics["calibration"]["test_ece_after"]  # T = 1: one model


@pytest.mark.parametrize("recipe, overrides", [("cnn-baseline-bn", {}), ("keras-kaggle", {}),
                                               ("cnn-baseline-bn", {"ema_decay": 0.9, "val_fraction": 0.1})])
def test_resume_ends_where_an_uninterrupted_run_would(fake_mnist, tmp_path, recipe, overrides):
    # keras-kaggle brings augmentation, dropout, RMSprop, reduce-on-plateau and validation; the
    # weight average (ema_decay) must be resumed too, and it is what model.pt keeps
    whole = train_run(tiny(recipe, epochs=3, **overrides), RunOptions(out=str(tmp_path / "whole"), quiet=True, limit=300))
    part = train_run(tiny(recipe, epochs=3, **overrides), RunOptions(out=str(tmp_path / "part"), quiet=True, limit=300))
    # simulate a kill after epoch 1: roll the run back to its state then
    first = _rewind_to_epoch_one(tmp_path / "whole", tmp_path / "part")
    assert first["training"]["epoch"] == 1
    resumed = resume_run(tmp_path / "part", quiet=True)
    assert len(resumed.history) == 3
    a = torch.load(tmp_path / "whole" / "last.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "part" / "last.pt", weights_only=True)["state_dict"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    a = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "part" / "model.pt", weights_only=True)["state_dict"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    assert [r["train_loss"] for r in whole.history] == [r["train_loss"] for r in resumed.history]
    assert part.metrics["epochs_run"] == 3


def _rewind_to_epoch_one(whole_dir, part_dir):
    """Re-run epoch 1 alone into part_dir so its last.pt is the state after epoch 1."""
    config = json.loads((part_dir / "config.json").read_text())
    for name in ("last.pt", "model.pt", "metrics.json", "history.csv"):
        (part_dir / name).unlink(missing_ok=True)
    recipe = Recipe.from_dict(config["recipe"]).override(epochs=1)
    options = RunOptions(**config["options"])
    (part_dir / "config.json").unlink()
    train_run(recipe, options)
    # put back the 3-epoch recipe so the resumed run knows where to end
    saved = json.loads((part_dir / "config.json").read_text())
    saved["recipe"]["epochs"] = 3
    (part_dir / "config.json").write_text(json.dumps(saved))
    return torch.load(part_dir / "last.pt", weights_only=True)


def test_refuses_to_overwrite_a_run_and_explains_bad_resume(fake_mnist, tmp_path):
    train_run(tiny(epochs=1), RunOptions(out=str(tmp_path / "run"), quiet=True, limit=100))
    with pytest.raises(DigitrecError, match="already holds a run"):
        train_run(tiny(epochs=1), RunOptions(out=str(tmp_path / "run"), quiet=True, limit=100))
    with pytest.raises(DigitrecError, match="not a run directory"):
        resume_run(tmp_path / "nothing")


def test_bad_options_fail_up_front(fake_mnist, tmp_path):
    with pytest.raises(DigitrecError, match="CUDA is not available|unknown device"):
        train_run(tiny(epochs=1), RunOptions(out=str(tmp_path / "a"), quiet=True, device="cuda" if not torch.cuda.is_available() else "tpu"))
    with pytest.raises(DigitrecError, match="unknown recipe 'nope'; choose from"):
        get_recipe("nope")
    with pytest.raises(DigitrecError, match="learning rate.* must be positive"):
        train_run(tiny(lr=-1.0), RunOptions(out=str(tmp_path / "b"), quiet=True))


def test_a_seed_study_reads_back_its_own_runs_and_refuses_another_recipes(fake_mnist, tmp_path):
    from digitrec.training.seeds import train_seeds

    recipe, options = tiny(epochs=1), RunOptions(out=str(tmp_path / "study"), quiet=True)
    train_run(recipe.override(seed=1), RunOptions(out=str(tmp_path / "study" / "seed-1"), quiet=True))
    accuracy = json.loads((tmp_path / "study" / "seed-1" / "metrics.json").read_text())["test_accuracy"]
    study = train_seeds(recipe, options, [1])  # an interrupted study rerun: seed 1 is read back, not retrained
    assert study["runs"][0]["test_accuracy"] == accuracy
    (tmp_path / "study" / "seeds.json").unlink()
    with pytest.raises(DigitrecError, match=r"seed-1 holds a run of another recipe \(epochs 1 there, 2 here\)"):
        train_seeds(recipe.override(epochs=2), options, [1])


@pytest.mark.parametrize(("keep", "kept"), [("last", 2), ("best", None)])
def test_metrics_name_the_epoch_model_pt_holds(fake_mnist, tmp_path, keep, kept):
    train_run(tiny(val_fraction=0.1, keep=keep), RunOptions(out=str(tmp_path / "run"), quiet=True))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    with open(tmp_path / "run" / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    best = max(rows, key=lambda row: float(row["val_acc"]))  # max() takes the earliest of equals
    assert metrics["keep"] == keep and metrics["kept_epoch"] == (kept or int(best["epoch"]))
    assert metrics["val_accuracy"] == pytest.approx(float(rows[metrics["kept_epoch"] - 1]["val_acc"]))
