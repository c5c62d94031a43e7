"""ONNX export: onnxruntime agrees with PyTorch for every registered model; the CLI exports and reads it."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from typer.testing import CliRunner

from digitrec import load_model
from digitrec.cli import app
from digitrec.errors import CheckpointError
from digitrec.export import export_model
from digitrec.models import Classifier, create_model, list_models
from digitrec.predict.onnx import read_metadata
from digitrec.predict.torch import proba_fn

runner = CliRunner()
CLASSES = [str(d) for d in range(10)]


@pytest.mark.slow  # ~2 s per model: the dynamo exporter traces the network
@pytest.mark.parametrize("name", list_models())
def test_onnxruntime_agrees_with_pytorch(name, tmp_path):
    torch.manual_seed(0)
    model = Classifier(create_model(name), 0.1307, 0.3081).eval()  # untrained weights test as well as trained ones
    for module in model.modules():  # give BatchNorm non-trivial statistics to bake in
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    metadata = export_model(model, tmp_path / "m.onnx", classes=CLASSES, model_name=name, check=False)
    assert metadata["model"] == name and metadata["normalization"]["mean"] == pytest.approx(0.1307)
    predictor = load_model(tmp_path / "m.onnx")
    expected_fn = proba_fn(model)
    images = np.random.default_rng(0).random((7, 28, 28), dtype=np.float32)
    images[0] = 0.0  # an empty image, and one MNIST-like uint8 range below
    for batch in (images, images[:1], (images[1:4] * 255).astype(np.uint8)):  # the batch size is dynamic
        got, expected = predictor.predict_proba(batch), expected_fn(batch.astype(np.float32) / (255 if batch.dtype == np.uint8 else 1))
        assert got.shape == expected.shape == (len(batch), 10)
        assert np.abs(got - expected).max() < 1e-5


def test_cli_export_stores_metadata_and_predict_serves_onnx(tiny_model, small_mnist, tmp_path):
    model = tiny_model
    out = tmp_path / "deploy" / "digits.onnx"
    result = runner.invoke(app, ["export", str(model.parent), "--out", str(out)])  # a run folder: its model.pt
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote {out} (cnn-baseline") and "onnxruntime agrees with PyTorch" in result.stdout
    assert [p.name for p in out.parent.iterdir()] == ["digits.onnx"]  # atomic write: no temporary left over

    proto = onnx.load(str(out))
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props["digitrec.classes"]) == CLASSES and props["digitrec.recipe"] == "fixture"
    assert props["digitrec.model"] == "cnn-baseline" and json.loads(props["digitrec.normalization"])["baked_in"] is True
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert not dims[0].HasField("dim_value") and [d.dim_value for d in dims[1:]] == [1, 28, 28]  # N is symbolic
    assert read_metadata(out)["output"].startswith("probs: float32 (N, 10) probabilities")

    images = small_mnist["test"].images[:50]
    onnx_predictor, torch_predictor = load_model(out), load_model(model)
    assert onnx_predictor.metadata["engine"] == "onnxruntime" and onnx_predictor.classes == CLASSES
    assert np.abs(onnx_predictor.predict_proba(images) - torch_predictor.predict_proba(images)).max() < 1e-5

    for image in (0, 1):
        from PIL import Image

        Image.fromarray(255 - images[image]).resize((120, 120)).save(tmp_path / f"d{image}.png")
    by_onnx = json.loads(runner.invoke(app, ["predict", str(out), str(tmp_path / "d0.png"), str(tmp_path / "d1.png"), "--json"]).stdout)
    by_torch = json.loads(runner.invoke(app, ["predict", str(model), str(tmp_path / "d0.png"), str(tmp_path / "d1.png"), "--json"]).stdout)
    assert [r["label"] for r in by_onnx] == [r["label"] for r in by_torch]
    assert np.allclose([r["probabilities"] for r in by_onnx], [r["probabilities"] for r in by_torch], atol=2e-6)


def _error_line(args, *fragments):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("digitrec: error:"), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_bad_onnx_files_are_one_line(tmp_path):
    (tmp_path / "junk.onnx").write_bytes(b"definitely not protobuf")
    (tmp_path / "img.png").write_bytes(b"")
    _error_line(["predict", tmp_path / "junk.onnx", tmp_path / "img.png"], "junk.onnx", "not a readable ONNX model (Protobuf parsing failed.)")
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "plain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 10])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 10])],
    )
    onnx.save(helper.make_model(graph, ir_version=9, opset_imports=[helper.make_opsetid("", 18)]), tmp_path / "plain.onnx")
    _error_line(["predict", tmp_path / "plain.onnx", tmp_path / "img.png"], "plain.onnx", "not one exported by digitrec")
    _error_line(["export", tmp_path / "plain.onnx"], "export reads a PyTorch checkpoint")
    _error_line(["export", tmp_path / "missing.pt"], "missing.pt", "no such model file")
    with pytest.raises(CheckpointError, match="no such model file"):
        load_model(tmp_path / "absent.onnx")


def test_the_temperature_is_baked_into_the_graph(tmp_path):
    """One graph for every backend: with T != 1 onnxruntime gives the calibrated probabilities, not the raw ones."""
    torch.manual_seed(0)
    model = Classifier(create_model("mlp"), 0.1307, 0.3081).eval()
    images = np.random.default_rng(0).random((6, 28, 28), dtype=np.float32)
    raw = proba_fn(model)(images)
    model.temperature.fill_(2.5)
    metadata = export_model(model, tmp_path / "m.onnx", classes=CLASSES, model_name="mlp",
                            calibration={"fitted": True, "split": "validation", "images": 10})
    assert metadata["calibration"] == {"fitted": True, "split": "validation", "images": 10, "temperature": 2.5, "baked_in": True}
    predictor = load_model(tmp_path / "m.onnx")
    got, expected = predictor.predict_proba(images), proba_fn(model)(images)
    assert np.abs(got - expected).max() < 1e-5
    assert np.abs(got - raw).max() > 1e-3  # the temperature changed them: this test sees a graph without it
    assert predictor.metadata["calibration"]["temperature"] == 2.5


def test_checkpoint_to_onnx_is_the_file_export_writes_in_memory(tiny_model, small_mnist, tmp_path):
    from digitrec.export import checkpoint_to_onnx, export_checkpoint
    from digitrec.predict.onnx import onnx_proba_fn, session

    data = checkpoint_to_onnx(tiny_model.parent)  # a run folder: its model.pt
    assert not any(tmp_path.iterdir())  # nothing written anywhere
    export_checkpoint(tiny_model, tmp_path / "m.onnx")
    in_memory, on_disk = onnx.load_from_string(data), onnx.load(str(tmp_path / "m.onnx"))
    props = lambda proto: {p.key: p.value for p in proto.metadata_props}  # noqa: E731
    assert props(in_memory) == props(on_disk) and props(in_memory)["digitrec.model"] == "cnn-baseline"
    images = small_mnist["test"].images[:20].astype(np.float32) / 255
    probs = onnx_proba_fn(session(data, threads=1))(images)
    assert np.abs(probs - load_model(tiny_model).predict_proba(images)).max() < 1e-5
    with pytest.raises(CheckpointError, match="export reads a PyTorch checkpoint"):
        checkpoint_to_onnx(tmp_path / "m.onnx")
