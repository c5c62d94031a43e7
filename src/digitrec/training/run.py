"""A whole training run: data -> engine -> run directory (checkpoints, history, metrics, pictures).

`train_run(recipe, options)` starts one, `resume_run(run_dir)` continues one from its last.pt.
Everything here is engine-neutral: the fitting itself is `get_engine(recipe.engine).fit`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import remove_stale_temps
from ..data import Split, load_dataset, stratified_split, stratified_subset
from ..errors import DigitrecError
from ..recipes import Recipe
from ..versions import versions
from .distributed import Ranks, barrier, peers_watched, rank_zero_first, restart_count, start
from .engines import get_engine
from .environment import resolve_device
from .history import best_record
from .interface import EpochEnd, FitData, FitResult, Hooks
from .progress import Reporter
from .rundir import RunDir, default_run_dir, holds_results

# Schedules whose learning rate at an epoch depends on the total epoch count: a finished run
# cannot be extended with more epochs without changing what its earlier epochs meant.
_SCHEDULES_TIED_TO_EPOCHS = ("one-cycle", "cosine")


@dataclass
class RunOptions:
    data: str = "mnist"  # dataset spec
    data_dir: str | None = None
    out: str | None = None  # run directory; default runs/<recipe>-<timestamp>
    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps
    limit: int | None = None  # train on a stratified subset of this many training images
    deterministic: bool = False  # torch.use_deterministic_algorithms
    quiet: bool = False


@dataclass
class RunResult:
    run_dir: Path
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    predictor: Any = field(repr=False)  # the kept epoch's model (recipe.keep), a digitrec.predict.Predictor


def check_recipe(recipe: Recipe) -> None:
    """Catch bad names and values before a run directory is made or data is loaded."""
    recipe.check()
    get_engine(recipe.engine).check(recipe)


def prepare_data(recipe: Recipe, options: RunOptions) -> tuple[FitData, Split | None]:
    """The training (and validation) data as the recipe splits it, and the labelled test split if any."""
    dataset = load_dataset(options.data, options.data_dir)
    train = dataset.split("train")
    if train.labels is None:
        raise DigitrecError(f"{options.data}: the training split has no labels")
    if options.limit is not None:
        train = train.subset(stratified_subset(train.labels, options.limit, recipe.seed))
    val = None
    if recipe.val_fraction:
        kept, held = stratified_split(train.labels, recipe.val_fraction, recipe.seed)
        train, val = train.subset(kept), train.subset(held)
    test = dataset.test if dataset.test is not None and dataset.test.labels is not None else None
    return FitData(dataset.name, list(dataset.classes), train, val), test


def train_run(recipe: Recipe, options: RunOptions, ranks: Ranks | None = None) -> RunResult:
    """Train `recipe` as `options` say, writing the run directory; returns metrics and the model.

    Under torchrun every rank calls this with the same arguments: they train data-parallel and
    rank 0 alone writes. After torchrun restarted the job (a rank died, `--max-restarts`), the
    run carries on from rank 0's last.pt. `ranks=SINGLE` trains in this process alone, whatever
    the job (a seed study gives each rank runs of its own).
    """
    check_recipe(recipe)
    ranks, device, line = _join(recipe, options) if ranks is None else (ranks, resolve_device(options.device), "")
    if ranks.distributed and options.out is None:
        raise DigitrecError("a distributed run needs --out: every rank must name the same run directory")
    path = Path(options.out) if options.out else default_run_dir(recipe.name)
    if restart_count() > 0 and (path / "last.pt").is_file():
        return resume_run(path, quiet=options.quiet, ranks=ranks)
    created = not path.exists()
    taken, stale = holds_results(path), (path / "config.json").exists()
    barrier(ranks)  # every rank has looked before rank 0 writes
    if taken:
        raise DigitrecError(f"{path} already holds a run; use --resume {path} or another --out")
    run_dir = RunDir(path, writer=ranks.writer)
    note = ""
    if stale:
        if ranks.writer:
            remove_stale_temps(run_dir.path)
        note = " (its config.json was left by a run stopped before its first epoch: starting afresh)"
    config = {
        "recipe": recipe.to_dict(), "options": dataclasses.asdict(options) | {"out": str(run_dir.path)},
        "versions": versions(), "started": _now(),
    }
    if ranks.distributed:  # the global batch is the recipe's, split over this many processes
        config["distributed"] = {"world": ranks.world, "per_node": ranks.local_world, "device": device}
    run_dir.write_json("config.json", config)
    try:
        return _run(recipe, options, run_dir, None, ranks, device, line, note)
    except BaseException:
        # Failed before any checkpoint: nothing worth keeping, so leave nothing half-written.
        if created and ranks.writer and not (run_dir / "last.pt").is_file():
            shutil.rmtree(run_dir.path, ignore_errors=True)
        raise


def resume_run(path: str | os.PathLike, *, epochs: int | None = None, quiet: bool | None = None,
               device: str | None = None, ranks: Ranks | None = None) -> RunResult:
    """Continue the run in `path` from its last.pt; recipe and options come from its config.json.

    `epochs` extends (or, before it ends, shortens) the run; config.json then records the new
    count and when it was changed. Every other setting is the run's own.
    """
    run_dir = RunDir(path)
    if not (run_dir / "config.json").is_file():
        raise DigitrecError(f"{run_dir.path}: not a run directory (no config.json); give the folder `digitrec train` wrote")
    config = run_dir.read_json("config.json")
    recipe = Recipe.from_dict(config["recipe"], where=str(run_dir / "config.json"))
    options = RunOptions(**config["options"])
    options = dataclasses.replace(options, quiet=options.quiet if quiet is None else quiet, device=device or options.device)
    engine = get_engine(recipe.engine)
    last = run_dir / "last.pt"
    started = holds_results(run_dir.path)
    if started and not engine.can_resume:
        raise DigitrecError(f"{run_dir.path}: {recipe.engine} runs cannot be resumed (a whole run takes seconds); start a new one")
    ranks, device, line = _join(recipe, options) if ranks is None else (ranks, resolve_device(options.device), "")
    barrier(ranks)  # every rank has looked before rank 0 tidies or writes
    run_dir = RunDir(path, writer=ranks.writer)
    if ranks.writer:
        remove_stale_temps(run_dir.path)  # a write cut short by SIGKILL leaves its hidden temp file
    if not started:  # stopped before its first epoch ended: nothing to continue
        recipe = recipe.override(epochs=epochs) if epochs is not None else recipe
        return _run(recipe, options, run_dir, None, ranks, device, line,
                    " (no checkpoint yet: the run stopped before its first epoch; starting it again)")
    if epochs is not None and epochs != recipe.epochs:
        recipe = _with_epochs(recipe, epochs, _epochs_done(last), run_dir.path)
        config["recipe"] = recipe.to_dict()
        config.setdefault("changes", []).append({"at": _now(), "epochs": epochs})
        barrier(ranks)  # every rank has read config.json before rank 0 rewrites it
        run_dir.write_json("config.json", config)
    return _run(recipe, options, run_dir, last, ranks, device, line)


def _join(recipe: Recipe, options: RunOptions) -> tuple[Ranks, str, str]:
    """This process's ranks (joining the torchrun job, if any), its device and a log line."""
    engine = get_engine(recipe.engine)
    # "auto" means the CPU to an engine without torch; another device it is told of (and says so)
    device = resolve_device(options.device) if engine.uses_torch else ("cpu" if options.device == "auto" else options.device)
    ranks, device, line = start(device)
    if ranks.distributed and not engine.can_distribute:
        raise DigitrecError(f"recipe {recipe.name}: the {recipe.engine} engine trains in one process and does not run "
                            "data-parallel (torchrun, --nproc); choose a torch recipe")
    return ranks, device, line


