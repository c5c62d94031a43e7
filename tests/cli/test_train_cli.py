"""A tiny end-to-end run through the CLI: train, evaluate, submit, resume; and bad input."""

import json

from cli_helpers import error_line, ok
from digitrec.data import write_kaggle_csv


def test_train_evaluate_submit_resume(fake_mnist, small_mnist, tmp_path):
    run = tmp_path / "run"
    output = ok(["train", "--recipe", "cnn-baseline", "--epochs", "1", "--limit", "400", "--batch-size", "40",
                  "--out", str(run), "--quiet"])
    assert f"run directory: {run}" in output and "test accuracy" in output
    report = json.loads(ok(["evaluate", str(run / "model.pt"), "--json"]))
    assert 0.5 < report["accuracy"] <= 1 and len(report["confusion"]) == 10
    text = ok(["evaluate", str(run), "--out", str(tmp_path / "eval")])
    assert "precision" in text and "confusion matrix" in text
    assert "not calibrated: the recipe has no validation split (set --val-fraction" in text
    assert (tmp_path / "eval" / "reliability.png").exists()
    assert (tmp_path / "eval" / "confusion.png").exists() and (tmp_path / "eval" / "evaluation.json").exists()

    write_kaggle_csv(tmp_path / "test.csv", small_mnist["test"].images[:30])
    ok(["submit", str(run / "model.pt"), "--test", str(tmp_path / "test.csv"), "--out", str(tmp_path / "sub.csv")])
    lines = (tmp_path / "sub.csv").read_text().splitlines()
    assert lines[0] == "ImageId,Label" and len(lines) == 31 and lines[1].startswith("1,")

    # resume needs nothing but the directory; --epochs extends a finished run, and config.json says so
    ok(["train", "--resume", str(run), "--epochs", "2", "--quiet"])
    assert (run / "history.csv").read_text().count("\n") == 3  # header + 2 epochs
    config = json.loads((run / "config.json").read_text())
    assert config["recipe"]["epochs"] == 2 and config["changes"][0]["epochs"] == 2
    error_line(["train", "--resume", str(run), "--lr", "0.5"], "--lr cannot be combined with --resume", "--epochs")
    error_line(["train", "--resume", str(run), "--epochs", "1"], "fewer than the 2 epochs already run")


def test_recipes_and_models_lists():
    assert "keras-kaggle" in ok(["recipes"]) and "lenet" in ok(["models"])


def test_a_recipe_file_from_recipes_show_trains_and_config_json_records_what_ran(fake_mnist, tmp_path):
    text = ok(["recipes", "show", "mxnet-mlp"])
    assert 'engine = "torch"' in text and "[args]" in text
    (tmp_path / "mine.toml").write_text(text.replace("epochs = 10", "epochs = 1"))
    run = tmp_path / "run"
    ok(["train", "--config", str(tmp_path / "mine.toml"), "--batch-size", "50", "--limit", "200", "--out", str(run), "--quiet"])
    recipe = json.loads((run / "config.json").read_text())["recipe"]
    assert recipe["name"] == "mxnet-mlp" and recipe["epochs"] == 1 and recipe["batch_size"] == 50
    (tmp_path / "bad.toml").write_text('model = "mlp"\nepochs = "many"\n')
    error_line(["train", "--config", str(tmp_path / "bad.toml")], "bad.toml", "'epochs' must be an integer")
    error_line(["train", "--config", str(tmp_path / "mine.toml"), "--recipe", "default"], "give one of them")
    error_line(["recipes", "show", "nope"], "unknown recipe 'nope'")


def test_an_option_the_engine_would_ignore_is_refused_and_nothing_is_written(fake_mnist, tmp_path):
    """The NumPy network has no optimizer, augmentation or label smoothing: saying so beats ignoring them."""
    line = error_line(["train", "--recipe", "nielsen", "--augment", "--optimizer", "adam", "--label-smoothing", "0.2",
                       "--out", str(tmp_path / "run")], "runs on the scratch engine", "'augment'", "'optimizer'", "lmbda")
    assert "label_smoothing" in line and not (tmp_path / "run").exists()
    error_line(["train", "--recipe", "nielsen", "--schedule-args", "{bad", "--out", str(tmp_path / "run")], "--schedule-args: not valid JSON")


def test_extending_a_one_cycle_run_is_refused(fake_mnist, tmp_path):
    run = tmp_path / "run"
    ok(["train", "--recipe", "default", "--model", "mlp", "--epochs", "1", "--limit", "100", "--out", str(run), "--quiet"])
    error_line(["train", "--resume", str(run), "--epochs", "3"], "'one-cycle' schedule", "start a new run")


