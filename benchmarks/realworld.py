"""Accuracy on photo-like versions of MNIST test digits, measured through the real CLI.

    python benchmarks/realworld.py --model runs/cnn-deep/model.pt --n 2000 --numbers 300

Every test image is made from an MNIST *test* digit (never seen in training) by digitrec.synth,
written as a PNG file, and the folder is run through `digitrec predict --json` (one subprocess per
set), numbers through `digitrec read --json`: the same preprocess + predictor path a user gets.
The sets use the same digits, so each is compared with the model's accuracy on those digits clean:

    photo      dark ink on tinted paper, 100-400 px, off-centre, uneven light, blur, noise, JPEG, RGB
    thin-pen   the same with strokes 0.7 px (at 28x28) thinner      thick-pen  2 px thicker
    low-res    a photo shrunk to 40-80 px on its long side          canvas     the web page's drawing:
    printed    a printed digit (PIL's font) photographed             dark strokes on transparent PNG
    tight-crop the MNIST digit dark on white, cut to its ink box     uci  a UCI digit (scikit-learn's
               (strokes reach every edge), 20-120 px                      load_digits) of the label, 32 px
    numbers    3-6 photo digits side by side (--touch: 20% of neighbours touching), read whole

The bar (issue #6): photo accuracy within 1 point of clean accuracy; numbers of such digits, written
side by side, read right >= 95%. Numbers whose neighbours touch are a stress set, like the thick pen,
printed digits, tight crops and UCI digits: measured and reported, outside the bar (the issue's digits are photos of MNIST digits,
not touching ones; see the README's "Read numbers").
Writes benchmarks/results/realworld.json, realworld.md and realworld-failures.png (photo-only
errors: the photo, what the model saw, the MNIST original). Not part of `make test`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

RESULTS = Path(__file__).parent / "results"
BAR_POINTS = 1.0  # photo accuracy may be at most this many points below clean
BAR_NUMBERS = 0.95  # share of numbers that must read exactly right


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a trained model (.pt, .onnx or run folder)")
    parser.add_argument("--n", type=int, default=2000, help="MNIST test digits per set")
    parser.add_argument("--numbers", type=int, default=300, help="numbers of 3-6 digits to read")
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, from {', '.join(SETS)} ('' for none)")
    parser.add_argument("--touch", default="0.2,0", help="comma-separated chances that two neighbouring digits of a "
                        "number touch: one numbers set each (0.2 is synth's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", default=None, help="keep the generated images in this folder (default: a temp folder)")
    parser.add_argument("--out", default=str(RESULTS), help="folder for realworld.json/.md/-failures.png")
    args = parser.parse_args(argv)

    from digitrec import load_dataset, load_model

    command = "python benchmarks/realworld.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    predictor = load_model(args.model)
    test = load_dataset("mnist").split("test")
    rng = np.random.default_rng(args.seed)
    picks = np.sort(rng.choice(len(test.labels), size=min(args.n, len(test.labels)), replace=False))
    images, labels = test.images[picks], test.labels[picks]
    clean_all = float((predictor.predict(test.images) == test.labels).mean())
    clean_right = predictor.predict(images) == labels
    print(f"clean MNIST test accuracy {clean_all:.4f} (all {len(test.labels)}); {clean_right.mean():.4f} on the {len(picks)} picked", flush=True)

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="digitrec-realworld-"))
    report = {
        "model": str(args.model), "model_name": predictor.metadata.get("model"), "engine": predictor.metadata.get("engine"),
        "recipe": _recipe_name(predictor.metadata.get("recipe")), "epochs": predictor.metadata.get("epoch"),
        "n": len(picks), "seed": args.seed, "clean_test_accuracy": clean_all, "clean_accuracy": float(clean_right.mean()),
        "sets": {}, "command": command, "date": dt.date.today().isoformat(), "machine": f"{platform.machine()} {os.cpu_count()} cores",
    }
    failures = []
    for name in [s for s in args.sets.split(",") if s]:
        description, make = SETS[name]
        folder = root / name
        set_rng = np.random.default_rng([args.seed, list(SETS).index(name)])
        truth = {}
        for index, (image, label) in enumerate(zip(images, labels)):
            path = folder / f"{index:05d}_{label}.png"
            truth[str(path)] = int(label)
            if not path.exists():
                folder.mkdir(parents=True, exist_ok=True)
                make(image, int(label), set_rng).save(path)
        start = time.perf_counter()
        results = _cli(["predict", args.model, str(folder), "--json"])
        seconds = time.perf_counter() - start
        got = {r["path"]: r.get("label") for r in results}
        right = np.array([got.get(str(folder / f"{i:05d}_{label}.png")) == str(label) for i, label in enumerate(labels)])
        unreadable = sum("error" in r for r in results)
        row = {
            "description": description, "n": len(right), "accuracy": float(right.mean()),
            "clean_accuracy": float(clean_right.mean()), "points_below_clean": 100 * float(clean_right.mean() - right.mean()),
            "errors": int((~right).sum()), "only_wrong_here": int((clean_right & ~right).sum()),
            "unreadable": unreadable, "seconds_per_image": seconds / len(right),
        }
        if name in NO_CLEAN_TWIN:
            row["clean_accuracy"] = row["points_below_clean"] = row["only_wrong_here"] = None
        report["sets"][name] = row
        print(f"{name:10s} accuracy {row['accuracy']:.4f}  errors {row['errors']}  unreadable {unreadable}  "
              f"{1000 * row['seconds_per_image']:.0f} ms/image", flush=True)
        if name == "photo":
            failures = [(folder / f"{i:05d}_{labels[i]}.png", i, got.get(str(folder / f"{i:05d}_{labels[i]}.png")))
                        for i in np.flatnonzero(clean_right & ~right)]
    report["numbers"] = []
    for touch in [float(t) for t in args.touch.split(",")] if args.numbers else []:
        n = _numbers(args, touch, test, picks, root / f"numbers-touch{touch:g}")
        report["numbers"].append(n)
        print(f"numbers    read right {n['exact']:.4f} ({n['n']} numbers of 3-6 digits, touch {touch:g}); "
              f"digit count right {n['count_right']:.4f}", flush=True)
    photo = report["sets"].get("photo")
    report["bar"] = {
        "photo_within_1_point": None if photo is None else photo["points_below_clean"] <= BAR_POINTS,
        "numbers_95": {f"touch {n['touch']:g}": n["exact"] >= BAR_NUMBERS for n in report["numbers"] if n["touch"] == 0}
        or None,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if failures:
        _gallery(failures[:40], test.images[picks], out / "realworld-failures.png")
    from digitrec.atomic import atomic_write_text

    atomic_write_text(out / "realworld.json", json.dumps(report, indent=2) + "\n")
    atomic_write_text(out / "realworld.md", _markdown(report) + "\n")
    print(_markdown(report))
    print(f"images in {root}")


# ---------------------------------------------------------------------------- the test sets


def _photo(digit, label, rng):
    from digitrec.synth import photoize

    return photoize(digit, rng)


def _thin(digit, label, rng):
    from digitrec.synth import photoize

    return photoize(digit, rng, pen=-0.7)


def _thick(digit, label, rng):
    from digitrec.synth import photoize

    return photoize(digit, rng, pen=2.0)


def _low_res(digit, label, rng):
    photo = _photo(digit, label, rng)
    scale = rng.uniform(40, 80) / max(photo.size)  # the digit ends up ~14-60 px tall
    return photo.resize((max(8, round(photo.width * scale)), max(8, round(photo.height * scale))), Image.Resampling.BOX)


def _canvas(digit, label, rng):
    """What the web page sends: near-black strokes, alpha only, on a transparent 280x280 canvas."""
    side = int(rng.integers(140, 240))
    alpha = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC))
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., :3] = 17
    top, left = (int(v) for v in rng.integers(0, 280 - side + 1, size=2))
    rgba[top : top + side, left : left + side, 3] = np.clip(alpha.astype(np.int32) * 2, 0, 255)  # firm strokes
    return Image.fromarray(rgba, "RGBA")


def _tight_crop(digit, label, rng):
    """A scan cut to the digit: dark on white, strokes reaching every edge, 20-120 px on its long side."""
    ys, xs = np.nonzero(digit)
    crop = Image.fromarray(255 - digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])
    scale = rng.uniform(20, 120) / max(crop.size)
    return crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))), Image.Resampling.BILINEAR)


def _uci(digit, label, rng):
    """A UCI digit of the same label (scikit-learn's load_digits: 8x8, 16 levels, filling its frame),
    dark on white, enlarged to 32 px: other writers, other scanning, no border."""
    uci = _uci_digits()
    index = rng.choice(np.flatnonzero(uci.target == label))
    paper = Image.fromarray((255 - uci.images[index] * 255 / 16).astype(np.uint8))
    return paper.resize((32, 32), Image.Resampling.BILINEAR)


@functools.cache
def _uci_digits():
    from sklearn.datasets import load_digits

    return load_digits()


def _printed(digit, label, rng):
    from digitrec.synth import render_printed_digit

    return render_printed_digit(label, rng)


SETS = {
    "photo": ("photo of a handwritten digit (synth.photoize)", _photo),
    "thin-pen": ("photo, pen 0.7 px thinner", _thin),
    "thick-pen": ("photo, pen 2 px thicker", _thick),
    "low-res": ("photo shrunk to 40-80 px", _low_res),
    "canvas": ("web-page drawing: dark strokes on transparent PNG", _canvas),
    "printed": ("printed digit (PIL font), photographed", _printed),
    "tight-crop": ("scan cut to the ink box, dark on white, 20-120 px (stress)", _tight_crop),
    "uci": ("UCI digit (sklearn load_digits) of the same label, 8x8 -> 32 px (stress)", _uci),
}
NO_CLEAN_TWIN = {"printed", "uci"}  # made from the label, not the MNIST image


def _numbers(args, touch: float, test, picks, folder: Path) -> dict:
    from digitrec.synth import photoize_number

    rng = np.random.default_rng([args.seed, 99])  # the same digits for every `touch`
    truth = {}
    for index in range(args.numbers):
        chosen = rng.choice(picks, size=int(rng.integers(3, 7)))
        text = "".join(str(test.labels[i]) for i in chosen)
        path = folder / f"{index:05d}_{text}.png"
        truth[str(path)] = text
        # Made even when kept from an earlier run: the next number's digits come from the same rng,
        # so skipping this one would make (and name) different numbers from there on.
        image = photoize_number(list(test.images[chosen]), rng, touch=touch)
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            image.save(path)
    start = time.perf_counter()
    results = _cli(["read", args.model, str(folder), "--json"])
    seconds = time.perf_counter() - start
    read = {r["path"]: r.get("text") for r in results}
    exact = [read.get(path) == text for path, text in truth.items()]
    count = [len(read.get(path) or "") == len(text) for path, text in truth.items()]
    return {"n": len(truth), "touch": touch, "exact": float(np.mean(exact)), "exact_95ci": _wilson(sum(exact), len(exact)),
            "count_right": float(np.mean(count)),
            "wrong": [{"file": Path(p).name, "read": read.get(p)} for p, t in truth.items() if read.get(p) != t][:50],
            "seconds_per_number": seconds / len(truth)}


def _wilson(right: int, n: int) -> list[float]:
    """95% Wilson score interval of a proportion: how far `right / n` may be from the true rate."""
    from scipy.stats import binomtest

    interval = binomtest(right, n).proportion_ci(0.95, method="wilson")
    return [float(interval.low), float(interval.high)]


def _recipe_name(recipe) -> str | None:
    return recipe.get("name") if isinstance(recipe, dict) else recipe


def _cli(args: list[str]) -> list[dict]:
    """Run `digitrec ARGS` in a subprocess; return its JSON (exit 1 just means some files failed)."""
    done = subprocess.run([sys.executable, "-m", "digitrec", *args], capture_output=True, text=True)
    if done.returncode not in (0, 1) or not done.stdout.strip():
        raise SystemExit(f"digitrec {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return json.loads(done.stdout)


def _gallery(failures, originals, path: Path) -> None:
    """Rows of (photo, what the model saw, MNIST original) with the true and predicted labels."""
    from PIL import ImageDraw

    from digitrec.vision import to_mnist

    cell, columns = 84, 2
    rows = -(-len(failures) // columns)
    sheet = Image.new("RGB", (columns * (3 * cell + 90), rows * (cell + 6)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (file, index, predicted) in enumerate(failures):
        x, y = (k % columns) * (3 * cell + 90), (k // columns) * (cell + 6)
        photo = Image.open(file).convert("RGB")
        photo.thumbnail((cell, cell))
        sheet.paste(photo, (x, y))
        seen = to_mnist(file)
        sheet.paste(Image.fromarray(seen).resize((cell, cell), Image.Resampling.NEAREST), (x + cell, y))
        sheet.paste(Image.fromarray(originals[index]).resize((cell, cell), Image.Resampling.NEAREST), (x + 2 * cell, y))
        draw.text((x + 3 * cell + 6, y + 30), f"true {file.stem.split('_')[1]}\nsaid {predicted}", fill="black")
    sheet.save(path)


def _markdown(report: dict) -> str:
    lines = [
        f"# Real-world accuracy of `{report['model_name']}` ({report['engine']})",
        "",
        f"Model: recipe `{report.get('recipe')}`, {report.get('epochs')} epochs on the MNIST training split.",
        f"Clean MNIST test accuracy {report['clean_test_accuracy']:.4f} (10,000 digits); "
        f"{report['clean_accuracy']:.4f} on the {report['n']} test digits each set below is made from.",
        "Every figure comes from `digitrec predict --json` / `digitrec read --json` on PNG files.",
        "",
        "| set | what | images | accuracy | points below clean | wrong only here | unreadable | ms/image |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in report["sets"].items():
        below = "-" if row["points_below_clean"] is None else f"{row['points_below_clean']:+.2f}"
        only = "-" if row["only_wrong_here"] is None else row["only_wrong_here"]
        lines.append(f"| {name} | {row['description']} | {row['n']} | {row['accuracy']:.4f} | {below} | {only} | "
                     f"{row['unreadable']} | {1000 * row['seconds_per_image']:.0f} |")
    if report["numbers"]:
        lines += ["", "| numbers of 3-6 photo digits | numbers | read exactly right | 95% interval | right digit count "
                  "| ms/number |", "|---|---:|---:|---|---:|---:|"]
        for n in report["numbers"]:
            what = "side by side (the bar)" if n["touch"] == 0 else f"neighbours touching with chance {n['touch']:g} (stress)"
            low, high = n["exact_95ci"]
            lines.append(f"| {what} | {n['n']} | {n['exact']:.4f} | {low:.3f}-{high:.3f} | {n['count_right']:.4f} | "
                         f"{1000 * n['seconds_per_number']:.0f} |")
    bar = report["bar"]
    verdict = {True: "pass", False: "FAIL", None: "not run"}
    numbers = ", ".join(f"{k}: **{verdict[v]}**" for k, v in (bar["numbers_95"] or {}).items()) or "not run"
    lines += ["", f"Bar: photo within {BAR_POINTS:g} point of clean: **{verdict[bar['photo_within_1_point']]}**; "
                  f"numbers side by side read right >= {BAR_NUMBERS:.0%}: {numbers}.",
              "", f"`{report['command']}` on {report['machine']}, {report['date']}."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
