"""`digitrec train`, `digitrec recipes`, `digitrec models`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from .options import DataDirOption, DataOption, QuietOption


@app.command("recipes")
def recipes_cmd() -> None:
    """List the training recipes with their source and expected MNIST test accuracy."""
    from ..recipes import get_recipe, list_recipes

    names = list_recipes()
    width = max(map(len, names))
    for name in names:
        recipe = get_recipe(name)
        expected = f">= {recipe.expected_accuracy:.3f}" if recipe.expected_accuracy else "   -    "
        typer.echo(f"{name:<{width}s}  {recipe.model:<16s} {recipe.epochs:3d} epochs  expected {expected}  {recipe.source}")


@app.command("models")
def models_cmd() -> None:
    """List the network architectures in the model registry."""
    from ..models import list_models, model_info

    for name in list_models():
        typer.echo(str(model_info(name)))


@app.command("train")
def train_cmd(
    recipe: str = typer.Option("default", "--recipe", "-r", help="Recipe name (see `digitrec recipes`)."),
    data: str = DataOption,
    data_dir: Optional[Path] = DataDirOption,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory (default runs/<recipe>-<timestamp>).", file_okay=False),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (default: the recipe's)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=2, help="Train on a stratified subset of N training images."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue the run in this directory from its last.pt.", file_okay=False),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Number of passes over the training data."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Examples per optimizer step."),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", help="sgd, adam, adamw, rmsprop or adadelta."),
    momentum: Optional[float] = typer.Option(None, "--momentum", help="Momentum (sgd, rmsprop)."),
    nesterov: Optional[bool] = typer.Option(None, "--nesterov/--no-nesterov", help="Nesterov momentum (sgd)."),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay", help="L2 weight decay."),
    schedule: Optional[str] = typer.Option(None, "--schedule", help="constant, step, cosine, one-cycle or reduce-on-plateau."),
    augment: Optional[bool] = typer.Option(None, "--augment/--no-augment", help="Random affine augmentation of training batches."),
    val_fraction: Optional[float] = typer.Option(None, "--val-fraction", min=0.0, max=0.9, help="Share of training data held out for validation."),
    label_smoothing: Optional[float] = typer.Option(None, "--label-smoothing", min=0.0, max=0.5, help="Label smoothing of the cross-entropy."),
    grad_clip: Optional[float] = typer.Option(None, "--grad-clip", help="Clip the gradients' global L2 norm to this."),
    early_stopping: Optional[int] = typer.Option(None, "--early-stopping", min=1, help="Stop after N epochs without validation-loss improvement."),
    deterministic: bool = typer.Option(False, "--deterministic", help="Use PyTorch's deterministic algorithms."),
    quiet: bool = QuietOption,
) -> None:
    """Train a recipe; writes config, history, metrics, pictures and checkpoints to the run directory."""
    from ..recipes import get_recipe
    from ..training.run import RunOptions, resume_run, train_run

    if resume is not None:
        result = resume_run(resume, quiet=quiet, device=None if device == "auto" else device)
    else:
        chosen = get_recipe(recipe).replace(
            epochs=epochs, lr=lr, batch_size=batch_size, optimizer=optimizer, momentum=momentum,
            nesterov=nesterov, weight_decay=weight_decay, schedule=schedule, augment=augment,
            val_fraction=val_fraction, label_smoothing=label_smoothing, grad_clip=grad_clip,
            early_stopping=early_stopping, seed=seed,
        )
        options = RunOptions(
            data=data, data_dir=str(data_dir) if data_dir else None, out=str(out) if out else None,
            device=device, limit=limit, deterministic=deterministic, quiet=quiet,
        )
        result = train_run(chosen, options)
    summary = f"run directory: {result.run_dir}"
    if "test_accuracy" in result.metrics:
        summary += f"  test accuracy {result.metrics['test_accuracy']:.4f}"
    typer.echo(summary)
