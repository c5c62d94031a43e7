"""Time to 99% MNIST test accuracy: the `fast` recipe against `reference` (the PyTorch example), in one run.

    python benchmarks/time_to_99.py                    # fast x 5 seeds, then reference until 99%
    python benchmarks/time_to_99.py --seeds 3 --reference-epochs 14

`fast`: each seed is the whole `digitrec train --recipe fast --seed N` command in a subprocess
(training seconds from its metrics.json, and the process's wall time). `reference`: trained
in-process with digitrec's fit, evaluated on the test set after each epoch (evaluation time not
counted) until it first reaches 99%; its schedule is per epoch (StepLR), so stopping early does not
change the epochs before. The ratio is reference's training seconds to 99% over fast's median
training seconds. Writes results/time_to_99.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import _machine  # noqa: E402

TARGET = 0.99


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5, help="fast runs, seeds 0..N-1")
    parser.add_argument("--reference-epochs", type=int, default=14, help="give up on reference after this many")
    parser.add_argument("--skip-reference", action="store_true", help="fast only (no ratio)")
    args = parser.parse_args(argv)
    facts = _machine.machine()
    fast = [_fast_run(seed) for seed in range(args.seeds)]
    for row in fast:
        print(f"fast seed {row['seed']}: {row['test_accuracy']:.4f} in {row['train_seconds']:.2f} s training, "
              f"{row['wall_seconds']:.2f} s whole process", flush=True)
    reference = None if args.skip_reference else _reference_run(args.reference_epochs)
    summary = _summary(fast, reference)
    table = _table(summary, fast, reference)
    print(table)
    payload = {"command": _machine.command_line("time_to_99.py", argv), "machine": facts, "summary": summary,
               "fast": fast, "reference": reference}
    print("wrote", _machine.write("time_to_99", payload, "## Time to 99% MNIST test accuracy\n\n" + table))


def _fast_run(seed: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="digitrec-fast-") as folder:
        out = Path(folder) / "run"
        command = [sys.executable, "-m", "digitrec", "train", "--recipe", "fast", "--seed", str(seed),
                   "--out", str(out), "--quiet"]
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        metrics = json.loads((out / "metrics.json").read_text())
    return {"seed": seed, "test_accuracy": metrics["test_accuracy"], "train_seconds": metrics["train_seconds"],
            "wall_seconds": wall}


def _reference_run(max_epochs: int) -> dict:
    import torch

    from digitrec.data import load_dataset
    from digitrec.models import Classifier, create_model
    from digitrec.recipes import get_recipe
    from digitrec.training.environment import seed_everything
    from digitrec.training.loop import TensorSplit, evaluate_tensors, fit

    recipe = get_recipe("reference").override(epochs=max_epochs)
    dataset = load_dataset("mnist")
    train = TensorSplit.from_arrays(dataset.train.images, dataset.train.labels, torch.device("cpu"))
    test = TensorSplit.from_arrays(dataset.test.images, dataset.test.labels, torch.device("cpu"))
    seed_everything(recipe.seed)
    model = Classifier(create_model(recipe.model, **recipe.model_args), recipe.args.mean, recipe.args.std)
    epochs: list[dict] = []

    class Reached(Exception):
        pass

    def after_epoch(state) -> None:
        row = state.history[-1]
        _, accuracy = evaluate_tensors(model, test, recipe.args.eval_batch_size)
        epochs.append({"epoch": row["epoch"], "train_seconds": row["seconds"], "test_accuracy": accuracy})
        print(f"reference epoch {row['epoch']}: {accuracy:.4f} after {row['seconds']:.1f} s", flush=True)
        if accuracy >= TARGET:
            raise Reached

    try:
        fit(model, train, None, recipe, on_epoch_end=after_epoch)
    except Reached:
        pass
    reached = next((row for row in epochs if row["test_accuracy"] >= TARGET), None)
    return {"epochs": epochs, "reached_at_epoch": reached and reached["epoch"],
            "seconds_to_99": sum(row["train_seconds"] for row in epochs) if reached else None}


def _summary(fast: list[dict], reference: dict | None) -> dict:
    accuracies = [row["test_accuracy"] for row in fast]
    seconds = _machine.median([row["train_seconds"] for row in fast])
    summary = {"fast_mean_accuracy": sum(accuracies) / len(accuracies), "fast_min_accuracy": min(accuracies),
               "fast_median_train_seconds": seconds,
               "fast_median_wall_seconds": _machine.median([row["wall_seconds"] for row in fast])}
    if reference and reference["seconds_to_99"]:
        summary |= {"reference_seconds_to_99": reference["seconds_to_99"],
                    "ratio": reference["seconds_to_99"] / seconds}
    return summary


def _table(summary: dict, fast: list[dict], reference: dict | None) -> str:
    lines = ["| run | test accuracy | training s | whole process s |", "|---|---:|---:|---:|"]
    lines += [f"| fast, seed {r['seed']} | {r['test_accuracy']:.4f} | {r['train_seconds']:.2f} | {r['wall_seconds']:.2f} |"
              for r in fast]
    lines.append(f"| **fast, {len(fast)} seeds** | mean {summary['fast_mean_accuracy']:.4f}, min "
                 f"{summary['fast_min_accuracy']:.4f} | median {summary['fast_median_train_seconds']:.2f} | "
                 f"median {summary['fast_median_wall_seconds']:.2f} |")
    if reference:
        for row in reference["epochs"]:
            lines.append(f"| reference, epoch {row['epoch']} | {row['test_accuracy']:.4f} | {row['train_seconds']:.1f} | |")
        if "ratio" in summary:
            lines.append(f"| **reference to 99%** | epoch {reference['reached_at_epoch']} | "
                         f"{summary['reference_seconds_to_99']:.1f} | |")
            lines.append(f"\nTime to 99%: reference {summary['reference_seconds_to_99']:.1f} s / fast "
                         f"{summary['fast_median_train_seconds']:.2f} s = **{summary['ratio']:.0f}x**.")
        else:
            lines.append("\nreference did not reach 99% in the epochs given.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
