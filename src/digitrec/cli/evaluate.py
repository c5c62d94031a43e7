"""`digitrec evaluate`, `calibrate` and `submit`: a trained model judged on a labelled split, its
temperature fitted on one, or its predictions for Kaggle's test.csv."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from . import app
from .options import DataDirOption

ModelArgument = typer.Argument(..., help="A model file (.pt, .npz, .onnx) or a run directory.")


@app.command("evaluate")
def evaluate_cmd(
    model: Path = ModelArgument,
    data: Optional[str] = typer.Option(None, "--data", "--dataset", "-d", metavar="SPEC",
                                       help="Dataset spec (default: the one the model was trained on, else mnist)."),
    split: str = typer.Option("test", "--split", help="train or test."),
    data_dir: Optional[Path] = DataDirOption,
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for evaluation.json, confusion.png, misclassified.png, reliability.png.", file_okay=False),
) -> None:
    """Accuracy, loss, per-class precision/recall/F1, the confusion matrix, and calibration: the
    expected calibration error before and after the model's temperature, and what each
    --min-confidence buys (share of images labelled, error rate among them)."""
    from ..evaluation import evaluate, format_report
    from ..evaluation.calibration import calibration_report, format_calibration
    from ..predict import load_model

    predictor = load_model(model)
    trained_on = predictor.metadata.get("dataset")
    data = data or (trained_on if trained_on in ("mnist", "fashion-mnist") else "mnist")
    chosen = _labelled(predictor, model, data, split, data_dir, "evaluate against; use `digitrec submit` for Kaggle's test.csv")
    report = evaluate(predictor, chosen.images, chosen.labels)
    calibration = calibration_report(report.probabilities, report.labels, predictor.metadata.get("calibration"))
    if out is not None:
        from ..evaluation import plots
        from ..atomic import atomic_write_text

        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "evaluation.json", json.dumps(report.to_dict() | {"calibration": calibration}, indent=2) + "\n")
        plots.confusion_matrix(report.confusion, report.classes, out / "confusion.png", title=f"{model.name} on {data} {split}")
        plots.misclassified(chosen.images, report.labels, report.predictions, report.probabilities.max(axis=1), report.classes, out / "misclassified.png")
        panels = {"before (T = 1)": calibration["bins_before"]}
        if calibration["temperature"] != 1:
            panels[f"after (T = {calibration['temperature']:.3f})"] = calibration["bins_after"]
        plots.reliability_diagram(panels, out / "reliability.png", title=f"{model.name} on {data} {split}")
    if as_json:
        typer.echo(json.dumps(report.to_dict() | {"model": str(model), "data": data, "split": split,
                                                  "calibration": calibration | {"ece": calibration["ece_after"]}}))
    else:
        typer.echo(f"{model} on {data} {split} ({len(report.labels)} images)")
        typer.echo(format_report(report))
        typer.echo(format_calibration(calibration))


@app.command("calibrate")
def calibrate_cmd(
    model: Path = typer.Argument(..., help="A model file (.pt, .npz) or a run directory."),
    data: str = typer.Option(..., "--data", "--dataset", "-d", metavar="SPEC",
                             help="Dataset spec of labelled images the model was not trained on (see `digitrec data`)."),
    split: str = typer.Option("test", "--split", help="train or test: the split of --data to fit the temperature on."),
    data_dir: Optional[Path] = DataDirOption,
    out: Optional[Path] = typer.Option(None, "--out", "-o", dir_okay=False,
                                       help="Calibrated model file to write (default: beside MODEL, '-calibrated' added "
                                            "to its name). Name MODEL itself to replace it."),
) -> None:
    """Fit the model's temperature on labelled held-out images and write the calibrated model.

    Training does this on the recipe's validation split; this is for a model trained without one,
    or for images closer to where it will be used. Predicted labels never change, only confidences.
    """
    from ..predict import load_model
    from ..predict.load import RUN_MODEL_FILES
    from ..training.calibrate import calibrate_file

    path = model.expanduser()
    if path.is_dir():
        path = next((path / name for name in RUN_MODEL_FILES if (path / name).is_file()), path / "model.pt")
    predictor = load_model(path)
    chosen = _labelled(predictor, path, data, split, data_dir, "fit a temperature on")
    out = out or path.with_name(f"{path.stem}-calibrated{path.suffix}")
    record = calibrate_file(path, chosen.images, chosen.labels, out, split=f"{data} {split}")
    typer.echo(f"temperature {record['temperature']:.3f} fitted on {record['images']} images of {data} {split}: "
               f"NLL {record['nll_before']:.4f} -> {record['nll_after']:.4f}, "
               f"ECE {record['ece_before']:.4f} -> {record['ece_after']:.4f}")
    typer.echo(f"wrote {out}" + ("" if out.resolve() != path.resolve() else " (replacing the uncalibrated model)"))
    if split == "test":
        typer.echo(f"note: evaluate it on other images than {data} {split}: a temperature flatters the images it was fitted to")


def _labelled(predictor, model: Path, data: str, split: str, data_dir: Optional[Path], purpose: str):
    """The labelled `split` of `data`, refused if its classes are not the model's."""
    from ..data import load_dataset
    from ..errors import DigitrecError

    dataset = load_dataset(data, data_dir)
    if list(dataset.classes) != list(predictor.classes):
        raise DigitrecError(
            f"{model} predicts {', '.join(predictor.classes[:3])}... but {data} has classes "
            f"{', '.join(dataset.classes[:3])}...; pass --data with the dataset the model was trained on"
        )
    chosen = dataset.split(split)
    if chosen.labels is None:
        raise DigitrecError(f"{data} {split} split has no labels to {purpose}")
    return chosen


@app.command("submit")
def submit_cmd(
    model: Path = ModelArgument,
    test: Path = typer.Option(..., "--test", help="Kaggle's test.csv (pixel0..pixel783, no label column).", dir_okay=False),
    out: Path = typer.Option(Path("submission.csv"), "--out", "-o", help="Submission file to write.", dir_okay=False),
) -> None:
    """Write a Kaggle submission (ImageId,Label) for test.csv."""
    from ..data import read_kaggle_csv, write_submission
    from ..predict import load_model

    predictor = load_model(model)
    images, _ = read_kaggle_csv(test)
    labels = predictor.predict(images)
    write_submission(out, labels)
    typer.echo(f"wrote {out} ({len(labels)} predictions)")
