"""The decoded-array cache: trusted while its stamps hold, rebuilt from verified bytes otherwise."""

from __future__ import annotations

import os

import numpy as np
import pytest

from digitrec.data import cache, load_dataset, sources
from digitrec.errors import DatasetError


@pytest.fixture
def home(fake_mnist):
    return sources.data_home() / "mnist"


def _npy(home, name="train-images-idx3-ubyte"):
    return home / cache.ARRAYS_DIR / f"{name}.npy"


def _rebuilds(monkeypatch) -> list:
    written = []
    real = cache._write
    monkeypatch.setattr(cache, "_write", lambda path, array: written.append(path.name) or real(path, array))
    return written


def test_first_load_decodes_once_and_later_loads_map_the_arrays(home, small_mnist, monkeypatch):
    first = load_dataset("mnist")
    assert np.array_equal(first.train.images, small_mnist["train"].images)
    assert np.array_equal(first.test.labels, small_mnist["test"].labels)
    written = _rebuilds(monkeypatch)
    monkeypatch.setattr(sources, "_sha256", lambda data: pytest.fail("a trusted cache is not hashed"))
    again = load_dataset("mnist")
    assert written == [] and np.array_equal(again.train.images, small_mnist["train"].images)
    again.train.images[0, 0, 0] = 7  # copy-on-write: this process's copy only
    assert load_dataset("mnist").train.images[0, 0, 0] == small_mnist["train"].images[0, 0, 0]


def test_a_corrupted_npy_is_detected_and_rebuilt_from_verified_bytes(home, small_mnist, monkeypatch):
    load_dataset("mnist")
    _npy(home).write_bytes(b"\x93NUMPY garbage")
    written = _rebuilds(monkeypatch)
    assert np.array_equal(load_dataset("mnist").train.images, small_mnist["train"].images)
    assert written == ["train-images-idx3-ubyte.npy"]


def test_a_damaged_npy_with_its_old_stat_is_caught_when_it_will_not_load(home, small_mnist, monkeypatch):
    load_dataset("mnist")
    path = _npy(home)
    info = path.stat()
    with open(path, "r+b") as handle:  # same size, same mtime, header destroyed
        handle.write(b"\x00" * 16)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    written = _rebuilds(monkeypatch)
    assert np.array_equal(load_dataset("mnist").train.images, small_mnist["train"].images)
    assert written == ["train-images-idx3-ubyte.npy"]


def test_a_changed_raw_file_invalidates_the_cache(home, small_mnist, monkeypatch):
    load_dataset("mnist")
    raw = home / "t10k-labels-idx1-ubyte"
    good = raw.read_bytes()
    raw.write_bytes(good[:-1] + bytes([(good[-1] + 1) % 10]))  # another label: the checksum fails
    written = _rebuilds(monkeypatch)
    # no mirror has the file, so the load refuses rather than serve arrays decoded from other bytes
    with pytest.raises(DatasetError, match="checksum mismatch"):
        load_dataset("mnist")
    assert written == []
    raw.write_bytes(good)  # the right bytes again (a fresh fetch): trusted after one hash, nothing decoded
    assert load_dataset("mnist").test.labels[-1] == good[-1] and written == []


def test_a_rewritten_raw_file_with_the_same_bytes_keeps_the_arrays(home, monkeypatch):
    load_dataset("mnist")
    raw = home / "train-images-idx3-ubyte"
    raw.write_bytes(raw.read_bytes())  # new mtime, same content: hashed once more, nothing decoded
    written = _rebuilds(monkeypatch)
    load_dataset("mnist")
    assert written == []


def test_verify_rebuilds_every_array(home, monkeypatch):
    load_dataset("mnist")
    written = _rebuilds(monkeypatch)
    arrays = cache.load_arrays("mnist", verify=True)
    assert sorted(written) == sorted(f"{raw.filename}.npy" for raw in sources.SOURCES["mnist"].files)
    assert arrays["train-images"].shape == (1000, 28, 28)
