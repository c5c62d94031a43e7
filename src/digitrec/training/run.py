"""A whole training run: data -> model -> fit -> checkpoints -> evaluation -> pictures.

`train_run(recipe, options)` starts one, `resume_run(run_dir)` continues one from its last.pt.
Engines ("torch", "scratch") share everything here except the fitting itself.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..data import Split, load_dataset, stratified_split, stratified_subset
from ..errors import DigitrecError
from ..inference import Predictor
from ..recipes import Recipe
from .progress import Reporter
from .rundir import RunDir, default_run_dir


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
class PreparedData:
    name: str
    classes: list[str]
    train: Split
    val: Split | None
    test: Split | None  # labelled test split, if the dataset has one


@dataclass
class EngineResult:
    history: list[dict[str, Any]]
    predictor: Predictor  # the best model (by validation accuracy, else the last epoch)
    params: int
    save_best: Callable[[dict[str, Any]], None]  # rewrite the best checkpoint with final metrics


@dataclass
class RunResult:
    run_dir: Path
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    predictor: Predictor = field(repr=False)


Engine = Callable[[Recipe, PreparedData, str, RunDir, Reporter, "Path | None"], EngineResult]
ENGINES: dict[str, Engine] = {}


def register_engine(name: str) -> Callable[[Engine], Engine]:
    def add(engine: Engine) -> Engine:
        ENGINES[name] = engine
        return engine

    return add


def seed_everything(seed: int) -> None:
    """One seed for Python, NumPy and torch (CPU and CUDA)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DigitrecError(f"--device {name}: CUDA is not available on this machine; use --device cpu or auto")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DigitrecError("--device mps: Apple's MPS is not available on this machine; use --device cpu or auto")
    if name != "cpu" and not name.startswith(("cuda", "mps")):
        raise DigitrecError(f"unknown device '{name}'; choose from: auto, cpu, cuda, cuda:N, mps")
    return name


def prepare_data(recipe: Recipe, options: RunOptions) -> PreparedData:
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
    return PreparedData(dataset.name, list(dataset.classes), train, val, test)


def train_run(recipe: Recipe, options: RunOptions) -> RunResult:
    """Train `recipe` as `options` say, writing the run directory; returns metrics and the model."""
    _check_recipe(recipe)
    path = Path(options.out) if options.out else default_run_dir(recipe.name)
    created = not path.exists()
    run_dir = RunDir(path)
    if (run_dir / "last.pt").exists() or (run_dir / "config.json").exists():
        raise DigitrecError(f"{run_dir.path} already holds a run; use --resume {run_dir.path} or another --out")
    config = {
        "recipe": recipe.to_dict(), "options": dataclasses.asdict(options) | {"out": str(run_dir.path)},
        "versions": _versions(), "started": _now(),
    }
    run_dir.write_json("config.json", config)
    try:
        return _run(recipe, options, run_dir, resume_from=None)
    except BaseException:
        # Failed before any checkpoint: nothing worth keeping, so leave nothing half-written.
        if created and _last_checkpoint_path(run_dir) is None:
            shutil.rmtree(run_dir.path, ignore_errors=True)
        raise


def resume_run(path: str | os.PathLike, quiet: bool | None = None, device: str | None = None) -> RunResult:
    """Continue the run in `path` from its last.pt; recipe and options come from its config.json."""
    run_dir = RunDir(path)
    if not (run_dir / "config.json").is_file():
        raise DigitrecError(f"{run_dir.path}: not a run directory (no config.json); give the folder `digitrec train` wrote")
    config = run_dir.read_json("config.json")
    recipe = Recipe.from_dict(config["recipe"])
    options = RunOptions(**config["options"])
    options = dataclasses.replace(options, quiet=options.quiet if quiet is None else quiet, device=device or options.device)
    if recipe.engine == "scratch":
        raise DigitrecError(f"{run_dir.path}: scratch runs cannot be resumed (a whole run takes seconds); start a new one")
    last = _last_checkpoint_path(run_dir)
    if last is None:
        raise DigitrecError(f"{run_dir.path}: no last checkpoint yet (the run stopped before its first epoch ended); start it again")
    return _run(recipe, options, run_dir, resume_from=last)


def _last_checkpoint_path(run_dir: RunDir) -> Path | None:
    return run_dir / "last.pt" if (run_dir / "last.pt").is_file() else None


