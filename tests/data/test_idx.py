import gzip

import numpy as np
import pytest

from digitrec.data.idx import IDX_DTYPES, encode_idx, parse_idx, read_idx, write_idx
from digitrec.errors import DatasetError


@pytest.mark.parametrize("dtype", [d.newbyteorder("=") for d in IDX_DTYPES.values()])
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5)])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_every_dtype(tmp_path, dtype, shape, suffix):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    path = tmp_path / f"x-idx{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == dtype and back.shape == shape
    np.testing.assert_array_equal(back, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")


def test_header_is_big_endian_as_the_spec_says():
    data = encode_idx(np.zeros((2, 3), dtype=np.int16))
    assert data[:4] == bytes([0, 0, 0x0B, 2])
    assert data[4:12] == bytes([0, 0, 0, 2, 0, 0, 0, 3])
    assert encode_idx(np.array([1], dtype=np.int32))[8:] == b"\x00\x00\x00\x01"


def _good() -> bytes:
    return encode_idx(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize(
    "data, message",
    [
        (_good()[:-1], "truncated"),
        (_good() + b"\x00", "trailing bytes"),
        (b"\x00\x00\x08", "too short"),
        (b"\x12\x34" + _good()[2:], "bad magic"),
        (b"\x00\x00\x07\x03" + _good()[4:], "bad magic"),
        (_good()[:3] + b"\x02" + _good()[4:], "trailing bytes"),  # wrong dims: reads 2 sizes
        (_good()[:3] + b"\x04" + _good()[4:], "truncated"),  # wrong dims: reads 4 sizes
        (b"\x00\x00\x08\x03\x00\x00", "truncated IDX header"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (gzip.compress(_good())[:-10], "corrupt gzip"),
    ],
)
def test_bad_files_raise_dataset_error_naming_the_file(tmp_path, data, message):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(data)
    with pytest.raises(DatasetError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_missing_file_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="cannot read"):
        read_idx(tmp_path / "nope")


def test_unsupported_dtype_is_refused():
    with pytest.raises(ValueError, match="IDX cannot store"):
        encode_idx(np.zeros(3, dtype=np.uint16))


def test_parse_returns_a_writable_native_array():
    array = parse_idx(encode_idx(np.arange(6, dtype=np.float64)))
    array[0] = 5.0
    assert array.dtype.byteorder in ("=", "<", "|")
