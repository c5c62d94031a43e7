"""The `digitrec data` verbs through typer's test runner, good input and bad."""

import numpy as np
from typer.testing import CliRunner

from digitrec import __version__
from digitrec.cli import app
from digitrec.data import read_kaggle_csv, write_kaggle_csv

runner = CliRunner()


def test_version_and_help():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
    result = runner.invoke(app, ["data", "--help"])
    assert result.exit_code == 0 and "to-kaggle" in result.output


def test_fetch_info_show_and_to_kaggle(fake_mnist, tmp_path):
    result = runner.invoke(app, ["data", "fetch"])
    assert result.exit_code == 0, result.output
    assert "4 files verified" in result.output
    result = runner.invoke(app, ["data", "verify"])
    assert result.exit_code == 0 and "4 files hashed and verified" in result.output, result.output
    result = runner.invoke(app, ["data", "info", "--plot", str(tmp_path / "balance.png")])
    assert result.exit_code == 0, result.output
    assert "train   1000 images" in result.output and "test     200 images" in result.output
    assert (tmp_path / "balance.png").read_bytes()[:4] == b"\x89PNG"
    result = runner.invoke(app, ["data", "show", "--split", "test", "--n", "16", "--out", str(tmp_path / "grid.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"
    result = runner.invoke(app, ["data", "to-kaggle", "--out", str(tmp_path / "kaggle")])
    assert result.exit_code == 0, result.output
    images, labels = read_kaggle_csv(tmp_path / "kaggle" / "train.csv")
    assert images.shape == (1000, 28, 28) and labels is not None
    assert (tmp_path / "kaggle" / "solution.csv").read_text().startswith("ImageId,Label\n1,")


def test_info_on_kaggle_csvs(tmp_path, small_mnist):
    write_kaggle_csv(tmp_path / "train.csv", small_mnist["train"].images, small_mnist["train"].labels)
    result = runner.invoke(app, ["data", "info", "--data", f"kaggle:{tmp_path}"])
    assert result.exit_code == 0, result.output
    counts = np.bincount(small_mnist["train"].labels)
    assert f"0 {counts[0]:6d}" in result.output


def _one_line_error(result, *fragments):
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("digitrec: error: "), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_bad_csv_is_one_clear_line(tmp_path):
    (tmp_path / "train.csv").write_text("label,pixel0\n1,2\n")
    _one_line_error(runner.invoke(app, ["data", "info", "--data", f"kaggle:{tmp_path}"]), "train.csv", "line 1")


def test_unknown_dataset_and_missing_folder(tmp_path):
    _one_line_error(runner.invoke(app, ["data", "info", "--data", "cifar"]), "choose from")
    _one_line_error(runner.invoke(app, ["data", "show", "--out", str(tmp_path / "g.png"), "--data", f"folder:{tmp_path}/x"]), "no such folder")
    assert not (tmp_path / "g.png").exists()


def test_usage_errors_exit_2(tmp_path):
    assert runner.invoke(app, ["data", "show"]).exit_code == 2  # --out is required
    assert runner.invoke(app, ["data", "show", "--out", str(tmp_path / "g.png"), "--n", "0"]).exit_code == 2


def test_debug_lets_the_exception_through():
    result = runner.invoke(app, ["--debug", "data", "info", "--data", "cifar"])
    assert result.exit_code == 1 and result.exception is not None
    assert type(result.exception).__name__ == "DatasetError"
