"""Whole-process overhead: `digitrec train` wall time minus its train_seconds, and `digitrec predict`
on one image, for this checkout and (optionally) an older commit, alternated in one run.

    python benchmarks/process.py                                  # this checkout only
    python benchmarks/process.py --baseline 8fd6d9b               # side by side with a commit
    python benchmarks/process.py --recipes nielsen,default --limit 5000 --repeats 3
    python benchmarks/process.py --recipes nielsen --floor        # plus what a run cannot skip, step by step

Each variant gets its own copy of the MNIST cache (copied from ~/.cache/digitrec or $DIGITREC_HOME;
run `digitrec data fetch` first) and one untimed warm-up run, so every timed run starts from a warm
cache. `--limit` trains torch recipes on a subset (the overhead does not depend on it; evaluation
still uses the whole test set). `--floor` times, each in fresh processes, the imports and pictures
that a run pays before and after training (the floor under the overhead). Writes
results/process.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import _machine  # noqa: E402
from _baseline import export as _export  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", default="nielsen,mxnet-mlp,default", help="comma-separated recipes (1 epoch each)")
    parser.add_argument("--limit", type=int, default=5000, help="training images for torch recipes (0: all)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", default=None, help="a git commit to compare with, run from `git archive`")
    parser.add_argument("--model", default=str(ROOT / "tests" / "fixtures" / "digits.pt"), help="model for the predict timing")
    parser.add_argument("--floor", action="store_true", help="also time each import and picture a run pays, in fresh processes")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="digitrec-process-"))
    variants = {"this checkout": ROOT / "src"}
    if args.baseline:
        variants = {f"baseline {args.baseline}": _export(args.baseline, work / "baseline")} | variants
    image = work / "one.png"
    _drawing(image)
    facts = _machine.machine()
    rows = []
    for recipe in args.recipes.split(","):
        extra = ["--limit", str(args.limit)] if args.limit and not recipe.startswith("nielsen") else []
        command = ["train", "--recipe", recipe, "--epochs", "1", "--quiet", *extra]
        rows.append(_time(variants, work, command, args.repeats, recipe))
    rows.append(_time(variants, work, ["predict", args.model, str(image)], args.repeats, None))
    table = _table(rows, list(variants))
    floor = _floor(args.repeats) if args.floor else None
    if floor:
        table += "\n\n" + _floor_table(floor)
    print(table)
    payload = {"command": _machine.command_line("process.py", argv), "machine": facts, "rows": rows, "floor": floor}
    print("wrote", _machine.write("process", payload, "## Whole-process overhead\n\n" + table))


def _drawing(path: Path) -> None:
    """A 280x280 black-on-white drawing of an MNIST test digit (from the committed test sample)."""
    from PIL import Image

    with np.load(ROOT / "tests" / "fixtures" / "mnist_small.npz") as data:
        digit = data["test_images"][0]
    Image.fromarray(255 - digit).resize((280, 280), Image.BILINEAR).save(path)


def _home(work: Path, name: str) -> Path:
    home = work / f"home-{abs(hash(name))}"
    if not home.exists():
        source = Path(os.environ.get("DIGITREC_HOME") or Path.home() / ".cache" / "digitrec") / "mnist"
        (home / "mnist").mkdir(parents=True)
        for file in source.glob("*-ubyte"):
            shutil.copyfile(file, home / "mnist" / file.name)
    return home


def _run(src: Path, home: Path, command: list[str], out: Path | None) -> tuple[float, float | None]:
    env = os.environ | {"PYTHONPATH": str(src), "DIGITREC_HOME": str(home)}
    argv = [sys.executable, "-m", "digitrec", *command] + (["--out", str(out)] if out else [])
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    train = json.loads((out / "metrics.json").read_text())["train_seconds"] if out else None
    if out:
        shutil.rmtree(out)
    return wall, train


def _time(variants: dict, work: Path, command: list[str], repeats: int, recipe: str | None) -> dict:
    row = {"what": f"train --recipe {recipe} --epochs 1" if recipe else "predict MODEL one.png", "command": command,
           "variants": {}}
    for name, src in variants.items():  # warm-up: fills this variant's cache, loads files into the page cache
        _run(src, _home(work, name), command, work / "out" if recipe else None)
        row["variants"][name] = {"wall": [], "train_seconds": []}
    for _ in range(repeats):  # alternated, so a busy spell hits both variants
        for name, src in variants.items():
            wall, train = _run(src, _home(work, name), command, work / "out" if recipe else None)
            row["variants"][name]["wall"].append(wall)
            row["variants"][name]["train_seconds"].append(train)
    for result in row["variants"].values():
        result["median_wall"] = _machine.median(result["wall"])
        if recipe:
            result["median_overhead"] = _machine.median([w - t for w, t in zip(result["wall"], result["train_seconds"])])
    return row


def _table(rows: list[dict], names: list[str]) -> str:
    head = "| what | " + " | ".join(f"{n}: wall | {n}: overhead" for n in names) + " |"
    lines = [head, "|---|" + "---:|---:|" * len(names)]
    for row in rows:
        cells = []
        for name in names:
            result = row["variants"][name]
            overhead = f"{result['median_overhead']:.2f} s" if "median_overhead" in result else "-"
            cells += [f"{result['median_wall']:.2f} s", overhead]
        lines.append(f"| `digitrec {row['what']}` | " + " | ".join(cells) + " |")
    lines += ["", "Medians of the repeats; overhead = wall - train_seconds (start-up, data, evaluation, "
              "pictures, checkpoints)."]
    return "\n".join(lines)


# What a `train` process pays outside training, one step per fresh process: (name, set-up, timed
# statement). Set-up runs untimed first, so each figure is that step alone, as a run meets it.
_PICTURES_SETUP = (
    "import numpy as np; from digitrec.evaluation import plots; import matplotlib.figure, matplotlib.backends.backend_agg; "
    "rng = np.random.default_rng(0); classes = [str(c) for c in range(10)]; "
    "history = [dict(epoch=e, train_loss=1 / e, train_acc=1 - 0.1 / e, val_loss=1 / e, val_acc=1 - 0.1 / e) for e in range(1, 31)]; "
    "confusion = np.diag(rng.integers(950, 1100, 10)) + rng.integers(0, 4, (10, 10)); "
    "images = rng.integers(0, 256, (10000, 28, 28), dtype=np.uint8); labels = rng.integers(0, 10, 10000); "
    "predicted = np.where(rng.random(10000) < 0.05, rng.integers(0, 10, 10000), labels)"
)
_FLOOR_STEPS = (
    ("python start-up (`python -c pass`)", None, "pass"),
    ("import numpy", "", "import numpy"),
    ("import the CLI (typer, digitrec.cli)", "import numpy", "import digitrec.cli"),
    ("import scipy.special (the NumPy network's sigmoid)", "import numpy", "import scipy.special"),
    ("import matplotlib (Figure, Agg)", "import numpy", "import matplotlib.figure, matplotlib.backends.backend_agg"),
    # one process, as a run draws them: the first picture also pays matplotlib's first-use costs
    ("draw curves.png (30 epochs), confusion.png, misclassified.png", _PICTURES_SETUP,
     "plots.learning_curves(history, OUT + 'curves.png', title='t'); "
     "plots.confusion_matrix(confusion, classes, OUT + 'confusion.png', title='t'); "
     "plots.misclassified(images, labels, predicted, rng.random(10000), classes, OUT + 'misclassified.png')"),
    ("import torch", "import numpy", "import torch"),
    ("import torch._dynamo (torch.optim does on first use)", "import torch", "import torch._dynamo"),
)


def _floor(repeats: int) -> list[dict]:
    out = tempfile.mkdtemp(prefix="digitrec-floor-") + os.sep
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    rows = []
    for name, setup, statement in _FLOOR_STEPS:
        seconds = []
        for _ in range(repeats):
            if setup is None:  # the interpreter itself: wall time of the whole process
                started = time.perf_counter()
                subprocess.run([sys.executable, "-c", statement], env=env, check=True)
                seconds.append(time.perf_counter() - started)
                continue
            code = (f"OUT = {out!r}\n{setup}\nimport time\nstarted = time.perf_counter()\n{statement}\n"
                    "print(time.perf_counter() - started)")
            done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"floor step {name!r} failed:\n{done.stderr[-2000:]}")
            seconds.append(float(done.stdout.split()[-1]))
        rows.append({"step": name, "seconds": seconds, "median": _machine.median(seconds)})
    shutil.rmtree(out, ignore_errors=True)
    return rows


def _floor_table(rows: list[dict]) -> str:
    lines = ["### What a run pays outside training (each step alone, in fresh processes)", "",
             "| step | median |", "|---|---:|"]
    lines += [f"| {row['step']} | {row['median']:.2f} s |" for row in rows]
    by = {row["step"]: row["median"] for row in rows}
    numpy_run = sum(v for k, v in by.items() if "torch" not in k)
    torch_floor = sum(by[k] for k in by if k.startswith(("python", "import numpy", "import torch")))
    lines += ["", f"A NumPy-network run (nielsen) pays all but the torch rows: {numpy_run:.2f} s before it loads data, "
              f"evaluates or writes a file. A torch recipe pays at least start-up, NumPy and the two torch imports: "
              f"{torch_floor:.2f} s."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
