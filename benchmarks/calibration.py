"""Does confidence mean what it says? Temperature scaling measured on the MNIST test set.

    python benchmarks/calibration.py                          # 4 recipes, 1-2 epochs each on 30,000 images (~2 min, 2 cores)
    python benchmarks/calibration.py --recipes keras-kaggle:3,mxnet-lenet --epochs 1 --limit 0
    python benchmarks/calibration.py --model runs/x/model.pt --model runs/y/model.npz   # files as they are

Each recipe trains briefly (NAME:EPOCHS, else `--epochs`, on a stratified `--limit` of the training split; a recipe
without a validation split gets `--val-fraction`), and the run fits its temperature on that
validation split as every run does. Model files given with --model keep the temperature they
hold. Then, on the 10,000 test images, the expected calibration error (15 bins) and the NLL before
(T = 1) and after the temperature, and the coverage table: for each --min-confidence, the share of
images labelled and the error rate among them, before and after. A temperature is fitted to
MNIST-like digits; `--photos N` also measures N photo-like versions of test digits (digitrec.synth:
paper, light, blur, noise; read back through to_mnist) to see whether it still holds off that
distribution. Writes benchmarks/results/calibration.{json,md}. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import _machine  # noqa: E402
import numpy as np  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", default="default:2,mxnet-mlp:3,nielsen-improved:2,nielsen:2",
                        help="comma-separated recipes to train, each NAME or NAME:EPOCHS ('' for none)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs of a recipe named without :EPOCHS")
    parser.add_argument("--limit", type=int, default=30_000, help="training images, validation included (0: all 60,000)")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="for recipes that hold out no validation split")
    parser.add_argument("--model", action="append", default=[], help="a model file or run folder to measure as it is")
    parser.add_argument("--photos", type=int, default=1000, help="photo-like test digits to measure too (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from digitrec.data import load_dataset

    facts = _machine.machine()
    test = load_dataset("mnist").test
    photos = _photo_like(test, args.photos, args.seed) if args.photos else None
    rows = []
    with tempfile.TemporaryDirectory(prefix="digitrec-calibration-") as runs:
        for entry in filter(None, args.recipes.split(",")):
            name, _, epochs = entry.partition(":")
            path, trained = _train(name, int(epochs or args.epochs), args, Path(runs) / name)
            rows.append(_measure(name, path, test, photos) | trained)
            print(_summary(rows[-1:]), flush=True)
    for model in args.model:
        rows.append(_measure(model, Path(model), test, photos))
        print(_summary(rows[-1:]), flush=True)
    markdown = ("## Calibration: expected calibration error before and after temperature scaling\n\n"
                + _summary(rows) + "\n\n" + "\n\n".join(_coverage(row) for row in rows))
    payload = {"command": _machine.command_line("calibration.py", argv), "machine": facts, "rows": rows}
    print("wrote", _machine.write("calibration", payload, markdown))


def _train(name: str, epochs: int, args, out: Path) -> tuple[Path, dict]:
    from digitrec.recipes import get_recipe
    from digitrec.training.run import RunOptions, train_run

    recipe = get_recipe(name).override(epochs=epochs, seed=args.seed)
    if not recipe.val_fraction:
        recipe = recipe.override(val_fraction=args.val_fraction)
    started = time.perf_counter()
    result = train_run(recipe, RunOptions(out=str(out), limit=args.limit or None, quiet=True))
    metrics = result.metrics
    return out, {"recipe": name, "epochs": metrics["epochs_run"], "train_images": metrics["train_size"],
                 "val_fraction": recipe.val_fraction, "run_seconds": time.perf_counter() - started}


def _photo_like(test, count: int, seed: int):
    """(images, labels): `count` test digits photographed (digitrec.synth.photoize) and read back by
    to_mnist, as `digitrec predict` would see them; a digit the preprocessing loses is skipped."""
    from digitrec.data import Split
    from digitrec.synth import photoize
    from digitrec.vision import PreprocessError, to_mnist

    rng = np.random.default_rng(seed)
    images, labels = [], []
    for index in rng.choice(len(test.labels), count, replace=False):
        try:
            images.append(to_mnist(photoize(test.images[index], rng)))
        except PreprocessError:
            continue
        labels.append(test.labels[index])
    return Split(np.stack(images), np.asarray(labels, dtype=np.int64))


def _measure(name: str, path: Path, test, photos=None) -> dict:
    """Test-set calibration of a model file as it predicts (its temperature) and at T = 1."""
    from digitrec.evaluation import evaluate_probabilities
    from digitrec.evaluation.calibration import calibration_report, coverage_table, retemper
    from digitrec.predict import load_model

    predictor = load_model(path)
    stored = predictor.metadata.get("calibration")
    shifted = {}
    if photos is not None:  # the same temperature on photo-like digits, off the distribution it was fitted on
        probs = predictor.predict_proba(photos.images)
        report = calibration_report(probs, photos.labels, stored)
        shifted = {"photo_images": int(len(photos.labels)), "photo_accuracy": float((probs.argmax(1) == photos.labels).mean()),
                   "photo_ece_before": report["ece_before"], "photo_ece_after": report["ece_after"]}
    probs = predictor.predict_proba(test.images)
    report = calibration_report(probs, test.labels, stored)
    before = retemper(probs, 1 / report["temperature"])
    fitted_on = stored if isinstance(stored, dict) and stored.get("fitted") else {}
    return {
        "name": name, "engine": predictor.metadata.get("engine"), "model": predictor.metadata.get("model"),
        "temperature": report["temperature"], "fitted": report["fitted"], "why": report.get("why"),
        "val_images": fitted_on.get("images"), "val_nll_before": fitted_on.get("nll_before"),
        "val_nll_after": fitted_on.get("nll_after"),
        "test_images": int(len(test.labels)), "test_accuracy": float((probs.argmax(1) == test.labels).mean()),
        "test_nll_before": evaluate_probabilities(before, test.labels, predictor.classes).loss,
        "test_nll_after": evaluate_probabilities(probs, test.labels, predictor.classes).loss,
        "test_ece_before": report["ece_before"], "test_ece_after": report["ece_after"],
        "coverage_before": coverage_table(before, test.labels), "coverage_after": report["coverage"],
    } | shifted


def _summary(rows: list[dict]) -> str:
    lines = ["| model | engine | epochs | train / val images | T | val NLL before -> after | test accuracy | "
             "test NLL before -> after | test ECE before -> after | photo-like: accuracy, ECE before -> after |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        sizes = f"{row['train_images']:,} / {row['val_images']:,}" if row.get("train_images") and row["val_images"] else "-"
        val = f"{row['val_nll_before']:.4f} -> {row['val_nll_after']:.4f}" if row["val_nll_before"] is not None else "-"
        lines.append(
            f"| {row['name']} ({row['model']}) | {row['engine']} | {row.get('epochs', '-')} | {sizes} | "
            f"{row['temperature']:.3f}{'' if row['fitted'] else ' (not fitted)'} | {val} | {row['test_accuracy']:.4f} | "
            f"{row['test_nll_before']:.4f} -> {row['test_nll_after']:.4f} | "
            f"{row['test_ece_before']:.4f} -> {row['test_ece_after']:.4f} | "
            + (f"{row['photo_accuracy']:.4f}, {row['photo_ece_before']:.4f} -> {row['photo_ece_after']:.4f} |"
               if "photo_ece_after" in row else "- |"))
    return "\n".join(lines)


def _coverage(row: dict) -> str:
    """What each --min-confidence buys on the test set, at T = 1 and at the model's temperature."""
    lines = [f"### {row['name']}: what --min-confidence buys on {row['test_images']:,} test images "
             f"(T = 1 vs T = {row['temperature']:.3f})", "",
             "| min confidence | labelled, T = 1 | error rate, T = 1 | labelled, calibrated | error rate, calibrated |",
             "|---:|---:|---:|---:|---:|"]
    for before, after in zip(row["coverage_before"], row["coverage_after"]):
        def rate(r):
            return "-" if r["error_rate"] is None else f"{100 * r['error_rate']:.2f}% ({r['errors']})"

        lines.append(f"| {before['threshold']:.2f} | {100 * before['coverage']:.2f}% | {rate(before)} | "
                     f"{100 * after['coverage']:.2f}% | {rate(after)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
