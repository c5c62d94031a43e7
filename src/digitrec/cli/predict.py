"""`digitrec predict`, `read`, `export` and `serve`: a trained model on people's own images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterator, Optional

import typer

from . import app
from ..errors import DigitrecError

# readable=False: click would refuse an unreadable file with a usage error for the whole batch; each
# file is tried in turn instead, and one that cannot be read is reported (exit 1), the others predicted.
PathsArgument = typer.Argument(
    ..., metavar="[MODEL] IMAGES", readable=False,
    help="A model first (.pt, .pth, .npz, .onnx, or a run folder holding one), or none for the built-in model; "
         "then image files, or folders searched recursively for images.",
)
ModelOption = typer.Option(
    None, "--model", "-m", readable=False,
    help="The model (a file or run folder); every argument is then an image. Default: the first argument if it "
         "is a model, else the built-in one.",
)
JsonOption = typer.Option(False, "--json", help="Print a JSON array instead of one line per image.")


@app.command("predict")
def predict_cmd(
    paths: list[Path] = PathsArgument,
    model: Optional[Path] = ModelOption,
    as_json: bool = JsonOption,
    top_k: int = typer.Option(3, "--top-k", "-k", help="How many candidates to show per image (1 shows only the label)."),
    min_confidence: float = typer.Option(0.0, "--min-confidence", help="Below this probability (0..1) mark the image uncertain instead of guessing."),
) -> None:
    """Predict the digit in each image (photos, scans, drawings; any size, any polarity).

    Without a model the built-in one answers, and says so on stderr. A file that cannot be read
    is reported on stderr and skipped; the exit code is then 1.
    """
    predictor, paths = _model_and_images(model, paths)
    if not 1 <= top_k <= len(predictor.classes):
        raise DigitrecError(f"--top-k must be between 1 and {len(predictor.classes)}, got {top_k}")
    if not 0.0 <= min_confidence <= 1.0:
        raise DigitrecError(f"--min-confidence is a probability between 0 and 1, got {min_confidence}")

    def predict_one(path: Path) -> tuple[dict, str]:
        prediction = predictor.predict_image(path)
        uncertain = prediction.confidence < min_confidence
        top = prediction.top(top_k)
        record = {
            "path": str(path), "label": None if uncertain else prediction.label,
            "confidence": round(prediction.confidence, 6), "uncertain": uncertain,
            "probabilities": [round(float(p), 6) for p in prediction.probabilities],
            "top_k": [{"label": label, "confidence": round(p, 6)} for label, p in top],
        }
        if uncertain:
            return record, f"{path}: ? (uncertain: {_candidates(top)})"
        extra = f"  [top {top_k}: {_candidates(top)}]" if top_k > 1 else ""
        return record, f"{path}: {prediction.label} ({prediction.confidence:.3f}){extra}"

    _each_image(paths, predict_one, as_json)


@app.command("read")
def read_cmd(paths: list[Path] = PathsArgument, model: Optional[Path] = ModelOption, as_json: bool = JsonOption) -> None:
    """Read the whole number written in each image (digits left to right); without a model the
    built-in one answers, and says so on stderr."""
    predictor, paths = _model_and_images(model, paths)

    def read_one(path: Path) -> tuple[dict, str]:
        text, digits = predictor.read_number(path)
        if not digits:
            raise DigitrecError(f"no digits found in {path}")
        record = {"path": str(path), "text": text, "digits": [
            {"label": d.label, "confidence": round(d.confidence, 6), "box": list(d.box)} for d in digits
        ]}
        return record, f"{path}: {text}  ({', '.join(f'{d.label} {d.confidence:.2f}' for d in digits)})"

    _each_image(paths, read_one, as_json)


@app.command("export")
def export_cmd(
    model: Path = typer.Argument(..., help="A PyTorch checkpoint (model.pt) or a run directory holding one."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="ONNX file to write (default: model.onnx beside the checkpoint).", dir_okay=False),
    check: bool = typer.Option(True, "--check/--no-check", help="Run the file with onnxruntime and compare with PyTorch before writing it."),
) -> None:
    """Export a model to ONNX: input float32 (N, 1, 28, 28) in [0, 1], output probabilities (N, 10).

    Normalisation and softmax are baked into the graph; classes, model, recipe and normalisation
    are stored in the file's metadata_props (digitrec.*).
    """
    from ..export import export_checkpoint

    model = model.expanduser()
    if out is None:
        out = (model if model.is_dir() else model.parent) / "model.onnx"
    metadata = export_checkpoint(model, out, check=check)
    checked = "; onnxruntime agrees with PyTorch" if check else ""
    typer.echo(f"wrote {out} ({metadata['model']}, {out.stat().st_size / 1e6:.2f} MB){checked}")
    typer.echo(f"  input  {metadata['input']}")
    typer.echo(f"  output {metadata['output']}")


@app.command("serve")
def serve_cmd(
    model: Optional[Path] = typer.Argument(None, readable=False, help="A model file (.pt, .pth, .npz, .onnx) or a run directory; default: the built-in model."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 exposes the service to the network)."),
    port: int = typer.Option(8000, "--port", "-p", help="TCP port.", min=1, max=65535),
    backend: str = typer.Option("auto", "--backend", help="Run a .pt model with: auto (onnxruntime when installed, else torch), onnxruntime or torch."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="Server processes sharing the port; default: one per usable core, at most 4 (each holds its own copy of the model)."),
) -> None:
    """Serve a drawing page and a REST API (/api/predict, /api/read, /api/health, /docs).

    Without a model the built-in one answers, and says so on stderr.
    """
    from ..serve import bind, create_app, run
    from ..serve.backend import choose_backend, prepare
    from ..serve.workers import default_workers, run_workers

    workers = workers or default_workers()
    sock = bind(host, port)  # a busy port is one line, before the model loads and before any of uvicorn's
    try:
        if model is None:
            model = _builtin().path  # one line on stderr names it
        predictor, onnx, why = choose_backend(model, backend)
    except BaseException:
        sock.close()
        raise
    engine = "onnxruntime" if onnx is not None else predictor.metadata.get("engine")
    processes = f", {workers} worker processes" if workers > 1 else ""
    typer.echo(f"digitrec: serving {predictor.metadata.get('model')} from {predictor.path} with {engine}"
               f"{f' ({why})' if why else ''}{processes} at http://{host}:{port}/ (Ctrl+C stops)")
    if workers > 1:
        run_workers(sock, workers, predictor, onnx)
        return
    run(create_app(prepare(predictor, onnx)), sock)


def _model_and_images(model: Optional[Path], paths: list[Path]):
    """(Predictor, image paths): the model is --model, else the first argument if it names one
    (`looks_like_model`: a model suffix, or a folder holding a model file), else the built-in one."""
    from ..export.cache import load_fastest  # a .pt on onnxruntime from its cached export: no torch import
    from ..predict.load import looks_like_model

    if model is None and looks_like_model(paths[0]):
        model, paths = paths[0], paths[1:]
    if not paths:
        raise typer.BadParameter(f"no images after the model {model}; give image files or folders", param_hint="'[MODEL] IMAGES'")
    return (load_fastest(model) if model is not None else _builtin(load_fastest)), paths


def _builtin(loader=None):
    """The built-in model's Predictor, after one line on stderr naming it (stdout stays the results)."""
    from ..predict.builtin import load_builtin

    predictor, builtin = load_builtin(loader=loader)
    typer.echo(f"model: {builtin.describe()}", err=True)
    return predictor


