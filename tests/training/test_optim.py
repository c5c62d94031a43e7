"""Optimizers, schedules and early stopping by name."""

import pytest
import torch

from digitrec.recipes import get_recipe
from digitrec.training.optim import (
    OPTIMIZERS,
    SCHEDULERS,
    EarlyStopping,
    build_optimizer,
    build_scheduler,
)


def _params() -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.ones(3))]


def _sgd(lr: float = 0.1) -> torch.optim.Optimizer:
    return build_optimizer("sgd", _params(), lr=lr, momentum=0.9)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_each_optimizer_builds_and_steps(name):
    params = _params()
    optimizer = build_optimizer(name, params, lr=0.1, weight_decay=1e-4)
    params[0].sum().backward()
    optimizer.step()
    assert not torch.equal(params[0].detach(), torch.ones(3))


def test_sgd_momentum_nesterov_and_keras_rmsprop_reach_torch():
    sgd = build_optimizer("sgd", _params(), lr=0.01, momentum=0.9, nesterov=True)
    assert sgd.param_groups[0]["momentum"] == 0.9 and sgd.param_groups[0]["nesterov"]
    # keras-kaggle's RMSprop: Keras' rho and, with torch's epsilon outside the square root, sqrt(1e-7)
    rmsprop = build_optimizer("rmsprop", _params(), lr=1e-3, **get_recipe("keras-kaggle").args.optimizer_args)
    assert rmsprop.param_groups[0]["alpha"] == 0.9 and rmsprop.param_groups[0]["eps"] == pytest.approx(1e-7 ** 0.5)


def test_bad_optimizer_options_are_rejected():
    with pytest.raises(ValueError, match="choose from: adadelta, adam, adamw, rmsprop, sgd"):
        build_optimizer("lbfgs", _params(), lr=0.1)
    with pytest.raises(ValueError, match="momentum"):
        build_optimizer("adam", _params(), lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="nesterov"):
        build_optimizer("rmsprop", _params(), lr=0.1, nesterov=True)


def _run(schedule, epochs: int, steps_per_epoch: int, val_losses=None) -> list[float]:
    """lr after each epoch, stepping the optimizer and the schedule as a training loop would."""
    lrs = []
    for epoch in range(epochs):
        for _ in range(steps_per_epoch):
            schedule.optimizer.step()
            schedule.step_batch()
        schedule.step_epoch(val_losses[epoch] if val_losses else 1.0)
        lrs.append(schedule.lr)
    return lrs


@pytest.mark.parametrize("name", SCHEDULERS)
def test_each_scheduler_builds_and_steps(name):
    schedule = build_scheduler(name, _sgd(), epochs=4, steps_per_epoch=5)
    lrs = _run(schedule, 4, 5)
    assert all(lr > 0 for lr in lrs[:-1]) and schedule.name == name


def test_unknown_scheduler_lists_the_valid_ones():
    with pytest.raises(ValueError, match="choose from: constant, cosine, one-cycle, reduce-on-plateau, step"):
        build_scheduler("linear", _sgd(), epochs=3, steps_per_epoch=1)


def test_constant_keeps_the_lr():
    assert _run(build_scheduler("constant", _sgd(), epochs=3, steps_per_epoch=2), 3, 2) == [0.1] * 3


def test_step_halves_the_lr_every_step_size_epochs():
    schedule = build_scheduler("step", _sgd(), epochs=6, steps_per_epoch=3, step_size=2, gamma=0.5)
    assert _run(schedule, 6, 3) == pytest.approx([0.1, 0.05, 0.05, 0.025, 0.025, 0.0125])


def test_cosine_ends_at_min_lr():
    schedule = build_scheduler("cosine", _sgd(), epochs=4, steps_per_epoch=1, min_lr=0.001)
    lrs = _run(schedule, 4, 1)
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] == pytest.approx(0.001)


