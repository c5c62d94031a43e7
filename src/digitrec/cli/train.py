"""`digitrec train`, `digitrec recipes`, `digitrec models`.

The train command's recipe options are generated from the fields of `Recipe` and of each
engine's arguments, so every field can be overridden and a new field is an option the day it
is added. A field the chosen recipe's engine does not have is refused by `Recipe.override`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from pathlib import Path
from typing import Any, Optional

import typer

from . import app
from .options import DataDirOption, DataOption, QuietOption, given, worker_args

recipes_app = typer.Typer(help="The training recipes: list them, or print one as TOML.", invoke_without_command=True)
app.add_typer(recipes_app, name="recipes")

# What --resume takes besides the run folder; every other option would change what the run is.
_RESUME_TAKES = {"resume", "epochs", "device", "quiet", "nproc", "max_restarts"}
_LAUNCHER = {"nproc", "max_restarts"}  # options of the launcher, not passed on to the workers


@recipes_app.callback()
def recipes_cmd(ctx: typer.Context) -> None:
    """List the training recipes with their source and expected MNIST test accuracy."""
    if ctx.invoked_subcommand is not None:
        return
    from ..recipes import get_recipe, list_recipes

    names = list_recipes()
    width = max(map(len, names))
    for name in names:
        recipe = get_recipe(name)
        expected = f">= {recipe.expected_accuracy:.3f}" if recipe.expected_accuracy else "   -    "
        typer.echo(f"{name:<{width}s}  {recipe.model:<16s} {recipe.epochs:3d} epochs  expected {expected}  {recipe.source}")


@recipes_app.command("show")
def recipes_show_cmd(name: str = typer.Argument(..., help="Recipe name (see `digitrec recipes`).")) -> None:
    """Print a recipe as TOML; edit it and train it with `digitrec train --config FILE`."""
    from ..recipes import get_recipe

    typer.echo(get_recipe(name).to_toml(), nl=False)


@app.command("models")
def models_cmd() -> None:
    """List the network architectures in the model registry."""
    from ..models import list_models, model_info

    for name in list_models():
        typer.echo(str(model_info(name)))


def _train(ctx: typer.Context, **values: Any) -> None:
    """Train a recipe; writes config, history, metrics, pictures and checkpoints to the run directory.

    Start from a named --recipe or a TOML --config (see `digitrec recipes show`); any recipe field
    can be overridden with its option. --resume continues a run from its last.pt, with nothing but
    --epochs (to extend it), --device and --quiet. --nproc N trains data-parallel in N processes
    (torchrun on this machine); for several machines run `torchrun ... -m digitrec train ...`.
    --seeds 1,2,3 trains one run per seed into DIR/seed-N/ (spread over the --nproc processes).
    """
    from ..errors import DigitrecError
    from ..recipes import get_recipe, read_recipe
    from ..training.run import RunOptions, check_recipe, resume_run, train_run

    chosen = given(ctx, values)
    fields = _recipe_fields()
    overrides = {name: _parse(name, values[name]) for name in fields if values[name] is not None}
    if values["resume"] is not None:
        refused = sorted(chosen - _RESUME_TAKES)
        if refused:
            raise DigitrecError(
                f"{_flags(refused)} cannot be combined with --resume: the run's recipe and options are fixed in "
                f"{values['resume'] / 'config.json'} (--resume takes --epochs to extend it, --device and --quiet); "
                "start a new run to change them"
            )
        if values["nproc"] is not None:
            return _launch(ctx, values, chosen)
        result = resume_run(values["resume"], epochs=overrides.get("epochs"), quiet=values["quiet"],
                            device=values["device"] if "device" in chosen else None)
    else:
        if values["config"] is not None and values["recipe"] is not None:
            raise DigitrecError("--recipe and --config both name a recipe; give one of them")
        base = read_recipe(values["config"]) if values["config"] is not None else get_recipe(values["recipe"] or "default")
        recipe = base.override(**overrides)
        options = RunOptions(
            data=values["data"], data_dir=str(values["data_dir"]) if values["data_dir"] else None,
            out=str(values["out"]) if values["out"] else None, device=values["device"], limit=values["limit"],
            deterministic=values["deterministic"], quiet=values["quiet"],
        )
        if values["nproc"] is not None:  # refuse a bad recipe here, once, rather than in every worker
            check_recipe(recipe)
            _refuse_data_parallel_scratch(recipe, values["seeds"])
            return _launch(ctx, values, chosen)
        if values["seeds"] is not None:
            _seed_study(recipe, options, values["seeds"])
            return
        result = train_run(recipe, options)
    from ..training.distributed import ranks_from_env

    if not ranks_from_env().writer:
        return  # rank 0 says what the run wrote
    summary = f"run directory: {result.run_dir}"
    if "test_accuracy" in result.metrics:
        summary += f"  test accuracy {result.metrics['test_accuracy']:.4f}"
    typer.echo(summary)



def _launch(ctx: typer.Context, values: dict[str, Any], chosen: set[str]) -> None:
    from ..training.launch import run_workers

    run_workers(values["nproc"], worker_args(ctx, "train", values, chosen - _LAUNCHER), values["max_restarts"])


def _refuse_data_parallel_scratch(recipe, seeds: str | None) -> None:
    from ..errors import DigitrecError
    from ..training.engines import get_engine

    if seeds is None and not get_engine(recipe.engine).can_distribute:
        raise DigitrecError(f"recipe {recipe.name}: the {recipe.engine} engine trains in one process and does not run "
                            "data-parallel (torchrun, --nproc); choose a torch recipe, or spread --seeds over processes")


def _seed_study(recipe, options, seeds_text: str) -> None:
    from ..errors import DigitrecError
    from ..training.distributed import ranks_from_env
    from ..training.seeds import train_seeds

    try:
        seeds = [int(part) for part in seeds_text.split(",") if part.strip()]
    except ValueError:
        raise DigitrecError(f"--seeds wants whole numbers separated by commas, e.g. 1,2,3; got {seeds_text}") from None
    summary = train_seeds(recipe, options, seeds)
    if ranks_from_env().writer:
        spread = f" +- {summary['std']:.4f}" if summary["std"] is not None else ""
        mean = f"  test accuracy {summary['mean']:.4f}{spread}" if summary["mean"] is not None else ""
        typer.echo(f"seed study: {summary['config']['options']['out']}  {len(summary['runs'])} runs{mean}")


def _flags(names: list[str]) -> str:
    return ", ".join("--" + name.replace("_", "-") for name in names)


def _parse(name: str, value: Any) -> Any:
    """Dict fields come as JSON text on the command line."""
    from ..recipes import parse_json_table

    return parse_json_table(_flags([name]), value) if isinstance(value, str) and _is_dict(name) else value


def _is_dict(name: str) -> bool:
    return _recipe_fields()[name][0] is dict


@functools.cache
def _recipe_fields() -> dict[str, tuple[type, bool, str]]:
    """Every overridable recipe field: (base type, optional, help), shared fields first."""
    from ..recipes import ENGINE_ARGS, Recipe, field_type, overridable_fields

    owners = [Recipe, *ENGINE_ARGS.values()]
    found = {}
    for name, spec in overridable_fields().items():
        owner = next(cls for cls in owners if name in {f.name for f in dataclasses.fields(cls)})
        base, optional = field_type(owner, name)
        found[name] = (base, optional, spec.metadata.get("help", ""))
    return found


def _option(name: str, base: type, help_text: str) -> tuple[Any, Any]:
    """(annotation, typer.Option) for a recipe field; every default is None, 'keep the recipe's'."""
    flag = "--" + name.replace("_", "-")
    if base is bool:
        return Optional[bool], typer.Option(None, f"{flag}/--no-{flag[2:]}", help=help_text, rich_help_panel="Recipe fields")
    kind = {dict: str, int: int, float: float, str: str}[base]
    metavar = "JSON" if base is dict else None
    return Optional[kind], typer.Option(None, flag, help=help_text, metavar=metavar, rich_help_panel="Recipe fields")


