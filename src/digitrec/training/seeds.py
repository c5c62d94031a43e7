"""A seed study: one run of a recipe per seed (`train --seeds 1,2,3`), spread over torchrun ranks.

Each rank trains whole runs of its own (seeds[rank::world], one process each, no data
parallelism), writing DIR/seed-N/ as `digitrec train` would; rank 0 gathers the results into
DIR/seeds.json and seeds.md. Runs already finished (after torchrun restarted the job, or a
rerun) are read back instead of trained again; an interrupted one resumes from its last.pt.
These runs are what `digitrec ensemble` and `compare` take.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..data import load_dataset
from ..errors import DigitrecError
from ..evaluation.compare import summarize
from ..recipes import Recipe
from .distributed import SINGLE, barrier, gather_objects, rank_zero_first, start
from .environment import resolve_device
from .run import RunOptions, check_recipe, resume_run, train_run
from .rundir import RunDir, default_run_dir, holds_results


def train_seeds(recipe: Recipe, options: RunOptions, seeds: list[int]) -> dict[str, Any]:
    """Train `recipe` once per seed; returns the summary written to seeds.json (on every rank)."""
    check_recipe(recipe)
    if not seeds or len(set(seeds)) != len(seeds):
        raise DigitrecError(f"--seeds wants distinct seeds, e.g. 1,2,3; got {seeds}")
    ranks, _, _ = start(resolve_device(options.device))
    if ranks.distributed and options.out is None:
        raise DigitrecError("a distributed seed study needs --out: every rank must name the same folder")
    root = Path(options.out) if options.out else default_run_dir(f"seeds-{recipe.name}")
    taken = (root / "seeds.json").exists()
    barrier(ranks)
    if taken:
        raise DigitrecError(f"{root} already holds a seed study; choose another --out")
    with rank_zero_first(ranks):  # fetch the dataset once, before N processes look for it
        load_dataset(options.data, options.data_dir)
    runs = [_one_seed(recipe, options, root, seed) for seed in seeds[ranks.rank::ranks.world]]
    runs = sorted((run for part in gather_objects(ranks, runs) for run in part), key=lambda run: run["seed"])
    accuracies = [run["test_accuracy"] for run in runs if run.get("test_accuracy") is not None]
    stats = summarize(accuracies) if accuracies else None
    summary = {
        "recipe": recipe.name, "seeds": seeds, "processes": ranks.world, "runs": runs,
        "mean": stats.mean if stats else None, "std": stats.std if stats else None,
        "ci95": list(stats.ci95) if stats and stats.ci95 else None,
        "config": {"recipe": recipe.to_dict(), "options": dataclasses.asdict(options) | {"out": str(root)}},
    }
    run_dir = RunDir(root, writer=ranks.writer)
    run_dir.write_json("seeds.json", summary)
    if ranks.writer:
        atomic_write_text(root / "seeds.md", format_markdown(summary))
    return summary


def _one_seed(recipe: Recipe, options: RunOptions, root: Path, seed: int) -> dict[str, Any]:
    out = root / f"seed-{seed}"
    recipe = recipe.override(seed=seed)
    if (out / "config.json").is_file() and holds_results(out):
        _check_same_recipe(out, recipe)
    if (out / "metrics.json").is_file():
        metrics = json.loads((out / "metrics.json").read_text())
    elif (out / "last.pt").is_file():
        metrics = resume_run(out, quiet=options.quiet, ranks=SINGLE).metrics
    else:  # new, or stopped before its first epoch ended (train_run starts that over)
        run = train_run(recipe, dataclasses.replace(options, out=str(out)), ranks=SINGLE)
        metrics = run.metrics
    keys = ("test_accuracy", "test_loss", "train_seconds", "kept_epoch", "epochs_run")
    return {"seed": seed, "dir": out.name, **{k: metrics.get(k) for k in keys}}


def _check_same_recipe(out: Path, recipe: Recipe) -> None:
    """Refuse to read back or resume a run of another recipe: its figures would join this study's."""
    differ = recipe.differences(json.loads((out / "config.json").read_text()).get("recipe") or {})
    if differ:
        raise DigitrecError(f"{out} holds a run of another recipe ({'; '.join(differ)}): "
                            "choose another --out, or delete that folder to train it again")


def format_markdown(summary: dict[str, Any]) -> str:
    lines = [f"# {summary['recipe']}: {len(summary['runs'])} seeds", "",
             "| seed | run | test accuracy | test loss | train time |", "|---:|---|---:|---:|---:|"]
    for run in summary["runs"]:
        accuracy = f"{run['test_accuracy']:.4f}" if run.get("test_accuracy") is not None else "n/a"
        loss = f"{run['test_loss']:.4f}" if run.get("test_loss") is not None else "n/a"
        lines.append(f"| {run['seed']} | {run['dir']} | {accuracy} | {loss} | {run['train_seconds']:.0f} s |")
    if summary["mean"] is not None:
        spread = f" +- {summary['std']:.4f} (sample std)" if summary["std"] is not None else ""
        lines += ["", f"**test accuracy {summary['mean']:.4f}{spread}**"]
    lines.append(f"\n{summary['processes']} process(es).")
    return "\n".join(lines) + "\n"
