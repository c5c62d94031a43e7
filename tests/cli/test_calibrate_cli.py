"""`digitrec calibrate` and what `digitrec evaluate` says about calibration, end to end."""

import json
import shutil

from cli_helpers import error_line, ok, runner
from digitrec.cli import app


def test_calibrate_then_evaluate_before_and_after(fake_mnist, tiny_model, tmp_path):
    text = ok(["evaluate", str(tiny_model)])  # format 2: written before calibration
    assert "not calibrated: the model file predates calibration" in text and "expected calibration error" in text
    assert "min confidence  labelled  error rate" in text

    out = tmp_path / "calibrated.pt"
    text = ok(["calibrate", str(tiny_model), "--data", "mnist", "--split", "train", "--out", str(out)])
    assert text.startswith("temperature ") and "fitted on 1000 images of mnist train" in text and f"wrote {out}" in text
    assert "note:" not in text  # only fitting on the test split earns the warning

    text = ok(["evaluate", str(out), "--out", str(tmp_path / "eval")])
    assert "fitted on 1000 mnist train images" in text and "before (T = 1)" in text and "after (T = " in text
    assert (tmp_path / "eval" / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "eval" / "evaluation.json").read_text())["calibration"]
    report = json.loads(ok(["evaluate", str(out), "--json"]))["calibration"]
    assert report["fitted"] and report["temperature"] == saved["temperature"] != 1.0
    assert report["ece"] == report["ece_after"] and report["ece_before"] != report["ece_after"]
    assert [row["threshold"] for row in report["coverage"]][:2] == [0.0, 0.5]

    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(tiny_model, run / "model.pt")
    default = run / "model-calibrated.pt"
    text = ok(["calibrate", str(run), "--data", "mnist"])  # a run folder; the test split, by default
    assert f"wrote {default}" in text and "note: evaluate it on other images than mnist test" in text


def test_calibrate_refuses_what_it_cannot_write(fake_mnist, tiny_model, tmp_path):
    error_line(["calibrate", str(tiny_model), "--data", "mnist", "--out", str(tmp_path / "m.onnx")], "ending in .pt")
    error_line(["calibrate", str(tmp_path / "absent.pt"), "--data", "mnist"], "no such model file")
    result = runner.invoke(app, ["calibrate", str(tiny_model)])  # --data is required: which images is the user's call
    assert result.exit_code == 2 and "--data" in result.output
