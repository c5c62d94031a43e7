import numpy as np
import pytest

from digitrec.data import read_kaggle_csv, write_kaggle_csv, write_submission
from digitrec.data.kaggle import PIXEL_HEADER
from digitrec.errors import DatasetError


def test_round_trip_labelled_and_unlabelled(tmp_path, small_mnist):
    images, labels = small_mnist["test"].images[:50], small_mnist["test"].labels[:50]
    write_kaggle_csv(tmp_path / "train.csv", images, labels)
    write_kaggle_csv(tmp_path / "test.csv", images)
    got_images, got_labels = read_kaggle_csv(tmp_path / "train.csv")
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    got_images, got_labels = read_kaggle_csv(tmp_path / "test.csv")
    np.testing.assert_array_equal(got_images, images)
    assert got_labels is None


def test_pixel_order_is_row_major(tmp_path):
    image = np.zeros((1, 28, 28), dtype=np.uint8)
    image[0, 1, 2] = 200  # row 1, col 2 -> pixel 30
    write_kaggle_csv(tmp_path / "t.csv", image)
    header, row = (tmp_path / "t.csv").read_text().splitlines()
    assert header.split(",")[30] == "pixel30" and row.split(",")[30] == "200"


def _csv(tmp_path, rows, header=None, name="train.csv"):
    header = header or ",".join(["label"] + PIXEL_HEADER)
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


ROW = ",".join(["3"] + ["0"] * 784)


@pytest.mark.parametrize(
    "rows, header, message",
    [
        ([ROW, ROW + ",0"], None, "line 3: expected 785 columns, found 786"),
        ([ROW, ROW[:-2]], None, "line 3: expected 785 columns, found 784"),
        ([ROW, ROW, "3,x" + ROW[3:]], None, "line 4: a value is not an integer"),
        ([ROW, "3,256" + ROW[3:]], None, "line 3, column 2: pixel must be 0..255, found 256"),
        (["12" + ROW[1:]], None, "line 2, column 1: label must be 0..9, found 12"),
        ([ROW], "label,a,b", "line 1: header is not Kaggle's digit format"),
        ([], None, "no rows"),
    ],
)
def test_bad_csv_names_file_and_line(tmp_path, rows, header, message):
    path = _csv(tmp_path, rows, header)
    with pytest.raises(DatasetError, match=message) as info:
        read_kaggle_csv(path)
    assert str(path) in str(info.value)


def test_empty_and_binary_files(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DatasetError, match="empty file"):
        read_kaggle_csv(tmp_path / "empty.csv")
    (tmp_path / "bin.csv").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    with pytest.raises(DatasetError, match="not a text CSV"):
        read_kaggle_csv(tmp_path / "bin.csv")


def test_byte_order_mark_and_crlf_are_accepted(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes(("\ufeff" + ",".join(["label"] + PIXEL_HEADER) + "\r\n" + ROW + "\r\n").encode("utf-8"))
    images, labels = read_kaggle_csv(path)
    assert images.shape == (1, 28, 28) and labels.tolist() == [3]


def test_submission_is_one_based_in_row_order(tmp_path):
    write_submission(tmp_path / "s.csv", np.array([7, 2, 1]))
    assert (tmp_path / "s.csv").read_text() == "ImageId,Label\n1,7\n2,2\n3,1\n"
