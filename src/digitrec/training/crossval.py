"""k-fold cross-validation of a recipe: seed 003's test harness, serial or with worker processes.

Folds come from `kfold_indices(labels, k, seed)`, so every recipe run with the same seed sees the
same folds; `split.hash` in cv.json identifies them for `digitrec compare`. Fold i (from 1) trains
a fresh model with seed `seed + i - 1` on the other k-1 parts and evaluates on its held-out part
after every epoch; its score is the last epoch's held-out accuracy (nothing is chosen on it).

A fold's result depends only on its data, seed and torch thread count: CPU kernels sum in an
order that depends on the thread count, so `threads` is part of the configuration, recorded in
cv.json; the same threads give bitwise-identical results serially and with --workers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data import Split, kfold_indices
from ..errors import DigitrecError
from ..evaluation.compare import summarize
from ..recipes import Recipe
from ..versions import versions
from .distributed import Ranks, gather_objects, rank_zero_first, start, usable_cores
from .engines import get_engine
from .environment import resolve_device
from .interface import FitData, Hooks
from .cv_resume import resume_state
from .progress import Reporter
from .rundir import RunDir, default_run_dir
from .run import RunOptions, check_recipe, prepare_data

FOLD_LINE = "fold {fold}/{folds}: accuracy {accuracy:.4f} loss {loss:.4f} ({seconds:.1f} s)"


@dataclass
class CVOptions:
    folds: int = 5  # k: each fold holds out 1/k of the training split
    stratified: bool = True  # every fold keeps the class proportions
    workers: int = 1  # folds trained at once, each in its own (spawned) process
    threads: int | None = None  # torch CPU threads per fold; None: usable cores // workers
    final: bool = False  # then train on all training data and evaluate once on the test split


@dataclass
class CVResult:
    path: Path
    summary: dict[str, Any]  # the contents of cv.json


@dataclass
class FoldTask:
    """Everything one fold needs besides the training arrays (sent once to each worker)."""

    recipe: Recipe
    fold: int  # from 1
    folds: int
    train_idx: np.ndarray  # indices into the training split
    held_idx: np.ndarray
    dataset: str
    classes: list[str]
    device: str = "cpu"
    quiet: bool = True
    deterministic: bool = False



def split_hash(images: np.ndarray, labels: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]) -> str:
    """sha256 of the examples and every fold's held-out indices: equal hashes, identical folds."""
    digest = hashlib.sha256()
    for array in (images, labels, *(held for _, held in folds)):
        digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(b"|")
    return digest.hexdigest()