def test_plateau_reduces_after_patience():
    schedule = build_scheduler("reduce-on-plateau", _sgd(), epochs=6, steps_per_epoch=1, factor=0.5, patience=2)
    # Two epochs without improvement (Keras' and EarlyStopping's count) trigger the cut; after a
    # cut the count restarts, so the next one comes two epochs later.
    lrs = _run(schedule, 6, 1, val_losses=[1.0, 0.9, 0.9, 0.9, 0.9, 0.9])
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.025])
    with pytest.raises(ValueError, match="validation loss"):
        schedule.step_epoch(None)


def test_one_cycle_peaks_at_max_lr_part_way():
    epochs, steps = 4, 25
    schedule = build_scheduler("one-cycle", _sgd(), epochs=epochs, steps_per_epoch=steps, max_lr=1.0)
    lrs = [schedule.lr]
    for _ in range(epochs * steps - 1):  # OneCycleLR counts total_steps including the first
        schedule.optimizer.step()
        schedule.step_batch()
        lrs.append(schedule.lr)
        schedule.step_epoch(None)  # no-op for one-cycle
    peak = max(range(len(lrs)), key=lrs.__getitem__)
    assert lrs[peak] == pytest.approx(1.0)
    assert abs(peak - 0.3 * epochs * steps) <= 1  # pct_start=0.3
    assert lrs[0] == pytest.approx(1.0 / 25) and lrs[-1] < lrs[0]
    assert schedule.optimizer.param_groups[0]["momentum"] == 0.9  # not cycled by default


@pytest.mark.parametrize(("name", "kw"), [
    ("step", {"step_size": 1, "gamma": 0.5}),
    ("cosine", {}),
    ("one-cycle", {"max_lr": 0.5}),
    ("reduce-on-plateau", {"patience": 1, "factor": 0.5}),
])
def test_state_dict_round_trip_continues_identically(name, kw):
    losses = [1.0, 0.9, 0.95, 0.97, 0.99, 0.99, 0.99, 0.99]

    def build():
        optimizer = _sgd()
        return build_scheduler(name, optimizer, epochs=8, steps_per_epoch=3, **kw)

    original = build()
    _run(original, 3, 3, losses[:3])
    saved_optimizer, saved_schedule = original.optimizer.state_dict(), original.state_dict()
    expected = _run(original, 5, 3, losses[3:])

    resumed = build()
    resumed.optimizer.load_state_dict(saved_optimizer)
    resumed.load_state_dict(saved_schedule)
    assert _run(resumed, 5, 3, losses[3:]) == expected


def test_schedule_state_refuses_another_schedule():
    with pytest.raises(ValueError, match="not 'cosine'"):
        build_scheduler("cosine", _sgd(), 3, 1).load_state_dict(build_scheduler("step", _sgd(), 3, 1).state_dict())


@pytest.mark.parametrize(("mode", "values", "stops"), [
    # 0.79 is not min_delta=0.02 below the best 0.8, so it is the second bad epoch
    ("min", [1.0, 0.8, 0.85, 0.79], [False, False, False, True]),
    ("max", [0.90, 0.95, 0.96, 0.94], [False, False, False, True]),
    ("max", [0.90, 0.95, 0.96, 0.98, 0.90], [False, False, False, False, False]),
])
def test_early_stopping_counts_epochs_without_improvement(mode, values, stops):
    stopper = EarlyStopping(patience=2, min_delta=0.02, mode=mode)
    assert [stopper.step(value) for value in values] == stops


def test_early_stopping_state_round_trip():
    stopper = EarlyStopping(patience=3, mode="min")
    for value in [1.0, 0.5, 0.6]:
        stopper.step(value)
    resumed = EarlyStopping(patience=3, mode="min")
    resumed.load_state_dict(stopper.state_dict())
    assert (resumed.best, resumed.bad_epochs) == (0.5, 1)
    assert [resumed.step(v) for v in (0.7, 0.8)] == [False, True]
    with pytest.raises(ValueError, match="choose from: max, min"):
        EarlyStopping(patience=1, mode="up")
