"""Seeded index splits: stratified hold-out, stratified subsets and k-fold."""

from __future__ import annotations

import math

import numpy as np


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (train, validation) keeping class proportions; `fraction` goes to validation."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation fraction must be between 0 and 1, got {fraction}")
    n_val = min(max(1, math.ceil(fraction * len(labels))), len(labels) - 1)
    return _split(labels, n_val, seed)


def stratified_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of `n` examples with the class proportions of `labels` (all if n >= len)."""
    if n <= 0:
        raise ValueError(f"subset size must be positive, got {n}")
    if n >= len(labels):
        return np.arange(len(labels))
    return _split(labels, n, seed)[1]


def kfold_indices(
    labels: np.ndarray, folds: int, seed: int, stratified: bool = True
) -> list[tuple[np.ndarray, np.ndarray]]:
    """`folds` (train, held-out) index pairs; fixed by `seed`, so every recipe sees the same folds."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if folds < 2:
        raise ValueError(f"k-fold needs at least 2 folds, got {folds}")
    splitter = (StratifiedKFold if stratified else KFold)(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels))


def _split(labels: np.ndarray, n_held: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    counts = np.bincount(labels)
    counts = counts[counts > 0]
    # stratifying needs two of each class and room for every class on both sides
    can_stratify = counts.min() >= 2 and len(counts) <= min(n_held, len(labels) - n_held)
    kept, held = train_test_split(
        np.arange(len(labels)), test_size=n_held, random_state=seed,
        stratify=labels if can_stratify else None,
    )
    return np.sort(kept), np.sort(held)
