"""Training engines: how a recipe's model is fitted and checkpointed. `torch` is the default;
`scratch` (the NumPy network) registers itself from digitrec.scratch."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..inference import Predictor, torch_proba_fn
from ..recipes import Recipe
from .checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from .loop import EpochEnd, TensorSplit, fit
from .progress import Reporter
from .run import EngineResult, PreparedData, register_engine
from .rundir import RunDir


@register_engine("torch")
def train_torch(
    recipe: Recipe, data: PreparedData, device: str, run_dir: RunDir, reporter: Reporter, resume_from: Path | None
) -> EngineResult:
    from ..models import create_model

    model = create_model(recipe.model, num_classes=len(data.classes), **recipe.model_args)
    resume = None
    best_state = None
    if resume_from is not None:
        last = load_checkpoint(resume_from)
        model.load_state_dict(last["state_dict"])
        resume = last["training"]
        if (run_dir / "model.pt").is_file():
            best_state = load_checkpoint(run_dir / "model.pt")["state_dict"]
    model.to(device)
    train = TensorSplit.from_arrays(data.train.images, data.train.labels, device)
    val = TensorSplit.from_arrays(data.val.images, data.val.labels, device) if data.val is not None else None

    def checkpoint(metrics: dict[str, Any], epoch: int, training: dict[str, Any] | None = None) -> dict[str, Any]:
        return make_checkpoint(
            model, recipe.model, classes=data.classes, recipe=recipe.to_dict(), dataset=data.name,
            metrics=metrics, epoch=epoch, training=training,
        )

    def on_epoch_end(end: EpochEnd) -> None:
        nonlocal best_state
        record = end.history[-1]
        run_dir.write_history(end.history)
        if end.improved:
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
            run_dir.save("model.pt", lambda p: save_checkpoint(p, checkpoint(record, end.epoch)))
        run_dir.save("last.pt", lambda p: save_checkpoint(p, checkpoint(record, end.epoch, end.training_state())))

    history = fit(model, train, val, recipe, reporter=reporter, resume=resume, on_epoch_end=on_epoch_end)
    best_epoch = _best_epoch(history)
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    predictor = Predictor(
        torch_proba_fn(model, recipe.mean, recipe.std, device), data.classes,
        {"model": recipe.model, "engine": "torch", "recipe": recipe.to_dict()},
    )

    def save_best(metrics: dict[str, Any]) -> None:
        run_dir.save("model.pt", lambda p: save_checkpoint(p, checkpoint(metrics, best_epoch)))

    params = sum(p.numel() for p in model.parameters())
    return EngineResult(history, predictor, params, save_best)


def _best_epoch(history: list[dict[str, Any]]) -> int | None:
    with_val = [row for row in history if row.get("val_acc") is not None]
    if with_val:
        return max(with_val, key=lambda row: row["val_acc"])["epoch"]
    return history[-1]["epoch"] if history else None