def _epochs_done(last: Path) -> tuple[int, bool]:
    from ..models import load_checkpoint

    training = load_checkpoint(last)["training"]
    return training["epoch"], bool(training.get("stopped"))


def _with_epochs(recipe: Recipe, epochs: int, done: tuple[int, bool], where: Path) -> Recipe:
    """The recipe with a new epoch count, if the epochs already run keep their meaning under it."""
    ran, stopped = done
    if stopped:
        raise DigitrecError(f"{where}: early stopping ended this run after epoch {ran}; it cannot be extended")
    if epochs < ran:
        raise DigitrecError(f"{where}: --epochs {epochs} is fewer than the {ran} epochs already run")
    schedule = recipe.args.schedule
    tied = schedule in _SCHEDULES_TIED_TO_EPOCHS or (schedule == "step" and "step_size" not in recipe.args.schedule_args)
    if tied:
        raise DigitrecError(f"{where}: --epochs cannot change when resuming a run with the '{schedule}' schedule "
                            "(its learning rate at every epoch depends on the total); start a new run instead")
    return recipe.override(epochs=epochs)


def _run(recipe: Recipe, options: RunOptions, run_dir: RunDir, resume_from: Path | None, ranks: Ranks,
         device: str, distributed_line: str, note: str = "") -> RunResult:
    engine = get_engine(recipe.engine)
    threads = "NumPy"
    if engine.uses_torch:
        import torch

        if options.deterministic:
            torch.use_deterministic_algorithms(True)
        threads = f"threads {torch.get_num_threads()}"
    with rank_zero_first(ranks):  # N processes never race to fetch the same dataset into the cache
        data, test = prepare_data(recipe, options)
    reporter = Reporter(recipe.epochs, quiet=options.quiet or not ranks.writer)
    reporter.log(f"run directory {run_dir.path}" + (" (resuming)" if resume_from else note))
    if distributed_line:
        reporter.log(distributed_line)
    reporter.log(f"recipe {json.dumps(recipe.to_dict(), separators=(',', ':'))}")
    reporter.log(f"device {device}, {threads}, " + ", ".join(f"{k} {v}" for k, v in versions().items()))
    sizes = [f"train {len(data.train)}"] + [f"{n} {len(s)}" for n, s in (("val", data.val), ("test", test)) if s is not None]
    reporter.log(f"data {data.name}: " + ", ".join(sizes))

    def on_epoch_end(end: EpochEnd) -> None:
        run_dir.write_history(end.history)
        if end.improved:
            run_dir.save(engine.model_file, lambda p: end.save_model(p, end.history[-1]))
        if end.save_state is not None:
            run_dir.save("last.pt", end.save_state)

    with peers_watched(ranks):
        result = engine.fit(recipe, data, Hooks(reporter, on_epoch_end), device, resume_from, ranks)
    if not ranks.writer:  # rank 0 evaluates on the test split and writes the results
        return RunResult(run_dir.path, result.history, {}, result.predictor)
    metrics = _finish(recipe, data, test, run_dir, result)
    reporter.log(_calibration_line(metrics.get("calibration") or {}))
    if test is not None:
        reporter.log(f"test accuracy {metrics['test_accuracy']:.4f}  loss {metrics['test_loss']:.4f}")
    reporter.log(f"wrote {run_dir.path}")
    return RunResult(run_dir.path, result.history, metrics, result.predictor)


