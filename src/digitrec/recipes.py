"""Named training recipes: fields every engine shares plus typed arguments for one engine.

`Recipe` is the one source of truth for hyperparameters. A recipe holds exactly what its engine
runs: the torch engine's optimizer, schedule and augmentation live in `TorchArgs`, the NumPy
network's in `ScratchArgs`, so a recipe cannot carry a setting its engine would ignore. The CLI's
train options are generated from these fields, recipes read and write TOML, and the resolved
recipe is saved in every run's config.json and checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DigitrecError

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # pixel mean/std of the MNIST training set, in [0, 1] units
# Keras' RMSprop: rho 0.9, epsilon 1e-7 (torch's defaults are alpha 0.99, eps 1e-8). tf.keras adds
# epsilon *inside* the square root (sqrt(v + 1e-7)), torch outside (sqrt(v) + eps); eps = sqrt(1e-7)
# reproduces that floor to within a factor sqrt(2). With torch's placement and 1e-7 the seed-002
# network's training loss climbed after epoch 2 (measured: 0.19 -> 0.49 by epoch 12).
KERAS_RMSPROP = {"alpha": 0.9, "eps": 1e-7 ** 0.5}
KERAS_AUGMENT = {"rotation": 10.0, "zoom": 0.1, "shift": 0.1}  # seed 002's ImageDataGenerator


def _help(text: str, default: Any = None, factory: Any = None) -> Any:
    """A dataclass field whose help text (units, reasons) the CLI shows for its option."""
    if factory is not None:
        return field(default_factory=factory, metadata={"help": text})
    return field(default=default, metadata={"help": text})


@dataclass
class TorchArgs:
    """What only the PyTorch engine understands."""

    optimizer: str = _help("sgd, adam, adamw, rmsprop or adadelta.", "sgd")
    momentum: float = _help("Momentum (sgd, rmsprop).", 0.0)
    nesterov: bool = _help("Nesterov momentum (sgd).", False)
    weight_decay: float = _help("L2 coefficient added by the optimizer.", 0.0)
    optimizer_args: dict[str, Any] = _help("Extra optimizer arguments as JSON, e.g. '{\"eps\": 1e-7}'.", factory=dict)
    schedule: str = _help("constant, step, cosine, one-cycle or reduce-on-plateau.", "constant")
    schedule_args: dict[str, Any] = _help("Schedule arguments as JSON, e.g. '{\"step_size\": 1, \"gamma\": 0.7}'.", factory=dict)
    label_smoothing: float = _help("Label smoothing of the cross-entropy, 0..0.5.", 0.0)
    grad_clip: float | None = _help("Clip the gradients' global L2 norm to this (default: no clipping).")
    ema_decay: float | None = _help("Average the weights over steps, w_avg <- d w_avg + (1 - d) w, with this decay d "
                                    "(e.g. 0.999, ~1000 steps); validation, the best epoch and the model file use the "
                                    "average (default: no average).")
    augment: bool = _help("Random affine augmentation of training batches.", False)
    augment_args: dict[str, Any] = _help("Augmentation settings as JSON: rotation (deg), zoom, shift (fraction)...", factory=dict)
    mean: float = _help("Input normalisation inside the model: (pixels / 255 - mean) / std.", 0.0)
    std: float = _help("Input normalisation inside the model: (pixels / 255 - mean) / std.", 1.0)
    eval_batch_size: int = _help("Images per forward pass when evaluating (memory, not results).", 1000)
    precision: str = _help("Training arithmetic: fp32; bf16 (mixed: autocast forward, float32 weights); or auto: "
                           "bf16 where the hardware has fast bf16 (CUDA, CPUs with AMX or AVX512-BF16), else fp32.", "fp32")


@dataclass
class ScratchArgs:
    """What only the hand-written NumPy network understands (Nielsen's mini-batch SGD)."""

    momentum: float = _help("Momentum mu in v <- mu v - lr grad (0: plain SGD).", 0.0)
    lmbda: float = _help("L2 strength; weights shrink by (1 - lr * lmbda / n) per step (Nielsen's lambda).", 0.0)


ENGINE_ARGS: dict[str, type] = {"torch": TorchArgs, "scratch": ScratchArgs}
KEEP = ("best", "last")  # Recipe.keep: which epoch's weights a run's model.pt holds
# Fields that say what a recipe is rather than how it trains: set in a recipe file, not overridden.
_DESCRIPTIVE = ("name", "engine", "source", "expected_accuracy", "args")


@dataclass
class Recipe:
    name: str = _help("Recipe name (a run's folder is named after it).", "")
    model: str = _help("Model name (see `digitrec models`), or the scratch network's preset name.", "")
    model_args: dict[str, Any] = _help("Model arguments as JSON, e.g. '{\"hidden\": 64}'.", factory=dict)
    engine: str = _help("torch, or scratch for the hand-written NumPy network.", "torch")
    source: str = _help("The tutorial or reference it reproduces.", "")
    expected_accuracy: float | None = _help("MNIST test accuracy the source reports (a floor to beat).")
    epochs: int = _help("Passes over the training data.", 10)
    batch_size: int = _help("Examples per optimizer step.", 100)
    lr: float = _help("Learning rate, per optimizer step (not rescaled with the batch size).", 0.1)
    val_fraction: float = _help("Stratified share of the training split held out for validation, 0..0.9.", 0.0)
    early_stopping: int | None = _help("Stop after N epochs without a better validation accuracy (needs validation).")
    keep: str = _help("The epoch model.pt keeps: best (the highest validation accuracy, the earliest of equals; "
                      "the last epoch without validation) or last (the final weights, as a fixed schedule ends).", "best")
    seed: int = _help("Random seed (initialisation, shuffling, augmentation, splits).", 0)
    args: TorchArgs | ScratchArgs | None = None  # the engine's own arguments; None: its defaults

    def __post_init__(self) -> None:
        if self.engine not in ENGINE_ARGS:
            raise DigitrecError(f"recipe {self.name}: unknown engine '{self.engine}'; choose from: {', '.join(ENGINE_ARGS)}")
        if self.args is None:
            self.args = ENGINE_ARGS[self.engine]()
        elif not isinstance(self.args, ENGINE_ARGS[self.engine]):
            raise DigitrecError(f"recipe {self.name}: engine {self.engine} takes {ENGINE_ARGS[self.engine].__name__}, "
                                f"not {type(self.args).__name__}")

    def override(self, **values: Any) -> "Recipe":
        """A copy with shared or engine fields changed; None means 'keep the recipe's value'.

        A field the recipe's engine does not have is refused, naming the engine and what it takes.
        """
        values = {k: v for k, v in values.items() if v is not None}
        shared = {f.name for f in dataclasses.fields(Recipe)} - {"args"}
        own = {f.name for f in dataclasses.fields(self.args)}
        foreign = sorted(set(values) - shared - own)
        if foreign:
            raise DigitrecError(
                f"recipe {self.name} runs on the {self.engine} engine, which has no {_options(foreign)}; "
                f"it takes: {', '.join(sorted(overridable_fields(self.engine)))}"
            )
        args = dataclasses.replace(self.args, **{k: v for k, v in values.items() if k in own and k not in shared})
        return dataclasses.replace(self, **{k: v for k, v in values.items() if k in shared}, args=args)

    def check(self) -> None:
        """Refuse values no engine can run, before any data is loaded or folder made."""
        for name, value in (("epochs", self.epochs), ("batch_size", self.batch_size)):
            if value < 1:
                raise DigitrecError(f"recipe {self.name}: {name} must be at least 1, got {value}")
        if self.lr <= 0:
            raise DigitrecError(f"recipe {self.name}: lr (learning rate) must be positive, got {self.lr}")
        if not 0 <= self.val_fraction < 1:
            raise DigitrecError(f"recipe {self.name}: val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.early_stopping is not None and (self.early_stopping < 1 or not self.val_fraction):
            raise DigitrecError(f"recipe {self.name}: early_stopping needs a validation split (val_fraction > 0) "
                                f"and at least 1 epoch of patience, got {self.early_stopping}")
        if self.keep not in KEEP:
            raise DigitrecError(f"recipe {self.name}: keep '{self.keep}': choose {' or '.join(KEEP)}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def differences(self, recorded: dict[str, Any]) -> list[str]:
        """What a recipe recorded in a run's config.json sets otherwise than this one, as
        'epochs 30 there, 20 here'; the description (`source`) aside. Empty: the same recipe."""
        def fields(recipe: dict[str, Any]) -> dict[str, Any]:  # shared and engine names do not overlap
            return {k: v for k, v in recipe.items() if k not in ("args", "source")} | (recipe.get("args") or {})

        there = fields(recorded)
        here = fields(json.loads(json.dumps(self.to_dict())))  # tuples as lists, as config.json holds them
        return [f"{key} {there.get(key)!r} there, {value!r} here" for key, value in here.items() if there.get(key) != value]

    def to_toml(self) -> str:
        """The recipe as TOML (None values, which TOML cannot hold, are left out: they are the defaults)."""
        import tomli_w

        return tomli_w.dumps(_drop_none(self.to_dict()))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "recipe") -> "Recipe":
        """Build a recipe from plain data (TOML, config.json), refusing unknown keys and wrong types."""
        data = _from_flat_layout(dict(data))
        engine = data.get("engine", "torch")
        if engine not in ENGINE_ARGS:
            raise DigitrecError(f"{where}: unknown engine '{engine}'; choose from: {', '.join(ENGINE_ARGS)}")
        args = data.pop("args", None) or {}
        if not isinstance(args, dict):
            raise DigitrecError(f"{where}: 'args' must be a table of the {engine} engine's arguments")
        values = _typed(Recipe, data, where, skip={"args"})
        return cls(**values, args=ENGINE_ARGS[engine](**_typed(ENGINE_ARGS[engine], args, f"{where} [args]")))


def overridable_fields(engine: str | None = None) -> dict[str, dataclasses.Field]:
    """Fields a user may set, by name: the shared ones, then one engine's (or every engine's)."""
    found = {f.name: f for f in dataclasses.fields(Recipe) if f.name not in _DESCRIPTIVE}
    for name, args in ENGINE_ARGS.items():
        if engine in (None, name):
            found |= {f.name: f for f in dataclasses.fields(args) if f.name not in found}
    return found


def field_type(cls: type, name: str) -> tuple[type, bool]:
    """(base type, optional) of a field: `float | None` is (float, True), `dict[str, Any]` (dict, False)."""
    hint = typing.get_type_hints(cls)[name]
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    optional = type(None) in options
    base = next(o for o in options if o is not type(None))
    return typing.get_origin(base) or base, optional


def read_recipe(path: str | Path) -> Recipe:
    """A recipe from a TOML file; its name defaults to the file's stem."""
    path = Path(path).expanduser()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DigitrecError(f"{path}: no such recipe file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DigitrecError(f"{path}: cannot read the recipe ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise DigitrecError(f"{path}: not valid TOML ({exc})") from None
    data.setdefault("name", path.stem)
    recipe = Recipe.from_dict(data, where=str(path))
    if not recipe.model:
        raise DigitrecError(f"{path}: the recipe names no model (add model = \"...\"; see `digitrec models`)")
    return recipe


def parse_json_table(option: str, text: str) -> dict[str, Any]:
    """A JSON object given on the command line for a dict field, e.g. --schedule-args."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DigitrecError(f"{option}: not valid JSON ({exc}); give an object such as '{{\"gamma\": 0.7}}'") from None
    if not isinstance(value, dict):
        raise DigitrecError(f"{option}: expected a JSON object such as '{{\"gamma\": 0.7}}', got {text}")
    return value


def _options(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def _typed(cls: type, data: dict[str, Any], where: str, skip: set[str] = frozenset()) -> dict[str, Any]:
    """Check each key of `data` against the dataclass `cls`: known, and of the field's type."""
    known = {f.name for f in dataclasses.fields(cls)} - skip
    unknown = sorted(set(data) - known)
    if unknown:
        raise DigitrecError(f"{where}: unknown key {_options(unknown)}; known keys: {', '.join(sorted(known))}")
    values = {}
    for key, value in data.items():
        base, optional = field_type(cls, key)
        if value is None and optional:
            values[key] = None
        elif base is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            values[key] = float(value)
        elif isinstance(value, base) and not (base is int and isinstance(value, bool)):
            values[key] = value
        else:
            wanted = {float: "a number", int: "an integer", bool: "true or false", str: "a string", dict: "a table"}[base]
            raise DigitrecError(f"{where}: '{key}' must be {wanted}, got {value!r}")
    return values


def _from_flat_layout(data: dict[str, Any]) -> dict[str, Any]:
    """Recipes saved before engine arguments had their own table (config.json of older runs):
    torch-only keys sat beside the shared ones, and the scratch engine kept lmbda in optimizer_args."""
    if "args" in data:
        return data
    shared = {f.name for f in dataclasses.fields(Recipe)}
    engine = data.get("engine", "torch")
    flat = {k: data.pop(k) for k in list(data) if k not in shared}
    if engine == "scratch":
        flat = {"momentum": flat.get("momentum", 0.0), "lmbda": (flat.get("optimizer_args") or {}).get("lmbda", 0.0)}
    data["args"] = flat
    return data


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value


_RECIPES: dict[str, Recipe] = {}


def register_recipe(recipe: Recipe) -> Recipe:
    _RECIPES[recipe.name] = recipe
    return recipe


def list_recipes() -> list[str]:
    return list(_RECIPES)


def get_recipe(name: str) -> Recipe:
    if name not in _RECIPES:
        raise DigitrecError(f"unknown recipe '{name}'; choose from: {', '.join(_RECIPES)}")
    return dataclasses.replace(_RECIPES[name], args=dataclasses.replace(_RECIPES[name].args))


register_recipe(Recipe(
    name="default", model="cnn-deep",
    # What `make run` trains: the k-fold study's deeper CNN with a modern schedule (Adam,
    # one-cycle, batch 128), so that about a minute on 2 CPU cores gives ~99%.
    source="digitrec: seed 003's cnn-deep, Adam + one-cycle, batch 128, 2 epochs (about a minute on 2 cores)",
    expected_accuracy=0.99, epochs=2, batch_size=128, lr=3e-3,
    args=TorchArgs(optimizer="adam", schedule="one-cycle", mean=MNIST_MEAN, std=MNIST_STD),
))
register_recipe(Recipe(
    name="fast", model="fast-cnn",
    # 99% in one pass over MNIST. One epoch of Adam + one-cycle at batch 256 reached 98.8-98.9%;
    # label smoothing 0.1 lifted it to 99.0-99.1% (benchmarks/results/time_to_99.md has the seeds).
    # bf16 where the CPU has native bf16 (AMX, AVX512-BF16): the same accuracy in about half the time.
    source="digitrec: 2-conv CNN, Adam + one-cycle lr 1e-2, batch 256, label smoothing 0.1, 1 epoch, 2% validation for calibration (seconds on 2 cores)",
    # Label smoothing leaves the model under-confident (max probability ~0.9: ECE 0.11 on the test
    # set); 2% held out (1,200 images) fits the temperature that undoes it.
    expected_accuracy=0.99, epochs=1, batch_size=256, lr=1e-2, val_fraction=0.02,
    args=TorchArgs(optimizer="adam", schedule="one-cycle", label_smoothing=0.1, mean=MNIST_MEAN, std=MNIST_STD,
                   precision="auto"),
))
register_recipe(Recipe(
    name="best", model="best-cnn",
    # Deotte's Kaggle CNN (batch norm, strided 5x5 convs for pooling) with his augmentation, on a
    # fixed one-cycle schedule, kept as the exponential moving average of its weights at the end
    # (An et al.'s 0.999: ~1,000 steps of the 8,900; they report final epochs). No choice looks at
    # the test set: the 5% validation split is watched and fits the calibration.
    # keep="last": picking the epoch by validation accuracy, 3,000 images where epochs 10-20 differ
    # by 1-2 of them, chose mid-schedule epoch 10 for seed 0 in bf16 (val 0.9970 vs 0.9963 at 20;
    # its validation loss was lowest at 17; that epoch tested 99.51%, the final weights 99.69%).
    # dropout 0.25 (Deotte's 0.4 before): over seeds 0-2 the final validation accuracy 0.9969 vs
    # 0.9966 and validation loss 0.0122 vs 0.0125 (per seed 0.0087/0.0157/0.0123 vs 0.0106/0.0156/
    # 0.0112: mixed). As it is: 99.70% mean of seeds 0-2 (99.68, 99.72, 99.71%) in bf16 on Zen 4,
    # 16.8-19.2 min each on a noisy host (benchmarks/results/best.md); with dropout 0.4 99.69%
    # (99.69, 99.73, 99.64%; seeds 3, 4 99.65, 99.73%) in 14.4-15.3 min (best-dropout04.md): the
    # same seeds differ by -1, -1, +7 test images, within the seed-to-seed spread.
    # With nn.Dropout's masks (bernoulli_, a step 9% slower) and 0.4: 99.68%
    # (99.69, 99.68, 99.67%) in 16.3-17.6 min (best-nndropout-bf16.md); with label smoothing 0.1
    # 99.67% for seeds 0 and 1 (best-ls01.md); 30 epochs (Deotte's) 99.66% for seed 0 in 24.3 min;
    # Simard's elastic distortion on top (augment_args elastic_alpha 36, elastic_sigma 6) 99.64% for
    # seed 0 in 18.6 min, its final validation loss 0.0130 against 0.0106 (best-elastic-seed0.md).
    # Earlier versions: 10 epochs without the average 99.41-99.70% over 5 seeds in bf16
    # (best-10epochs.md); 20 with it and keep best 99.71% mean of 3 (99.69, 99.74, 99.70%) in fp32
    # (best-keepbest-fp32.md). Shorter, to fit 30 minutes on 2 AVX2 cores, each fell short: 14
    # epochs 99.66% mean of 3 (best-14epochs.md); Deotte's valid 3x3 convs (model_args padding
    # "valid", half the FLOPs) 99.64% for seed 0 in 28.7 min (best-valid-seed0.md). torch.compile
    # made no step faster there.
    source="digitrec: Deotte's Kaggle MNIST CNN with batch norm, dropout 0.25; Adam + one-cycle lr 3e-3, "
    "batch 128, rotation 10 / zoom 0.1 / shift 0.1, weight EMA 0.999, 5% validation, 20 epochs",
    # 1.9-2.9 ms a training image on 2 AVX2 cores (fp32, augmentation included; the shared host's
    # speed swings): 20 epochs took 55-75 min there (~36 at its fastest step, 239 ms); with native
    # bf16 (Zen 4, AVX512-BF16) 0.77 ms an image, 43-45 s an epoch.
    expected_accuracy=0.997, epochs=20, batch_size=128, lr=3e-3, val_fraction=0.05, keep="last",
    model_args={"dropout": 0.25},
    args=TorchArgs(optimizer="adam", schedule="one-cycle", ema_decay=0.999, augment=True,
                   augment_args=dict(KERAS_AUGMENT), mean=MNIST_MEAN, std=MNIST_STD, precision="auto"),
))
register_recipe(Recipe(
    name="mxnet-mlp", model="mlp",
    source="seed 001 (MXNet MLP 128-64-10): SGD lr 0.1, batch 100, 10 epochs; reports ~0.96-0.97",
    expected_accuracy=0.97, epochs=10, batch_size=100, lr=0.1, args=TorchArgs(optimizer="sgd"),
))
register_recipe(Recipe(
    name="mxnet-lenet", model="lenet",
    # seed 000 trains 5 GPU epochs at lr 0.05, seed 001 10 epochs at lr 0.1: we keep seed 000's
    # optimizer (momentum, weight decay) and seed 001's 10 epochs.
    source="seeds 000/001 (MXNet LeNet): SGD lr 0.05 momentum 0.9 wd 1e-5, batch 100, 10 epochs",
    expected_accuracy=0.99, epochs=10, batch_size=100, lr=0.05,
    args=TorchArgs(optimizer="sgd", momentum=0.9, weight_decay=1e-5),
))
register_recipe(Recipe(
    name="keras-kaggle", model="kaggle-cnn",
    # The seed standardises every pixel by its own mean/std (tiny std at the borders blows rare ink
    # up to huge values) and, by mistake, standardises the labels too; we standardise with MNIST's
    # global mean/std and leave the labels alone.
    source="seed 002 (Keras Kaggle CNN): RMSprop, batch 32, rotation/zoom/shift augmentation, 5% "
    "validation, best epoch by val accuracy, ReduceLROnPlateau on val loss, 50 epochs",
    expected_accuracy=0.994, epochs=50, batch_size=32, lr=0.001, val_fraction=0.05,
    args=TorchArgs(optimizer="rmsprop", optimizer_args=dict(KERAS_RMSPROP), schedule="reduce-on-plateau",
                   augment=True, augment_args=dict(KERAS_AUGMENT), mean=MNIST_MEAN, std=MNIST_STD),
))
for _name, _accuracy in (("cnn-baseline", 0.985), ("cnn-baseline-bn", 0.985), ("cnn-deep", 0.99)):
    register_recipe(Recipe(
        name=_name, model=_name,
        source="seed 003 (k-fold CNN study): SGD lr 0.01 momentum 0.9, batch 32, 10 epochs",
        expected_accuracy=_accuracy, epochs=10, batch_size=32, lr=0.01, args=TorchArgs(optimizer="sgd", momentum=0.9),
    ))
register_recipe(Recipe(
    name="reference", model="reference",
    source="pytorch/examples mnist: Adadelta lr 1.0, StepLR gamma 0.7, batch 64, 14 epochs",
    expected_accuracy=0.99, epochs=14, batch_size=64, lr=1.0,
    args=TorchArgs(optimizer="adadelta", schedule="step", schedule_args={"step_size": 1, "gamma": 0.7},
                   mean=MNIST_MEAN, std=MNIST_STD),
))
# The NumPy network (Nielsen's book). val_fraction 1/6 is the book's 50,000 / 10,000 train /
# validation split of MNIST's training set; model.npz keeps the best epoch by validation accuracy.
register_recipe(Recipe(
    name="nielsen", model="nielsen", engine="scratch",
    source="seed 004 / Nielsen ch. 1: NumPy 784-30-10 sigmoid, quadratic cost, SGD batch 10, eta 3.0, 30 epochs",
    expected_accuracy=0.95, epochs=30, batch_size=10, lr=3.0, val_fraction=1 / 6,
    model_args={"sizes": [784, 30, 10], "activation": "sigmoid", "output": "sigmoid", "cost": "quadratic",
                "init": "normal", "dtype": "float32"},
    args=ScratchArgs(),
))
# Chapter 3's tools: softmax + log-likelihood, L2, scaled init, with ReLU hidden units. 300 of
# them, because 784-100-10 sigmoid + cross-entropy (eta 0.1 or 0.5, lmbda 5) stalled at ~97.7%
# test accuracy in 30 epochs here; this one passes 98% in 10-20 epochs.
register_recipe(Recipe(
    name="nielsen-improved", model="nielsen-improved", engine="scratch",
    source="Nielsen ch. 3: NumPy 784-300-10 ReLU, softmax + log-likelihood, L2 5.0, scaled init",
    expected_accuracy=0.98, epochs=20, batch_size=10, lr=0.05, val_fraction=1 / 6,
    model_args={"sizes": [784, 300, 10], "activation": "relu", "output": "softmax", "cost": "log-likelihood",
                "init": "scaled", "dtype": "float32"},
    args=ScratchArgs(lmbda=5.0),
))
