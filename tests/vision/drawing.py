"""Drawing helpers for the vision tests: simple handwritten shapes on paper, and checks."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

# Strokes of simple handwritten shapes in unit coordinates of the digit's box: polylines, or
# ("ellipse",) for a 0.
SHAPES = {
    "1": [[(0.5, 0.0), (0.5, 1.0)]],
    "1 slanted": [[(0.9, 0.0), (0.1, 1.0)]],  # leaning right, as many people write it
    "7": [[(0.0, 0.05), (1.0, 0.05), (0.35, 1.0)]],
    "0": [("ellipse",)],
    "4": [[(0.7, 1.0), (0.7, 0.0), (0.0, 0.65), (1.0, 0.65)]],
    "5": [[(0.15, 0.0), (1.0, 0.0)], [(0.15, 0.0), (0.1, 0.45), (0.7, 0.4), (0.95, 0.7), (0.6, 1.0), (0.0, 0.9)]],
    # a 5 whose top bar is lifted off the body, as a quick hand leaves it
    "5 broken": [[(0.3, 0.0), (1.0, 0.0)], [(0.15, 0.15), (0.1, 0.45), (0.7, 0.4), (0.95, 0.7), (0.6, 1.0), (0.0, 0.9)]],
}


def draw_digit(draw: ImageDraw.ImageDraw, shape: str, box: tuple[int, int, int, int], fill, width: int) -> None:
    """Draw SHAPES[shape] into `box` (x0, y0, x1, y1) with a round pen `width` px wide."""
    x0, y0, x1, y1 = box
    for stroke in SHAPES[shape]:
        if stroke[0] == "ellipse":
            draw.ellipse(box, outline=fill, width=width)
            continue
        points = [(x0 + u * (x1 - x0), y0 + v * (y1 - y0)) for u, v in stroke]
        draw.line(points, fill=fill, width=width, joint="curve")
        for x, y in points:  # round caps
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=fill)


def page(shapes: list[tuple[str, tuple[int, int, int, int]]], size=(200, 200), ink=0, paper=255, width=12):
    """An 'L' image: paper with the given shapes drawn in ink."""
    image = Image.new("L", size, paper)
    draw = ImageDraw.Draw(image)
    for shape, box in shapes:
        draw_digit(draw, shape, box, ink, width)
    return image


def seven(**kw) -> Image.Image:
    """A 7 off-centre on a 200x200 page, dark on light unless told otherwise."""
    return page([("7", (60, 30, 150, 170))], **kw)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


def correlation_within_a_pixel(a: np.ndarray, b: np.ndarray) -> float:
    """The best correlation of `a` with `b` moved by up to 1 px each way.

    The MNIST frame centres the digit's mass to a whole pixel: a digit whose centre lies near a
    half pixel lands one pixel left or right on a tiny change, and a thin-stroked digit moved
    by one pixel correlates ~0.7 with itself.
    """
    return max(correlation(a, np.roll(b, (dy, dx), (0, 1))) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def assert_mnist_like(image: np.ndarray) -> None:
    """Shape, dtype, white ink on black, ink box 20 px on its longer side, centred by mass."""
    assert image.shape == (28, 28) and image.dtype == np.uint8
    assert image.max() == 255
    ys, xs = np.nonzero(image > 0)
    assert max(np.ptp(ys), np.ptp(xs)) + 1 in (19, 20, 21)
    rows, cols = np.indices(image.shape)
    centre = np.array([(rows * image).sum(), (cols * image).sum()]) / image.sum()
    assert np.all(np.abs(centre - 14) <= 1.0), centre


def ink_box(image: Image.Image) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the dark pixels, ends exclusive."""
    ys, xs = np.nonzero(np.asarray(image) < 128)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
