"""Opening images: every input kind, mode and format, transparency, size limits, bad files, names."""

from __future__ import annotations

import io
import os
import threading
import warnings

import numpy as np
import pytest
from drawing import correlation, page, seven
from hostile_files import png_header_only
from PIL import Image

from digitrec.errors import DigitrecError
from digitrec.vision import PreprocessError, load_grey, split_digits, to_mnist
from digitrec.vision.io import WORK_SIDE


# ---------------------------------------------------------------------------- inputs


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "P", "I;16", "I", "F", "CMYK", "1"])
def test_every_mode_gives_the_same_digit(mode, reference):
    grey = seven()
    if mode == "I;16":
        image = Image.fromarray(np.asarray(grey).astype(np.uint16) * 257)
    elif mode == "1":
        image = grey.convert("1", dither=Image.Dither.NONE)
    else:
        image = grey.convert(mode)
    assert image.mode == mode
    assert correlation(to_mnist(image), reference) > 0.95


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP"])
def test_every_format_from_path_and_bytes(fmt, reference, tmp_path):
    path = tmp_path / f"seven.{fmt.lower()}"
    seven().convert("RGB").save(path, fmt)
    assert correlation(to_mnist(path), reference) > 0.95
    assert correlation(to_mnist(str(path)), reference) > 0.95
    assert correlation(to_mnist(path.read_bytes()), reference) > 0.95


def test_gif_uses_the_first_frame(reference, tmp_path):
    path = tmp_path / "animated.gif"
    first, second = seven(), page([("0", (40, 40, 160, 160))])
    first.save(path, save_all=True, append_images=[second], duration=100, loop=0)
    assert Image.open(path).n_frames == 2
    assert correlation(to_mnist(path), reference) > 0.95


def test_jpeg_exif_orientation_is_applied(reference, tmp_path):
    stored = seven().convert("RGB").transpose(Image.Transpose.ROTATE_90)  # the sensor's sideways view
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: turn 90 degrees clockwise to display
    stored.save(tmp_path / "phone.jpg", exif=exif)
    assert correlation(to_mnist(tmp_path / "phone.jpg"), reference) > 0.95


@pytest.mark.parametrize("ink", [(0, 0, 0), (255, 255, 255), (30, 60, 200)])
def test_transparent_canvas_is_background(ink, reference):
    # A canvas drawing: RGBA (0, 0, 0, 0) wherever nothing was drawn, even for black strokes.
    alpha = np.asarray(seven(ink=255, paper=0))
    rgba = np.zeros((*alpha.shape, 4), np.uint8)
    rgba[..., :3] = ink
    rgba[..., 3] = alpha
    rgba[alpha == 0, :3] = 0
    assert correlation(to_mnist(Image.fromarray(rgba)), reference) > 0.95
    assert correlation(to_mnist(rgba), reference) > 0.95


def test_array_inputs(reference):
    grey = np.asarray(seven())
    assert correlation(to_mnist(grey), reference) > 0.95
    np.testing.assert_array_equal(to_mnist(grey / 255.0), to_mnist(grey))
    np.testing.assert_array_equal(to_mnist(grey.astype(np.float32) / 255), to_mnist(grey))
    rgb = np.repeat(grey[..., None], 3, axis=2)
    np.testing.assert_array_equal(to_mnist(rgb), to_mnist(grey))


def test_large_photo_is_shrunk_first(reference):
    big = seven().resize((2400, 2400), Image.Resampling.BILINEAR)
    assert correlation(to_mnist(big), reference) > 0.95


# ---------------------------------------------------------------------------- errors


def test_error_is_a_value_error_and_a_digitrec_error():
    assert issubclass(PreprocessError, ValueError) and issubclass(PreprocessError, DigitrecError)


