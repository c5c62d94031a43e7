"""Every matplotlib figure digitrec draws, saved atomically as PNG (or any suffix matplotlib knows).

Figures are built with `matplotlib.figure.Figure` directly (no pyplot state), so drawing works
headless and from several threads or processes.
"""

from __future__ import annotations

import math
import os
import textwrap
from pathlib import Path
from typing import Sequence

import numpy as np

from ..atomic import atomic_path

TRAIN_COLOUR = "tab:blue"
VAL_COLOUR = "tab:orange"


def _new_figure(width: float, height: float, layout: str | None = "constrained"):
    """A Figure; the run's own pictures pass layout=None with fixed margins (constrained layout
    costs a few hundred ms a figure)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout=layout)


def save_figure(figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=(path.suffix[1:] or "png"), dpi=dpi)
    return path


_TILE_INCHES = 1.2  # width of one grid cell
_TITLE_INCHES = 0.3  # room for a two-line title above each digit
_SUPTITLE_INCHES = 0.4


def image_grid(
    images: np.ndarray,
    titles: Sequence[str],
    path: str | os.PathLike,
    columns: int | None = None,
    title_colours: Sequence[str] | None = None,
    suptitle: str | None = None,
) -> Path:
    """A grid of 28x28 digits (ink high), white ink on black as MNIST stores them, each titled.

    Drawn as one image (the digits tiled into a mosaic on white) plus one text per title: one
    Axes instead of one per digit, about 15x faster than subplots for a 36-digit gallery.
    """
    count = len(images)
    columns = columns or max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / columns))
    pad = 3  # px of white between digits, in the 28 px scale
    title_px = round(28 * _TITLE_INCHES / (_TILE_INCHES - 0.2))  # keep the 28 px digit ~1 inch wide
    cell_w, cell_h = 28 + 2 * pad, 28 + 2 * pad + title_px
    mosaic = np.full((rows * cell_h, columns * cell_w), 255, dtype=np.uint8)  # white paper
    for i in range(count):
        row, col = divmod(i, columns)
        top, left = row * cell_h + title_px + pad, col * cell_w + pad
        mosaic[top:top + 28, left:left + 28] = images[i]
    extra = _SUPTITLE_INCHES if suptitle else 0.0
    height = _TILE_INCHES * rows * cell_h / cell_w
    figure = _new_figure(_TILE_INCHES * columns, height + extra, layout=None)
    ax = figure.add_axes((0, 0, 1, height / (height + extra)))
    ax.set_axis_off()
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=255, interpolation="nearest", aspect="auto")
    for i in range(count):
        row, col = divmod(i, columns)
        ax.text(col * cell_w + cell_w / 2, row * cell_h + title_px + pad - 0.5, titles[i], ha="center", va="bottom",
                fontsize=9, color=title_colours[i] if title_colours else "black", linespacing=1.0)
    if suptitle:
        figure.suptitle(suptitle, y=1 - 0.1 * extra / (height + extra))
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


def learning_curves(history: Sequence[dict], path: str | os.PathLike, title: str = "") -> Path:
    """Loss and accuracy per epoch: training in blue, validation in orange (when present)."""
    figure = _new_figure(10, 4, layout=None)
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.88 if title else 0.95, wspace=0.25)
    loss_ax, acc_ax = figure.subplots(1, 2)
    epochs = [row["epoch"] for row in history]
    from matplotlib.ticker import MaxNLocator

    # "loss" is the engine's training cost: cross-entropy for torch recipes, the book's cost for scratch ones
    for ax, metric, label in ((loss_ax, "loss", "loss"), (acc_ax, "acc", "accuracy")):
        ax.plot(epochs, [row[f"train_{metric}"] for row in history], "o-", color=TRAIN_COLOUR, label="train", ms=3)
        val = [row.get(f"val_{metric}") for row in history]
        if any(v is not None for v in val):
            ax.plot(epochs, val, "o-", color=VAL_COLOUR, label="validation", ms=3)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def confusion_matrix(confusion: np.ndarray, classes: Sequence[str], path: str | os.PathLike, title: str = "") -> Path:
    """Counts with row-normalised shading, so errors stand out whatever the class sizes."""
    longest = max(map(len, classes))
    figure = _new_figure(7.5, 6.5, layout=None)
    margin = min(0.3, 0.06 + 0.012 * longest)  # room for the tick labels, long class names included
    figure.subplots_adjust(left=margin + 0.03, right=0.97, bottom=margin + 0.03, top=0.93)
    ax = figure.subplots()
    rates = confusion / np.clip(confusion.sum(axis=1, keepdims=True), 1, None)
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=ax, label="share of the true class")
    for (row, col), count in np.ndenumerate(confusion):
        if count:
            colour = "white" if rates[row, col] > 0.5 else "black"
            ax.text(col, row, str(count), ha="center", va="center", fontsize=8, color=colour)
    ticks = np.arange(len(classes))
    ax.set_xticks(ticks, classes, rotation=45 if max(map(len, classes)) > 2 else 0, ha="right" if max(map(len, classes)) > 2 else "center")
    ax.set_yticks(ticks, classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix")
    return save_figure(figure, path)


def misclassified(
    images: np.ndarray, labels: np.ndarray, predictions: np.ndarray, confidences: np.ndarray,
    classes: Sequence[str], path: str | os.PathLike, limit: int = 36,
) -> Path:
    """A grid of wrong predictions, the most confident mistakes first."""
    wrong = np.flatnonzero(predictions != labels)
    wrong = wrong[np.argsort(-confidences[wrong])][:limit]
    titles = [f"true {classes[labels[i]]}\npred {classes[predictions[i]]} {confidences[i]:.2f}" for i in wrong]
    suptitle = f"{len(np.flatnonzero(predictions != labels))} misclassified of {len(labels)}"
    if len(wrong) == 0:
        figure = _new_figure(4, 2)
        figure.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        return save_figure(figure, path)
    return image_grid(images[wrong], titles, path, columns=min(9, len(wrong)),
                      title_colours=["tab:red"] * len(wrong), suptitle=suptitle)


def box_plot(groups: dict[str, Sequence[float]], path: str | os.PathLike, ylabel: str = "accuracy", title: str = "") -> Path:
    """Box-and-whisker of scores per group (e.g. folds per recipe), points overlaid."""
    width = max(4.0, 1.6 * len(groups) + 1.5)  # inches
    figure = _new_figure(width, 4.5)
    ax = figure.subplots()
    names = list(groups)
    ax.boxplot([groups[n] for n in names], showmeans=True)
    ax.set_xticks(np.arange(1, len(names) + 1), names, rotation=20 if len(names) > 3 else 0)
    for i, name in enumerate(names, start=1):
        values = np.asarray(groups[name], dtype=float)
        ax.plot(np.full(len(values), i) + np.linspace(-0.08, 0.08, len(values)), values, ".", color="tab:gray", alpha=0.7)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(textwrap.fill(title, width=int(width * 9), break_on_hyphens=False))  # ~9 title characters per inch: no clipping
    return save_figure(figure, path)


def fold_curves(histories: Sequence[Sequence[dict]], path: str | os.PathLike, title: str = "") -> Path:
    """Seed 003's k-fold diagnostics: one figure, loss and accuracy subplots, every fold's training
    curve in blue and its held-out curve in orange (one legend entry each)."""
    from matplotlib.ticker import MaxNLocator

    figure = _new_figure(10, 4)
    loss_ax, acc_ax = figure.subplots(1, 2)

    # "loss" is the engine's training cost: cross-entropy for torch recipes, the book's cost for scratch ones
    for ax, metric, label in ((loss_ax, "loss", "loss"), (acc_ax, "acc", "accuracy")):
        for i, history in enumerate(histories):
            epochs = [row["epoch"] for row in history]
            ax.plot(epochs, [row[f"train_{metric}"] for row in history], "-", color=TRAIN_COLOUR, alpha=0.8,
                    label="train" if i == 0 else None)
            held = [row.get(f"val_{metric}") for row in history]
            if any(v is not None for v in held):
                ax.plot(epochs, held, "-", color=VAL_COLOUR, alpha=0.8, label="held-out fold" if i == 0 else None)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend()
    figure.suptitle(title or f"learning curves of {len(histories)} folds")
    return save_figure(figure, path)


def reliability_diagram(panels: dict[str, Sequence[dict]], path: str | os.PathLike, title: str = "") -> Path:
    """One panel per entry of `panels` (e.g. "before (T = 1)", "after (T = 1.4)"), each drawn from
    calibration.reliability_bins: per confidence bin, the accuracy (bars) against the diagonal a
    calibrated model would follow, the bin's mean confidence marked, the image count above."""
    figure = _new_figure(4.2 * len(panels), 4.6)
    axes = np.atleast_1d(figure.subplots(1, len(panels), sharey=True))
    for ax, (label, bins) in zip(axes, panels.items()):
        full = [b for b in bins if b["count"]]
        width = bins[0]["upper"] - bins[0]["lower"]
        centres = [(b["lower"] + b["upper"]) / 2 for b in full]
        ax.bar(centres, [b["accuracy"] for b in full], width=width * 0.92, color=TRAIN_COLOUR, alpha=0.8, label="accuracy")
        ax.plot([b["confidence"] for b in full], [b["accuracy"] for b in full], "o", color="tab:red", markersize=4,
                label="(mean confidence, accuracy)")
        ax.plot([0, 1], [0, 1], "--", color="tab:gray", label="calibrated")
        total = sum(b["count"] for b in full)
        gap = sum(b["count"] * abs(b["accuracy"] - b["confidence"]) for b in full) / total if total else 0.0
        for centre, b in zip(centres, full):  # how many images each bar stands for, just above it
            ax.text(centre, b["accuracy"] + 0.015, str(b["count"]), rotation=90, ha="center", va="bottom", fontsize=6,
                    color="tab:gray")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.12)  # room for the counts above a bar at accuracy 1
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_xlabel("confidence (top probability)")
        ax.set_title(f"{label}: ECE {gap:.4f}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy in the bin")
    axes[0].legend(loc="upper left", fontsize=8)
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)
