"""Named training presets: model + optimizer + schedule + epochs + batch + augmentation + split.

`Recipe` is the one source of truth for hyperparameters: the CLI maps its options onto these
fields, and the resolved recipe is saved in every run's config.json and checkpoint.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .errors import DigitrecError

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # pixel mean/std of the MNIST training set, in [0, 1] units
# Keras' RMSprop: rho 0.9, epsilon 1e-7 (torch's defaults are alpha 0.99, eps 1e-8). tf.keras adds
# epsilon *inside* the square root (sqrt(v + 1e-7)), torch outside (sqrt(v) + eps); eps = sqrt(1e-7)
# reproduces that floor to within a factor sqrt(2). With torch's placement and 1e-7 the seed-002
# network's training loss climbed after epoch 2 (measured: 0.19 -> 0.49 by epoch 12).
KERAS_RMSPROP = {"alpha": 0.9, "eps": 1e-7 ** 0.5}
KERAS_AUGMENT = {"rotation": 10.0, "zoom": 0.1, "shift": 0.1}  # seed 002's ImageDataGenerator


@dataclass
class Recipe:
    name: str
    model: str  # a name from digitrec.models.list_models(), or a scratch preset for engine "scratch"
    model_args: dict[str, Any] = field(default_factory=dict)
    engine: str = "torch"  # "torch", or "scratch" for the hand-written NumPy network
    source: str = ""  # the tutorial or reference it reproduces
    expected_accuracy: float | None = None  # MNIST test accuracy the source reports (a floor to beat)
    epochs: int = 10
    batch_size: int = 100  # examples per optimizer step
    optimizer: str = "sgd"  # sgd, adam, adamw, rmsprop, adadelta
    lr: float = 0.1  # per optimizer step, not rescaled with the batch size
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0  # L2 coefficient added by the optimizer
    optimizer_args: dict[str, Any] = field(default_factory=dict)  # e.g. RMSprop alpha/eps
    schedule: str = "constant"  # constant, step, cosine, one-cycle, reduce-on-plateau
    schedule_args: dict[str, Any] = field(default_factory=dict)
    label_smoothing: float = 0.0
    grad_clip: float | None = None  # max global L2 norm of the gradients; None: no clipping
    augment: bool = False
    augment_args: dict[str, Any] = field(default_factory=dict)  # AugmentConfig fields
    val_fraction: float = 0.0  # stratified share of the training split held out for validation
    early_stopping: int | None = None  # stop after this many epochs without val-loss improvement
    mean: float = 0.0  # inputs are (pixels / 255 - mean) / std
    std: float = 1.0
    seed: int = 0
    eval_batch_size: int = 1000

    def replace(self, **overrides: Any) -> "Recipe":
        """A copy with the given fields changed; None values mean 'keep the recipe's'."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise DigitrecError(f"unknown recipe field(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Recipe":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


_RECIPES: dict[str, Recipe] = {}


def register_recipe(recipe: Recipe) -> Recipe:
    _RECIPES[recipe.name] = recipe
    return recipe


def list_recipes() -> list[str]:
    return list(_RECIPES)


def get_recipe(name: str) -> Recipe:
    if name not in _RECIPES:
        raise DigitrecError(f"unknown recipe '{name}'; choose from: {', '.join(_RECIPES)}")
    return dataclasses.replace(_RECIPES[name])