def _check_recipe(recipe: Recipe) -> None:
    """Catch bad names and values before a run directory is made or data is loaded."""
    if recipe.engine not in _engines():
        raise DigitrecError(f"recipe {recipe.name}: unknown engine '{recipe.engine}'; choose from: {', '.join(_engines())}")
    if recipe.engine == "torch":
        from ..models import list_models
        from .augment import AugmentConfig
        from .optim import OPTIMIZERS, SCHEDULERS

        for what, value, valid in (("model", recipe.model, list_models()), ("optimizer", recipe.optimizer, OPTIMIZERS),
                                   ("schedule", recipe.schedule, SCHEDULERS)):
            if value not in valid:
                raise DigitrecError(f"unknown {what} '{value}'; choose from: {', '.join(valid)}")
        try:
            AugmentConfig(**recipe.augment_args)
        except (TypeError, ValueError) as exc:
            raise DigitrecError(f"recipe {recipe.name}: bad augmentation settings ({exc})") from None
    for name, value in (("epochs", recipe.epochs), ("batch size", recipe.batch_size)):
        if value < 1:
            raise DigitrecError(f"{name} must be at least 1, got {value}")
    if recipe.lr <= 0:
        raise DigitrecError(f"learning rate must be positive, got {recipe.lr}")
    if not 0 <= recipe.val_fraction < 1:
        raise DigitrecError(f"validation fraction must be in [0, 1), got {recipe.val_fraction}")


def _engines() -> dict[str, Engine]:
    from . import engines, scratch_engine  # noqa: F401  (imported to register the engines)

    return ENGINES


def _run(recipe: Recipe, options: RunOptions, run_dir: RunDir, resume_from: Path | None) -> RunResult:
    import torch

    seed_everything(recipe.seed)
    if options.deterministic:
        torch.use_deterministic_algorithms(True)
    device = resolve_device(options.device)
    data = prepare_data(recipe, options)
    reporter = Reporter(recipe.epochs, quiet=options.quiet)
    reporter.log(f"run directory {run_dir.path}" + (" (resuming)" if resume_from else ""))
    reporter.log(f"recipe {json.dumps(recipe.to_dict(), separators=(',', ':'))}")
    reporter.log(f"device {device}, threads {torch.get_num_threads()}, " + ", ".join(f"{k} {v}" for k, v in _versions().items()))
    sizes = [f"train {len(data.train)}"] + [f"{n} {len(s)}" for n, s in (("val", data.val), ("test", data.test)) if s is not None]
    reporter.log(f"data {data.name}: " + ", ".join(sizes))
    result = _engines()[recipe.engine](recipe, data, device, run_dir, reporter, resume_from)
    metrics = _finish(recipe, data, run_dir, result)
    if data.test is not None:
        reporter.log(f"test accuracy {metrics['test_accuracy']:.4f}  loss {metrics['test_loss']:.4f}")
    reporter.log(f"wrote {run_dir.path}")
    return RunResult(run_dir.path, result.history, metrics, result.predictor)


def _finish(recipe: Recipe, data: PreparedData, run_dir: RunDir, result: EngineResult) -> dict[str, Any]:
    from .. import plots
    from ..evaluation import evaluate

    history = result.history
    seconds = sum(row["seconds"] for row in history)
    metrics: dict[str, Any] = {
        "recipe": recipe.name, "model": recipe.model, "dataset": data.name, "params": result.params,
        "epochs_run": len(history), "train_seconds": seconds,
        "samples_per_second": len(data.train) * len(history) / seconds if seconds else None,
        "train_size": len(data.train),
    }
    with_val = [row for row in history if row.get("val_acc") is not None]
    if with_val:
        best = max(with_val, key=lambda row: row["val_acc"])
        metrics |= {"best_epoch": best["epoch"], "val_accuracy": best["val_acc"], "val_loss": best["val_loss"]}
    title = f"{recipe.name} on {data.name}"
    run_dir.save("curves.png", lambda p: plots.learning_curves(history, p, title=title))
    if data.test is not None:
        report = evaluate(result.predictor, data.test.images, data.test.labels)
        metrics |= {
            "test_accuracy": report.accuracy, "test_loss": report.loss,
            "test_errors": int((report.predictions != report.labels).sum()), "test_size": len(report.labels),
            "per_class": report.per_class, "confusion": report.confusion.tolist(),
        }
        confidences = report.probabilities.max(axis=1)
        run_dir.save("confusion.png", lambda p: plots.confusion_matrix(report.confusion, data.classes, p, title=f"{title}: test"))
        run_dir.save("misclassified.png", lambda p: plots.misclassified(
            data.test.images, report.labels, report.predictions, confidences, data.classes, p))
    result.save_best({k: v for k, v in metrics.items() if k not in ("per_class", "confusion")})
    run_dir.write_json("metrics.json", metrics)
    return metrics


def _versions() -> dict[str, str]:
    from .checkpoint import versions

    return versions()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