def _train_command():
    """`_train` with a signature typer can read: the fixed options, then one per recipe field."""
    fixed: list[tuple[str, Any, Any]] = [
        ("recipe", Optional[str], typer.Option(None, "--recipe", "-r", help="Recipe name (see `digitrec recipes`); default: default.")),
        ("config", Optional[Path], typer.Option(None, "--config", "-c", dir_okay=False,
                                                help="Train the recipe in this TOML file (see `digitrec recipes show`).")),
        ("data", str, DataOption),
        ("data_dir", Optional[Path], DataDirOption),
        ("out", Optional[Path], typer.Option(None, "--out", "-o", file_okay=False, help="Run directory (default `runs/<recipe>-<timestamp>`).")),
        ("device", str, typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps.")),
        ("limit", Optional[int], typer.Option(None, "--limit", min=2, help="Train on a stratified subset of N training images.")),
        ("resume", Optional[Path], typer.Option(None, "--resume", file_okay=False, help="Continue the run in this directory from its last.pt.")),
        ("nproc", Optional[int], typer.Option(None, "--nproc", min=1, help="Train data-parallel in N processes on this machine (torchrun).")),
        ("max_restarts", int, typer.Option(0, "--max-restarts", min=0, help="With --nproc: restart the job from rank 0's last.pt "
                                           "this many times when a rank dies.")),
        ("seeds", Optional[str], typer.Option(None, "--seeds", metavar="N,N,...", help="One run per seed into OUT/seed-N/, "
                                              "plus seeds.json and seeds.md (spread over --nproc processes).")),
        ("deterministic", bool, typer.Option(False, "--deterministic", help="Use PyTorch's deterministic algorithms.")),
        ("quiet", bool, QuietOption),
    ]
    parameters = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)]
    annotations: dict[str, Any] = {"ctx": typer.Context}
    for name, annotation, option in fixed:
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation))
        annotations[name] = annotation
    for name, (base, _, help_text) in _recipe_fields().items():
        annotation, option = _option(name, base, help_text)
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation))
        annotations[name] = annotation

    def train_cmd(ctx: typer.Context, **values: Any) -> None:
        _train(ctx, **values)

    train_cmd.__doc__ = _train.__doc__
    train_cmd.__signature__ = inspect.Signature(parameters)
    train_cmd.__annotations__ = annotations
    return train_cmd


app.command("train")(_train_command())
