"""The Kaggle "Digit Recognizer" CSV format: train.csv, test.csv and the submission file.

train.csv: header `label,pixel0,...,pixel783`, then one image a row, pixel x = row*28 + col,
0..255 with ink high. test.csv: the same without the label column. submission: `ImageId,Label`
with ImageId counted from 1 in test.csv row order.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..errors import DatasetError

PIXELS = 28 * 28
PIXEL_HEADER = [f"pixel{i}" for i in range(PIXELS)]
_LOADTXT_ROW = re.compile(r"at row (\d+), column (\d+)")
_INT_STRINGS = np.array([str(i) for i in range(256)], dtype=object)  # fast uint8 -> text


def read_kaggle_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a Kaggle digit CSV; return images uint8 (N, 28, 28) and labels int64 (N,) or None.

    Whether the file is labelled is read from its header (train.csv starts with `label`).
    Raises DatasetError naming the file and the first bad line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # Excel likes to add a byte-order mark
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not a text CSV file (cannot decode as UTF-8)") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DatasetError(f"{path}: empty file; expected a header `label,pixel0,...,pixel783`")
    header = [name.strip().strip('"') for name in lines[0].split(",")]
    labelled = header[:1] == ["label"]
    if header[int(labelled):] != PIXEL_HEADER:
        raise DatasetError(
            f"{path}: line 1: header is not Kaggle's digit format; expected `label,pixel0,...,pixel783` "
            f"(train.csv) or `pixel0,...,pixel783` (test.csv), found {len(header)} columns "
            f"starting {','.join(header[:3])}"
        )
    body = lines[1:]
    if not body:
        raise DatasetError(f"{path}: has a header but no rows")
    columns = PIXELS + int(labelled)
    commas = np.fromiter((line.count(",") for line in body), dtype=np.int64, count=len(body))
    bad = np.flatnonzero(commas != columns - 1)
    if bad.size:
        row = int(bad[0])
        raise DatasetError(f"{path}: line {row + 2}: expected {columns} columns, found {commas[row] + 1}")
    try:
        values = np.loadtxt(body, delimiter=",", dtype=np.int64, ndmin=2)
    except ValueError as exc:
        where = _LOADTXT_ROW.search(str(exc))
        line = f"line {int(where.group(1)) + 2}" if where else "a row"  # row is 0-based, after the header
        raise DatasetError(f"{path}: {line}: a value is not an integer ({str(exc).split(' at row')[0]})") from None
    out_of_range = (values < 0) | (values > 255)
    if labelled:
        out_of_range[:, 0] = (values[:, 0] < 0) | (values[:, 0] > 9)
    if out_of_range.any():
        row, col = np.argwhere(out_of_range)[0]
        what = "label must be 0..9" if labelled and col == 0 else "pixel must be 0..255"
        raise DatasetError(f"{path}: line {row + 2}, column {col + 1}: {what}, found {values[row, col]}")
    labels = values[:, 0].copy() if labelled else None
    images = values[:, int(labelled):].astype(np.uint8).reshape(-1, 28, 28)
    return images, labels


def write_kaggle_csv(path: str | os.PathLike, images: np.ndarray, labels: np.ndarray | None = None) -> None:
    """Write images (N, 28, 28) uint8 and optional labels as a Kaggle CSV, atomically."""
    flat = np.asarray(images, dtype=np.uint8).reshape(len(images), PIXELS)
    header = (["label"] if labels is not None else []) + PIXEL_HEADER
    with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(header) + "\n")
        cells = _INT_STRINGS[flat]
        prefix = [f"{int(label)}," for label in labels] if labels is not None else [""] * len(flat)
        handle.writelines(first + ",".join(row) + "\n" for first, row in zip(prefix, cells))


def write_submission(path: str | os.PathLike, labels: np.ndarray) -> None:
    """Write the Kaggle submission `ImageId,Label` (ImageId counted from 1), atomically."""
    with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("ImageId,Label\n")
        handle.writelines(f"{i},{int(label)}\n" for i, label in enumerate(labels, start=1))
