"""Datasets as ready arrays: uint8 images (N, 28, 28), ink high, and int64 labels (N,).

A dataset is named by a spec string: `mnist`, `fashion-mnist`, `kaggle:PATH` or `folder:PATH`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from .cache import load_arrays
from .kaggle import read_kaggle_csv
from .sources import SOURCES

DIGIT_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
SPEC_HELP = "mnist, fashion-mnist, kaggle:DIR (train.csv/test.csv) or folder:DIR (0/..9/ sub-folders)"


@dataclass
class Split:
    images: np.ndarray  # (N, 28, 28) uint8, ink high (MNIST convention)
    labels: np.ndarray | None  # (N,) int64; None for an unlabelled split such as Kaggle's test.csv

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: np.ndarray) -> "Split":
        return Split(self.images[indices], None if self.labels is None else self.labels[indices])


@dataclass
class Dataset:
    name: str  # the spec it was loaded from
    classes: tuple[str, ...]
    train: Split | None
    test: Split | None

    def split(self, name: str) -> Split:
        chosen = {"train": self.train, "test": self.test}.get(name)
        if chosen is None:
            available = [s for s in ("train", "test") if getattr(self, s) is not None]
            raise DatasetError(f"{self.name} has no '{name}' split; available: {', '.join(available)}")
        return chosen


def load_dataset(spec: str, data_dir: str | os.PathLike | None = None, download: bool = True) -> Dataset:
    """Load a dataset by spec; MNIST and Fashion-MNIST are fetched into the cache if needed."""
    kind, _, arg = spec.partition(":")
    if kind in SOURCES and not arg:
        return _load_idx_dataset(kind, data_dir, download)
    if kind == "kaggle" and arg:
        return _load_kaggle(Path(arg).expanduser(), spec)
    if kind == "folder" and arg:
        return _load_folder(Path(arg).expanduser(), spec)
    raise DatasetError(f"unknown dataset '{spec}'; choose from: {SPEC_HELP}")


def _load_idx_dataset(name: str, data_dir, download: bool) -> Dataset:
    arrays = load_arrays(name, data_dir, download=download)
    splits = {}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}-images"], arrays[f"{split}-labels"]
        if images.dtype != np.uint8 or images.shape[1:] != (28, 28) or len(images) != len(labels):
            raise DatasetError(f"{name} {split}-images: unexpected shape {images.shape}")
        splits[split] = Split(images, labels.astype(np.int64))
    classes = FASHION_CLASSES if name == "fashion-mnist" else DIGIT_CLASSES
    return Dataset(name, classes, splits["train"], splits["test"])


def _load_kaggle(path: Path, spec: str) -> Dataset:
    """`kaggle:DIR` reads DIR/train.csv and DIR/test.csv (either may be absent); a file path reads one."""
    if path.is_file():
        images, labels = read_kaggle_csv(path)
        split = Split(images, labels)
        return Dataset(spec, DIGIT_CLASSES, split if labels is not None else None, None if labels is not None else split)
    if not path.is_dir():
        raise DatasetError(f"{path}: no such file or folder; kaggle:PATH wants the folder holding train.csv/test.csv")
    found = {name: path / f"{name}.csv" for name in ("train", "test") if (path / f"{name}.csv").is_file()}
    if not found:
        raise DatasetError(f"{path}: neither train.csv nor test.csv is there; download them from Kaggle's Digit Recognizer")
    splits = {name: Split(*read_kaggle_csv(csv)) for name, csv in found.items()}
    if "train" in splits and splits["train"].labels is None:
        raise DatasetError(f"{found['train']}: train.csv has no label column")
    return Dataset(spec, DIGIT_CLASSES, splits.get("train"), splits.get("test"))


def _load_folder(path: Path, spec: str) -> Dataset:
    """`folder:DIR` with class sub-folders 0/..9/; or DIR/train and DIR/test each holding them."""
    if not path.is_dir():
        raise DatasetError(f"{path}: no such folder; folder:DIR wants sub-folders 0/ to 9/ of images")
    if (path / "train").is_dir() or (path / "test").is_dir():
        splits = {name: _read_class_folders(path / name) for name in ("train", "test") if (path / name).is_dir()}
        return Dataset(spec, DIGIT_CLASSES, splits.get("train"), splits.get("test"))
    return Dataset(spec, DIGIT_CLASSES, _read_class_folders(path), None)


def _read_class_folders(root: Path) -> Split:
    from ..vision import IMAGE_SUFFIXES  # vision loads PIL and SciPy: only when images are read

    images, labels = [], []
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and d.name in DIGIT_CLASSES)
    if not class_dirs:
        raise DatasetError(f"{root}: no class sub-folders; put each digit's images in {root}/0/ ... {root}/9/")
    for class_dir in class_dirs:
        for file in sorted(class_dir.rglob("*")):
            if file.suffix.lower() in IMAGE_SUFFIXES and not file.name.startswith("."):
                images.append(_read_digit_image(file))
                labels.append(int(class_dir.name))
    if not images:
        raise DatasetError(f"{root}: the class folders hold no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return Split(np.stack(images), np.asarray(labels, dtype=np.int64))


def _read_digit_image(path: Path) -> np.ndarray:
    """A 28x28 greyscale file is taken as it is (an exported MNIST digit); anything else, such as a
    photo or a scan, goes through the same preprocessing as `digitrec predict`."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.size == (28, 28) and image.mode == "L":
                return np.asarray(image, dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable image ({exc})") from None
    from ..vision import to_mnist

    try:
        return to_mnist(path)
    except ValueError as exc:
        raise DatasetError(f"{path}: {exc}") from None
