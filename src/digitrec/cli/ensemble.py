"""`digitrec ensemble`: several trained models as one model file that every command reads."""

from __future__ import annotations

from pathlib import Path

import typer

from . import app


@app.command("ensemble")
def ensemble_cmd(
    members: list[Path] = typer.Argument(..., metavar="RUN_OR_MODEL", readable=False,
                                         help="Two or more PyTorch models (.pt) or run folders; an ensemble is flattened into its members."),
    out: Path = typer.Option(Path("ensemble.pt"), "--out", "-o", help="Model file to write (.pt).", dir_okay=False),
) -> None:
    """Average the members' probabilities in one model file.

    evaluate, predict, read, serve, submit and export take the file like any model (export
    writes one ONNX graph). The file records each member's checkpoint, source file and sha256.
    """
    from ..models import write_ensemble

    checkpoint = write_ensemble(members, out)
    typer.echo(f"wrote {out} ({len(checkpoint['members'])} members, {out.stat().st_size / 1e6:.2f} MB)")
    for i, member in enumerate(checkpoint["members"], 1):
        accuracy = (member.get("metrics") or {}).get("test_accuracy")
        figure = f"test accuracy {accuracy:.4f}" if isinstance(accuracy, (int, float)) else "test accuracy not recorded"
        source = member["source"]
        via = f", in {source['via']['path']}" if source.get("via") else ""  # a member of an ensemble given as a member
        typer.echo(f"  {i}. {member['model']['name']:<14s} {figure}  {source.get('path')} (sha256 {str(source.get('sha256'))[:12]}{via})")