def test_corrupt_and_missing_files(tmp_path):
    with pytest.raises(PreprocessError, match="not an image"):
        to_mnist(b"definitely not an image")
    path = tmp_path / "notes.png"
    path.write_text("hello")
    with pytest.raises(PreprocessError, match=r"notes\.png.*not an image"):
        to_mnist(path)
    with pytest.raises(PreprocessError, match=r"missing\.png: no such file"):
        to_mnist(tmp_path / "missing.png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file(fmt, tmp_path):
    buffer = io.BytesIO()
    seven().convert("RGB").save(buffer, fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(PreprocessError, match=r"cut\.\w+.*(corrupt|truncated)"):
        to_mnist(path)


@pytest.mark.parametrize("size", [(12_000, 10_000), (12_000, 12_000), (40_000, 40_000)])
def test_huge_images_are_refused_without_pillows_warning(size):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(PreprocessError, match="too large"):
            to_mnist(png_header_only(*size))
    assert not caught, [str(w.message) for w in caught]  # Pillow warns above its own 89.5 MP


def test_between_pillows_warning_and_digitrecs_limit_nothing_leaks():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(PreprocessError, match="corrupt or truncated"):  # 95 MP declared, no pixel data
            to_mnist(png_header_only(10_000, 9_500))
    assert not caught, [str(w.message) for w in caught]


def test_a_fifo_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    unblock = threading.Timer(10, lambda: os.close(os.open(fifo, os.O_RDWR)))  # a hang fails instead
    unblock.start()
    try:
        with pytest.raises(PreprocessError, match="pipe.png: not a regular file"):
            to_mnist(fifo)
    finally:
        unblock.cancel()


def test_an_unreadable_file_says_permission_denied(tmp_path, monkeypatch):
    path = tmp_path / "noperm.png"
    seven().save(path)
    real_open = Image.open

    def no_permission(source, *args, **kwargs):  # what a non-root user gets for a mode-000 file
        if str(source) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(source, *args, **kwargs)

    monkeypatch.setattr(Image, "open", no_permission)
    with pytest.raises(PreprocessError, match="noperm.png: permission denied"):
        to_mnist(path)


def test_unsupported_inputs():
    with pytest.raises(TypeError):
        to_mnist(12345)
    with pytest.raises(PreprocessError, match="expected"):
        to_mnist(np.zeros((4, 4, 5)))
    with pytest.raises(PreprocessError, match="empty"):
        to_mnist(np.zeros((0, 5)))


def test_blank_file_names_the_file(tmp_path):
    path = tmp_path / "empty_page.png"
    Image.new("RGB", (80, 60), (250, 250, 245)).save(path)
    with pytest.raises(PreprocessError, match=r"no digit found in .*empty_page\.png: the image is blank"):
        to_mnist(path)


def test_a_callers_name_labels_the_error(tmp_path):
    blank = io.BytesIO()
    Image.new("L", (60, 60), 255).save(blank, "PNG")
    with pytest.raises(PreprocessError, match=r"no digit found in upload\.png: the image is blank") as caught:
        to_mnist(blank.getvalue(), name="upload.png")
    assert "bytes>" not in str(caught.value)
    with pytest.raises(PreprocessError, match=r"cannot read upload\.png: not an image"):
        to_mnist(b"definitely not an image", name="upload.png")
    with pytest.raises(PreprocessError, match=r"no digit found in the pixels: the image is blank") as caught:
        split_digits(np.zeros((28, 28), np.uint8), name="the pixels")
    assert "<array" not in str(caught.value)
    with pytest.raises(PreprocessError, match=r"cannot read photo\.jpg: no such file"):
        to_mnist(tmp_path / "missing.png", name="photo.jpg")


def test_load_grey_returns_levels_name_and_scale():
    big = seven().resize((2400, 2400), Image.Resampling.BILINEAR)
    grey, name, scale = load_grey(big)
    assert grey.dtype == np.float32 and max(grey.shape) <= WORK_SIDE and 0.0 <= grey.min() <= grey.max() <= 1.0
    assert name == "<PIL image>" and scale == (2400 / grey.shape[1], 2400 / grey.shape[0])
    assert load_grey(np.asarray(seven()), name="mine")[1] == "mine"
    assert load_grey(np.asarray(seven()))[1] == "<array (200, 200) uint8>"
