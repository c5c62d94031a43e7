"""The PyTorch training loop: data held as tensors, batched by slicing a per-epoch permutation.

No per-sample Python work in the hot loop: one permutation per epoch, one gather and one
(optional) batched augmentation per batch; the model normalises its own input.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..recipes import Recipe
from .augment import AugmentConfig, augment_batch
from .history import improved
from .optim import EarlyStopping, build_optimizer, build_scheduler
from .progress import Reporter

_PROGRESS_EVERY = 20  # batches between progress-bar refreshes (each costs a device sync; none without a bar)


@dataclass
class TensorSplit:
    images: torch.Tensor  # (N, 1, 28, 28) float32 in [0, 1], on the training device
    labels: torch.Tensor  # (N,) int64

    @classmethod
    def from_arrays(cls, images: np.ndarray, labels: np.ndarray, device: torch.device) -> "TensorSplit":
        pixels = torch.from_numpy(np.ascontiguousarray(images)).to(device)
        return cls(pixels.unsqueeze(1).float().div_(255.0), torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(device))

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class EpochState:
    """What `fit` hands its caller after each epoch: enough to write checkpoints and to resume."""

    epoch: int
    history: list[dict[str, Any]]
    improved: bool  # a new best validation accuracy (every epoch counts without validation)
    training_state: Callable[[], dict[str, Any]]  # optimizer, schedule, RNG... for last.pt


def evaluate_tensors(model: nn.Module, data: TensorSplit, batch_size: int) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of `model` on `data` (eval mode, no gradients)."""
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=data.labels.device)
    correct = torch.zeros((), dtype=torch.int64, device=data.labels.device)
    with torch.inference_mode():
        for start in range(0, len(data), batch_size):
            images = data.images[start:start + batch_size]
            labels = data.labels[start:start + batch_size]
            logits = model(images)
            loss_sum += nn.functional.cross_entropy(logits, labels, reduction="sum").double()
            correct += (logits.argmax(1) == labels).sum()
    model.train(was_training)
    return loss_sum.item() / len(data), correct.item() / len(data)