def _each_image(paths: list[Path], handle: Callable[[Path], tuple[dict, str]], as_json: bool) -> None:
    """Run `handle(path) -> (JSON record, text line)` on every image: one JSON array, or one line each.

    A file that cannot be read is reported on stderr and skipped (an error record in the JSON);
    the exit code is then 1.
    """
    results, failed = [], False
    for path, problem in _image_files(paths):
        try:
            if problem:
                raise DigitrecError(problem)
            record, line = handle(path)
        except DigitrecError as exc:
            failed = True
            _report(path, exc)
            if as_json:
                results.append({"path": str(path), "error": str(exc)})
            continue
        if as_json:
            results.append(record)
        else:
            typer.echo(line)
    if as_json:
        typer.echo(_json_array(results))
    if failed:
        raise typer.Exit(1)


def _image_files(paths: list[Path]) -> Iterator[tuple[Path, Optional[str]]]:
    """(path, None) for each image to try, or (folder, problem) for a folder without images.

    Folders are searched recursively in sorted order, keeping image suffixes and skipping hidden
    files and folders; a file named on the command line is tried whatever its name.
    """
    from ..vision import IMAGE_SUFFIXES

    for path in paths:
        if not path.is_dir():
            yield path, None
            continue
        found = sorted(
            file for file in path.rglob("*")
            if file.suffix.lower() in IMAGE_SUFFIXES
            and not any(part.startswith(".") for part in file.relative_to(path).parts)
            and file.is_file()
        )
        if not found:
            yield path, f"{path}: no image files in this folder ({', '.join(sorted(IMAGE_SUFFIXES))})"
        yield from ((file, None) for file in found)


def _report(path: Path, exc: Exception) -> None:
    message = str(exc)
    typer.echo(f"digitrec: error: {message if str(path) in message else f'{path}: {message}'}", err=True)


def _json_array(results: list[dict]) -> str:
    """A JSON array with one result per line: readable, and still one document for `jq`."""
    return "[\n" + ",\n".join("  " + json.dumps(r) for r in results) + "\n]" if results else "[]"


def _candidates(top: list[tuple[str, float]]) -> str:
    return ", ".join(f"{label} {p:.2f}" for label, p in top)