def cross_validate(recipe: Recipe, options: RunOptions, cv: CVOptions) -> CVResult:
    """Run k-fold cross-validation of `recipe` (any engine); writes cv.json, cv.md, curves.png, boxplot.png.

    Under torchrun (`digitrec cv --nproc N`) the folds are shared out over the ranks, each fold
    trained whole by one rank, and rank 0 gathers and writes the results; with equal --threads
    they equal a serial run's.
    """
    check_recipe(recipe)
    if cv.folds < 2:
        raise DigitrecError(f"--folds must be at least 2, got {cv.folds}")
    if cv.workers < 1 or (cv.threads is not None and cv.threads < 1):
        raise DigitrecError("--workers and --threads must be at least 1")
    ranks, device, _ = start(resolve_device(options.device))
    if ranks.distributed and cv.workers > 1:
        raise DigitrecError("--workers and --nproc (torchrun) are two ways to spread folds over processes; use one")
    threads = cv.threads or max(1, usable_cores() // (ranks.local_world if ranks.distributed else cv.workers))
    if ranks.distributed and options.out is None:
        raise DigitrecError("a distributed cv run needs --out: every rank must name the same folder")
    path = Path(options.out) if options.out else default_run_dir(f"cv-{recipe.name}")
    with rank_zero_first(ranks):
        data, _ = prepare_data(recipe.override(val_fraction=0.0), options)
    labels = data.train.labels
    counts = np.bincount(labels)
    if cv.stratified and counts[counts > 0].min() < cv.folds:
        raise DigitrecError(f"--stratified needs at least {cv.folds} examples of every class; use more data or --no-stratified")
    if len(labels) < 2 * cv.folds:
        raise DigitrecError(f"{len(labels)} training examples are too few for {cv.folds} folds")
    plan = kfold_indices(labels, cv.folds, recipe.seed, cv.stratified)
    created = not path.exists()
    run_dir = RunDir(path, writer=ranks.writer)
    reporter = Reporter(recipe.epochs, quiet=options.quiet or not ranks.writer)
    summary: dict[str, Any] = {
        "recipe": recipe.name, "model": recipe.model, "dataset": data.name, "train_size": len(labels),
        "split": {"folds": cv.folds, "stratified": cv.stratified, "seed": recipe.seed, "examples": len(labels),
                  "limit": options.limit, "hash": split_hash(data.train.images, labels, plan)},
        "threads": threads, "workers": cv.workers, "processes": ranks.world, "device": device, "complete": False,
        "config": {"recipe": recipe.to_dict(), "options": dataclasses.asdict(options) | {"out": str(path)},
                   "cv": dataclasses.asdict(cv) | {"threads": threads}, "versions": versions()},
        "folds": [],
    }
    summary |= resume_state(path, summary)  # a stopped run, started again with the same --out, goes on
    done = {f["fold"] for f in summary["folds"]}
    reporter.log(f"cv directory {path}" + (f" (resuming: folds {sorted(done)} done)" if done else ""))
    reporter.log(f"recipe {json.dumps(recipe.to_dict(), separators=(',', ':'))}")
    reporter.log(f"device {device}, {max(cv.workers, ranks.world)} {'rank' if ranks.distributed else 'worker'}(s) x "
                 f"{threads} thread(s), "
                 + ", ".join(f"{k} {v}" for k, v in versions().items()))
    reporter.log(f"data {data.name}: {len(labels)} training examples in {cv.folds} "
                 f"{'stratified ' if cv.stratified else ''}folds (seed {recipe.seed}, split {summary['split']['hash'][:12]})")
    started = time.perf_counter()
    try:
        tasks = [FoldTask(recipe, i + 1, cv.folds, train, held, data.name, data.classes, device, options.quiet,
                          options.deterministic) for i, (train, held) in enumerate(plan) if i + 1 not in done]
        folds = (_shared_folds(tasks, data.train.images, labels, threads, ranks) if ranks.distributed
                 else _run_folds(tasks, data.train.images, labels, threads, cv.workers))
        for fold in folds:
            summary["params"] = fold.pop("params", summary.get("params"))
            summary["folds"] = sorted(summary["folds"] + [fold], key=lambda f: f["fold"])
            if ranks.writer:
                print(FOLD_LINE.format(folds=cv.folds, **fold), file=reporter.stream, flush=True)  # even when quiet
            run_dir.write_json("cv.json", summary)  # partial: a long run keeps the folds it finished
    except BaseException:
        if created and not summary["folds"] and ranks.writer:
            shutil.rmtree(path, ignore_errors=True)
        raise
    scores = summary["folds"]
    stats = summarize([f["accuracy"] for f in scores])
    summary |= {"mean": stats.mean, "std": stats.std, "ci95": list(stats.ci95), "complete": True,
                "train_seconds": sum(f["seconds"] for f in scores), "wall_seconds": time.perf_counter() - started}
    _write_outputs(run_dir, summary)
    if cv.final:
        summary["final"] = _finalise(recipe, options, path)
        _write_summary(run_dir, summary)
    return CVResult(path, summary)


def _run_folds(tasks: list[FoldTask], images: np.ndarray, labels: np.ndarray, threads: int, workers: int):
    """Yield each fold's result as it finishes: in fold order when serial, else as workers finish."""
    import torch

    if workers == 1:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            for task in tasks:
                yield train_fold(images, labels, task, bars=True)
        finally:
            torch.set_num_threads(before)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")  # a forked child would inherit torch's thread pools
    with ProcessPoolExecutor(min(workers, len(tasks)), mp_context=context, initializer=_init_worker,
                             initargs=(images, labels, threads)) as pool:
        futures = [pool.submit(_worker_fold, task) for task in tasks]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def _shared_folds(tasks: list[FoldTask], images: np.ndarray, labels: np.ndarray, threads: int, ranks: Ranks):
    """Under torchrun: round r trains fold r * world + rank on each rank; every rank yields the
    round's results in fold order once all ranks have them (so cv.json grows round by round)."""
    import torch

    torch.set_num_threads(threads)
    for first in range(0, len(tasks), ranks.world):
        mine = first + ranks.rank
        result = train_fold(images, labels, tasks[mine], bars=ranks.writer) if mine < len(tasks) else None
        yield from (found for found in gather_objects(ranks, result) if found is not None)


def train_fold(images: np.ndarray, labels: np.ndarray, task: FoldTask, bars: bool = False) -> dict[str, Any]:
    """Train a fresh model on the fold's training part through the recipe's engine, evaluating on
    its held-out part every epoch; the fold's score is the last epoch's held-out accuracy."""
    import torch

    recipe = task.recipe.override(seed=task.recipe.seed + task.fold - 1, val_fraction=0.0)
    if task.deterministic:
        torch.use_deterministic_algorithms(True)
    train = Split(images[task.train_idx], labels[task.train_idx])
    held = Split(images[task.held_idx], labels[task.held_idx])
    started = time.perf_counter()
    reporter = _FoldReporter(task.fold, task.folds, recipe.epochs, task.quiet, bars)
    result = get_engine(recipe.engine).fit(recipe, FitData(task.dataset, task.classes, train, held), Hooks(reporter), task.device)
    last = result.history[-1]
    return {
        "fold": task.fold, "seed": recipe.seed, "train_size": len(train), "held_out_size": len(held),
        "accuracy": last["val_acc"], "loss": last["val_loss"], "seconds": time.perf_counter() - started,
        "history": result.history, "params": result.params,
    }


class _FoldReporter(Reporter):
    """Epoch lines prefixed with the fold; no progress bars from worker processes."""

    def __init__(self, fold: int, folds: int, epochs: int, quiet: bool, bars: bool) -> None:
        super().__init__(epochs, quiet=quiet)
        self.prefix, self.bars = f"fold {fold}/{folds} ", bars

    def log(self, message: str) -> None:
        super().log(self.prefix + message)

    def start_epoch(self, epoch: int, samples: int) -> None:
        if self.bars:
            super().start_epoch(epoch, samples)


_WORKER_DATA: dict[str, np.ndarray] = {}


def _init_worker(images: np.ndarray, labels: np.ndarray, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    _WORKER_DATA.update(images=images, labels=labels)


def _worker_fold(task: FoldTask) -> dict[str, Any]:
    return train_fold(_WORKER_DATA["images"], _WORKER_DATA["labels"], task, bars=False)


def _finalise(recipe: Recipe, options: RunOptions, path: Path) -> dict[str, Any]:
    """The tutorial's last step: fit on all the training data, save it, test it once."""
    from .run import train_run

    final = train_run(recipe.override(val_fraction=0.0), dataclasses.replace(options, out=str(path / "final")))
    metrics = final.metrics
    return {"dir": "final", "model": "final/model.pt", "test_accuracy": metrics.get("test_accuracy"),
            "test_loss": metrics.get("test_loss"), "train_seconds": metrics["train_seconds"]}


def _write_outputs(run_dir: RunDir, summary: dict[str, Any]) -> None:
    from ..evaluation import plots

    title = f"{summary['recipe']}: {summary['split']['folds']}-fold cross-validation on {summary['dataset']}"
    run_dir.save("curves.png", lambda p: plots.fold_curves([f["history"] for f in summary["folds"]], p, title=title))
    run_dir.save("boxplot.png", lambda p: plots.box_plot(
        {summary["recipe"]: [f["accuracy"] for f in summary["folds"]]}, p, title=f"{title}: held-out accuracy"))
    _write_summary(run_dir, summary)


def _write_summary(run_dir: RunDir, summary: dict[str, Any]) -> None:
    from ..atomic import atomic_write_text

    run_dir.write_json("cv.json", summary)
    atomic_write_text(run_dir / "cv.md", format_markdown(summary))


def format_markdown(summary: dict[str, Any]) -> str:
    split = summary["split"]
    lines = [
        f"# {summary['recipe']}: {split['folds']}-fold cross-validation", "",
        f"{summary['train_size']} training examples of {summary['dataset']}, "
        f"{'stratified' if split['stratified'] else 'plain'} folds, seed {split['seed']}, split hash {split['hash'][:12]}; "
        f"{summary['threads']} torch thread(s) per fold on {summary['device']}.", "",
        "| fold | seed | trained on | held out | accuracy | loss | time |", "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in summary["folds"]:
        lines.append(f"| {f['fold']} | {f['seed']} | {f['train_size']} | {f['held_out_size']} | {f['accuracy']:.4f} | "
                     f"{f['loss']:.4f} | {f['seconds']:.0f} s |")
    lo, hi = summary["ci95"]
    lines += [
        "", f"**accuracy {summary['mean']:.4f} +- {summary['std']:.4f}** (mean +- sample std), 95% CI [{lo:.4f}, {hi:.4f}]", "",
        "std is the sample standard deviation (ddof=1) over folds; the 95% CI of the mean is "
        "mean +- t(0.975, k-1) * std / sqrt(k) (Student's t with k-1 degrees of freedom).",
        f"Training time {summary['train_seconds']:.0f} s summed over folds, {summary['wall_seconds']:.0f} s wall "
        f"with {summary['workers']} worker(s).",
    ]
    final = summary.get("final")
    if final:
        accuracy = f"{final['test_accuracy']:.4f}" if final.get("test_accuracy") is not None else "n/a (no test split)"
        lines += ["", f"Final model (all training data, `{final['model']}`): test accuracy {accuracy}."]
    return "\n".join(lines) + "\n"

