"""`digitrec cv` (k-fold cross-validation of a recipe) and `digitrec compare` (tables and paired tests)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from . import app
from .options import DataDirOption, DataOption, QuietOption, given, worker_args


@app.command("cv")
def cv_cmd(
    ctx: typer.Context,
    recipe: str = typer.Option(..., "--recipe", "-r", help="Recipe name (see `digitrec recipes`)."),
    folds: int = typer.Option(5, "--folds", "-k", min=2, help="Number of folds; each holds out 1/k of the training data."),
    stratified: bool = typer.Option(True, "--stratified/--no-stratified", help="Keep class proportions in every fold."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the folds; fold i trains with seed+i-1 (default: the recipe's)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Passes over each fold's training data."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Examples per optimizer step."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default `runs/cv-<recipe>-<timestamp>`).", file_okay=False),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Folds trained at once, each in its own process."),
    nproc: Optional[int] = typer.Option(None, "--nproc", min=1, help="Share the folds out over N torchrun processes "
                                        "(this machine; for several, run `torchrun ... -m digitrec cv ...`)."),
    threads: Optional[int] = typer.Option(
        None, "--threads", min=1,
        help="Torch CPU threads per fold (default: cores // workers). Results are bitwise equal for equal threads."),
    final: bool = typer.Option(False, "--final", help="Then train on all training data, save final/model.pt, test once."),
    data: str = DataOption,
    data_dir: Optional[Path] = DataDirOption,
    limit: Optional[int] = typer.Option(None, "--limit", min=2, help="Use a stratified subset of N training images."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    deterministic: bool = typer.Option(False, "--deterministic", help="Use PyTorch's deterministic algorithms."),
    quiet: bool = QuietOption,
) -> None:
    """k-fold cross-validation of a recipe: cv.json, cv.md, curves.png and boxplot.png in the output folder."""
    from ..recipes import get_recipe
    from ..training.crossval import CVOptions, cross_validate
    from ..training.distributed import ranks_from_env
    from ..training.run import RunOptions

    chosen = get_recipe(recipe).override(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    if nproc is not None:
        from ..training.launch import run_workers
        from ..training.run import check_recipe

        check_recipe(chosen)  # a bad recipe is refused here, once, rather than by every worker
        run_workers(nproc, worker_args(ctx, "cv", ctx.params, given(ctx, ctx.params) - {"nproc"}))
        return

    options = RunOptions(data=data, data_dir=str(data_dir) if data_dir else None, out=str(out) if out else None,
                         device=device, limit=limit, deterministic=deterministic, quiet=quiet)
    result = cross_validate(chosen, options, CVOptions(folds, stratified, workers, threads, final))
    if not ranks_from_env().writer:
        return
    s = result.summary
    line = (f"cv directory: {result.path}  accuracy {s['mean']:.4f} +- {s['std']:.4f} "
            f"(95% CI {s['ci95'][0]:.4f}-{s['ci95'][1]:.4f}, {folds} folds)")
    if s.get("final", {}).get("test_accuracy") is not None:
        line += f"  final test accuracy {s['final']['test_accuracy']:.4f}"
    typer.echo(line)


@app.command("compare")
def compare_cmd(
    dirs: List[Path] = typer.Argument(..., help="cv directories (`digitrec cv`) or run directories (`digitrec train`)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write compare.md, compare.json and boxplot.png here "
                                       "(default `runs/compare-<timestamp>`).", file_okay=False),
) -> None:
    """Table of mean, std, 95% CI, time and parameters; paired tests between cv results on the same folds."""
    from ..evaluation.compare import compare, format_markdown, write_comparison
    from ..training.rundir import default_run_dir

    comparison = compare(dirs)
    typer.echo(format_markdown(comparison), nl=False)
    written = write_comparison(comparison, out or default_run_dir("compare"))
    typer.echo(f"\nwrote {written}")
