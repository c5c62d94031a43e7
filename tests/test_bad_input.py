"""The bad-input battery: every bad dataset, image, model file and option gets one clear line.

Each case goes through the CLI (in-process, as a user types it) and, for images, the web API too:
one `digitrec: error:` line naming the file or option, a non-zero exit, no traceback, no temporary
file left, and earlier outputs untouched. A few inputs that look odd but are fine (a BOM, CRLF, an
animated GIF, 16-bit and CMYK images) must simply work.
"""

from __future__ import annotations

import errno
import io
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from hostile_files import png_header_only
from PIL import Image
from typer.testing import CliRunner

from digitrec.cli import app
from digitrec.data import write_kaggle_csv

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

runner = CliRunner()
HEADER = "label," + ",".join(f"pixel{i}" for i in range(784))
ROW = "3," + ",".join(["0"] * 784)


def _fails(args: list, *fragments: str, code: int = 1) -> str:
    """Run digitrec ARGS: exit `code`, exactly one error line holding `fragments`, no traceback."""
    result = runner.invoke(app, [str(a) for a in args])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and len(lines) == 1, result.output
    assert lines[0].startswith("digitrec: error:") or code == 2, lines[0]
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower(), lines[0]
    return lines[0]


def _works(args: list) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _no_temp_files(folder: Path) -> None:
    left = [p for p in folder.rglob(".*") if ".tmp" in p.name]
    assert not left, left


# ---------------------------------------------------------------------------- datasets

KAGGLE_CASES = {
    # name: (train.csv text, words the one line must hold)
    "empty file": ("", ["train.csv", "empty file"]),
    "missing header": (ROW + "\n", ["train.csv", "header"]),
    "header only": (HEADER + "\n", ["train.csv", "no rows"]),
    "wrong column count": (HEADER + "\n" + ROW + ",0\n", ["train.csv", "line 2", "785 columns"]),
    "non-integer": (HEADER + "\n" + ROW.replace(",0", ",x", 1) + "\n", ["train.csv", "not an integer"]),
    "pixel over 255": (HEADER + "\n" + ROW.replace(",0", ",256", 1) + "\n", ["train.csv", "256"]),
    "negative pixel": (HEADER + "\n" + ROW.replace(",0", ",-1", 1) + "\n", ["train.csv", "-1"]),
    "label outside the classes": (HEADER + "\n" + ROW.replace("3,", "12,", 1) + "\n", ["train.csv", "12"]),
    "empty rows": (HEADER + "\n" + ROW + "\n\n\n" + ROW + "\n", ["train.csv", "line 3"]),
    "not text": ("\udcff", ["train.csv", "utf-8"]),
}


@pytest.mark.parametrize("case", KAGGLE_CASES)
def test_a_bad_kaggle_csv_is_one_line(case, tmp_path):
    text, words = KAGGLE_CASES[case]
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "train.csv").write_bytes(text.encode("utf-8", "surrogateescape"))
    _fails(["data", "info", "--data", f"kaggle:{tmp_path / 'k'}"], *words)


@pytest.mark.parametrize("variant", ["bom", "crlf", "trailing empty line"])
def test_a_bom_crlf_or_trailing_empty_line_simply_works(variant, tmp_path, small_mnist):
    write_kaggle_csv(tmp_path / "k" / "train.csv", small_mnist["train"].images[:20], small_mnist["train"].labels[:20])
    text = (tmp_path / "k" / "train.csv").read_text()
    text = {"bom": "\ufeff" + text, "crlf": text.replace("\n", "\r\n"), "trailing empty line": text + "\n"}[variant]
    (tmp_path / "k" / "train.csv").write_text(text, newline="")
    assert "20" in _works(["data", "info", "--data", f"kaggle:{tmp_path / 'k'}"])


def _idx(tmp_path: Path, small_mnist, damage) -> Path:
    """A --from folder holding MNIST's four IDX files with one of them damaged."""
    from digitrec.data.idx import encode_idx

    folder = tmp_path / "idx"
    folder.mkdir()
    arrays = {"train-images-idx3-ubyte": small_mnist["train"].images, "train-labels-idx1-ubyte": small_mnist["train"].labels,
              "t10k-images-idx3-ubyte": small_mnist["test"].images, "t10k-labels-idx1-ubyte": small_mnist["test"].labels}
    for name, array in arrays.items():
        data = encode_idx(np.asarray(array, np.uint8))
        (folder / name).write_bytes(damage(data) if name == "train-images-idx3-ubyte" else data)
    return folder


