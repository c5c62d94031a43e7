"""vision.locate: a digit found on a small copy and read from the full-size pixels comes out as the
whole-image search makes it, however large the image and however small the digit in it."""

from __future__ import annotations

import numpy as np
import pytest
from drawing import assert_mnist_like, correlation_within_a_pixel, page, seven
from PIL import Image

from digitrec.vision import PreprocessError, ink_to_mnist, load_grey, to_mnist
from digitrec.vision.ink import extract_ink, require_ink
from digitrec.vision.locate import DETECT_SIDE, NEED, digit_ink, shrink
from digitrec.vision.segment import main_ink


def _whole_image(image) -> np.ndarray:
    """to_mnist as it was before vision.locate: the ink search on the whole image."""
    grey = load_grey(image)[0]
    ink = require_ink(grey, "test")
    return ink_to_mnist(ink.ink * main_ink(ink))


@pytest.mark.parametrize("side", [280, 600, 999])
def test_large_drawings_read_as_the_whole_image_search_reads_them(side):
    for shape in ("7", "4", "0", "5 broken"):
        image = page([(shape, (side // 5, side // 8, side * 3 // 4, side * 7 // 8))], size=(side, side), width=side // 16)
        assert_mnist_like(to_mnist(image))
        assert correlation_within_a_pixel(to_mnist(image), _whole_image(image)) > 0.97


def test_a_canvas_drawing_reads_as_before(small_mnist):
    for digit in small_mnist["test"].images[:10]:
        alpha = np.asarray(Image.fromarray(digit).resize((200, 200), Image.Resampling.BICUBIC))
        rgba = np.zeros((280, 280, 4), np.uint8)
        rgba[..., :3] = 17
        rgba[40:240, 30:230, 3] = np.clip(alpha.astype(int) * 2, 0, 255)
        canvas = Image.fromarray(rgba, "RGBA")
        assert correlation_within_a_pixel(to_mnist(canvas), _whole_image(canvas)) > 0.97


def test_a_small_digit_in_a_large_image_is_looked_at_again():
    # 600 px: the copy is 120 px, on which this 7 (half the size of seven()'s) spans 14 px, under
    # NEED: it is searched for again around where it was found.
    image = page([("7", (300, 200, 345, 270))], size=(600, 600), width=6)
    assert 70 / -(-600 // DETECT_SIDE) < NEED
    result = to_mnist(image)
    assert_mnist_like(result)
    assert correlation_within_a_pixel(result, to_mnist(seven())) > 0.9


def test_strokes_too_faint_for_the_small_copy_are_found_on_the_whole_image():
    # 1 px strokes 0.2 darker than the paper of a 1000 px page: averaged over 8x8 blocks on the copy
    # they fade under the contrast ink must have, so the search falls back to the image itself.
    grey = np.asarray(page([("7", (250, 166, 750, 833))], size=(1000, 1000), width=1), np.float32) / 255
    grey = 0.8 + 0.2 * grey
    assert extract_ink(shrink(grey, 8), 2.0 / 8) is None
    assert_mnist_like(ink_to_mnist(digit_ink(grey, "faint")))


def test_blank_large_images_are_blank():
    with pytest.raises(PreprocessError, match="no digit found in page.png: the image is blank"):
        digit_ink(np.full((700, 500), 0.9, np.float32), "page.png")


def test_shrink_averages_blocks_and_keeps_the_partial_ones():
    values = np.arange(35, dtype=np.float32).reshape(5, 7)
    small = shrink(values, 2)
    assert small.shape == (3, 4)
    assert small[0, 0] == pytest.approx(values[:2, :2].mean()) and small[2, 3] == pytest.approx(values[4, 6])
