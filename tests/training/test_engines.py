"""Every recipe through its engine's one interface, on a few real digits: shapes, hooks, no NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from digitrec.data import Split
from digitrec.errors import DigitrecError
from digitrec.recipes import get_recipe, list_recipes
from digitrec.training.engines import ENGINES, get_engine
from digitrec.training.interface import FitData, Hooks

CLASSES = [str(d) for d in range(10)]


def _data(small_mnist, n: int = 120, val: int = 40) -> FitData:
    train = small_mnist["train"]
    return FitData("mnist", CLASSES, Split(train.images[:n], train.labels[:n]),
                   Split(train.images[n:n + val], train.labels[n:n + val]))


@pytest.mark.parametrize("name", list_recipes())
def test_every_recipe_fits_through_its_engine(name, small_mnist, tmp_path):
    recipe = get_recipe(name).override(epochs=2, batch_size=20)
    engine = get_engine(recipe.engine)
    ends = []
    result = engine.fit(recipe, _data(small_mnist), Hooks(on_epoch_end=ends.append))
    assert [row["epoch"] for row in result.history] == [1, 2] and [end.epoch for end in ends] == [1, 2]
    assert all(math.isfinite(row["train_loss"]) and 0 <= row["val_acc"] <= 1 for row in result.history)
    assert ends[0].improved and (ends[0].save_state is None) == (not engine.can_resume)
    probs = result.predictor.predict_proba(small_mnist["test"].images[:5])
    assert probs.shape == (5, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-5) and result.params > 0
    # every engine fits a temperature on the validation split (but not to sigmoid outputs), and its predictor applies it
    sigmoid = recipe.model_args.get("output") == "sigmoid"
    assert result.calibration["fitted"] is not sigmoid and result.calibration["temperature"] > 0
    assert result.calibration.get("images", 40) == 40 and result.predictor.metadata["calibration"] == result.calibration
    result.save_model(tmp_path / result.model_file, {"note": "test"})
    ends[-1].save_model(tmp_path / ("last-" + result.model_file), {})
    assert (tmp_path / result.model_file).stat().st_size > 0


def test_the_table_names_every_engine_a_recipe_can_ask_for():
    assert set(ENGINES) == {"torch", "scratch"}
    with pytest.raises(DigitrecError, match="unknown engine 'jax'; choose from: torch, scratch"):
        get_engine("jax")


def test_engines_refuse_what_they_cannot_run():
    for engine, recipe, words in (
        ("torch", get_recipe("default").override(optimizer="lbfgs"), "unknown optimizer 'lbfgs'"),
        ("torch", get_recipe("default").override(momentum=0.9), "momentum applies to sgd and rmsprop"),
        ("torch", get_recipe("default").override(model="resnet"), "unknown model 'resnet'; choose from"),
        ("torch", get_recipe("default").override(augment_args={"spin": 3}), "spin"),
        ("scratch", get_recipe("nielsen").override(model_args={"sizes": [784, 10], "width": 3}), "not width"),
        ("scratch", get_recipe("nielsen").override(model_args={"sizes": [784, 10], "activation": "gelu"}), "gelu"),
        ("scratch", get_recipe("nielsen").override(keep="last", early_stopping=3, val_fraction=0.1),
         "scratch engine keeps the best epoch when it stops early"),
    ):
        with pytest.raises(DigitrecError, match=words):
            get_engine(engine).check(recipe)


@pytest.mark.parametrize("name", ["nielsen", "mxnet-mlp"])
def test_both_engines_stop_early_on_validation_accuracy(name, small_mnist):
    """Patience 1: training ends at the first epoch that is no better than the best so far."""
    recipe = get_recipe(name).override(epochs=12, early_stopping=1, batch_size=20)
    ends = []
    result = get_engine(recipe.engine).fit(recipe, _data(small_mnist, n=200, val=100), Hooks(on_epoch_end=ends.append))
    accs = [row["val_acc"] for row in result.history]
    best = accs[0]
    for epoch, acc in enumerate(accs[1:], start=2):
        assert ends[epoch - 1].improved == (acc > best)
        if acc <= best:
            assert epoch == len(accs)  # stopped right there
        best = max(best, acc)
    assert len(accs) < 12, accs  # 200 digits, lr as the recipe: validation accuracy stalls well before


def test_bf16_trains_under_autocast_with_float32_weights(small_mnist):
    recipe = get_recipe("fast").override(epochs=2, batch_size=20, precision="bf16")
    result = get_engine("torch").fit(recipe, _data(small_mnist), Hooks())
    assert result.facts == {"train_precision": "bf16", "train_device": "cpu", "train_threads": torch.get_num_threads()}
    assert all(math.isfinite(row["train_loss"]) for row in result.history)
    probs = result.predictor.predict_proba(small_mnist["test"].images[:5])
    assert probs.dtype == np.float32 and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_auto_precision_is_bf16_only_where_the_hardware_has_it(monkeypatch):
    import torch

    from digitrec.training.environment import resolve_precision

    for amx, avx512_bf16, expected in ((True, False, "bf16"), (False, True, "bf16"), (False, False, "fp32")):
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
        assert resolve_precision("auto", "cpu") == expected, (amx, avx512_bf16)
    assert resolve_precision("fp32", "cpu") == "fp32" and resolve_precision("bf16", "cpu") == "bf16"
    with pytest.raises(DigitrecError, match="unknown precision 'fp8'; choose from: fp32, bf16, auto"):
        get_engine("torch").check(get_recipe("fast").override(precision="fp8"))


def _weights(path) -> dict[str, np.ndarray]:
    """The trained arrays of a model file, whichever engine wrote it (not the temperature fitted after training)."""
    if path.suffix == ".npz":
        with np.load(path) as arrays:
            return {k: arrays[k] for k in arrays.files if k.startswith(("weight_", "bias_"))}
    return {k: v.numpy() for k, v in torch.load(path, weights_only=True)["state_dict"].items() if k != "temperature"}


# epochs after which validation accuracy (200 digits) has dipped below an earlier epoch's
@pytest.mark.parametrize(("name", "epochs"), [("nielsen", 3), ("mxnet-mlp", 6)])
@pytest.mark.parametrize("keep", ["best", "last"])
def test_keep_last_holds_the_final_weights_whatever_validation_says(name, epochs, keep, small_mnist, tmp_path):
    recipe = get_recipe(name).override(epochs=epochs, batch_size=20, keep=keep)
    ends = []

    def on_epoch_end(end):
        ends.append(end)
        end.save_model(final_file, {})  # the weights as this epoch ends

    suffix = ".npz" if recipe.engine == "scratch" else ".pt"
    final_file, kept_file = tmp_path / f"final{suffix}", tmp_path / f"kept{suffix}"
    result = get_engine(recipe.engine).fit(recipe, _data(small_mnist, n=200, val=100), Hooks(on_epoch_end=on_epoch_end))
    accs = [row["val_acc"] for row in result.history]
    assert max(accs) > accs[-1], accs  # an earlier epoch validates better: keep best and keep last differ
    result.save_model(kept_file, {})
    kept, final = _weights(kept_file), _weights(final_file)
    same = kept.keys() == final.keys() and all(np.array_equal(kept[k], final[k]) for k in kept)
    assert same == (keep == "last")
    assert all(end.improved for end in ends) == (keep == "last")
