"""Optimizers, learning-rate schedules behind one interface, and early stopping, all by name."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch.optim import lr_scheduler

OPTIMIZERS = ("adadelta", "adam", "adamw", "rmsprop", "sgd")
SCHEDULERS = ("constant", "cosine", "one-cycle", "reduce-on-plateau", "step")


def build_optimizer(
    name: str,
    params: Iterable[torch.nn.Parameter] | Iterable[dict[str, Any]],
    lr: float,
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    **extra: Any,
) -> torch.optim.Optimizer:
    """A torch optimizer by name; `extra` goes to its constructor (betas, eps, alpha, rho, ...).

    sgd: momentum, nesterov. rmsprop: momentum; `alpha` is Keras' `rho` (pass
    **digitrec.recipes.KERAS_RMSPROP to match Keras, epsilon placement included).
    adam/adamw/adadelta take no momentum. weight_decay is passed as given, so adamw's torch
    default of 0.01 applies only if you pass it. Nesterov needs sgd with momentum > 0.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose from: {', '.join(OPTIMIZERS)}")
    if momentum and name not in ("sgd", "rmsprop"):
        raise ValueError(f"momentum applies to sgd and rmsprop, not {name!r}")
    if nesterov and name != "sgd":
        raise ValueError(f"nesterov applies to sgd, not {name!r}")
    common = {"lr": lr, "weight_decay": weight_decay, **extra}
    if name == "sgd":
        return torch.optim.SGD(params, momentum=momentum, nesterov=nesterov, **common)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, momentum=momentum, **common)
    constructor = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "adadelta": torch.optim.Adadelta}[name]
    return constructor(params, **common)


class Schedule:
    """One interface over torch's schedulers: call step_batch() after every optimizer step and
    step_epoch(val_loss) once per epoch; each schedule acts on the call that concerns it."""

    def __init__(
        self,
        name: str,
        optimizer: torch.optim.Optimizer,
        scheduler: lr_scheduler.LRScheduler | lr_scheduler.ReduceLROnPlateau | None,
    ) -> None:
        self.name = name
        self.optimizer = optimizer
        self.scheduler = scheduler

    @property
    def lr(self) -> float:
        """Current learning rate of parameter group 0."""
        return self.optimizer.param_groups[0]["lr"]

    def step_batch(self) -> None:
        if self.name == "one-cycle":
            self.scheduler.step()

    def step_epoch(self, val_loss: float | None = None) -> None:
        if self.name == "reduce-on-plateau":
            if val_loss is None:
                raise ValueError("reduce-on-plateau needs the epoch's validation loss")
            self.scheduler.step(val_loss)
        elif self.name in ("step", "cosine"):
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        """Scheduler position; save the optimizer's state_dict beside it, which holds the lr itself."""
        return {"name": self.name, "scheduler": self.scheduler.state_dict() if self.scheduler else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["name"] != self.name:
            raise ValueError(f"state is for schedule {state['name']!r}, not {self.name!r}")
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])


def build_scheduler(
    name: str, optimizer: torch.optim.Optimizer, epochs: int, steps_per_epoch: int, **kw: Any
) -> Schedule:
    """A learning-rate schedule by name, with its options in `kw`:

    constant: none. step: step_size (epochs, default epochs // 3), gamma (0.1).
    cosine: min_lr (0.0), annealed per epoch over `epochs`.
    one-cycle: max_lr (default: the optimizer's lr), pct_start (0.3), div_factor (25),
        final_div_factor (1e4), cycle_momentum (False: momentum stays as configured); per batch.
    reduce-on-plateau: factor (0.1), patience (10), min_lr (0.0), min_delta (1e-4, absolute),
        on the validation loss; Keras' ReduceLROnPlateau defaults and counting (the lr drops on the
        patience-th epoch without improvement, as EarlyStopping stops), as seed 002 uses them.
    """
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; choose from: {', '.join(SCHEDULERS)}")
    return Schedule(name, optimizer, _SCHEDULE_BUILDERS[name](optimizer, epochs, steps_per_epoch, **kw))


def _constant(optimizer, epochs, steps_per_epoch):
    return None


def _step(optimizer, epochs, steps_per_epoch, step_size: int | None = None, gamma: float = 0.1):
    return lr_scheduler.StepLR(optimizer, step_size=step_size or max(1, epochs // 3), gamma=gamma)


def _cosine(optimizer, epochs, steps_per_epoch, min_lr: float = 0.0):
    return lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=min_lr)


def _one_cycle(
    optimizer,
    epochs,
    steps_per_epoch,
    max_lr: float | None = None,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    cycle_momentum: bool = False,
):
    return lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=max_lr if max_lr is not None else optimizer.param_groups[0]["lr"],
        total_steps=epochs * steps_per_epoch,
        pct_start=pct_start,
        div_factor=div_factor,
        final_div_factor=final_div_factor,
        cycle_momentum=cycle_momentum,
    )


def _reduce_on_plateau(
    optimizer,
    epochs,
    steps_per_epoch,
    factor: float = 0.1,
    patience: int = 10,
    min_lr: float = 0.0,
    min_delta: float = 1e-4,
):
    if patience < 1:
        raise ValueError(f"patience must be at least 1 epoch, got {patience}")
    # Keras cuts the lr on the `patience`-th epoch without improvement; torch waits one epoch more.
    return lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=factor, patience=patience - 1, min_lr=min_lr,
        threshold=min_delta, threshold_mode="abs",  # Keras compares `loss < best - min_delta`
    )


_SCHEDULE_BUILDERS = {
    "constant": _constant,
    "step": _step,
    "cosine": _cosine,
    "one-cycle": _one_cycle,
    "reduce-on-plateau": _reduce_on_plateau,
}


class EarlyStopping:
    """Stop when the monitored value has not improved by `min_delta` for `patience` epochs."""

    def __init__(self, patience: int, min_delta: float = 0.0, mode: str = "min") -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"unknown mode {mode!r}; choose from: max, min")
        self.patience = patience
        self.min_delta = min_delta
        self.mode = mode
        self.best = math.inf if mode == "min" else -math.inf
        self.bad_epochs = 0
        self.improved = False  # whether the last step() set a new best: the moment to save a checkpoint

    @property
    def should_stop(self) -> bool:
        return self.bad_epochs >= self.patience

    def step(self, value: float) -> bool:
        """Record one epoch's value; returns True when training should stop."""
        if self.mode == "min":
            self.improved = value < self.best - self.min_delta
        else:
            self.improved = value > self.best + self.min_delta
        if self.improved:
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        return self.should_stop

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_epochs": self.bad_epochs, "improved": self.improved}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad_epochs, self.improved = state["best"], state["bad_epochs"], state["improved"]
