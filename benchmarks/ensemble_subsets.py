"""What an ensemble of K runs of a recipe scores on average: every K-member subset of N runs, on MNIST test.

    python benchmarks/ensemble_subsets.py runs/best-a/best-seed{0..4} runs/best-b/best-seed{0..4}
    python benchmarks/ensemble_subsets.py RUN... --members 3 --name ensemble_subsets-best-3

One ensemble of 5 seeds is one draw: which test images its members happen to share mistakes on
moves it by several tenths of a percent. With N runs of the same recipe, the mean over all
C(N, K) subsets (probabilities averaged, as `digitrec ensemble` does) estimates what an ensemble
of K such runs scores, and the spread shows how much one draw can miss it by. Each run's
probabilities are computed once. Writes results/ensemble_subsets.{json,md} (--name NAME: results/NAME.*).
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import _machine  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run folders or model files, all of one recipe")
    parser.add_argument("--members", type=int, default=5, help="ensemble size K (default 5)")
    parser.add_argument("--target", type=float, default=0.9975, help="report the share of subsets at or above this")
    parser.add_argument("--note", default="", help="conditions worth knowing")
    parser.add_argument("--name", default="ensemble_subsets", help="results file name: results/NAME.{json,md}")
    args = parser.parse_args(argv)
    if not 2 <= args.members <= len(args.runs):
        raise SystemExit(f"--members {args.members}: choose 2..{len(args.runs)} (the runs given)")
    from digitrec import load_model
    from digitrec.data import load_dataset

    test = load_dataset("mnist").test
    paths = [Path(run) / "model.pt" if Path(run).is_dir() else Path(run) for run in args.runs]
    probs = np.stack([load_model(str(path)).predict_proba(test.images) for path in paths])  # (N, images, 10)
    single = [float((p.argmax(1) == test.labels).mean()) for p in probs]
    accuracies = [float((probs[list(subset)].mean(0).argmax(1) == test.labels).mean())
                  for subset in itertools.combinations(range(len(paths)), args.members)]
    summary = {"runs": len(paths), "members": args.members, "subsets": math.comb(len(paths), args.members),
               "mean": statistics.mean(accuracies), "median": statistics.median(accuracies),
               "min": min(accuracies), "max": max(accuracies), "target": args.target,
               "share_at_target": sum(a >= args.target - 1e-9 for a in accuracies) / len(accuracies),
               "single_mean": statistics.mean(single),
               "all_runs": float((probs.mean(0).argmax(1) == test.labels).mean())}
    table = "\n".join([
        "| what | test accuracy |", "|---|---:|",
        f"| single runs ({len(paths)}), mean | {summary['single_mean']:.4f} |",
        f"| **{args.members}-member ensembles, mean of all {summary['subsets']}** | **{summary['mean']:.4f}** |",
        f"| {args.members}-member ensembles, min / median / max | {summary['min']:.4f} / {summary['median']:.4f} / {summary['max']:.4f} |",
        f"| share of them at or above {args.target:.4f} | {summary['share_at_target']:.0%} |",
        f"| all {len(paths)} runs as one ensemble | {summary['all_runs']:.4f} |",
    ]) + (f"\n\nNote: {args.note}" if args.note else "")
    print(table)
    payload = {"command": _machine.command_line("ensemble_subsets.py", argv), "machine": _machine.machine(),
               "summary": summary, "runs": [{"path": str(p), "test_accuracy": a} for p, a in zip(paths, single)],
               "note": args.note}
    print("wrote", _machine.write(args.name, payload, f"## Ensembles of {args.members} runs: every subset of {len(paths)}\n\n" + table))


if __name__ == "__main__":
    main()
