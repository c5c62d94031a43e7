"""Make MNIST digits look like phone photos and scans of paper, for benchmarks and augmentation."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage as ndi

__all__ = ["change_pen", "photoize", "photoize_number", "render_printed_digit"]


def photoize(digit28: np.ndarray, rng: np.random.Generator, *, pen: float = 0.0) -> Image.Image:
    """Dark ink on a random paper, 100-400 px, off-centre, unevenly lit, blurred, noisy, JPEG'd.

    `digit28` is an MNIST image ((28, 28) uint8, white ink on black). `pen` widens (> 0) or
    narrows (< 0) the strokes by that many px at 28x28 scale (MNIST strokes are ~2 px wide, so
    below about -1 thin digits break up or vanish).
    """
    width, height = (int(v) for v in rng.integers(100, 401, size=2))
    ink = _scaled_ink(digit28, rng.uniform(0.35, 0.75) * min(width, height), pen)
    return _degrade(_place(ink, (height, width), rng), rng)


def photoize_number(
    digits: list[np.ndarray], rng: np.random.Generator, *, touch: float = 0.2, pen: float = 0.0
) -> Image.Image:
    """Write MNIST digits side by side as one number, under the same degradations as `photoize`.

    Digits are drawn the MNIST way, the longer side of each box about the same size; the gaps
    between them vary from 0.15 to 0.5 of that size, and each gap is made slightly negative
    (strokes touching) with probability `touch`.
    """
    size = rng.uniform(50, 110)  # px, the longer side of each digit's box (MNIST's 20 px)
    inks = [_scaled_ink(d, size * rng.uniform(0.9, 1.1), pen) for d in digits]
    gaps = rng.uniform(0.15, 0.5, size=len(inks)) * size
    touching = rng.random(len(inks)) < touch
    gaps[touching] = -rng.uniform(0.02, 0.08, size=int(touching.sum())) * size
    gaps[0] = 0.0
    lefts = np.round(np.cumsum([0] + [ink.shape[1] for ink in inks[:-1]]) + np.cumsum(gaps)).astype(int)
    tops = np.round(rng.uniform(-0.06, 0.06, size=len(inks)) * size).astype(int)
    tops -= tops.min()
    height = max(top + ink.shape[0] for top, ink in zip(tops, inks, strict=True))
    row = np.zeros((height, lefts[-1] + inks[-1].shape[1]), np.float32)
    for top, left, ink in zip(tops, lefts, inks, strict=True):
        window = row[top : top + ink.shape[0], left : left + ink.shape[1]]
        np.maximum(window, ink, out=window)  # touching strokes overlap, like ink on paper
    margin = rng.uniform(0.3, 1.0, size=2) * size
    canvas = (int(row.shape[0] + 2 * margin[0]), int(row.shape[1] + 2 * margin[1]))
    return _degrade(_place(row, canvas, rng), rng)


def render_printed_digit(d: int, rng: np.random.Generator) -> Image.Image:
    """A printed digit `d` in PIL's default font, scaled up, under the degradations of `photoize`."""
    digit_height = rng.uniform(40, 200)  # px
    font = ImageFont.load_default(size=int(digit_height * 1.4))  # small bitmap font if no FreeType
    sheet = Image.new("L", (int(digit_height * 3), int(digit_height * 3)), 0)
    ImageDraw.Draw(sheet).text((8, 8), str(d), fill=255, font=font)
    ink = np.asarray(sheet, np.float32) / 255
    ys, xs = np.nonzero(ink > 0.05)
    ink = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    scale = digit_height / ink.shape[0]
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    ink = np.clip(np.asarray(Image.fromarray(ink).resize(size, Image.Resampling.BICUBIC)), 0.0, 1.0)
    side = int(digit_height / rng.uniform(0.35, 0.75))
    return _degrade(_place(ink, (side, max(side, ink.shape[1] + 4)), rng), rng)


def change_pen(ink: np.ndarray, px: float) -> np.ndarray:
    """Widen (px > 0, dilation) or narrow (px < 0, erosion) the strokes of an ink map by `px` px."""
    radius = int(round(abs(px) / 2))
    if radius == 0:
        return ink
    disk = np.hypot(*np.mgrid[-radius : radius + 1, -radius : radius + 1]) <= radius
    return (ndi.grey_dilation if px > 0 else ndi.grey_erosion)(ink, footprint=disk)


def _scaled_ink(digit28: np.ndarray, longer: float, pen: float) -> np.ndarray:
    """The digit's ink cropped to its box and enlarged so the box's longer side is `longer` px."""
    ink = np.asarray(digit28, np.float32) / 255
    ys, xs = np.nonzero(ink > 0.05)
    ink = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    scale = longer / max(ink.shape)
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    ink = np.clip(np.asarray(Image.fromarray(ink).resize(size, Image.Resampling.BICUBIC)), 0.0, 1.0)
    ink = np.pad(ink, int(np.ceil(abs(pen) * scale)) + 1)  # room for a thicker pen
    return change_pen(ink, pen * scale)


def _place(ink: np.ndarray, canvas: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Put an ink map at a random place on a blank (H, W) canvas (enlarged to fit if needed)."""
    height, width = max(canvas[0], ink.shape[0]), max(canvas[1], ink.shape[1])
    top = int(rng.integers(0, height - ink.shape[0] + 1))
    left = int(rng.integers(0, width - ink.shape[1] + 1))
    page = np.zeros((height, width), np.float32)
    page[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
    return page


def _degrade(ink: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Photograph an ink map ((H, W) in [0, 1]): tinted paper, ink colour, light, blur, noise, JPEG."""
    height, width = ink.shape
    paper = rng.uniform(0.78, 1.0) - rng.uniform(0.0, 0.08, size=3)  # RGB, a little yellow or blue
    pen = rng.uniform(0.02, 0.3) + np.array([0.0, 0.0, rng.uniform(0.0, 0.25)])  # black or blue
    image = paper * (1 - ink[..., None]) + pen * ink[..., None]  # (H, W, 3)
    ys, xs = np.mgrid[0:height, 0:width] / max(height, width)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * (xs - xs.mean()) + np.sin(angle) * (ys - ys.mean())) * rng.uniform(0, 0.5)
    radius2 = (xs - rng.uniform(0.3, 0.7) * xs.max()) ** 2 + (ys - rng.uniform(0.3, 0.7) * ys.max()) ** 2
    light = (1 + ramp) * (1 - rng.uniform(0, 0.6) * radius2)  # side light times a vignette
    image = image * np.clip(light, 0.2, 1.2)[..., None]
    image = ndi.gaussian_filter(image, (rng.uniform(0.3, 1.5),) * 2 + (0,))
    image = image + rng.normal(0.0, rng.uniform(0.005, 0.04), size=image.shape)
    pil = Image.fromarray(np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8))
    buffer = io.BytesIO()
    pil.save(buffer, "JPEG", quality=int(rng.integers(40, 91)))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