def _finish(recipe: Recipe, data: FitData, test: Split | None, run_dir: RunDir, result: FitResult) -> dict[str, Any]:
    from ..evaluation import evaluate, plots
    from ..evaluation.calibration import expected_calibration_error, retemper

    history = result.history
    seconds = sum(row["seconds"] for row in history)
    metrics: dict[str, Any] = {
        "recipe": recipe.name, "model": recipe.model, "dataset": data.name, "params": result.params,
        "epochs_run": len(history), "train_seconds": seconds,
        "samples_per_second": len(data.train) * len(history) / seconds if seconds else None,
        "train_size": len(data.train), **result.facts,
    }
    best = best_record(history, recipe.keep)
    if best is not None and best.get("val_acc") is not None:
        metrics |= {"keep": recipe.keep, "kept_epoch": best["epoch"], "val_accuracy": best["val_acc"], "val_loss": best["val_loss"]}
    if result.calibration:
        metrics["calibration"] = dict(result.calibration)
    title = f"{recipe.name} on {data.name}"
    # The learning curves are drawn in a thread while the test set is evaluated: importing matplotlib
    # and drawing are ~1.9 s of Python, evaluation mostly torch kernels that release the GIL.
    with ThreadPoolExecutor(max_workers=1) as drawing:
        curves = drawing.submit(run_dir.save, "curves.png", lambda p: plots.learning_curves(history, p, title=title))
        report = evaluate(result.predictor, test.images, test.labels) if test is not None else None
        curves.result()  # a drawing error is raised here, as it would have been without the thread
    if report is not None:
        metrics |= {
            "test_accuracy": report.accuracy, "test_loss": report.loss,
            "test_errors": int((report.predictions != report.labels).sum()), "test_size": len(report.labels),
            "per_class": report.per_class, "confusion": report.confusion.tolist(),
        }
        if "calibration" in metrics:  # what the temperature did to the test set (the loss above is after it)
            temperature = metrics["calibration"]["temperature"]
            metrics["calibration"] |= {
                "test_ece_before": expected_calibration_error(retemper(report.probabilities, 1 / temperature), report.labels),
                "test_ece_after": expected_calibration_error(report.probabilities, report.labels),
            }
        confidences = report.probabilities.max(axis=1)
        run_dir.save("confusion.png", lambda p: plots.confusion_matrix(report.confusion, data.classes, p, title=f"{title}: test"))
        run_dir.save("misclassified.png", lambda p: plots.misclassified(
            test.images, report.labels, report.predictions, confidences, data.classes, p))
    run_dir.save(result.model_file, lambda p: result.save_model(p, {k: v for k, v in metrics.items()
                                                                     if k not in ("per_class", "confusion")}))
    run_dir.write_json("metrics.json", metrics)
    return metrics


def _calibration_line(calibration: dict[str, Any]) -> str:
    if not calibration.get("fitted"):
        return f"not calibrated: {calibration.get('why', 'no temperature fitted')}"
    line = (f"calibration: temperature {calibration['temperature']:.3f} fitted on {calibration['images']} "
            f"{calibration['split']} images (their ECE {calibration['ece_before']:.4f} -> {calibration['ece_after']:.4f})")
    if "test_ece_after" in calibration:
        line += f"; test ECE {calibration['test_ece_before']:.4f} -> {calibration['test_ece_after']:.4f}"
    return line


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