register_recipe(Recipe(
    name="default", model="cnn-deep",
    # What `make run` trains: the k-fold study's deeper CNN with a modern schedule (Adam,
    # one-cycle, batch 128), so that about a minute on 2 CPU cores gives ~99%.
    source="digitrec: seed 003's cnn-deep, Adam + one-cycle, batch 128, 2 epochs (about a minute on 2 cores)",
    expected_accuracy=0.99, epochs=2, batch_size=128, optimizer="adam", lr=3e-3,
    schedule="one-cycle", mean=MNIST_MEAN, std=MNIST_STD,
))
register_recipe(Recipe(
    name="mxnet-mlp", model="mlp",
    source="seed 001 (MXNet MLP 128-64-10): SGD lr 0.1, batch 100, 10 epochs; reports ~0.96-0.97",
    expected_accuracy=0.97, epochs=10, batch_size=100, optimizer="sgd", lr=0.1,
))
register_recipe(Recipe(
    name="mxnet-lenet", model="lenet",
    # seed 000 trains 5 GPU epochs at lr 0.05, seed 001 10 epochs at lr 0.1: we keep seed 000's
    # optimizer (momentum, weight decay) and seed 001's 10 epochs.
    source="seeds 000/001 (MXNet LeNet): SGD lr 0.05 momentum 0.9 wd 1e-5, batch 100, 10 epochs",
    expected_accuracy=0.99, epochs=10, batch_size=100, optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=1e-5,
))
register_recipe(Recipe(
    name="keras-kaggle", model="kaggle-cnn",
    # The seed standardises every pixel by its own mean/std (tiny std at the borders blows rare ink
    # up to huge values) and, by mistake, standardises the labels too; we standardise with MNIST's
    # global mean/std and leave the labels alone.
    source="seed 002 (Keras Kaggle CNN): RMSprop, batch 32, rotation/zoom/shift augmentation, 5% "
    "validation, best epoch by val accuracy, ReduceLROnPlateau on val loss, 50 epochs",
    expected_accuracy=0.994, epochs=50, batch_size=32, optimizer="rmsprop", lr=0.001,
    optimizer_args=dict(KERAS_RMSPROP), schedule="reduce-on-plateau", augment=True,
    augment_args=dict(KERAS_AUGMENT), val_fraction=0.05, mean=MNIST_MEAN, std=MNIST_STD,
))
for _name, _model, _accuracy in (
    ("cnn-baseline", "cnn-baseline", 0.985),
    ("cnn-baseline-bn", "cnn-baseline-bn", 0.985),
    ("cnn-deep", "cnn-deep", 0.99),
):
    register_recipe(Recipe(
        name=_name, model=_model,
        source="seed 003 (k-fold CNN study): SGD lr 0.01 momentum 0.9, batch 32, 10 epochs",
        expected_accuracy=_accuracy, epochs=10, batch_size=32, optimizer="sgd", lr=0.01, momentum=0.9,
    ))
register_recipe(Recipe(
    name="reference", model="reference",
    source="pytorch/examples mnist: Adadelta lr 1.0, StepLR gamma 0.7, batch 64, 14 epochs",
    expected_accuracy=0.99, epochs=14, batch_size=64, optimizer="adadelta", lr=1.0,
    schedule="step", schedule_args={"step_size": 1, "gamma": 0.7}, mean=MNIST_MEAN, std=MNIST_STD,
))


def _scratch_recipe(name: str, source: str, expected: float) -> Recipe:
    """A recipe for the NumPy network, built from its preset so the numbers live in one place."""
    from .scratch.presets import PRESETS

    preset = PRESETS[name]
    return Recipe(
        name=name, model=name, engine="scratch", source=source, expected_accuracy=expected,
        model_args={"sizes": list(preset.sizes), "activation": preset.activation, "output": preset.output,
                    "cost": preset.cost, "init": preset.init, "dtype": preset.dtype},
        epochs=preset.epochs, batch_size=preset.batch_size, optimizer="sgd", lr=preset.eta,
        momentum=preset.momentum, optimizer_args={"lmbda": preset.lmbda},
        val_fraction=1 / 6,  # the book's 50,000 / 10,000 train / validation split of MNIST's training set
    )


register_recipe(_scratch_recipe(
    "nielsen", "seed 004 / Nielsen ch. 1: NumPy 784-30-10 sigmoid, quadratic cost, SGD batch 10, eta 3.0, 30 epochs", 0.95))
register_recipe(_scratch_recipe(
    "nielsen-improved", "Nielsen ch. 3: NumPy 784-300-10 ReLU, softmax + log-likelihood, L2 5.0, scaled init", 0.98))
