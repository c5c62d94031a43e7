"""Train recipes on full MNIST and record test accuracy, time, size and throughput.

    python benchmarks/recipes.py                       # every recipe, epochs as in the recipe
    python benchmarks/recipes.py --recipes mxnet-mlp,reference --epochs 3

Rows are merged into benchmarks/results/recipes.json (one row per recipe, newest wins) and the
whole table is rewritten to benchmarks/results/recipes.md. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def main(argv: list[str] | None = None) -> None:
    from digitrec.recipes import get_recipe, list_recipes
    from digitrec.training.environment import resolve_device
    from digitrec.training.run import RunOptions, train_run

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", default=",".join(list_recipes()), help="comma-separated recipe names")
    parser.add_argument("--epochs", type=int, default=None, help="override every recipe's epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--runs", default=None, help="keep run directories here (default: a temp folder)")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--deterministic", action="store_true", help="PyTorch's deterministic algorithms")
    parser.add_argument("--note", default="", help="conditions worth knowing, e.g. 'machine shared with other jobs'")
    args = parser.parse_args(argv)

    command = "python benchmarks/recipes.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    runs_root = Path(args.runs) if args.runs else Path(tempfile.mkdtemp(prefix="digitrec-bench-"))
    rows = _load_rows()
    for name in args.recipes.split(","):
        recipe = get_recipe(name).override(epochs=args.epochs, seed=args.seed)
        options = RunOptions(out=str(runs_root / name), device=args.device, quiet=args.quiet, deterministic=args.deterministic)
        result = train_run(recipe, options)
        m = result.metrics
        rows[name] = {
            "recipe": name, "model": recipe.model, "engine": recipe.engine, "epochs": m["epochs_run"],
            "test_accuracy": m.get("test_accuracy"), "expected": recipe.expected_accuracy,
            "meets_expected": (m.get("test_accuracy") or 0) >= (recipe.expected_accuracy or 0),
            "train_seconds": m["train_seconds"], "params": m["params"], "samples_per_second": m["samples_per_second"],
            "device": resolve_device(args.device), "machine": _machine(),
            "command": command, "date": dt.date.today().isoformat(), "note": args.note,
        }
        _save(rows)
        print(_table(rows), flush=True)


def _machine() -> str:
    import os

    import torch

    from _machine import cpu

    return (f"{cpu()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"torch CPU capability {torch.backends.cpu.get_cpu_capability()}")


def _load_rows() -> dict:
    path = RESULTS / "recipes.json"
    return {row["recipe"]: row for row in json.loads(path.read_text())} if path.exists() else {}


def _save(rows: dict) -> None:
    from digitrec.atomic import atomic_write_text

    RESULTS.mkdir(exist_ok=True)
    atomic_write_text(RESULTS / "recipes.json", json.dumps(list(rows.values()), indent=2) + "\n")
    atomic_write_text(RESULTS / "recipes.md", _table(rows) + "\n")


def _table(rows: dict) -> str:
    lines = [
        "| recipe | model | epochs | test accuracy | tutorial's | train time | parameters | samples/s | command |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows.values():
        lines.append(
            f"| {row['recipe']} | {row['model']} | {row['epochs']} | {row['test_accuracy']:.4f} | "
            f"{row['expected'] or 0:.3f} | {row['train_seconds']:.0f} s | {row['params']:,} | "
            f"{row['samples_per_second']:,.0f} | `{row['command']}` |"
        )
    lines.append("")
    lines.append("Measured on " + "; ".join(sorted({f"{r['machine']} ({r['date']})" for r in rows.values()})) + ".")
    for note in sorted({r.get("note") for r in rows.values()} - {None, ""}):
        lines.append(f"Note: {note} ({', '.join(r['recipe'] for r in rows.values() if r.get('note') == note)}).")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
