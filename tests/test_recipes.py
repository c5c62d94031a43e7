"""Recipes: engine-typed fields, TOML in and out, overrides an engine cannot run refused, constants once."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from digitrec.errors import DigitrecError
from digitrec.recipes import Recipe, ScratchArgs, TorchArgs, get_recipe, list_recipes, read_recipe

SRC = Path(__file__).parents[1] / "src" / "digitrec"
LEGACY = Path(__file__).parent / "fixtures" / "legacy"


@pytest.mark.parametrize("name", list_recipes())
def test_every_recipe_survives_a_toml_round_trip(name, tmp_path):
    recipe = get_recipe(name)
    (tmp_path / "r.toml").write_text(recipe.to_toml())
    assert read_recipe(tmp_path / "r.toml") == recipe
    assert isinstance(recipe.args, {"torch": TorchArgs, "scratch": ScratchArgs}[recipe.engine])


def test_a_recipe_holds_only_its_engines_fields():
    scratch = get_recipe("nielsen").to_dict()
    assert set(scratch["args"]) == {"momentum", "lmbda"}  # no optimizer, schedule, augment, normalisation...
    assert "optimizer" not in scratch and "augment" not in scratch
    assert set(get_recipe("default").to_dict()["args"]) >= {"optimizer", "schedule", "augment", "mean", "std"}


def test_an_override_the_engine_cannot_run_is_refused_by_name():
    with pytest.raises(DigitrecError) as error:
        get_recipe("nielsen").override(augment=True, optimizer="adam", label_smoothing=0.2)
    message = str(error.value)
    assert "scratch engine" in message and "'augment', 'label_smoothing', 'optimizer'" in message
    assert "it takes:" in message and "lmbda" in message and "momentum" in message
    assert get_recipe("nielsen").override(lr=0.5, momentum=0.9, lmbda=1.0).args == ScratchArgs(momentum=0.9, lmbda=1.0)
    assert get_recipe("default").override(optimizer="sgd", lr=0.1, epochs=None).args.optimizer == "sgd"


def test_unknown_keys_and_wrong_types_name_the_key(tmp_path):
    cases = {
        'name = "x"\nmodel = "mlp"\nepoch = 3\n': "unknown key 'epoch'",
        'name = "x"\nmodel = "mlp"\nepochs = "ten"\n': "'epochs' must be an integer, got 'ten'",
        'name = "x"\nmodel = "mlp"\nlr = true\n': "'lr' must be a number",
        'name = "x"\nmodel = "mlp"\n[args]\noptimiser = "adam"\n': "[args]: unknown key 'optimiser'",
        'name = "x"\nmodel = "mlp"\nengine = "scratch"\n[args]\noptimizer = "adam"\n': "[args]: unknown key 'optimizer'",
        'name = "x"\nmodel = "mlp"\nengine = "jax"\n': "unknown engine 'jax'",
        'name = "x"\nepochs = 3\n': "names no model",
        'name = "x"\nmodel = \n': "not valid TOML",
    }
    for i, (text, words) in enumerate(cases.items()):
        path = tmp_path / f"r{i}.toml"
        path.write_text(text)
        with pytest.raises(DigitrecError, match=re.escape(words)) as error:
            read_recipe(path)
        assert str(path) in str(error.value)
    with pytest.raises(DigitrecError, match="no such recipe file"):
        read_recipe(tmp_path / "missing.toml")


def test_a_partial_file_takes_the_defaults_and_its_name_from_the_file(tmp_path):
    (tmp_path / "quick.toml").write_text('model = "mlp"\nepochs = 1\n[args]\noptimizer = "adam"\n')
    recipe = read_recipe(tmp_path / "quick.toml")
    assert recipe.name == "quick" and recipe.epochs == 1 and recipe.args == TorchArgs(optimizer="adam")


def test_values_no_engine_can_run_are_refused():
    for overrides, words in (({"epochs": 0}, "epochs must be at least 1"), ({"lr": -1.0}, "must be positive"),
                             ({"val_fraction": 1.0}, "val_fraction"), ({"early_stopping": 3}, "needs a validation split")):
        with pytest.raises(DigitrecError, match=words):
            get_recipe("mxnet-mlp").override(**overrides).check()
    with pytest.raises(DigitrecError, match="keep 'newest': choose best or last"):
        get_recipe("mxnet-mlp").override(keep="newest").check()
    get_recipe("mxnet-mlp").override(keep="last", early_stopping=3, val_fraction=0.1).check()  # torch stops, keeps the last


def test_the_config_json_of_an_older_run_still_reads():
    """Runs written before engine arguments had their own table kept every field at the top level."""
    recipe = Recipe.from_dict(json.loads((LEGACY / "config.json").read_text())["recipe"])
    assert recipe.args.optimizer == "adam" and recipe.args.mean == 0.1307 and recipe.model_args["hidden"] == 16
    old_scratch = {"name": "nielsen", "model": "nielsen", "engine": "scratch", "optimizer": "sgd", "momentum": 0.5,
                   "optimizer_args": {"lmbda": 5.0}, "mean": 0.0, "std": 1.0, "augment": False}
    assert Recipe.from_dict(old_scratch).args == ScratchArgs(momentum=0.5, lmbda=5.0)


@pytest.mark.parametrize("constant", ["KERAS_RMSPROP", "KERAS_AUGMENT", "IMAGE_SUFFIXES", "MNIST_MEAN"])
def test_each_constant_is_defined_once(constant):
    """Two definitions drift apart (the RMSprop epsilon did: 1e-7 in one, sqrt(1e-7) in the other)."""
    pattern = re.compile(rf"^{constant}\b[^=\n]*=", re.MULTILINE)
    places = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if pattern.search(p.read_text())]
    assert len(places) == 1, places


def test_keras_kaggle_uses_keras_rmsprop_with_torchs_epsilon_placement():
    args = get_recipe("keras-kaggle").args
    assert args.optimizer == "rmsprop" and args.optimizer_args == {"alpha": 0.9, "eps": pytest.approx(1e-7 ** 0.5)}
    assert tomllib.loads(get_recipe("keras-kaggle").to_toml())["args"]["optimizer_args"]["eps"] == pytest.approx(1e-7 ** 0.5)


def test_differences_name_each_field_a_recorded_recipe_sets_otherwise_but_not_its_description():
    recipe = get_recipe("best")
    recorded = json.loads(json.dumps(recipe.to_dict()))  # as config.json holds it
    assert recipe.differences(recorded) == []
    recorded["source"] = "reworded"
    recorded["epochs"], recorded["args"]["ema_decay"] = 30, 0.99
    assert recipe.differences(recorded) == ["epochs 30 there, 20 here", "ema_decay 0.99 there, 0.999 here"]
