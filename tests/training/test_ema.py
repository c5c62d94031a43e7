"""ema_decay: the weights validation judges and the model file keeps are the exponential moving
average of the trained weights, step by step (checked against the average computed by hand)."""

from __future__ import annotations

import pytest
import torch

from digitrec.errors import DigitrecError
from digitrec.models import Classifier, create_model
from digitrec.recipes import get_recipe
from digitrec.training.loop import TensorSplit, fit
from digitrec.training.run import check_recipe


def _trained(small_mnist, epochs: int, ema_decay: float | None) -> dict[str, torch.Tensor]:
    """cnn-baseline-bn after `epochs` full-batch SGD steps (one batch an epoch), so step k's weights
    are what a k-epoch run ends with."""
    train = small_mnist["train"]
    data = TensorSplit.from_arrays(train.images[:64], train.labels[:64], torch.device("cpu"))
    recipe = get_recipe("cnn-baseline-bn").override(epochs=epochs, batch_size=64, lr=0.05, optimizer="sgd",
                                                    schedule="constant", ema_decay=ema_decay, seed=3)
    torch.manual_seed(3)
    model = Classifier(create_model("cnn-baseline-bn"), 0.1307, 0.3081)
    # the same seed, so dropout draws the same masks at step k in every run
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
            module.momentum = 0.5
    fit(model, data, data, recipe)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_the_model_is_the_moving_average_of_the_steps_weights(small_mnist):
    decay = 0.25
    step = [_trained(small_mnist, k, None) for k in (1, 2, 3)]
    averaged = _trained(small_mnist, 3, decay)
    # AveragedModel starts from the first step's weights, then w_avg <- d w_avg + (1 - d) w
    expected = {}
    for key, first in step[0].items():
        if not first.is_floating_point():
            continue
        value = first
        for later in step[1:]:
            value = decay * value + (1 - decay) * later[key]
        expected[key] = value
    assert expected and any(not torch.equal(step[2][k], expected[k]) for k in expected)
    for key, value in expected.items():
        torch.testing.assert_close(averaged[key], value, rtol=1e-5, atol=1e-6, msg=key)


def test_a_decay_outside_zero_to_one_is_one_line():
    with pytest.raises(DigitrecError, match="ema_decay must be between 0 and 1"):
        check_recipe(get_recipe("best").override(ema_decay=1.5))


def _warnings(small_mnist, epochs: int, ema_decay: float) -> str:
    import io

    from digitrec.training.progress import Reporter

    train = small_mnist["train"]
    data = TensorSplit.from_arrays(train.images[:64], train.labels[:64], torch.device("cpu"))
    recipe = get_recipe("cnn-baseline-bn").override(epochs=epochs, batch_size=32, ema_decay=ema_decay)
    stream = io.StringIO()
    fit(Classifier(create_model("cnn-baseline-bn"), 0.1307, 0.3081), data, None, recipe,
        reporter=Reporter(epochs, stream=stream))
    return stream.getvalue()


def test_a_run_too_short_for_its_average_says_so(small_mnist):
    said = _warnings(small_mnist, 1, 0.999)  # 2 steps: 99.8% of the average is the first step's weights
    assert "warning: --ema-decay 0.999 averages the last ~1,000 steps but this run has 2:" in said
    assert "keeps 100% of the first step's weights" in said
    assert "warning" not in _warnings(small_mnist, 3, 0.25)  # 6 steps at 0.25: 0.02% left