def fit(
    model: nn.Module,
    train: TensorSplit,
    val: TensorSplit | None,
    recipe: Recipe,
    *,
    reporter: Reporter | None = None,
    resume: dict[str, Any] | None = None,
    on_epoch_end: Callable[[EpochState], None] | None = None,
) -> list[dict[str, Any]]:
    """Train `model` (a Classifier, already on the data's device) as `recipe` says; return the history.

    `model` takes pixels in [0, 1] and normalises them itself. `resume` is the `training` state
    of a last.pt; training then continues after its epoch and ends exactly where an
    uninterrupted run would. The best epoch is judged by validation accuracy when there is a
    validation split, else every epoch counts as the newest best; early stopping watches the
    same validation accuracy.
    """
    args = recipe.args
    reporter = reporter or Reporter(recipe.epochs, quiet=True)
    model.to(memory_format=torch.channels_last)  # conv weights NHWC: +13-30% a step on CPU (benchmarks/engine.py)
    optimizer = build_optimizer(
        args.optimizer, model.parameters(), recipe.lr, momentum=args.momentum,
        nesterov=args.nesterov, weight_decay=args.weight_decay, **args.optimizer_args,
    )
    steps_per_epoch = _batch_count(len(train), recipe.batch_size)
    schedule = build_scheduler(args.schedule, optimizer, recipe.epochs, steps_per_epoch, **args.schedule_args)
    stopper = EarlyStopping(recipe.early_stopping, mode="max") if recipe.early_stopping else None
    augment = AugmentConfig(**args.augment_args) if args.augment else None
    generator = torch.Generator().manual_seed(recipe.seed)  # shuffling and augmentation, on CPU
    loss_fn = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    history: list[dict[str, Any]] = []
    stopped = False  # early stopping fired; a resumed run must not train on
    if resume is not None:
        optimizer.load_state_dict(resume["optimizer"])
        schedule.load_state_dict(resume["schedule"])
        if stopper is not None and resume.get("stopper"):
            stopper.load_state_dict(resume["stopper"])
        generator.set_state(resume["rng"]["generator"])
        torch.set_rng_state(resume["rng"]["torch"])
        if torch.cuda.is_available() and resume["rng"].get("cuda"):
            torch.cuda.set_rng_state_all(resume["rng"]["cuda"])
        history = list(resume["history"])
        stopped = resume.get("stopped", False)

    def training_state() -> dict[str, Any]:
        return {
            "epoch": len(history), "history": history, "stopped": stopped,
            "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
            "stopper": stopper.state_dict() if stopper is not None else None,
            "rng": {
                "generator": generator.get_state(), "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            },
        }

    model.train()
    for epoch in range(len(history) + 1, 0 if stopped else recipe.epochs + 1):
        started = time.perf_counter()
        reporter.start_epoch(epoch, len(train))
        lr = schedule.lr
        train_loss, train_acc, seen = _train_epoch(model, train, recipe, optimizer, schedule, loss_fn, augment, generator, reporter)
        val_loss, val_acc = evaluate_tensors(model, val, args.eval_batch_size) if val is not None else (None, None)
        record = {
            "epoch": epoch, "lr": lr, "train_loss": train_loss, "train_acc": train_acc,
            "val_loss": val_loss, "val_acc": val_acc, "seconds": time.perf_counter() - started,
        }
        history.append(record)
        reporter.end_epoch(record, seen)
        # Keras' ReduceLROnPlateau watches the validation loss; without validation, the training loss.
        schedule.step_epoch(val_loss if val_loss is not None else train_loss)
        stopped = stopper is not None and stopper.step(val_acc)
        if on_epoch_end is not None:
            on_epoch_end(EpochState(epoch, history, improved(history), training_state))
        if stopped:
            reporter.log(f"early stopping: no improvement for {recipe.early_stopping} epochs")
            break
    model.eval()
    return history


def _batch_count(samples: int, batch_size: int) -> int:
    return max(1, samples // batch_size + (samples % batch_size > 1))


def _train_epoch(model, train, recipe, optimizer, schedule, loss_fn, augment, generator, reporter):
    device = train.images.device
    order = torch.randperm(len(train), generator=generator).to(device)
    steps = _batch_count(len(train), recipe.batch_size)
    # Per step only two small ops on top of the tutorial loop: keep the loss, and the predicted
    # classes in permutation order; sums and the comparison with the labels wait for a refresh.
    losses = torch.zeros(steps, dtype=torch.float32, device=device)
    predicted = torch.zeros(len(train), dtype=torch.int64, device=device)
    sizes = torch.tensor([min(recipe.batch_size, len(train) - i * recipe.batch_size) for i in range(steps)],
                         dtype=torch.float64, device=device)
    seen = pending = 0

    def means(done: int) -> tuple[float, float]:
        loss_sum = (losses[:done].double() * sizes[:done]).sum().item()
        correct = (predicted[:seen] == train.labels[order[:seen]]).sum().item()
        return loss_sum / seen, correct / seen

    for step in range(steps):
        # a last batch of one example is dropped this epoch (batch norm cannot train on it)
        index = order[step * recipe.batch_size:(step + 1) * recipe.batch_size]
        images, labels = train.images[index], train.labels[index]
        if augment is not None:
            images = augment_batch(images, augment, generator)
        logits = model(images)
        loss = loss_fn(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if recipe.args.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), recipe.args.grad_clip)
        optimizer.step()
        schedule.step_batch()
        losses[step] = loss.detach()
        torch.argmax(logits.detach(), 1, out=predicted[seen:seen + len(index)])
        seen += len(index)
        pending += len(index)
        if step % _PROGRESS_EVERY == _PROGRESS_EVERY - 1 and reporter.shows_bar:
            reporter.update(pending, *means(step + 1))
            pending = 0
    train_loss, train_acc = means(steps)
    reporter.update(pending, train_loss, train_acc)
    return train_loss, train_acc, seen
