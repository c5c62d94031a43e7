"""Whole-process overhead: `digitrec train` wall time minus its train_seconds, and `digitrec predict`
on one image, for this checkout and (optionally) an older commit, alternated in one run.

    python benchmarks/process.py                                  # this checkout only
    python benchmarks/process.py --baseline 8fd6d9b               # side by side with a commit
    python benchmarks/process.py --recipes nielsen,default --limit 5000 --repeats 3

Each variant gets its own copy of the MNIST cache (copied from ~/.cache/digitrec or $DIGITREC_HOME;
run `digitrec data fetch` first) and one untimed warm-up run, so every timed run starts from a warm
cache. `--limit` trains torch recipes on a subset (the overhead does not depend on it; evaluation
still uses the whole test set). Writes results/process.{json,md}.
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
    print(table)
    payload = {"command": _machine.command_line("process.py", argv), "machine": facts, "rows": rows}
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


if __name__ == "__main__":
    main()
