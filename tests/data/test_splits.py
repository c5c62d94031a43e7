import numpy as np
import pytest

from digitrec.data import kfold_indices, stratified_split, stratified_subset


@pytest.fixture
def labels():
    return np.random.default_rng(1).choice(10, size=1000, p=np.linspace(1, 2, 10) / np.linspace(1, 2, 10).sum())


def test_stratified_split_is_disjoint_covering_balanced_and_seeded(labels):
    train, val = stratified_split(labels, 0.2, seed=3)
    assert len(np.intersect1d(train, val)) == 0
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(len(labels)))
    assert len(val) == 200
    overall = np.bincount(labels, minlength=10) / len(labels)
    assert np.abs(np.bincount(labels[val], minlength=10) / len(val) - overall).max() < 0.01
    again = stratified_split(labels, 0.2, seed=3)
    assert np.array_equal(again[1], val)
    assert not np.array_equal(stratified_split(labels, 0.2, seed=4)[1], val)


def test_subset_has_exact_size_and_proportions(labels):
    subset = stratified_subset(labels, 300, seed=0)
    assert len(subset) == 300 == len(np.unique(subset))
    assert np.abs(np.bincount(labels[subset], minlength=10) - 0.3 * np.bincount(labels, minlength=10)).max() <= 1
    assert len(stratified_subset(labels, 5000, seed=0)) == len(labels)


def test_tiny_subsets_do_not_need_stratification():
    assert len(stratified_subset(np.arange(10) % 10, 3, seed=0)) == 3


@pytest.mark.parametrize("stratified", [True, False])
def test_kfold_folds_are_disjoint_cover_everything_and_repeat(labels, stratified):
    folds = kfold_indices(labels, 5, seed=7, stratified=stratified)
    held = np.concatenate([h for _, h in folds])
    assert np.array_equal(np.sort(held), np.arange(len(labels)))
    for train, h in folds:
        assert len(np.intersect1d(train, h)) == 0 and len(train) + len(h) == len(labels)
    again = kfold_indices(labels, 5, seed=7, stratified=stratified)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    if stratified:
        for _, h in folds:
            assert np.abs(np.bincount(labels[h], minlength=10) - np.bincount(labels, minlength=10) / 5).max() <= 1


def test_bad_arguments():
    with pytest.raises(ValueError):
        stratified_split(np.zeros(10, int), 1.5, 0)
    with pytest.raises(ValueError):
        kfold_indices(np.zeros(10, int), 1, 0)


@pytest.mark.parametrize("seed", [0, 1, 7, 123])
@pytest.mark.parametrize("n_held", [1, 3, 10, 57, 200, 999])
def test_the_numpy_split_is_exactly_scikit_learns(seed, n_held):
    from sklearn.model_selection import train_test_split

    from digitrec.data.splits import _split

    rng = np.random.default_rng(seed)
    for labels in (rng.integers(0, 10, 1000), np.repeat(np.arange(7), [300, 200, 150, 150, 100, 60, 40])):
        counts = np.bincount(labels)
        stratify = labels if counts.min() >= 2 and len(counts) <= min(n_held, len(labels) - n_held) else None
        kept, held = train_test_split(np.arange(len(labels)), test_size=n_held, random_state=seed, stratify=stratify)
        ours = _split(labels, n_held, seed)
        assert np.array_equal(ours[0], np.sort(kept)) and np.array_equal(ours[1], np.sort(held))
