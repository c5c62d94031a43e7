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

from ..faults import pause_point
from ..recipes import Recipe
from .augment import AugmentConfig, augment_batch
from .distributed import SINGLE, Ranks, all_reduce_sum
from .environment import keep_freed_memory
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
    model: nn.Module  # the weights this epoch was judged by: the trained module, or its average (ema_decay)


def evaluate_tensors(model: nn.Module, data: TensorSplit, batch_size: int, ranks: Ranks = SINGLE) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of `model` on `data` (eval mode, no gradients).

    Distributed, each rank scores every world-th example and the sums are added up over ranks.
    """
    was_training = model.training
    model.eval()
    device = data.labels.device
    if ranks.distributed:
        data = TensorSplit(data.images[ranks.rank::ranks.world], data.labels[ranks.rank::ranks.world])
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    count = torch.tensor(len(data), dtype=torch.int64, device=device)
    with torch.inference_mode():
        for start in range(0, len(data), batch_size):
            images = data.images[start:start + batch_size]
            labels = data.labels[start:start + batch_size]
            logits = model(images)
            loss_sum += nn.functional.cross_entropy(logits, labels, reduction="sum").double()
            correct += (logits.argmax(1) == labels).sum()
    all_reduce_sum(ranks, loss_sum, correct, count)
    model.train(was_training)
    return loss_sum.item() / count.item(), correct.item() / count.item()


def fit(
    model: nn.Module,
    train: TensorSplit,
    val: TensorSplit | None,
    recipe: Recipe,
    *,
    reporter: Reporter | None = None,
    resume: dict[str, Any] | None = None,
    on_epoch_end: Callable[[EpochState], None] | None = None,
    ranks: Ranks = SINGLE,
    precision: str = "fp32",
) -> list[dict[str, Any]]:
    """Train `model` (a Classifier, already on the data's device) as `recipe` says; return the history.

    `model` takes pixels in [0, 1] and normalises them itself. `resume` is the `training` state
    of a last.pt; training then continues after its epoch and ends exactly where an
    uninterrupted run would. The best epoch is judged by validation accuracy when there is a
    validation split, else every epoch counts as the newest best; early stopping watches the
    same validation accuracy. With `ema_decay`, an exponential moving average of the weights is
    updated after every step; validation judges the average, and it is what `model` holds at the end.

    Distributed (`model` wrapped in DistributedDataParallel), every rank draws the same
    permutation and each step's global batch of `recipe.batch_size` is split between the ranks,
    so one step means what it means in one process; batch-norm statistics and the metrics are
    averaged over ranks at the end of every epoch.
    """
    args = recipe.args
    reporter = reporter or Reporter(recipe.epochs, quiet=True)
    if not ranks.distributed:  # (the engine converted the module before wrapping it in DDP)
        model.to(memory_format=torch.channels_last)  # conv weights NHWC: +13-30% a step on CPU (benchmarks/engine.py)
    if train.images.device.type == "cpu":
        keep_freed_memory()  # no page faults on every step's activations
    optimizer = build_optimizer(
        args.optimizer, model.parameters(), recipe.lr, momentum=args.momentum,
        nesterov=args.nesterov, weight_decay=args.weight_decay, **args.optimizer_args,
    )
    steps_per_epoch = _batch_count(len(train), recipe.batch_size, ranks.world)
    schedule = build_scheduler(args.schedule, optimizer, recipe.epochs, steps_per_epoch, **args.schedule_args)
    stopper = EarlyStopping(recipe.early_stopping, mode="max") if recipe.early_stopping else None
    augment = AugmentConfig(**args.augment_args) if args.augment else None
    generator = torch.Generator().manual_seed(recipe.seed)  # shuffling (and, in one process, augmentation), on CPU
    net = model.module if ranks.distributed else model
    average = weight_average(net, args.ema_decay) if args.ema_decay else None
    if average is not None and ranks.writer:
        _warn_if_average_too_young(args.ema_decay, steps_per_epoch * recipe.epochs, reporter)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing, reduction="sum" if ranks.distributed else "mean")
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
        if average is not None:
            average.load_state_dict(resume["ema"])
        history = list(resume["history"])
        stopped = resume.get("stopped", False)

    def training_state() -> dict[str, Any]:
        return {
            "epoch": len(history), "history": history, "stopped": stopped,
            "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
            "stopper": stopper.state_dict() if stopper is not None else None,
            "ema": average.state_dict() if average is not None else None,
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
        epoch_rng = _per_rank_rng(recipe.seed, epoch, ranks)
        train_loss, train_acc, seen = _train_epoch(model, train, recipe, optimizer, schedule, loss_fn, augment,
                                                   generator, epoch_rng or generator, reporter, ranks, precision, average)
        judged = average.module if average is not None else net
        if ranks.distributed:
            _average_buffers(net, ranks)
            if average is not None:
                _average_buffers(judged, ranks)
        val_loss, val_acc = evaluate_tensors(judged, val, args.eval_batch_size, ranks) if val is not None else (None, None)
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
            on_epoch_end(EpochState(epoch, history, improved(history, recipe.keep), training_state, judged))
        if stopped:
            reporter.log(f"early stopping: no improvement for {recipe.early_stopping} epochs")
            break
    if average is not None:  # the caller gets the averaged weights, as validation judged them
        net.load_state_dict(average.module.state_dict())
    model.eval()
    return history


def weight_average(net: nn.Module, decay: float) -> torch.optim.swa_utils.AveragedModel:
    """An exponential moving average of `net`'s weights and batch-norm statistics (timm's ModelEmaV2,
    An et al.'s EMA 0.999), updated after every optimizer step."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    if not 0 < decay < 1:
        raise ValueError(f"ema_decay must be between 0 and 1 (e.g. 0.999), got {decay}")
    return AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def _warn_if_average_too_young(decay: float, steps: int, reporter: Reporter) -> None:
    """Say so when a run is too short for its weight average: `best --epochs 1` (445 steps at 0.999)
    ends with 64% of its average on the first step's weights and measured 11% test accuracy."""
    first_share = decay**steps  # the average starts as the first step's weights, then decays by `decay` a step
    if first_share > 0.05:
        reporter.log(f"warning: --ema-decay {decay:g} averages the last ~{round(1 / (1 - decay)):,} steps but this "
                     f"run has {steps:,}: its average keeps {first_share:.0%} of the first step's weights, "
                     "so expect low accuracy; train longer or lower --ema-decay (e.g. 0.99)")


def _batch_count(samples: int, batch_size: int, world: int = 1) -> int:
    """Steps per epoch: a last batch too small to share out (one example per rank or fewer; batch
    norm cannot train on one) is dropped this epoch."""
    return max(1, samples // batch_size + (samples % batch_size > world))


def _per_rank_rng(seed: int, epoch: int, ranks: Ranks) -> torch.Generator | None:
    """Distributed, each rank augments and drops out with its own stream, fixed by (seed, rank,
    epoch) so that a restarted epoch draws the same; one process keeps its one generator."""
    if not ranks.distributed:
        return None
    mixed = (seed * 1_000_003 + ranks.rank * 7_919 + epoch) % 2**63
    torch.manual_seed(mixed)  # dropout draws from the global generator
    return torch.Generator().manual_seed(mixed)


def _average_buffers(model: nn.Module, ranks: Ranks) -> None:
    """Batch-norm running statistics become the mean over ranks (each rank saw its own shards)."""
    for buffer in model.buffers():
        if buffer.is_floating_point():
            all_reduce_sum(ranks, buffer)
            buffer.div_(ranks.world)


def _autocast(device: torch.device, precision: str):
    """bf16: the forward pass and the loss run under autocast (weights, gradients and the
    optimizer stay float32, so no loss scaling is needed); fp32: plain."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def _train_epoch(model, train, recipe, optimizer, schedule, loss_fn, augment, generator, augment_rng, reporter, ranks,
                 precision="fp32", average=None):
    device = train.images.device
    order = torch.randperm(len(train), generator=generator).to(device)
    batch, world = recipe.batch_size, ranks.world
    steps = _batch_count(len(train), batch, world)
    batches = [order[step * batch:(step + 1) * batch] for step in range(steps)]
    # Distributed, this rank trains on its share of every step's batch; `mine` lists them in order.
    shares = [index.tensor_split(world)[ranks.rank] for index in batches] if ranks.distributed else batches
    mine = torch.cat(shares) if ranks.distributed else order
    # Per step only two small ops on top of the tutorial loop: keep the loss, and the predicted
    # classes in training order; sums and the comparison with the labels wait for a refresh.
    losses = torch.zeros(steps, dtype=torch.float32, device=device)
    predicted = torch.zeros(len(mine), dtype=torch.int64, device=device)
    # what each step's loss is worth in summed per-example losses on this rank: a mean over the
    # batch in one process; distributed, sum * world / global batch (see below)
    weights = torch.tensor([len(index) / (world if ranks.distributed else 1) for index in batches],
                           dtype=torch.float64, device=device)
    seen = pending = 0

    def sums(done: int) -> tuple[torch.Tensor, torch.Tensor]:
        loss_sum = (losses[:done].double() * weights[:done]).sum()
        correct = (predicted[:seen] == train.labels[mine[:seen]]).sum()
        return loss_sum, correct

    for step, (index, share) in enumerate(zip(batches, shares)):
        images, labels = train.images[share], train.labels[share]
        if augment is not None:
            images = augment_batch(images, augment, augment_rng)
        with _autocast(device, precision):
            logits = model(images)
            # Distributed: DDP averages gradients over ranks, so each rank's summed loss is scaled by
            # world / global batch; their average is then the mean over the whole global batch.
            loss = loss_fn(logits, labels) * (world / len(index)) if ranks.distributed else loss_fn(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if recipe.args.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), recipe.args.grad_clip)
        optimizer.step()
        schedule.step_batch()
        if average is not None:
            average.update_parameters(model.module if ranks.distributed else model)
        losses[step] = loss.detach()
        torch.argmax(logits.detach(), 1, out=predicted[seen:seen + len(share)])
        seen += len(share)
        pending += len(share)
        if step % _PROGRESS_EVERY == _PROGRESS_EVERY - 1:
            if reporter.shows_bar:
                loss_sum, correct = sums(step + 1)
                reporter.update(pending, loss_sum.item() / seen, correct.item() / seen)
                pending = 0
            else:
                pause_point("progress")  # where a bar would refresh (the kill tests stop a run here)
    loss_sum, correct = sums(steps)
    reporter.update(pending, loss_sum.item() / seen, correct.item() / seen)
    total = torch.tensor(seen, dtype=torch.int64, device=device)
    all_reduce_sum(ranks, loss_sum, correct, total)
    return loss_sum.item() / total.item(), correct.item() / total.item(), total.item()
