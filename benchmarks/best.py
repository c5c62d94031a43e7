"""The `best` recipe over seeds, and an ensemble of its runs: MNIST test accuracy and training minutes.

    python benchmarks/best.py                          # seeds 0, 1, 2
    python benchmarks/best.py --ensemble 5             # seeds 0..4, then one ensemble of the five
    python benchmarks/best.py --runs runs/best-study   # keep the runs; seeds already run there by the same command are reused
    python benchmarks/best.py --seeds 0,2 --extra "--epochs 30" --name best-30   # a variant, its own results
    python benchmarks/best.py --ensemble 3 --with runs/old/model.pt   # a 4th member: a run or model file of another kind

Each seed is the whole `digitrec train --recipe best --seed N` command (a subprocess, so the figure
is what a user gets); accuracy and training seconds come from its metrics.json. A run takes ~55
minutes on 2 AVX2 cores in fp32 and ~15 with native bf16 (Zen 4, AVX512-BF16): start the
script in the background (`nohup ... &`) and poll its output; with --runs it picks up where it stopped. The ensemble is `digitrec ensemble RUNS... --out FILE`
evaluated with `digitrec evaluate FILE --json`. Writes results/best.{json,md} (--name NAME: results/NAME.*).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import _machine  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=_seeds, default=_seeds("3"),
                        help="single-model runs: N for seeds 0..N-1, or a list such as 0,2 (seed 3 alone: 3,)")
    parser.add_argument("--ensemble", type=int, default=0, help="also ensemble this many runs (seeds 0..N-1)")
    parser.add_argument("--recipe", default="best")
    parser.add_argument("--runs", default=None, help="keep the run folders here and reuse finished ones")
    parser.add_argument("--note", default="", help="conditions worth knowing, e.g. 'seeds 1 and 2 ran side by side'")
    parser.add_argument("--extra", default="", help="options added to every train command, e.g. '--epochs 2'")
    parser.add_argument("--with", dest="also", action="append", default=[], metavar="PATH",
                        help="one more ensemble member, a run folder or model file (another recipe version, say); "
                             "repeatable; its own test accuracy is listed too")
    parser.add_argument("--name", default="best", help="results file name: results/NAME.{json,md}")
    args = parser.parse_args(argv)
    facts = _machine.machine(torch_loaded=False)
    root = Path(args.runs) if args.runs else Path(tempfile.mkdtemp(prefix="digitrec-best-"))
    members = list(range(args.ensemble))
    by_seed = {seed: _run(args.recipe, seed, root, args.extra.split()) for seed in sorted({*args.seeds, *members})}
    runs = list(by_seed.values())
    single = [by_seed[seed] for seed in args.seeds]
    accuracies = [row["test_accuracy"] for row in single]
    summary = {"recipe": args.recipe, "seeds": len(single), "mean_accuracy": statistics.mean(accuracies),
               "min_accuracy": min(accuracies), "max_accuracy": max(accuracies),
               "mean_train_minutes": statistics.mean(row["train_minutes"] for row in single)}
    if len(single) > 1:
        summary["std_accuracy"] = statistics.stdev(accuracies)
    also = [_member(path) for path in args.also]
    ensemble = _ensemble([by_seed[seed] for seed in members], also, root) if args.ensemble + len(also) > 1 else None
    table = _table(summary, runs, also, ensemble) + (f"\n\nNote: {args.note}" if args.note else "")
    print(table)
    payload = {"command": _machine.command_line("best.py", argv), "machine": facts, "summary": summary,
               "runs": runs, "also": also, "ensemble": ensemble, "note": args.note}
    print("wrote", _machine.write(args.name, payload, f"## `{args.recipe}`{' ' + args.extra if args.extra else ''}: MNIST test accuracy over seeds\n\n" + table))


def _seeds(text: str) -> list[int]:
    """'3' -> [0, 1, 2]; '0,2' -> [0, 2]; '3,' -> [3] (a list of one)."""
    parts = text.split(",")
    if len(parts) > 1:  # a list: a trailing comma makes a list of one
        parts = [part for part in parts if part.strip()]
    try:
        values = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or a list such as 0,2, got {text!r}") from None
    if "," not in text:
        values = list(range(values[0]))
    if not values or min(values) < 0 or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"expected N >= 1 or distinct seeds >= 0, got {text!r}")
    return values


def _digitrec(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "digitrec", *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"digitrec {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout


# Written into each run folder before training: a folder is reused only for the same command.
_STAMP = "best-py-command.json"


def _run(recipe: str, seed: int, root: Path, extra: list[str]) -> dict:
    out = root / f"{recipe}-seed{seed}"
    metrics_file, stamp = out / "metrics.json", out / _STAMP
    command = ["train", "--recipe", recipe, "--seed", str(seed), "--quiet", *extra]
    started = json.loads(stamp.read_text()) if stamp.is_file() else None
    if out.exists() and started != command:
        by = f"`digitrec {' '.join(started)}`" if started else "something else"
        raise SystemExit(f"{out} holds a run started by {by}, not `digitrec {' '.join(command)}`: "
                         "choose another --runs folder, or delete that one")
    if not metrics_file.is_file():  # a finished run is reused; a half-done one resumes
        if (out / "last.pt").is_file():
            _digitrec("train", "--resume", str(out), "--quiet")
        else:
            out.mkdir(parents=True, exist_ok=True)
            stamp.write_text(json.dumps(command))
            _digitrec(*command, "--out", str(out))
    metrics = json.loads(metrics_file.read_text())
    row = {"seed": seed, "run": str(out), "test_accuracy": metrics["test_accuracy"],
           "val_accuracy": metrics.get("val_accuracy"), "epochs": metrics["epochs_run"],
           "train_minutes": metrics["train_seconds"] / 60}
    print(f"seed {seed}: test {row['test_accuracy']:.4f} after {row['epochs']} epochs, "
          f"{row['train_minutes']:.1f} min training", flush=True)
    return row


def _member(path: str) -> dict:
    """A --with member and its own MNIST test accuracy."""
    return {"path": path, "test_accuracy": json.loads(_digitrec("evaluate", path, "--json"))["accuracy"]}


def _ensemble(runs: list[dict], also: list[dict], root: Path) -> dict:
    out = root / f"ensemble-{len(runs) + len(also)}.pt"
    _digitrec("ensemble", *[row["run"] for row in runs], *[member["path"] for member in also], "--out", str(out))
    report = json.loads(_digitrec("evaluate", str(out), "--json"))
    return {"members": [row["seed"] for row in runs], "also": [member["path"] for member in also], "file": str(out),
            "test_accuracy": report["accuracy"]}


def _table(summary: dict, runs: list[dict], also: list[dict], ensemble: dict | None) -> str:
    lines = ["| run | test accuracy | val accuracy | epochs | training min |", "|---|---:|---:|---:|---:|"]
    for row in runs:
        val = "" if row["val_accuracy"] is None else f"{row['val_accuracy']:.4f}"
        lines.append(f"| seed {row['seed']} | {row['test_accuracy']:.4f} | {val} | {row['epochs']} | {row['train_minutes']:.1f} |")
    if summary["seeds"] > 1:  # (one seed is its own row)
        spread = f" ± {summary['std_accuracy']:.4f}" if "std_accuracy" in summary else ""
        lines.append(f"| **mean of {summary['seeds']} seeds** | **{summary['mean_accuracy']:.4f}**{spread} | | | "
                     f"{summary['mean_train_minutes']:.1f} |")
    lines += [f"| `{member['path']}` | {member['test_accuracy']:.4f} | | | |" for member in also]
    if ensemble:
        seeds = f"seeds {', '.join(map(str, ensemble['members']))}" if ensemble["members"] else ""
        named = " + ".join(filter(None, [seeds, ", ".join(f"`{path}`" for path in ensemble["also"])]))
        lines.append(f"| **ensemble of {named}** | **{ensemble['test_accuracy']:.4f}** | | | |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
