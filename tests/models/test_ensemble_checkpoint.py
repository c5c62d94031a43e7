"""Ensemble checkpoints: one plain-data file that rebuilds its members, records its sources, and
refuses members it cannot hold with one line naming the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from digitrec.errors import CheckpointError
from digitrec.models import Ensemble, build_model, load_checkpoint, make_ensemble_checkpoint, write_ensemble
from digitrec.digest import file_sha256
from digitrec.models.checkpoint import FORMAT_VERSION
from digitrec.predict import load_model
from digitrec.scratch import Network, save_network

LEGACY = Path(__file__).parents[1] / "fixtures" / "legacy"


@pytest.fixture
def members(untrained_checkpoint, tmp_path) -> list[Path]:
    """An MLP, a LeNet and the fixture CNN in a run folder: three architectures, ten digit classes."""
    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(Path(__file__).parents[1] / "fixtures" / "digits.pt", run / "model.pt")
    return [untrained_checkpoint("mlp"), untrained_checkpoint("lenet"), run]


def test_the_file_loads_with_weights_only_and_predicts_the_mean_of_its_members(members, tmp_path):
    out = tmp_path / "ensemble.pt"
    write_ensemble(members, out)
    checkpoint = torch.load(out, weights_only=True)  # plain data: no pickled objects
    assert checkpoint["model"]["name"] == "ensemble" and len(checkpoint["members"]) == 3
    assert [m["model"]["name"] for m in checkpoint["members"]] == ["mlp", "lenet", "cnn-baseline"]
    # what it was built from: each file as given and found, with its sha256
    files = [members[0], members[1], members[2] / "model.pt"]
    assert [b["file"] for b in checkpoint["built_from"]] == [str(f) for f in files]
    assert [b["sha256"] for b in checkpoint["built_from"]] == [file_sha256(f) for f in files]
    assert [m["source"]["sha256"] for m in checkpoint["members"]] == [file_sha256(f) for f in files]
    assert checkpoint["members"][2]["metrics"]["test_accuracy"] == pytest.approx(0.9804)  # members keep their figures
    assert checkpoint["dataset"] == "mnist" and checkpoint["metrics"] == {}

    ensemble = load_model(out)
    singles = [load_model(path) for path in members]
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    expected = np.mean([single.predict_proba(images) for single in singles], axis=0)
    np.testing.assert_allclose(ensemble.predict_proba(images), expected, atol=1e-6)
    assert ensemble.metadata["model"] == "ensemble" and ensemble.metadata["members"] == ["mlp", "lenet", "cnn-baseline"]


def test_a_format_1_member_is_stored_in_the_current_format_and_predicts_as_before(untrained_checkpoint, tmp_path):
    checkpoint = make_ensemble_checkpoint([LEGACY / "model.pt", untrained_checkpoint("mlp")])
    assert [m["format_version"] for m in checkpoint["members"]] == [FORMAT_VERSION] * 2
    legacy = build_model(load_checkpoint(LEGACY / "model.pt"))
    rebuilt = build_model(checkpoint).members[0]
    images = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        torch.testing.assert_close(rebuilt(images), legacy(images), rtol=0, atol=0)


def test_a_nested_ensemble_is_flattened_so_each_model_weighs_the_same(members, tmp_path):
    write_ensemble(members[:2], tmp_path / "inner.pt")
    checkpoint = make_ensemble_checkpoint([tmp_path / "inner.pt", members[2]])
    assert [m["model"]["name"] for m in checkpoint["members"]] == ["mlp", "lenet", "cnn-baseline"]
    assert checkpoint["members"][0]["source"]["via"]["path"] == str(tmp_path / "inner.pt")
    assert checkpoint["members"][0]["source"]["path"] == str(members[0])
    assert isinstance(build_model(checkpoint), Ensemble) and len(build_model(checkpoint).members) == 3


def test_members_it_cannot_hold_are_one_clear_error(members, untrained_checkpoint, tmp_path):
    def refused(paths, *words):
        with pytest.raises(CheckpointError) as caught:
            make_ensemble_checkpoint(paths)
        message = str(caught.value)
        assert "\n" not in message and all(w in message for w in words), message

    save_network(Network([784, 16, 10], seed=0), tmp_path / "net.npz", {"classes": list("0123456789"), "model": "nielsen"})
    (tmp_path / "m.onnx").write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    fashion = tmp_path / "fashion.pt"
    checkpoint = torch.load(members[0], weights_only=True)
    torch.save(checkpoint | {"classes": ["T-shirt/top", *map(str, range(1, 10))]}, fashion)
    wide = untrained_checkpoint("fast-cnn", image_size=32)  # another name: the fixture writes NAME.pt
    refused([members[0], tmp_path / "net.npz"], "net.npz", "NumPy network", ".pt")
    refused([members[0], tmp_path / "m.onnx"], "m.onnx", "ONNX", "give the .pt it was exported from")
    refused([members[0], tmp_path / "missing.pt"], "missing.pt", "no such model file")
    refused([members[0], tmp_path / "empty"], "empty", "no model.pt in this folder")
    refused([members[1], fashion], "fashion.pt", "T-shirt/top", "must share their classes")
    refused([members[1], wide], "fast-cnn.pt", "32x32", "must take the same input")
    refused([members[1]], "at least 2 members, got 1", "lenet.pt")
    shutil.copyfile(members[1], tmp_path / "copy.pt")
    refused([members[1], tmp_path / "copy.pt"], "copy.pt", "same weights as", "lenet.pt", "give each member once")


def test_the_output_is_a_pt_file_and_not_a_member(members, tmp_path):
    with pytest.raises(CheckpointError, match="ending in .pt"):
        write_ensemble(members, tmp_path / "ensemble.onnx")
    before = members[0].read_bytes()
    with pytest.raises(CheckpointError, match="is one of the members; choose another --out"):
        write_ensemble(members, members[0])
    assert members[0].read_bytes() == before


def test_a_malformed_ensemble_file_is_refused(members, tmp_path):
    checkpoint = make_ensemble_checkpoint(members[:2])
    for members_value in ([checkpoint["members"][0]], "two", [checkpoint["members"][0], {"model": "mlp"}],
                          [checkpoint["members"][0], checkpoint | {"members": checkpoint["members"]}]):
        with pytest.raises(CheckpointError, match="malformed digitrec ensemble"):
            build_model(checkpoint | {"members": members_value}, "bad.pt")


def test_an_ensemble_says_its_members_carry_their_own_temperatures(untrained_checkpoint):
    checkpoint = make_ensemble_checkpoint([untrained_checkpoint("mlp"), untrained_checkpoint("lenet")])
    assert checkpoint["calibration"]["temperature"] == 1.0 and not checkpoint["calibration"]["fitted"]
    assert "0 of 2 fitted" in checkpoint["calibration"]["why"]