def test_bad_model_files_are_one_line(tmp_path, fake_mnist, tiny_model):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    error_line(["evaluate", str(tmp_path / "junk.pt")], "junk.pt", "not a readable PyTorch checkpoint")
    (tmp_path / "pickle.pt").write_bytes(b"\x80\x04garbage")  # a pickle header, then junk
    line = error_line(["evaluate", str(tmp_path / "pickle.pt")], "pickle.pt", "not a PyTorch file")
    assert "weights_only" not in line  # torch's advice to run the file's code is not passed on
    whole = tiny_model.read_bytes()
    (tmp_path / "cut.pt").write_bytes(whole[: len(whole) // 2])  # a download or copy cut short
    error_line(["evaluate", str(tmp_path / "cut.pt")], "cut.pt", "truncated or corrupt")
    error_line(["evaluate", str(tmp_path / "missing.pt")], "missing.pt", "no such model file")
    (tmp_path / "m.txt").write_text("x")
    error_line(["evaluate", str(tmp_path / "m.txt")], "unknown model type")
    import torch

    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    error_line(["evaluate", str(tmp_path / "other.pt")], "not a digitrec model")


def test_bad_training_options(fake_mnist, tmp_path):
    error_line(["train", "--recipe", "nope"], "unknown recipe 'nope'", "mxnet-mlp")
    error_line(["train", "--recipe", "mxnet-mlp", "--optimizer", "lbfgs", "--limit", "50", "--out", str(tmp_path / "r")],
                "unknown optimizer")
    error_line(["train", "--resume", str(tmp_path / "nothing")], "not a run directory")
    error_line(["submit", str(tmp_path / "x.pt"), "--test", str(tmp_path / "t.csv")], "no such model file")


def test_a_run_that_fails_before_its_first_checkpoint_leaves_nothing(tmp_path):
    error_line(["train", "--recipe", "mxnet-mlp", "--data", f"kaggle:{tmp_path / 'missing'}", "--out", str(tmp_path / "run"), "--quiet"],
                "no such file or folder")
    assert not (tmp_path / "run").exists()


def test_scratch_recipe_through_the_cli(fake_mnist, small_mnist, tmp_path):
    run = tmp_path / "nielsen"
    output = ok(["train", "--recipe", "nielsen", "--epochs", "2", "--out", str(run), "--quiet"])
    assert "test accuracy" in output
    names = {p.name for p in run.iterdir()}
    assert {"config.json", "history.csv", "metrics.json", "curves.png", "confusion.png", "misclassified.png", "model.npz"} <= names
    import numpy as np

    with np.load(run / "model.npz", allow_pickle=False) as archive:
        assert "metadata" in archive.files
    report = json.loads(ok(["evaluate", str(run / "model.npz"), "--json"]))
    metrics = json.loads((run / "metrics.json").read_text())
    assert report["accuracy"] == metrics["test_accuracy"]
    # nielsen's sigmoid outputs get no temperature (one made its test ECE worse), and the files say so
    assert not report["calibration"]["fitted"] and "output layer is sigmoid" in report["calibration"]["why"]
    assert report["calibration"]["ece_after"] == metrics["calibration"]["test_ece_after"]
    write_kaggle_csv(tmp_path / "test.csv", small_mnist["test"].images[:5])
    ok(["submit", str(run), "--test", str(tmp_path / "test.csv"), "--out", str(tmp_path / "s.csv")])
    assert (tmp_path / "s.csv").read_text().count("\n") == 6
    error_line(["train", "--resume", str(run)], "cannot be resumed")


def test_evaluate_refuses_a_dataset_with_other_classes(fake_mnist, tiny_model, tmp_path):
    import torch

    from digitrec.data import FASHION_CLASSES

    checkpoint = torch.load(tiny_model, weights_only=True)
    checkpoint["classes"] = list(FASHION_CLASSES)
    checkpoint["dataset"] = "kaggle:somewhere"
    torch.save(checkpoint, tmp_path / "fashion.pt")
    error_line(["evaluate", str(tmp_path / "fashion.pt")], "fashion.pt predicts T-shirt/top", "pass --data")


def test_an_output_path_through_a_file_is_one_clear_line(tmp_path, tiny_model):
    (tmp_path / "notes.txt").write_text("x")
    for out in ("notes.txt/model.onnx", "notes.txt/deeper/model.onnx"):
        error_line(["export", str(tiny_model), "--out", str(tmp_path / out)], "notes.txt: is a file where a folder is needed")


def test_a_numpy_network_run_never_imports_torch(small_mnist, tmp_path):
    """The scratch engine is NumPy only: importing torch would cost a short run a second or more."""
    import subprocess
    import sys

    train = small_mnist["train"]
    write_kaggle_csv(tmp_path / "train.csv", train.images[:300], train.labels[:300])
    script = ("import sys\nfrom digitrec.cli import main\nsys.argv = ['digitrec', *sys.argv[1:]]\n"
              "try:\n    main()\nexcept SystemExit as stop:\n    assert not stop.code, stop.code\n"
              "print('torch imported' if 'torch' in sys.modules else 'no torch')\n")
    done = subprocess.run([sys.executable, "-c", script, "train", "--recipe", "nielsen", "--epochs", "1",
                           "--data", f"kaggle:{tmp_path / 'train.csv'}", "--out", str(tmp_path / "run"), "--quiet"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "no torch"
    assert (tmp_path / "run" / "model.npz").is_file()
