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
    """(kept, held) sorted indices: exactly scikit-learn's `train_test_split(arange(n), test_size=n_held,
    random_state=seed, stratify=...)` (StratifiedShuffleSplit / ShuffleSplit), written out in NumPy so
    that a training run does not import scikit-learn (1.3 s); tests/data/test_splits.py checks the two agree."""
    labels = np.asarray(labels)
    n_kept = len(labels) - n_held
    classes, y_indices, counts = np.unique(labels, return_inverse=True, return_counts=True)
    rng = np.random.RandomState(seed)
    # stratifying needs two of each class and room for every class on both sides
    if not (counts.min() >= 2 and len(counts) <= min(n_held, n_kept)):
        permutation = rng.permutation(len(labels))
        return np.sort(permutation[n_held:]), np.sort(permutation[:n_held])
    per_class = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(counts)[:-1])
    n_i = _approximate_mode(counts, n_kept, rng)
    t_i = _approximate_mode(counts - n_i, n_held, rng)
    kept, held = [], []
    for i in range(len(classes)):
        shuffled = per_class[i].take(rng.permutation(counts[i]), mode="clip")
        kept.append(shuffled[:n_i[i]])
        held.append(shuffled[n_i[i]:n_i[i] + t_i[i]])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def _approximate_mode(class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """scikit-learn's `utils.extmath._approximate_mode`: per-class draws in proportion, ties broken by `rng`."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            floored[rng.choice(inds, size=add_now, replace=False)] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)
