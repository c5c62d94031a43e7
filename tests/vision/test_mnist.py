"""to_mnist and ink_to_mnist: polarity, lighting, specks, blank pages, MNIST pass-through, photos."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from drawing import assert_mnist_like, correlation, correlation_within_a_pixel, seven
from PIL import Image, ImageDraw

from digitrec.synth import change_pen, photoize, render_printed_digit
from digitrec.vision import PreprocessError, ink_to_mnist, split_digits, to_mnist


# ---------------------------------------------------------------------------- ink


def test_polarity_either_way(reference):
    light_on_dark = seven(ink=230, paper=20)
    assert correlation(to_mnist(light_on_dark), reference) > 0.95


def test_uneven_light_and_noise(reference):
    rng = np.random.default_rng(0)
    grey = np.asarray(seven(), np.float32) / 255 * 0.8 + 0.1
    ys, xs = np.mgrid[0:200, 0:200] / 200
    light = (1.1 - 0.6 * xs) * (1 - 0.5 * ((xs - 0.3) ** 2 + (ys - 0.6) ** 2))  # side light, vignette
    photo = np.clip(grey * light + rng.normal(0, 0.03, grey.shape), 0, 1)
    result = to_mnist(photo)
    assert_mnist_like(result)
    # The reference 7's centre of mass is at column 13.52, 0.02 px from where the centring rounds
    # the other way: noise decides the side (seeds 1 and 4 did before the preprocessing got fast).
    assert correlation_within_a_pixel(result, reference) > 0.9


def test_specks_far_from_the_digit_are_ignored(reference):
    image = seven()
    draw = ImageDraw.Draw(image)
    for x, y in [(10, 10), (185, 190), (15, 180), (190, 100)]:
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=0)
    assert correlation(to_mnist(image), reference) > 0.97


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


def _tight_crops(small_mnist, side: int) -> list[np.ndarray]:
    """The 200 fixture test digits as dark strokes on white, cut to their ink box, long side `side` px."""
    crops = []
    for digit in small_mnist["test"].images:
        ys, xs = np.nonzero(digit)
        crop = Image.fromarray(255 - digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])
        scale = side / max(crop.size)
        crops.append(np.asarray(crop.resize((max(1, round(crop.width * scale)), round(crop.height * scale)))))
    return crops


@pytest.mark.parametrize("side", [20, 32, 200])
def test_digits_cropped_to_their_ink_are_read(small_mnist, side):
    # Strokes reach all four edges: no paper frame to fit the lighting or vote on the polarity.
    # Before the frame fix, 61 (20 px) and 108 (32 px) of these 200 were called blank.
    originals = small_mnist["test"].images
    scores = [correlation(to_mnist(crop), d) for crop, d in zip(_tight_crops(small_mnist, side), originals)]
    assert np.mean(scores) > 0.93 and min(scores) > 0.6  # measured: mean 0.968-0.989, min 0.67-0.70


def test_uci_digits_upscaled_are_read():
    # scikit-learn's UCI digits: 8x8, 16 levels, each filling its frame; 255 of the first 300 were blank.
    from sklearn.datasets import load_digits

    for image in load_digits().images[:100]:
        paper = Image.fromarray((255 - image * 255 / 16).astype(np.uint8))
        assert_mnist_like(to_mnist(np.asarray(paper.resize((32, 32), Image.Resampling.BILINEAR))))


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
