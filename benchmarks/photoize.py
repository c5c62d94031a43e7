"""Photo-like MNIST digits: write samples to look at, or measure how well preprocessing undoes them.

    python benchmarks/photoize.py --out /tmp/photo_samples
    python benchmarks/photoize.py --measure          # on MNIST's test digits (fetched if needed)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from digitrec.vision import PreprocessError, split_digits, to_mnist
from digitrec.synth import photoize, photoize_number, render_printed_digit


def write_samples(images: np.ndarray, out: Path, count: int, seed: int) -> list[Path]:
    """Write `count` samples of each kind into `out`, each beside what preprocessing makes of it."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    paths = []

    def save(image: Image.Image, name: str) -> None:
        paths.append(out / f"{name}.png")
        image.save(paths[-1])

    for i in range(count):
        digit = images[i % len(images)]
        for pen, kind in ((0.0, "photo"), (-0.7, "thin"), (2.0, "thick")):
            photo = photoize(digit, rng, pen=pen)
            save(photo, f"{kind}_{i}")
            save(_side_by_side(digit, to_mnist(photo)), f"{kind}_{i}_mnist")
        save(render_printed_digit(i % 10, rng), f"printed_{i}")
        number = photoize_number(list(images[rng.choice(len(images), rng.integers(3, 7))]), rng)
        save(number, f"number_{i}")
        save(_side_by_side(*[d.image for d in split_digits(number)]), f"number_{i}_split")
    return paths


def measure(images: np.ndarray, count: int, seed: int) -> dict[str, float]:
    """Correlation of to_mnist(photoize(d)) with d, split_digits count accuracy, times in ms."""
    rng = np.random.default_rng(seed)
    results = {}
    for pen in (0.0, -0.7, 2.0):
        scores, times = [], []
        for digit in images[:count]:
            photo = photoize(digit, rng, pen=pen)
            start = time.perf_counter()
            try:
                scores.append(np.corrcoef(to_mnist(photo).ravel(), digit.ravel())[0, 1])
            except PreprocessError:
                scores.append(0.0)  # a thin pen can erase a digit
            times.append(time.perf_counter() - start)
        results[f"photo corr pen={pen:+.1f}"] = float(np.mean(scores))
        results[f"to_mnist ms pen={pen:+.1f} (median)"] = 1e3 * float(np.median(times))
    for touch in (0.0, 0.2, 1.0):
        right, times = 0, []
        for _ in range(count // 3):
            chosen = images[rng.choice(len(images), int(rng.integers(3, 7)))]
            number = photoize_number(list(chosen), rng, touch=touch)
            start = time.perf_counter()
            right += len(split_digits(number)) == len(chosen)
            times.append(time.perf_counter() - start)
        results[f"split count right touch={touch}"] = right / (count // 3)
        results[f"split_digits ms touch={touch} (median)"] = 1e3 * float(np.median(times))
    return results


def _side_by_side(*images28: np.ndarray) -> Image.Image:
    """(28, 28) images in a row, enlarged 4x with nearest-neighbour so pixels stay visible."""
    row = np.concatenate([np.pad(image, 1, constant_values=128) for image in images28], axis=1)
    return Image.fromarray(row).resize((row.shape[1] * 4, row.shape[0] * 4), Image.Resampling.NEAREST)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write sample PNGs into this folder")
    parser.add_argument("--measure", action="store_true", help="print correlation, split accuracy, times")
    parser.add_argument("--count", type=int, default=None, help="digits to use (default 4 samples, 900 measured)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--data", default="mnist", help="dataset spec whose test digits are used")
    args = parser.parse_args()
    if not (args.out or args.measure):
        parser.error("give --out FOLDER, --measure, or both")
    from digitrec.data import load_dataset

    images = load_dataset(args.data).split("test").images
    if args.out:
        paths = write_samples(images, args.out, args.count or 4, args.seed)
        print(f"wrote {len(paths)} images to {args.out}")
    if args.measure:
        for name, value in measure(images, args.count or 900, args.seed).items():
            print(f"{name:<36} {value:8.3f}")


if __name__ == "__main__":
    main()
