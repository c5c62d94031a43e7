"""The `torch` engine: a registry network behind its Normalize layer, trained by `loop.fit`."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from ..errors import DigitrecError
from ..evaluation.calibration import NO_VALIDATION, not_calibrated
from ..models import Classifier, build_model, create_model, load_checkpoint, make_checkpoint, save_checkpoint
from ..predict import Predictor
from ..predict.torch import proba_fn
from ..recipes import Recipe
from .augment import AugmentConfig
from .calibrate import calibrate
from .distributed import SINGLE, Ranks
from .environment import PRECISIONS, resolve_precision, seed_everything
from .history import best_record
from .interface import EpochEnd, FitData, FitResult, Hooks
from .loop import EpochState, TensorSplit, fit, weight_average
from .optim import build_optimizer, build_scheduler


class TorchEngine:
    name = "torch"
    model_file = "model.pt"
    can_resume = True
    can_distribute = True
    uses_torch = True

    def check(self, recipe: Recipe) -> None:
        """Build the model, optimizer, schedule and augmentation once, so a bad name or value is
        one line now rather than an error after the data has loaded."""
        from ..models import list_models

        args = recipe.args
        if recipe.model not in list_models():
            raise DigitrecError(f"recipe {recipe.name}: unknown model '{recipe.model}'; choose from: {', '.join(list_models())}")
        try:
            model = Classifier(create_model(recipe.model, **recipe.model_args), args.mean, args.std)
            optimizer = build_optimizer(args.optimizer, model.parameters(), recipe.lr, momentum=args.momentum,
                                        nesterov=args.nesterov, weight_decay=args.weight_decay, **args.optimizer_args)
            build_scheduler(args.schedule, optimizer, recipe.epochs, 1, **args.schedule_args)
            AugmentConfig(**args.augment_args)
            if args.ema_decay is not None:
                weight_average(model, args.ema_decay)
        except (TypeError, ValueError) as exc:
            raise DigitrecError(f"recipe {recipe.name}: {str(exc).splitlines()[0]}") from None
        if not 0 <= args.label_smoothing <= 1:
            raise DigitrecError(f"recipe {recipe.name}: label_smoothing must be in [0, 1], got {args.label_smoothing}")
        if args.precision not in PRECISIONS:
            raise DigitrecError(f"recipe {recipe.name}: unknown precision '{args.precision}'; choose from: {', '.join(PRECISIONS)}")

    def fit(self, recipe: Recipe, data: FitData, hooks: Hooks, device: str = "cpu",
            resume: Path | None = None, ranks: Ranks = SINGLE) -> FitResult:
        seed_everything(recipe.seed)  # the initial weights (and dropout) depend on the seed alone
        net = create_model(recipe.model, num_classes=len(data.classes), **recipe.model_args)
        model = Classifier(net, recipe.args.mean, recipe.args.std)
        training, best_state, calibration = None, None, None
        if resume is not None:
            last = load_checkpoint(resume)
            model.load_state_dict(build_model(last, resume).state_dict())  # also a format-1 last.pt
            training = last["training"]
            best_path = resume.parent / self.model_file
            if best_path.is_file():
                best_state = build_model(load_checkpoint(best_path), best_path).state_dict()
        model.to(device)
        if ranks.distributed:  # before DDP wraps it (loop.fit does this for a plain module)
            model.to(memory_format=torch.channels_last)
        train = TensorSplit.from_arrays(data.train.images, data.train.labels, device)
        val = TensorSplit.from_arrays(data.val.images, data.val.labels, device) if data.val is not None else None

        def checkpoint(metrics: dict[str, Any], epoch: int | None, state: dict[str, Any] | None = None,
                       weights: Classifier | None = None) -> dict[str, Any]:
            return make_checkpoint(model if weights is None else weights, recipe.model, classes=data.classes, recipe=recipe.to_dict(), dataset=data.name,
                                   metrics=metrics, epoch=epoch, training=state, calibration=calibration)

        def on_epoch_end(end: EpochState) -> None:
            nonlocal best_state
            if end.improved:
                best_state = copy.deepcopy({k: v.detach().cpu() for k, v in end.model.state_dict().items()})
            if hooks.on_epoch_end is not None:
                record = end.history[-1]
                hooks.on_epoch_end(EpochEnd(
                    end.epoch, end.history, end.improved,
                    save_model=lambda path, metrics: save_checkpoint(path, checkpoint(metrics, end.epoch, weights=end.model)),
                    save_state=lambda path: save_checkpoint(path, checkpoint(record, end.epoch, end.training_state())),
                ))

        precision = resolve_precision(recipe.args.precision, device)
        if recipe.args.precision == "auto":
            hooks.reporter.log(f"precision auto: {precision} on {device}")
        trained = _data_parallel(model, device) if ranks.distributed else model
        history = fit(trained, train, val, recipe, reporter=hooks.reporter, resume=training, on_epoch_end=on_epoch_end,
                      ranks=ranks, precision=precision)
        best = best_record(history, recipe.keep)
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        # Temperature scaling on the validation split, after the best epoch's weights are back (every
        # rank does it on the same weights and images, so they agree without talking).
        if data.val is not None:
            calibration = calibrate(model, data.val.images, data.val.labels, device, recipe.args.eval_batch_size)
        else:
            calibration = not_calibrated(NO_VALIDATION)
        predictor = Predictor(proba_fn(model, device, recipe.args.eval_batch_size), data.classes,
                              {"model": recipe.model, "engine": "torch", "recipe": recipe.to_dict(), "calibration": calibration})

        def save_best(path: Path, metrics: dict[str, Any]) -> None:
            save_checkpoint(path, checkpoint(metrics, best["epoch"] if best else None))

        params = sum(p.numel() for p in model.parameters())
        return FitResult(history, predictor, params, self.model_file, save_best, calibration,
                         # a CPU run repeats bit for bit only at the same thread count, so it is recorded
                         facts={"train_precision": precision, "train_device": device,
                                "train_threads": torch.get_num_threads()})


def _data_parallel(model: Classifier, device: str):
    """DDP over the torchrun job: rank 0's initial weights are broadcast, gradients averaged.

    No device_ids on the CPU. Buffers are synced once, at the start, not every step (that would
    make rank 0's batch-norm statistics everyone's); the loop averages them after each epoch.
    """
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [device] if device.startswith("cuda") else None
    return DistributedDataParallel(model, device_ids=device_ids, forward_sync_buffers=False)
