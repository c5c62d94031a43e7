"""`digitrec data ...`: fetch, inspect, picture and convert datasets."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import numpy as np
import typer

from . import app
from .options import DataDirOption, DataOption

data_app = typer.Typer(help="Fetch, inspect, picture and convert datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("fetch")
def fetch_cmd(
    dataset: str = typer.Option("mnist", "--dataset", "--data", "-d", help="mnist or fashion-mnist."),
    data_dir: Optional[Path] = DataDirOption,
    search: List[Path] = typer.Option([], "--from", help="Also look for the IDX files (raw or .gz) in this folder."),
) -> None:
    """Download (or find locally) a dataset, verify its checksums and cache it."""
    from ..data import fetch

    paths = fetch(dataset, data_dir, search, log=lambda line: typer.echo(line, err=True))
    folder = next(iter(paths.values())).parent
    typer.echo(f"{dataset}: {len(paths)} files verified in {folder}")


@data_app.command("verify")
def verify_cmd(
    dataset: str = typer.Option("mnist", "--dataset", "--data", "-d", help="mnist or fashion-mnist."),
    data_dir: Optional[Path] = DataDirOption,
) -> None:
    """Hash every cached file again (loads trust a file's stamp) and rebuild the decoded arrays from them."""
    from ..data.cache import load_arrays

    arrays = load_arrays(dataset, data_dir, verify=True, log=lambda line: typer.echo(line, err=True))
    typer.echo(f"{dataset}: {len(arrays)} files hashed and verified, decoded arrays rebuilt")


@data_app.command("info")
def info_cmd(
    dataset: str = DataOption,
    data_dir: Optional[Path] = DataDirOption,
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also draw the class balance to this PNG.", dir_okay=False),
) -> None:
    """Counts per split, class distribution and pixel statistics."""
    from ..data import load_dataset

    data = load_dataset(dataset, data_dir)
    counts = {}
    typer.echo(f"dataset {data.name}: {len(data.classes)} classes")
    for name in ("train", "test"):
        split = getattr(data, name)
        if split is None:
            continue
        pixels = split.images.astype(np.float32) / 255.0
        typer.echo(f"{name:5s} {len(split):6d} images  pixel mean {pixels.mean():.4f}  std {pixels.std():.4f}")
        if split.labels is None:
            typer.echo("      (unlabelled)")
            continue
        counts[name] = np.bincount(split.labels, minlength=len(data.classes))
        width = max(len(c) for c in data.classes)
        for label, count in enumerate(counts[name]):
            typer.echo(f"      {data.classes[label]:>{width}s} {count:6d}  {100 * count / len(split):5.2f}%")
    if plot is not None and counts:
        from ..evaluation.plots import class_balance

        typer.echo(f"class balance written to {class_balance(counts, data.classes, plot)}")


@data_app.command("show")
def show_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="PNG file to write the grid to.", dir_okay=False),
    dataset: str = DataOption,
    split: str = typer.Option("train", "--split", help="train or test."),
    n: int = typer.Option(25, "--n", min=1, max=400, help="Number of images."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Pick images at random with this seed (default: the first n)."),
    data_dir: Optional[Path] = DataDirOption,
) -> None:
    """Draw a labelled grid of images."""
    from ..data import load_dataset
    from ..evaluation.plots import image_grid

    data = load_dataset(dataset, data_dir)
    chosen = data.split(split)
    n = min(n, len(chosen))
    indices = np.arange(n) if seed is None else np.sort(np.random.default_rng(seed).choice(len(chosen), n, replace=False))
    titles = [data.classes[chosen.labels[i]] if chosen.labels is not None else f"#{i}" for i in indices]
    path = image_grid(chosen.images[indices], titles, out, suptitle=f"{data.name} {split}")
    typer.echo(f"wrote {path}")


@data_app.command("to-kaggle")
def to_kaggle_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write train.csv, test.csv and solution.csv into.", file_okay=False),
    dataset: str = typer.Option("mnist", "--dataset", "--data", "-d", help="mnist or fashion-mnist."),
    data_dir: Optional[Path] = DataDirOption,
) -> None:
    """Write a dataset in Kaggle "Digit Recognizer" CSV format (test labels go to solution.csv)."""
    from ..data import load_dataset, write_kaggle_csv, write_submission

    data = load_dataset(dataset, data_dir)
    write_kaggle_csv(out / "train.csv", data.train.images, data.train.labels)
    write_kaggle_csv(out / "test.csv", data.test.images)
    write_submission(out / "solution.csv", data.test.labels)
    typer.echo(f"wrote {out / 'train.csv'} ({len(data.train)} rows), {out / 'test.csv'} ({len(data.test)} rows), "
               f"{out / 'solution.csv'} (the test labels, to score a submission)")
