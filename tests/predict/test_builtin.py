"""The built-in model: installed with its record, checked against its sha256 on every use, and one
clear line when it is absent or damaged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from digitrec.errors import CheckpointError
from digitrec.digest import file_sha256
from digitrec.predict import load_model
from digitrec.predict.builtin import INFO_FILE, MODEL_FILE, NoBuiltinModel, builtin_model, install_builtin, load_builtin

FIXTURE = Path(__file__).parents[1] / "fixtures" / "digits.pt"


def test_the_record_names_the_recipe_seed_command_figures_and_sha256(builtin_model):
    info = json.loads((builtin_model / INFO_FILE).read_text())
    assert (builtin_model / MODEL_FILE).read_bytes() == FIXTURE.read_bytes()
    assert info["sha256"] == file_sha256(FIXTURE) and info["bytes"] == FIXTURE.stat().st_size
    assert (info["model"], info["recipe"], info["seed"], info["dataset"]) == ("cnn-baseline", "fixture", 0, "mnist")
    assert info["command"] == "digitrec train --recipe fixture --seed 0" and info["test_accuracy"] == pytest.approx(0.9804)
    assert sorted(p.name for p in builtin_model.iterdir()) == [INFO_FILE, MODEL_FILE]  # atomic writes: no temporary left


def test_it_predicts_as_its_file_and_says_which_model_it_is(builtin_model, small_mnist):
    predictor, builtin = load_builtin()
    images = small_mnist["test"].images[:20]
    np.testing.assert_array_equal(predictor.predict_proba(images), load_model(FIXTURE).predict_proba(images))
    assert predictor.metadata["builtin"]["recipe"] == "fixture" and builtin.path == builtin_model / MODEL_FILE
    assert builtin.describe() == (f"built-in cnn-baseline (digitrec train --recipe fixture --seed 0, 98.04% MNIST test, "
                                  f"sha256 {file_sha256(FIXTURE)[:12]})")


def test_no_built_in_model_is_one_line(no_builtin_model):
    with pytest.raises(NoBuiltinModel) as caught:
        builtin_model()
    assert str(caught.value) == "no built-in model in this install; give a model file (digitrec predict MODEL IMAGES...)"


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # in the weights: the file still loads, and would predict wrong
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage, words", [
    (lambda folder: _flip_a_byte(folder / MODEL_FILE), "is not the recorded"),
    (lambda folder: folder.joinpath(MODEL_FILE).unlink(), "builtin.pt: missing"),
    (lambda folder: folder.joinpath(INFO_FILE).unlink(), "builtin.json: missing"),
    (lambda folder: folder.joinpath(INFO_FILE).write_text("{not json"), "builtin.json: unreadable"),
    (lambda folder: folder.joinpath(INFO_FILE).write_text('{"model": "x"}'), "no valid sha256, command, test_accuracy"),
])
def test_a_damaged_install_is_one_line_saying_what_to_do(builtin_model, damage, words):
    damage(builtin_model)
    with pytest.raises(CheckpointError) as caught:
        load_builtin()
    message = str(caught.value)
    assert words in message and message.endswith("reinstall digitrec, or give a model file") and "\n" not in message


def test_only_a_measured_digitrec_model_is_installed(untrained_checkpoint, tmp_path):
    with pytest.raises(CheckpointError, match="records no test accuracy"):
        install_builtin(untrained_checkpoint("mlp"), "digitrec train", tmp_path)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        install_builtin(tmp_path / "junk.pt", "digitrec train", tmp_path)
    assert not (tmp_path / MODEL_FILE).exists() and not (tmp_path / INFO_FILE).exists()


def test_the_shipped_model_matches_its_record_and_reads_digits(small_mnist):
    """The file in the package itself (not a fixture): sha256 as recorded, a recipe digitrec has,
    and it reads the committed MNIST sample (measured when installed: 198 of these 200 right)."""
    from digitrec.predict.builtin import WEIGHTS
    from digitrec.recipes import get_recipe

    if not (WEIGHTS / MODEL_FILE).is_file():
        pytest.skip("this checkout ships no built-in model")
    info = json.loads((WEIGHTS / INFO_FILE).read_text())
    assert file_sha256(WEIGHTS / MODEL_FILE) == info["sha256"] and get_recipe(info["recipe"]).model == info["model"]
    predictor, _ = load_builtin()
    test = small_mnist["test"]
    assert (predictor.predict(test.images) == test.labels).mean() >= 0.97
