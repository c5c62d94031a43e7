import numpy as np
import pytest
from PIL import Image

from digitrec.data import load_dataset, write_kaggle_csv
from digitrec.errors import DatasetError


def test_mnist_from_the_cache(fake_mnist, small_mnist):
    data = load_dataset("mnist")
    assert data.train.images.shape == (1000, 28, 28) and data.train.images.dtype == np.uint8
    assert data.train.labels.dtype == np.int64
    np.testing.assert_array_equal(data.test.labels, small_mnist["test"].labels)
    assert data.classes == tuple("0123456789")


def test_kaggle_folder_and_single_file(tmp_path, small_mnist):
    train, test = small_mnist["train"], small_mnist["test"]
    write_kaggle_csv(tmp_path / "train.csv", train.images, train.labels)
    write_kaggle_csv(tmp_path / "test.csv", test.images)
    data = load_dataset(f"kaggle:{tmp_path}")
    np.testing.assert_array_equal(data.train.images, train.images)
    assert data.test.labels is None and len(data.test) == 200
    only_test = load_dataset(f"kaggle:{tmp_path / 'test.csv'}")
    assert only_test.train is None and len(only_test.test) == 200


def test_kaggle_errors(tmp_path, small_mnist):
    with pytest.raises(DatasetError, match="no such file or folder"):
        load_dataset(f"kaggle:{tmp_path / 'missing'}")
    with pytest.raises(DatasetError, match="neither train.csv nor test.csv"):
        load_dataset(f"kaggle:{tmp_path}")
    write_kaggle_csv(tmp_path / "train.csv", small_mnist["test"].images)
    with pytest.raises(DatasetError, match="train.csv has no label column"):
        load_dataset(f"kaggle:{tmp_path}")


def _write_folder(root, split):
    for i, (image, label) in enumerate(zip(split.images, split.labels)):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / str(label) / f"{i:04d}.png")


def test_folder_dataset_reads_mnist_pngs_unchanged(tmp_path, small_mnist):
    test = small_mnist["test"]
    _write_folder(tmp_path / "digits", test)
    (tmp_path / "digits" / "3" / "notes.txt").write_text("not an image, ignored")
    data = load_dataset(f"folder:{tmp_path / 'digits'}")
    assert data.test is None and len(data.train) == len(test)
    # files are read class by class: compare as multisets per class
    for label in range(10):
        expected = np.sort(test.images[test.labels == label].reshape(-1, 784), axis=0)
        got = np.sort(data.train.images[data.train.labels == label].reshape(-1, 784), axis=0)
        np.testing.assert_array_equal(got, expected)


def test_folder_with_train_and_test(tmp_path, small_mnist):
    _write_folder(tmp_path / "d" / "train", small_mnist["test"])
    _write_folder(tmp_path / "d" / "test", small_mnist["test"])
    data = load_dataset(f"folder:{tmp_path / 'd'}")
    assert len(data.train) == len(data.test) == 200


def test_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        load_dataset(f"folder:{tmp_path / 'none'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no class sub-folders"):
        load_dataset(f"folder:{tmp_path / 'empty'}")
    (tmp_path / "bad" / "4").mkdir(parents=True)
    (tmp_path / "bad" / "4" / "x.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DatasetError, match=r"x\.png: not a readable image"):
        load_dataset(f"folder:{tmp_path / 'bad'}")


@pytest.mark.parametrize("spec", ["nope", "kaggle:", "folder:", "mnist:extra"])
def test_unknown_spec_lists_choices(spec):
    with pytest.raises(DatasetError, match="choose from: mnist, fashion-mnist, kaggle:DIR"):
        load_dataset(spec)


def test_missing_split_is_named():
    from digitrec.data import Dataset, Split

    data = Dataset("x", ("0",), Split(np.zeros((1, 28, 28), np.uint8), np.zeros(1, np.int64)), None)
    with pytest.raises(DatasetError, match="has no 'test' split; available: train"):
        data.split("test")


def test_folder_dataset_reads_pgm_files(tmp_path, small_mnist):
    train = small_mnist["train"]
    chosen = np.concatenate([np.flatnonzero(train.labels == d)[:3] for d in (0, 1)])
    for k, i in enumerate(chosen):
        (tmp_path / "pgm" / str(train.labels[i])).mkdir(parents=True, exist_ok=True)
        Image.fromarray(train.images[i]).save(tmp_path / "pgm" / str(train.labels[i]) / f"{k}.pgm")
    data = load_dataset(f"folder:{tmp_path / 'pgm'}")
    assert len(data.train) == 6 and data.train.labels.tolist() == [0, 0, 0, 1, 1, 1]
    np.testing.assert_array_equal(data.train.images, train.images[chosen])  # 28x28 grey: read as they are
