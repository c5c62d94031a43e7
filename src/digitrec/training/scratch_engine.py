"""The `scratch` engine: trains the hand-written NumPy network (digitrec.scratch) in a run directory.

The network itself imports no torch; this adapter only connects it to the run directory, the
progress reporter and the shared evaluation, so a scratch run writes the same files as any other
(model.npz instead of model.pt).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import DigitrecError
from ..recipes import Recipe
from .checkpoint import versions
from .progress import Reporter
from .run import EngineResult, PreparedData, register_engine
from .rundir import RunDir

_BATCHES_PER_UPDATE = 200  # progress-bar refresh interval; the bar must not slow a 10-image step


@register_engine("scratch")
def train_scratch(
    recipe: Recipe, data: PreparedData, device: str, run_dir: RunDir, reporter: Reporter, resume_from: Path | None
) -> EngineResult:
    from ..inference import Predictor
    from ..scratch import Network
    from ..scratch.checkpoint import save_network

    if device != "cpu":
        reporter.log(f"note: the scratch engine runs on the CPU with NumPy (asked for {device})")
    network = Network(**_network_kwargs(recipe, len(data.classes)), seed=recipe.seed)
    history: list[dict[str, Any]] = []

    def metadata(metrics: dict[str, Any], epoch: int | None) -> dict[str, Any]:
        return {
            "model": recipe.model, "classes": data.classes, "recipe": recipe.to_dict(), "dataset": data.name,
            "metrics": metrics, "epoch": epoch, "versions": versions(),
        }

    def on_epoch(epoch: int, metrics: dict[str, Any]) -> None:
        record = {"epoch": epoch, **{k: metrics[k] for k in ("lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds")}}
        history.append(record)
        reporter.end_epoch(record, len(data.train))
        run_dir.write_history(history)
        if epoch < recipe.epochs:
            reporter.start_epoch(epoch + 1, len(data.train))

    progress = _BatchProgress(reporter)
    reporter.start_epoch(1, len(data.train))
    network.sgd(
        data.train.images, data.train.labels, epochs=recipe.epochs, batch_size=recipe.batch_size, eta=recipe.lr,
        lmbda=float(recipe.optimizer_args.get("lmbda", 0.0)), momentum=recipe.momentum,
        validation=(data.val.images, data.val.labels) if data.val is not None else None,
        # with validation, keep the best epoch's weights as the torch engine keeps model.pt: a
        # patience of `epochs` never stops early but makes sgd put the best weights back
        patience=(recipe.early_stopping or recipe.epochs) if data.val is not None else None,
        callback=on_epoch, on_batch=progress if reporter.shows_bar else None,
    )
    run_dir.save("model.npz", lambda p: save_network(network, p, metadata({}, len(history))))

    def save_best(metrics: dict[str, Any]) -> None:
        run_dir.save("model.npz", lambda p: save_network(network, p, metadata(metrics, len(history))))

    predictor = Predictor(network.predict_proba, data.classes, {"engine": "scratch", "model": recipe.model})
    params = sum(w.size + b.size for w, b in zip(network.weights, network.biases))
    return EngineResult(history, predictor, params, save_best)


def _network_kwargs(recipe: Recipe, classes: int) -> dict[str, Any]:
    """The recipe's model_args (sizes, activation, output, cost, init, dtype) for `Network`."""
    import numpy as np

    kwargs = dict(recipe.model_args)
    sizes = list(kwargs.get("sizes", [784, 30, classes]))
    if sizes[0] != 784 or sizes[-1] != classes:
        raise DigitrecError(f"scratch network sizes {sizes} must start at 784 and end at {classes} classes")
    kwargs["sizes"] = sizes
    kwargs["dtype"] = np.dtype(kwargs.get("dtype", "float32")).type
    return kwargs


class _BatchProgress:
    """Adapts the network's per-batch hook to the reporter, updating the bar every few hundred batches."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.calls = 0
        self.last_done = 0
        self.loss_sum = 0.0

    def __call__(self, samples_done: int, samples_total: int, batch_loss: float) -> None:
        self.calls += 1
        self.loss_sum += batch_loss
        if self.calls % _BATCHES_PER_UPDATE == 0 or samples_done == samples_total:
            if samples_done < self.last_done:  # a new epoch began
                self.last_done = 0
            self.reporter.update(samples_done - self.last_done, self.loss_sum / self.calls)
            self.last_done = samples_done
            if samples_done == samples_total:
                self.calls, self.loss_sum, self.last_done = 0, 0.0, 0
