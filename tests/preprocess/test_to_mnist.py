"""to_mnist: every input kind and format, polarity, lighting, bad files, MNIST pass-through, photos."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from drawing import assert_mnist_like, correlation, page, seven
from hostile_files import png_header_only
from PIL import Image, ImageDraw

from digitrec.errors import DigitrecError
from digitrec.preprocess import PreprocessError, ink_to_mnist, split_digits, to_mnist
from digitrec.synth import change_pen, photoize, render_printed_digit


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    """What to_mnist makes of the plain 7: the output every variant should reproduce."""
    result = to_mnist(seven())
    assert_mnist_like(result)
    return result




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


def test_polarity_either_way(reference):
    light_on_dark = seven(ink=230, paper=20)
    assert correlation(to_mnist(light_on_dark), reference) > 0.95


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


def test_uneven_light_and_noise(reference):
    rng = np.random.default_rng(0)
    grey = np.asarray(seven(), np.float32) / 255 * 0.8 + 0.1
    ys, xs = np.mgrid[0:200, 0:200] / 200
    light = (1.1 - 0.6 * xs) * (1 - 0.5 * ((xs - 0.3) ** 2 + (ys - 0.6) ** 2))  # side light, vignette
    photo = np.clip(grey * light + rng.normal(0, 0.03, grey.shape), 0, 1)
    result = to_mnist(photo)
    assert_mnist_like(result)
    assert correlation(result, reference) > 0.9


def test_specks_far_from_the_digit_are_ignored(reference):
    image = seven()
    draw = ImageDraw.Draw(image)
    for x, y in [(10, 10), (185, 190), (15, 180), (190, 100)]:
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=0)
    assert correlation(to_mnist(image), reference) > 0.97


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


def test_blank_images_raise():
    rng = np.random.default_rng(0)
    blanks = {
        "white": np.full((100, 100), 255, np.uint8),
        "black": np.zeros((100, 100), np.uint8),
        "noise": np.clip(rng.normal(180, 8, (300, 300)), 0, 255).astype(np.uint8),
        "transparent": np.zeros((50, 50, 4), np.uint8),
        "specks": np.where(rng.random((300, 300)) < 0.001, 0, 240).astype(np.uint8),  # dust, one px each
    }
    for blank in blanks.values():
        with pytest.raises(PreprocessError, match="no digit found in .*blank"):
            to_mnist(blank)
    with pytest.raises(PreprocessError, match="blank"):
        split_digits(blanks["white"])


def test_blank_file_names_the_file(tmp_path):
    path = tmp_path / "empty_page.png"
    Image.new("RGB", (80, 60), (250, 250, 245)).save(path)
    with pytest.raises(PreprocessError, match=r"no digit found in .*empty_page\.png: the image is blank"):
        to_mnist(path)


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


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow warns above 89 MP
@pytest.mark.parametrize("size", [(12_000, 10_000), (40_000, 40_000)])
def test_huge_images_are_refused(size):
    with pytest.raises(PreprocessError, match="too large"):
        to_mnist(png_header_only(*size))


def test_unsupported_inputs():
    with pytest.raises(TypeError):
        to_mnist(12345)
    with pytest.raises(PreprocessError, match="expected"):
        to_mnist(np.zeros((4, 4, 5)))
    with pytest.raises(PreprocessError, match="empty"):
        to_mnist(np.zeros((0, 5)))


# ---------------------------------------------------------------------------- MNIST itself


def test_mnist_digits_pass_through_unchanged(mnist_sample):
    images, _ = mnist_sample
    for digit in images:
        np.testing.assert_array_equal(to_mnist(digit), digit)
        np.testing.assert_array_equal(to_mnist(digit / 255.0), digit)
        buffer = io.BytesIO()
        Image.fromarray(digit).save(buffer, "PNG")
        np.testing.assert_array_equal(to_mnist(buffer.getvalue()), digit)


def test_enlarged_mnist_digits_come_back(mnist_sample):
    # Padded and enlarged, a digit no longer passes through; the pipeline must rebuild it.
    images, _ = mnist_sample
    scores = [
        correlation(to_mnist(Image.fromarray(np.pad(d, 16)).resize((180, 180), Image.Resampling.BILINEAR)), d)
        for d in images
    ]
    assert np.mean(scores) > 0.95 and min(scores) > 0.85  # measured on these 20: mean 0.965, min 0.873


def test_ink_to_mnist_builds_the_mnist_frame():
    ink = np.zeros((90, 40), np.float32)
    ink[10:80, 15:25] = 1.0  # a bar 70 px tall
    result = ink_to_mnist(ink)
    assert_mnist_like(result)
    with pytest.raises(PreprocessError):
        ink_to_mnist(np.zeros((10, 10)))


def test_real_mnist_pass_through_and_photos(small_mnist):
    images = np.concatenate([small_mnist["train"].images, small_mnist["test"].images])  # 1200 real digits
    assert all(np.array_equal(to_mnist(d), d) for d in images)
    rng = np.random.default_rng(1)
    scores = [correlation(to_mnist(photoize(d, rng)), d) for d in images[:100]]
    assert np.mean(scores) > 0.91  # measured 0.941 here, 0.948 over the first 900


# ---------------------------------------------------------------------------- photos


def test_photos_of_mnist_digits_come_back(mnist_sample):
    images, _ = mnist_sample
    rng = np.random.default_rng(0)
    scores = [correlation(to_mnist(photoize(d, rng)), d) for d in images]
    assert np.mean(scores) > 0.93  # measured 0.966-0.972 over seeds 0-2


def test_photoize_makes_photos(mnist_sample):
    images, _ = mnist_sample
    rng = np.random.default_rng(0)
    for pen in (-0.7, 0.0, 2.0):
        photo = photoize(images[0], rng, pen=pen)
        assert photo.mode == "RGB" and 100 <= min(photo.size) and max(photo.size) <= 400
        grey = np.asarray(photo.convert("L"))
        assert np.median(grey) > 120  # light paper, dark ink
        assert_mnist_like(to_mnist(photo))
    ink = np.zeros((21, 21), np.float32)
    ink[10, :] = 1.0
    assert change_pen(ink, 4).sum() > ink.sum() > change_pen(change_pen(ink, 4), -4).sum() - 1


@pytest.mark.parametrize("d", range(10))
def test_printed_digits(d):
    photo = render_printed_digit(d, np.random.default_rng(d))
    assert_mnist_like(to_mnist(photo))


def test_sample_script_writes_pngs(mnist_sample, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parents[2] / "benchmarks"))
    import photoize as script  # benchmarks/photoize.py

    paths = script.write_samples(mnist_sample[0], tmp_path, count=1, seed=0)
    assert paths and all(p.exists() and p.suffix == ".png" for p in paths)
    sys.modules.pop("photoize", None)
