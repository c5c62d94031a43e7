"""Options shared by several verbs, so each is spelled and documented once."""

from __future__ import annotations

import typer

from ..data.datasets import SPEC_HELP

DATA_HELP = f"Dataset: {SPEC_HELP}."

DataOption = typer.Option("mnist", "--data", "--dataset", "-d", help=DATA_HELP, metavar="SPEC")
DataDirOption = typer.Option(
    None, "--data-dir", help="Dataset cache folder (default $DIGITREC_HOME or ~/.cache/digitrec).",
    file_okay=False,
)
QuietOption = typer.Option(False, "--quiet", "-q", help="No progress bars or per-epoch lines.")