IDX_DAMAGE = {
    "empty file": lambda data: b"",
    "truncated": lambda data: data[: len(data) // 2],
    "wrong magic": lambda data: b"\x00\x00\x09\x03" + data[4:],
    "size mismatch": lambda data: data[:4] + (5000).to_bytes(4, "big") + data[8:],
}


@pytest.mark.parametrize("case", IDX_DAMAGE)
def test_a_damaged_idx_file_is_never_taken_for_mnist(case, tmp_path, small_mnist, fake_mnist):
    from digitrec.data import sources

    cache = sources.data_home() / "mnist"
    kept = {p.name: p.read_bytes() for p in cache.iterdir() if p.is_file()}
    _works(["data", "fetch", "--from", _idx(tmp_path, small_mnist, IDX_DAMAGE[case])])  # the verified cache stays
    assert {p.name: p.read_bytes() for p in cache.iterdir() if p.is_file()} == kept


def test_a_corrupt_file_in_the_cache_is_replaced_by_verified_bytes(fake_mnist):
    from digitrec.data import sources

    cache = sources.data_home() / "mnist"
    victim = next(p for p in sorted(cache.iterdir()) if p.is_file() and "labels" in p.name)
    good = victim.read_bytes()
    victim.write_bytes(good[: len(good) // 2])
    _works(["data", "fetch", "--from", fake_mnist])
    assert victim.read_bytes() == good


def test_idx_parser_errors_are_one_clear_message():
    from digitrec.data.idx import parse_idx
    from digitrec.errors import DatasetError

    images = (np.arange(2 * 28 * 28) % 256).astype(np.uint8).reshape(2, 28, 28)
    from digitrec.data.idx import encode_idx

    whole = encode_idx(images)
    for damage, words in (("", "too short"), (whole[:6], "truncated IDX header"), (b"\1\2\3\4" + whole[4:], "bad magic"),
                          (whole[:-10], "truncated")):
        with pytest.raises(DatasetError, match=words):
            parse_idx(damage, "x.idx")


# ---------------------------------------------------------------------------- images


def _png(array: np.ndarray, mode: str | None = None, **save) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, "PNG", **save)
    return buffer.getvalue()


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


def _digit(small_mnist, size: int = 120) -> Image.Image:
    """Fixture test digit 0, dark on white, `size` px."""
    return Image.fromarray(255 - np.pad(small_mnist["test"].images[0], 8)).resize((size, size))


BAD_IMAGES = {
    # name: (bytes maker, CLI words, API status)
    "not an image": (lambda d: b"hello, I am text", ["not an image"], 400),
    "zero bytes": (lambda d: b"", ["not an image"], 400),
    "truncated png": (lambda d: _png(np.asarray(d))[:200], ["corrupt or truncated"], 400),
    "truncated jpeg": (lambda d: _jpeg(d)[:300], ["corrupt or truncated"], 400),
    "decompression bomb": (lambda d: png_header_only(12_000, 12_000), ["too large"], 413),
    "blank page": (lambda d: _png(np.full((300, 200), 250, np.uint8)), ["blank"], 422),
    "huge blank page": (lambda d: _png(np.full((4000, 3000), 255, np.uint8)), ["blank"], 422),
}
GOOD_IMAGES = {
    "animated gif (first frame)": lambda d: _gif(d),
    "16-bit png": lambda d: _png(np.asarray(d).astype(np.uint16) * 257),
    "cmyk jpeg": lambda d: _jpeg(d.convert("CMYK")),
}


def _gif(digit: Image.Image) -> bytes:
    buffer = io.BytesIO()
    frames = [digit.convert("P"), Image.new("P", digit.size, 255), Image.new("P", digit.size, 0)]
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def client(tiny_model):
    from digitrec import load_model
    from digitrec.serve import create_app

    return TestClient(create_app(load_model(tiny_model)), raise_server_exceptions=False)


@pytest.mark.parametrize("case", BAD_IMAGES)
def test_a_bad_image_is_one_line_and_a_4xx(case, tmp_path, tiny_model, small_mnist, client):
    make, words, status = BAD_IMAGES[case]
    data = make(_digit(small_mnist))
    path = tmp_path / "upload.png"
    path.write_bytes(data)
    line = _fails(["predict", tiny_model, path], str(path), *words)
    assert line.count("digitrec: error:") == 1
    _fails(["read", tiny_model, path], str(path))
    for route in ("/api/predict", "/api/read"):
        answer = client.post(route, files={"file": ("upload.png", data, "image/png")})
        assert answer.status_code == status, answer.text
        assert set(answer.json()) == {"detail"} and "Traceback" not in answer.text


@pytest.mark.parametrize("case", GOOD_IMAGES)
def test_odd_but_valid_images_are_read(case, tmp_path, tiny_model, small_mnist, client):
    data, label = GOOD_IMAGES[case](_digit(small_mnist)), str(small_mnist["test"].labels[0])
    path = tmp_path / "odd.img"
    path.write_bytes(data)
    assert _works(["predict", tiny_model, path, "--top-k", "1"]).strip().split(": ")[1].startswith(label)
    answer = client.post("/api/predict", files={"file": ("odd.img", data, "application/octet-stream")})
    assert answer.status_code == 200 and answer.json()["label"] == label


# ---------------------------------------------------------------------------- model files


class _Payload:
    """A pickle whose loading would run code: it would create a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _onnx_with_other_inputs(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    images = helper.make_tensor_value_info("pictures", TensorProto.FLOAT, ["N", 3, 32, 32])
    probs = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3, 32, 32])
    graph = helper.make_graph([helper.make_node("Identity", ["pictures"], ["scores"])], "other", [images], [probs])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def _model_cases(tmp_path: Path, tiny_model: Path) -> dict:
    import torch

    checkpoint = torch.load(tiny_model, weights_only=True)
    cases = {}

    def case(name, words, write):
        path = tmp_path / name
        write(path)
        cases[name] = (path, words)

    case("text.pt", ["not a readable PyTorch checkpoint"], lambda p: p.write_text("hello"))
    case("payload.pt", ["text"], lambda p: torch.save({"x": _Payload(tmp_path / "pwned")}, p))
    case("unknown-model.pt", ["unknown model"], lambda p: torch.save(checkpoint | {"model": {"name": "resnet9000", "args": {}}}, p))
    case("malformed.pt", ["malformed", "'model'"], lambda p: torch.save(checkpoint | {"model": "resnet9000"}, p))
    case("no-classes.pt", ["malformed", "'classes'"], lambda p: torch.save(checkpoint | {"classes": 10}, p))
    case("wrong-weights.pt", ["weights"], lambda p: torch.save(
        checkpoint | {"state_dict": {k: v[..., :1] if v.ndim else v for k, v in checkpoint["state_dict"].items()}}, p))
    case("truncated.pt", ["truncated or corrupt"], lambda p: p.write_bytes(tiny_model.read_bytes()[:5000]))
    case("other-inputs.onnx", ["other-inputs.onnx"], lambda p: _onnx_with_other_inputs(p))
    case("garbage.onnx", ["garbage.onnx"], lambda p: p.write_bytes(b"\x08\x07garbage"))
    case("empty.npz", ["empty.npz"], lambda p: p.write_bytes(b""))
    return cases


def test_bad_model_files_are_one_line_and_never_run_code(tmp_path, tiny_model, small_mnist):
    image = tmp_path / "digit.png"
    _digit(small_mnist).save(image)
    for name, (path, words) in _model_cases(tmp_path, tiny_model).items():
        for verb in (["predict", path, image], ["evaluate", path], ["export", path, "--out", tmp_path / "x.onnx"]):
            if verb[0] == "export" and path.suffix != ".pt":
                continue
            line = _fails(verb, name)
            assert any(w.lower() in line.lower() for w in words) or name in line, (name, line)
    assert not (tmp_path / "pwned").exists()


# ---------------------------------------------------------------------------- options and outputs


OPTION_CASES = [
    (["train", "--recipe", "nope"], ["unknown recipe 'nope'", "mxnet-mlp"]),
    (["train", "--recipe", "mxnet-mlp", "--model", "nope"], ["nope", "lenet"]),
    (["data", "info", "--data", "nope"], ["unknown dataset 'nope'", "kaggle:"]),
    (["cv", "--recipe", "nope"], ["unknown recipe 'nope'"]),
    (["recipes", "show", "nope"], ["unknown recipe 'nope'"]),
    (["train", "--recipe", "mxnet-mlp", "--optimizer", "lbfgs"], ["unknown optimizer", "sgd"]),
    (["train", "--recipe", "mxnet-mlp", "--model-args", "{bad"], ["--model-args", "json"]),
]


@pytest.mark.parametrize("args,words", OPTION_CASES, ids=[" ".join(a) for a, _ in OPTION_CASES])
def test_unknown_names_list_the_valid_ones(args, words, tmp_path):
    _fails([*args, "--out", tmp_path / "out"] if args[0] in ("train", "cv") else args, *words)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args", [["train", "--epochs", "many"], ["predict", "m.pt", "x.png", "--top-k", "x"],
                                  ["serve", "m.pt", "--port", "70000"], ["cv", "--recipe", "mxnet-mlp", "--folds", "1"]])
def test_option_values_of_the_wrong_type_or_range_are_usage_errors(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output and "Invalid value" in result.output


@pytest.mark.parametrize("args,words", [(["--epochs", "0"], "epochs must be at least 1, got 0"),
                                        (["--batch-size", "-3"], "batch_size must be at least 1, got -3"),
                                        (["--lr", "-1"], "lr"), (["--val-fraction", "1.5"], "val_fraction")])
def test_recipe_values_out_of_range_are_one_line(args, words, tmp_path):
    _fails(["train", "--recipe", "mxnet-mlp", *args, "--out", tmp_path / "run"], words)
    assert not (tmp_path / "run").exists()


@pytest.fixture
def outputs(tmp_path, tiny_model, small_mnist):
    """Each command that writes a file, with an earlier version of that file already in place."""
    write_kaggle_csv(tmp_path / "test.csv", small_mnist["test"].images[:10])
    return {
        "submit": (["submit", tiny_model, "--test", tmp_path / "test.csv", "--out"], tmp_path / "sub.csv"),
        "export": (["export", tiny_model, "--no-check", "--out"], tmp_path / "model.onnx"),
        "data show": (["data", "show", "--n", "4", "--out"], tmp_path / "grid.png"),
        "data info --plot": (["data", "info", "--plot"], tmp_path / "balance.png"),
    }


@pytest.mark.parametrize("verb", ["submit", "export", "data show", "data info --plot"])
def test_a_full_disk_is_one_line_naming_the_file_and_the_old_file_stays(verb, outputs, monkeypatch, fake_mnist):
    import digitrec.atomic

    args, target = outputs[verb]
    target.write_bytes(b"the earlier version")

    real_fsync = os.fsync

    def full_disk(fd):  # only for the output: the dataset cache may be written on the way
        if Path(os.readlink(f"/proc/self/fd/{fd}")).parent == target.parent:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(digitrec.atomic.os, "fsync", full_disk)
    _fails([*args, target], f"{target}: No space left on device")
    assert target.read_bytes() == b"the earlier version"
    _no_temp_files(target.parent)


@pytest.mark.parametrize("verb", ["submit", "data show", "data info --plot"])  # export: as the full disk
def test_a_read_only_folder_is_one_line_naming_the_file(verb, outputs, monkeypatch, fake_mnist):
    import tempfile

    args, target = outputs[verb]
    real = tempfile.mkstemp

    def read_only(*a, dir=None, **kw):  # what a non-root user meets (the tests run as root)
        if Path(dir) == target.parent:
            raise PermissionError(errno.EACCES, "Permission denied", os.path.join(dir, ".x.tmp"))
        return real(*a, dir=dir, **kw)

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    _fails([*args, target], f"{target}: Permission denied")
    assert not target.exists()


@pytest.mark.parametrize("verb", ["submit", "data show"])
def test_an_output_in_a_missing_folder_is_written(verb, outputs, fake_mnist):
    args, target = outputs[verb]
    deeper = target.parent / "new" / "folder" / target.name
    _works([*args, deeper])
    assert deeper.stat().st_size > 0
