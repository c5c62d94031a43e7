"""`digitrec evaluate` and `digitrec submit`: a trained model on a labelled split or Kaggle's test.csv."""

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
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for evaluation.json, confusion.png, misclassified.png.", file_okay=False),
) -> None:
    """Accuracy, loss, per-class precision/recall/F1 and the confusion matrix."""
    from ..data import load_dataset
    from ..errors import DigitrecError
    from ..evaluation import evaluate, format_report
    from ..evaluation.calibration import coverage_table, expected_calibration_error, format_calibration
    from ..predict import load_model

    predictor = load_model(model)
    trained_on = predictor.metadata.get("dataset")
    data = data or (trained_on if trained_on in ("mnist", "fashion-mnist") else "mnist")
    dataset = load_dataset(data, data_dir)
    if list(dataset.classes) != list(predictor.classes):
        raise DigitrecError(
            f"{model} predicts {', '.join(predictor.classes[:3])}... but {data} has classes "
            f"{', '.join(dataset.classes[:3])}...; pass --data with the dataset the model was trained on"
        )
    chosen = dataset.split(split)
    if chosen.labels is None:
        raise DigitrecError(f"{data} {split} split has no labels to evaluate against; use `digitrec submit` for Kaggle's test.csv")
    report = evaluate(predictor, chosen.images, chosen.labels)
    if out is not None:
        from ..evaluation import plots
        from ..atomic import atomic_write_text

        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "evaluation.json", json.dumps(report.to_dict(), indent=2) + "\n")
        plots.confusion_matrix(report.confusion, report.classes, out / "confusion.png", title=f"{model.name} on {data} {split}")
        plots.misclassified(chosen.images, report.labels, report.predictions, report.probabilities.max(axis=1), report.classes, out / "misclassified.png")
    calibration = {"ece": expected_calibration_error(report.probabilities, report.labels),
                   "coverage": coverage_table(report.probabilities, report.labels)}
    if as_json:
        typer.echo(json.dumps(report.to_dict() | {"model": str(model), "data": data, "split": split,
                                                  "calibration": calibration}))
    else:
        typer.echo(f"{model} on {data} {split} ({len(report.labels)} images)")
        typer.echo(format_report(report))
        typer.echo(format_calibration(report.probabilities, report.labels))


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
