"""Options shared by several verbs, so each is spelled and documented once."""

from __future__ import annotations

from typing import Any

import typer

from ..data.datasets import SPEC_HELP

DATA_HELP = f"Dataset: {SPEC_HELP}."

DataOption = typer.Option("mnist", "--data", "--dataset", "-d", help=DATA_HELP, metavar="SPEC")
DataDirOption = typer.Option(
    None, "--data-dir", help="Dataset cache folder (default $DIGITREC_HOME or ~/.cache/digitrec).",
    file_okay=False,
)
QuietOption = typer.Option(False, "--quiet", "-q", help="No progress bars or per-epoch lines.")



def given(ctx: typer.Context, names) -> set[str]:
    """The options the user gave (on the command line or in the environment), not their defaults."""
    found = set()
    for name in names:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"):
            found.add(name)
    return found


def worker_args(ctx: typer.Context, verb: str, values: dict[str, Any], names: set[str]) -> list[str]:
    """The command line a torchrun worker runs: the verb and the options named, as the user gave them."""
    args = [verb]
    for param in ctx.command.params:
        if param.name not in names:
            continue
        value = values[param.name]
        if isinstance(value, bool):
            args += (param.opts if value else param.secondary_opts)[:1]
        else:
            args += [param.opts[0], str(value)]
    return args
