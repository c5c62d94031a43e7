"""The one interface every training engine implements: `fit(recipe, data, hooks) -> FitResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from ..data import Split
from ..recipes import Recipe
from .distributed import SINGLE, Ranks
from .progress import Reporter

SaveModel = Callable[[Path, dict[str, Any]], None]  # write a model file holding these metrics


@dataclass
class FitData:
    """What an engine trains on: labelled arrays (uint8 (N, 28, 28) images, int64 labels)."""

    name: str  # the dataset spec, recorded in checkpoints
    classes: list[str]
    train: Split
    val: Split | None  # evaluated after every epoch; picks the best epoch and drives early stopping


@dataclass
class EpochEnd:
    """What an engine reports after each epoch: enough to write the run's files as it goes."""

    epoch: int
    history: list[dict[str, Any]]  # every epoch so far, this one last
    improved: bool  # this epoch is the best so far (training.history.best_record's rule)
    save_model: SaveModel  # this epoch's weights as a model file
    save_state: Callable[[Path], None] | None  # everything --resume needs; None: the engine cannot resume


@dataclass
class Hooks:
    """How an engine talks to its caller while it trains; the defaults say and write nothing."""

    reporter: Reporter = field(default_factory=lambda: Reporter(0, quiet=True))
    on_epoch_end: Callable[[EpochEnd], None] | None = None


@dataclass
class FitResult:
    history: list[dict[str, Any]]
    predictor: Any  # a digitrec.predict.Predictor of the kept epoch's weights (recipe.keep)
    params: int  # trainable parameters
    model_file: str  # the file name save_model writes in a run directory: model.pt, model.npz
    save_model: SaveModel  # the kept epoch's weights as a model file
    # the temperature fitted on the validation split after training (evaluation.calibration's
    # records), which the predictor and save_model already apply; fitted False without validation
    calibration: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)  # what the engine chose as it ran (e.g. precision), for metrics.json


class Engine(Protocol):
    name: str
    model_file: str
    can_resume: bool
    can_distribute: bool  # trains data-parallel under torchrun
    uses_torch: bool  # trains on a torch device; False: NumPy on the CPU, and torch is never imported

    def check(self, recipe: Recipe) -> None:
        """Refuse, with one line, a recipe this engine cannot run (unknown names, bad values)."""

    def fit(self, recipe: Recipe, data: FitData, hooks: Hooks, device: str = "cpu",
            resume: Path | None = None, ranks: Ranks = SINGLE) -> FitResult:
        """Train a fresh model as `recipe` says (or continue from the state file `resume`);
        with `ranks` of a torchrun job, data-parallel with the other ranks."""
