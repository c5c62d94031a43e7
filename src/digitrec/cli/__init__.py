"""The `digitrec` command line: a thin typed layer over the Python API (one module per verb group)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import typer
from typer.core import TyperGroup

from .. import __version__
from ..errors import DigitrecError, RankLostError, Terminated


class _FriendlyErrors(TyperGroup):
    """Turns errors into one line on stderr: exit 1 for runtime errors, 2 for usage (typer's own).

    `--debug` (or DIGITREC_DEBUG=1) lets the exception through with its traceback instead.
    """

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except (typer.TyperException, typer.Exit, typer.Abort):  # usage errors, --help, exits
            raise
        except BrokenPipeError:
            # `digitrec ... | head` closed our stdout: not an error worth a message.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(141) from None
        except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM as Terminated
            if _debug(ctx):
                raise
            terminated = isinstance(stop, Terminated)
            if not (terminated and _launched_worker()):  # torchrun stopping the other ranks of a
                # failed or stopped job: `--nproc`'s launcher says what happened
                typer.echo("digitrec: terminated" if terminated else "digitrec: interrupted", err=True)
            raise typer.Exit(128 + (signal.SIGTERM if terminated else signal.SIGINT)) from None
        except Exception as exc:  # noqa: BLE001 - the whole point is one line, not a traceback
            if _debug(ctx):
                raise
            if not _said_elsewhere(exc):
                typer.echo(f"digitrec: error: {_rank()}{_describe(exc)}", err=True)
            raise typer.Exit(1) from None


def _said_elsewhere(exc: Exception) -> bool:
    """Under `--nproc`, a rank that lost its peers is reported by the launcher, which names the
    rank that died."""
    return isinstance(exc, RankLostError) and _launched_worker()


def _launched_worker() -> bool:
    """A worker that `--nproc` started (torchrun gives workers a RANK; the launcher has none)."""
    return os.environ.get("DIGITREC_LAUNCHER") == "1" and "RANK" in os.environ


def _rank() -> str:
    """'rank N: ' for a torchrun worker other than rank 0 (rank 0 speaks for the job)."""
    rank = os.environ.get("RANK", "0") if int(os.environ.get("WORLD_SIZE", "1")) > 1 else "0"
    return "" if rank == "0" else f"rank {rank}: "


def _raise_terminated(signum: int, frame) -> None:
    raise Terminated()


def _debug(ctx: typer.Context) -> bool:
    return bool(ctx.params.get("debug")) or os.environ.get("DIGITREC_DEBUG") == "1"


def _describe(exc: Exception) -> str:
    if isinstance(exc, DigitrecError):
        return str(exc)
    if isinstance(exc, (FileExistsError, NotADirectoryError)) and exc.filename:
        # an output folder whose path runs through a file: errno's "File exists" says little
        blocking = next((p for p in (Path(exc.filename), *Path(exc.filename).parents) if p.is_file()), None)
        if blocking is not None:
            return f"{blocking}: is a file where a folder is needed for the output; choose another --out"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    # Anything else is a bug in digitrec rather than bad input: say so, point at --debug.
    return f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)"


app = typer.Typer(
    cls=_FriendlyErrors,
    help="Handwritten-digit recognition: data, recipes, training, evaluation, prediction, serving.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"digitrec {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Show the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks instead of one-line errors."),
) -> None:
    """digitrec: train, compare, understand and deploy digit classifiers."""


def _register() -> None:
    # Imported here so each verb module can `from . import app` without a cycle.
    from . import cv, data, ensemble, evaluate, predict, train  # noqa: F401


_register()


def main() -> None:
    # Idle OpenMP threads sleep instead of spinning. With spinning (the default), a 2-core machine
    # doing anything else at the same time trains 6-7x slower: one epoch of the default recipe on
    # 6000 images took 36.4 s and 51.3 s spinning, 4.9 s and 8.4 s sleeping (load average ~6).
    # OMP_WAIT_POLICY=ACTIVE gets spinning back. It must be set before torch loads its OpenMP
    # runtime, which every verb does lazily, after this.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        app(prog_name="digitrec")
    except SystemExit as exc:
        code = exc.code
    else:  # pragma: no cover - typer's standalone mode always ends in SystemExit
        code = 0
    finally:
        # The command is over; a SIGTERM from here on (torchrun stopping the other ranks of a failed
        # job while this one runs its atexit clean-up) ends the process as SIGTERM does, instead of
        # raising Terminated inside an atexit callback, which prints a traceback.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    from ..training.distributed import end_worker, joined_a_job

    if joined_a_job():  # a torchrun worker skips the interpreter's teardown (end_worker says why)
        end_worker(code)
    raise SystemExit(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
