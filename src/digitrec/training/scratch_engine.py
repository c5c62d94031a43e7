"""The `scratch` engine: trains the hand-written NumPy network (digitrec.scratch).

The network itself imports no torch; this adapter connects it to the engine interface, so a
scratch run writes the same files as any other (model.npz instead of model.pt) and cv runs it too.
It honours the shared recipe fields and `ScratchArgs` (momentum, lmbda); it cannot resume (a
whole run takes seconds). A network with a softmax output layer and a validation split gets a
temperature, fitted to the log of its probabilities (exactly temperature scaling of its
pre-softmax outputs) and stored in model.npz's metadata, which digitrec.predict.numpy applies.
A sigmoid output layer gets none: its scores, normalised to sum to one, are not a softmax, and
the same power p**(1/T) fitted to them made the test ECE worse (0.0244 -> 0.0334 for `nielsen`,
benchmarks/calibration.py), so such a model says it is not calibrated instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DigitrecError
from ..evaluation.calibration import NO_VALIDATION, calibrate_probabilities, not_calibrated, retemper
from ..predict import Predictor
from ..recipes import Recipe
from ..scratch import ACTIVATIONS, COSTS, OUTPUTS, Network, save_network, sgd
from ..versions import versions
from .calibrate import SIGMOID_OUTPUTS
from .distributed import SINGLE, Ranks
from .history import best_record, improved
from .interface import EpochEnd, FitData, FitResult, Hooks

_BATCHES_PER_UPDATE = 200  # progress-bar refresh interval; the bar must not slow a 10-image step
_MODEL_ARGS = {"sizes", "activation", "output", "cost", "init", "dtype"}


class ScratchEngine:
    name = "scratch"
    model_file = "model.npz"
    can_resume = False
    can_distribute = False  # one NumPy process; cv and seed studies still spread it over ranks
    uses_torch = False  # NumPy only: a run never imports torch

    def check(self, recipe: Recipe) -> None:
        if recipe.keep == "last" and recipe.early_stopping is not None:
            # sgd puts the best epoch's weights back when it stops early
            raise DigitrecError(f"recipe {recipe.name}: the scratch engine keeps the best epoch when it stops early; "
                                "use keep best with early_stopping, or drop early_stopping")
        unknown = sorted(set(recipe.model_args) - _MODEL_ARGS)
        if unknown:
            raise DigitrecError(f"recipe {recipe.name}: the scratch network takes model_args "
                                f"{', '.join(sorted(_MODEL_ARGS))}, not {', '.join(unknown)}")
        try:
            Network(**_network_kwargs(recipe, None), seed=0)
        except (TypeError, ValueError) as exc:
            raise DigitrecError(f"recipe {recipe.name}: {exc} (activations: {', '.join(ACTIVATIONS)}; "
                                f"outputs: {', '.join(OUTPUTS)}; costs: {', '.join(COSTS)})") from None

    def fit(self, recipe: Recipe, data: FitData, hooks: Hooks, device: str = "cpu",
            resume: Path | None = None, ranks: Ranks = SINGLE) -> FitResult:
        if ranks.distributed:
            raise DigitrecError(f"recipe {recipe.name}: the scratch engine trains in one NumPy process and does not run "
                                "data-parallel (torchrun, --nproc); choose a torch recipe")
        if resume is not None:
            raise DigitrecError("scratch runs cannot be resumed (a whole run takes seconds); start a new one")
        reporter = hooks.reporter
        if device != "cpu":
            reporter.log(f"note: the scratch engine runs on the CPU with NumPy (asked for {device})")
        network = Network(**_network_kwargs(recipe, len(data.classes)), seed=recipe.seed)
        history: list[dict[str, Any]] = []
        calibration: dict[str, Any] | None = None  # none while training: model.npz holds the raw network

        def save(path: Path, metrics: dict[str, Any], epoch: int | None) -> None:
            save_network(network, path, {
                "model": recipe.model, "classes": data.classes, "recipe": recipe.to_dict(), "dataset": data.name,
                "metrics": metrics, "epoch": epoch, "versions": versions(),
            } | ({"calibration": calibration} if calibration is not None else {}))

        def on_epoch(epoch: int, metrics: dict[str, Any]) -> None:
            history.append({k: metrics[k] for k in ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds")})
            reporter.end_epoch(history[-1], len(data.train))
            if hooks.on_epoch_end is not None:
                hooks.on_epoch_end(EpochEnd(epoch, history, improved(history, recipe.keep),
                                            save_model=lambda path, m: save(path, m, epoch), save_state=None))
            if epoch < recipe.epochs:
                reporter.start_epoch(epoch + 1, len(data.train))

        reporter.start_epoch(1, len(data.train))
        sgd(
            network, data.train.images, data.train.labels, epochs=recipe.epochs, batch_size=recipe.batch_size, eta=recipe.lr,
            lmbda=recipe.args.lmbda, momentum=recipe.args.momentum,
            validation=(data.val.images, data.val.labels) if data.val is not None else None,
            # with validation, sgd puts the best epoch's weights back at the end (as the torch
            # engine keeps model.pt): a patience of `epochs` never stops early but does that
            patience=(recipe.early_stopping or recipe.epochs) if data.val is not None and recipe.keep == "best" else None,
            callback=on_epoch, on_batch=_BatchProgress(reporter) if reporter.shows_bar else None,
        )
        best = best_record(history, recipe.keep)
        if network.output != "softmax":
            calibration = not_calibrated(SIGMOID_OUTPUTS)
        elif data.val is not None:
            calibration = calibrate_probabilities(network.predict_proba(data.val.images), data.val.labels)
        else:
            calibration = not_calibrated(NO_VALIDATION)
        temperature = calibration["temperature"]
        predictor = Predictor(lambda images: retemper(network.predict_proba(images), temperature), data.classes,
                              {"engine": "scratch", "model": recipe.model, "calibration": calibration})
        params = sum(w.size + b.size for w, b in zip(network.weights, network.biases))
        return FitResult(history, predictor, params, self.model_file,
                         lambda path, metrics: save(path, metrics, best["epoch"] if best else None), calibration)


def _network_kwargs(recipe: Recipe, classes: int | None) -> dict[str, Any]:
    """The recipe's model_args (sizes, activation, output, cost, init, dtype) for `Network`."""
    kwargs = dict(recipe.model_args)
    sizes = list(kwargs.get("sizes", [784, 30, classes or 10]))
    if sizes[0] != 784 or (classes is not None and sizes[-1] != classes):
        raise DigitrecError(f"scratch network sizes {sizes} must start at 784 and end at {classes} classes")
    kwargs["sizes"] = sizes
    kwargs["dtype"] = np.dtype(kwargs.get("dtype", "float32")).type
    return kwargs


class _BatchProgress:
    """Adapts the network's per-batch hook to the reporter, updating the bar every few hundred batches."""

    def __init__(self, reporter) -> None:
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
