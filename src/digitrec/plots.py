"""Every matplotlib figure digitrec draws, saved atomically as PNG (or any suffix matplotlib knows).

Figures are built with `matplotlib.figure.Figure` directly (no pyplot state), so drawing works
headless and from several threads or processes.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from .atomic import atomic_path

TRAIN_COLOUR = "tab:blue"
VAL_COLOUR = "tab:orange"


def _new_figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_figure(figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=(path.suffix[1:] or "png"), dpi=dpi)
    return path


def image_grid(
    images: np.ndarray,
    titles: Sequence[str],
    path: str | os.PathLike,
    columns: int | None = None,
    title_colours: Sequence[str] | None = None,
    suptitle: str | None = None,
) -> Path:
    """A grid of 28x28 digits (ink high), white ink on black as MNIST stores them, each titled."""
    count = len(images)
    columns = columns or max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / columns))
    figure = _new_figure(1.2 * columns, 1.35 * rows + (0.4 if suptitle else 0))
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i < count:
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            colour = title_colours[i] if title_colours else "black"
            ax.set_title(titles[i], fontsize=9, color=colour)
    if suptitle:
        figure.suptitle(suptitle)
    return save_figure(figure, path)


def class_balance(counts: dict[str, np.ndarray], classes: Sequence[str], path: str | os.PathLike) -> Path:
    """Bar chart of examples per class, one group of bars per split."""
    figure = _new_figure(max(6.0, 0.6 * len(classes) + 2), 3.6)
    ax = figure.subplots()
    width = 0.8 / max(1, len(counts))
    positions = np.arange(len(classes))
    for i, (split, values) in enumerate(counts.items()):
        bars = ax.bar(positions + (i - (len(counts) - 1) / 2) * width, values, width, label=f"{split} ({values.sum()})")
        ax.bar_label(bars, fontsize=7, padding=1)
    ax.set_xticks(positions, classes, rotation=30 if max(map(len, classes)) > 2 else 0)
    ax.set_ylabel("examples")
    ax.set_title("class balance")
    ax.legend()
    return save_figure(figure, path)
