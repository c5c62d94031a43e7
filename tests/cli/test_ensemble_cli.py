"""`digitrec ensemble`, and the file it writes through every command that takes a model: evaluate,
submit, predict, read, serve's /api/predict and export to one ONNX graph."""

from __future__ import annotations

import json
import warnings

import numpy as np
import onnx
import pytest
import torch
from cli_helpers import error_line, ok

from digitrec import load_model
from digitrec.data import write_kaggle_csv
from digitrec.serve import create_app
from digitrec.synth import photoize, photoize_number

with warnings.catch_warnings():  # starlette asks for httpx2; httpx is what the project installs
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def members(tiny_model, tmp_path_factory):
    """The fixture CNN (98.0% MNIST) in a run folder, and a copy with jittered weights: two
    different, both accurate, models."""
    folder = tmp_path_factory.mktemp("members")
    checkpoint = torch.load(tiny_model, weights_only=True)
    generator = torch.Generator().manual_seed(0)
    jittered = {k: v + 0.02 * v.std() * torch.randn(v.shape, generator=generator) if v.is_floating_point() and v.ndim else v
                for k, v in checkpoint["state_dict"].items()}
    torch.save(checkpoint | {"state_dict": jittered}, folder / "jittered.pt")
    return [tiny_model.parent, folder / "jittered.pt"]


@pytest.fixture(scope="module")
def ensemble(members, tmp_path_factory):
    out = tmp_path_factory.mktemp("ensemble") / "ensemble.pt"
    text = ok(["ensemble", *map(str, members), "--out", str(out)])
    lines = text.splitlines()
    assert lines[0].startswith(f"wrote {out} (2 members, ") and len(lines) == 3
    assert "cnn-baseline" in lines[1] and "test accuracy 0.9804" in lines[1] and str(members[0] / "model.pt") in lines[1]
    return out


def _mean_probs(members, images):
    return np.mean([load_model(m).predict_proba(images) for m in members], axis=0)


def test_evaluate_and_submit_take_the_ensemble(ensemble, members, fake_mnist, small_mnist, tmp_path):
    report = json.loads(ok(["evaluate", str(ensemble), "--json"]))
    test = small_mnist["test"]  # fake_mnist's test split
    expected = (_mean_probs(members, test.images).argmax(axis=1) == test.labels).mean()
    assert report["accuracy"] == pytest.approx(expected) and report["accuracy"] > 0.9

    write_kaggle_csv(tmp_path / "test.csv", test.images[:30])
    ok(["submit", str(ensemble), "--test", str(tmp_path / "test.csv"), "--out", str(tmp_path / "sub.csv")])
    labels = [int(line.split(",")[1]) for line in (tmp_path / "sub.csv").read_text().splitlines()[1:]]
    assert labels == _mean_probs(members, test.images[:30]).argmax(axis=1).tolist()


def test_predict_and_read_take_the_ensemble(ensemble, members, small_mnist, tmp_path):
    rng = np.random.default_rng(0)
    photoize(small_mnist["test"].images[0], rng).save(tmp_path / "digit.png")
    [result] = json.loads(ok(["predict", str(ensemble), str(tmp_path / "digit.png"), "--json"]))
    singles = [load_model(m).predict_image(tmp_path / "digit.png").probabilities for m in members]
    np.testing.assert_allclose(result["probabilities"], np.mean(singles, axis=0), atol=2e-6)
    assert result["label"] == str(small_mnist["test"].labels[0])

    photoize_number(list(small_mnist["test"].images[[1, 2, 3]]), rng, touch=0.0).save(tmp_path / "number.png")
    [read] = json.loads(ok(["read", str(ensemble), str(tmp_path / "number.png"), "--json"]))
    assert read["text"] == "".join(str(label) for label in small_mnist["test"].labels[[1, 2, 3]])


def test_serve_answers_with_the_averaged_probabilities(ensemble, members, small_mnist):
    client = TestClient(create_app(load_model(ensemble)))
    assert client.get("/api/health").json()["model"] == "ensemble"
    digit = small_mnist["test"].images[0]
    answer = client.post("/api/predict", json={"pixels": digit.tolist()}).json()
    np.testing.assert_allclose(answer["probabilities"], _mean_probs(members, digit)[0], atol=2e-6)


@pytest.mark.slow  # ~5-15 s: the dynamo exporter traces both members
def test_export_writes_one_onnx_graph_that_agrees_with_torch(ensemble, small_mnist, tmp_path):
    out = tmp_path / "ensemble.onnx"
    text = ok(["export", str(ensemble), "--out", str(out)])
    assert text.startswith(f"wrote {out} (ensemble") and "onnxruntime agrees with PyTorch" in text
    proto = onnx.load(str(out))
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["digitrec.model"] == "ensemble" and len(json.loads(props["digitrec.normalization"])["members"]) == 2
    assert [i.name for i in proto.graph.input] == ["images"] and [o.name for o in proto.graph.output] == ["probs"]
    images = small_mnist["test"].images[:50]
    by_onnx, by_torch = load_model(out).predict_proba(images), load_model(ensemble).predict_proba(images)
    assert np.abs(by_onnx - by_torch).max() < 1e-5


def test_bad_members_are_one_line_and_nothing_is_written(members, untrained_checkpoint, tmp_path):
    from digitrec.scratch import Network, save_network

    out = tmp_path / "e.pt"
    save_network(Network([784, 16, 10], seed=0), tmp_path / "net.npz", {"classes": list("0123456789"), "model": "nielsen"})
    (tmp_path / "m.onnx").write_bytes(b"x")
    mlp = untrained_checkpoint("mlp")
    for args, words in (
        ([members[0], tmp_path / "net.npz"], ["net.npz", "NumPy network"]),
        ([members[0], tmp_path / "m.onnx"], ["m.onnx", "give the .pt it was exported from"]),
        ([members[0], tmp_path / "missing.pt"], ["missing.pt", "no such model file"]),
        ([mlp], ["at least 2 members"]),
        ([mlp, mlp], ["mlp.pt", "same weights", "give each member once"]),
    ):
        error_line(["ensemble", *map(str, args), "--out", str(out)], *words)
    error_line(["ensemble", str(mlp), str(members[0]), "--out", str(mlp)], "is one of the members", "choose another --out")
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "mlp.pt", "net.npz"]


def test_an_ensemble_given_as_a_member_is_flattened_and_the_listing_says_where_from(ensemble, untrained_checkpoint, tmp_path):
    out = tmp_path / "three.pt"
    lines = ok(["ensemble", str(ensemble), str(untrained_checkpoint("mlp")), "--out", str(out)]).splitlines()
    assert lines[0].startswith(f"wrote {out} (3 members, ")
    assert all(f", in {ensemble})" in line for line in lines[1:3]) and "test accuracy not recorded" in lines[3]
    assert load_model(out).metadata["members"] == ["cnn-baseline", "cnn-baseline", "mlp"]
