"""Benchmark the from-scratch NumPy network on MNIST: speed against a per-sample loop, and accuracy.

    python benchmarks/scratch.py [--epochs 30] [--seeds 3] [--quick]

Book split: the first 50,000 training images train, the last 10,000 validate; accuracy is on the
10,000 test images. Prints Markdown tables; writes benchmarks/results/scratch.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from digitrec.atomic import atomic_write_text
from digitrec.recipes import get_recipe
from digitrec.scratch import Network, sgd, to_rows

sys.path.insert(0, str(Path(__file__).parent))
from _scratch_reference import ReferenceNetwork, as_training_data  # noqa: E402

RESULTS = Path(__file__).parent / "results"
TARGETS = {"nielsen_seconds": 15.0, "speedup": 20.0, "nielsen_acc": 0.95, "improved_acc": 0.98}


def load_mnist():
    """(train_images, train_labels, test_images, test_labels, source) as uint8 / int64 arrays."""
    from digitrec.data import load_dataset

    data = load_dataset("mnist")
    return data.train.images, data.train.labels, data.test.images, data.test.labels, "digitrec.data"


def time_epoch(recipe, dtype: str, fast: bool, images, labels, repeats: int) -> float:
    """Median seconds per epoch of `Network.sgd` (no validation) over `repeats` epochs."""
    net = Network(**{**recipe.model_args, "dtype": np.dtype(dtype).type}, seed=0)
    history = sgd(net, images, labels, epochs=repeats, batch_size=recipe.batch_size, eta=recipe.lr, fast=fast)
    return float(np.median([m["seconds"] for m in history]))


def blas_info() -> str:
    """The BLAS numpy uses, e.g. 'openblas 0.3.31 (Haswell kernels, 2 threads)'."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown BLAS"
    found = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return ", ".join(f"{i['internal_api']} {i['version']} ({i.get('architecture')} kernels, "
                     f"{i['num_threads']} threads)" for i in found) or "unknown BLAS"


def time_reference_epoch(recipe, images, labels, samples: int) -> float:
    """Seconds for network.py's per-sample loop over `samples` images (float64, as in the book)."""
    start = Network(**recipe.model_args, seed=0)
    reference = ReferenceNetwork(start.weights, start.biases)
    data = as_training_data(to_rows(images[:samples]), labels[:samples])
    began = time.perf_counter()
    reference.sgd_epoch(data, recipe.batch_size, recipe.lr, np.random.default_rng(0))
    return time.perf_counter() - began


def train(name: str, seed: int, epochs: int, data) -> dict:
    """Train preset `name` on the book split; test accuracy after every epoch (timed too)."""
    train_x, train_y, val_x, val_y, test_x, test_y = data
    recipe = get_recipe(name)
    net = Network(**recipe.model_args, seed=seed)
    test_accs = []
    began = time.perf_counter()
    history = sgd(
        net, train_x, train_y, epochs=epochs, batch_size=recipe.batch_size, eta=recipe.lr,
        lmbda=recipe.args.lmbda, momentum=recipe.args.momentum, validation=(val_x, val_y),
        callback=lambda epoch, metrics: test_accs.append(net.evaluate(test_x, test_y)),
    )
    seconds = time.perf_counter() - began
    best_val = int(np.argmax([m["val_acc"] for m in history]))
    best_test = int(np.argmax(test_accs))
    return {
        "config": name, "seed": seed, "epochs": len(history), "seconds": seconds,
        "best_test_acc": test_accs[best_test], "best_test_epoch": best_test + 1,
        "test_acc_at_best_val": test_accs[best_val], "best_val_epoch": best_val + 1,
        "final_test_acc": test_accs[-1], "history": history, "test_acc": test_accs,
    }


def speed_table(speed: dict) -> str:
    ref = speed["reference_seconds"]
    lines = [
        "| engine | dtype | seconds / epoch (50,000 images, batch 10) | speed-up |",
        "|---|---|---:|---:|",
        f"| per-sample loop (Nielsen's network.py) | float64 | {ref:.2f} ({speed['reference_note']}) | 1.0x |",
    ]
    for row in speed["vectorised"]:
        lines.append(f"| {row['engine']} | {row['dtype']} | {row['seconds']:.3f} (median of {speed['repeats']} "
                     f"epochs) | {ref / row['seconds']:.1f}x |")
    return "\n".join(lines)


def runs_table(runs: list[dict]) -> str:
    lines = [
        "| config | seed | epochs | total seconds | best test acc (epoch) | test acc at best val (epoch) | final test acc |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r['config']} | {r['seed']} | {r['epochs']} | {r['seconds']:.1f} | "
            f"{100 * r['best_test_acc']:.2f}% ({r['best_test_epoch']}) | "
            f"{100 * r['test_acc_at_best_val']:.2f}% ({r['best_val_epoch']}) | {100 * r['final_test_acc']:.2f}% |"
        )
    return "\n".join(lines)


def checks_table(speed: dict, runs: list[dict], full: bool) -> tuple[str, dict]:
    nielsen = [r for r in runs if r["config"] == "nielsen"]
    improved = [r for r in runs if r["config"] == "nielsen-improved"]
    speedup = speed["reference_seconds"] / min(row["seconds"] for row in speed["vectorised"])
    checks = {
        f"nielsen, {nielsen[0]['epochs']} epochs, slowest seed < {TARGETS['nielsen_seconds']:.0f} s":
            (max(r["seconds"] for r in nielsen), max(r["seconds"] for r in nielsen) < TARGETS["nielsen_seconds"]),
        f"fastest epoch >= {TARGETS['speedup']:.0f}x the per-sample loop": (speedup, speedup >= TARGETS["speedup"]),
        "nielsen best test acc >= 95% (worst seed)":
            (min(r["best_test_acc"] for r in nielsen), min(r["best_test_acc"] for r in nielsen) >= TARGETS["nielsen_acc"]),
        "nielsen-improved best test acc >= 98% (worst seed)":
            (min(r["best_test_acc"] for r in improved), min(r["best_test_acc"] for r in improved) >= TARGETS["improved_acc"]),
    }
    lines = ["| target | measured | met |", "|---|---:|---|"]
    for name, (value, ok) in checks.items():
        shown = f"{value:.1f}x" if "x the" in name else f"{value:.1f} s" if "< " in name else f"{100 * value:.2f}%"
        lines.append(f"| {name} | {shown} | {'yes' if ok else 'no'}{'' if full else ' (quick run)'} |")
    return "\n".join(lines), {name: ok for name, (_, ok) in checks.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=None, help="epochs per training run (default: each preset's, 30)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per preset (0, 1, ...)")
    parser.add_argument("--quick", action="store_true", help="3 epochs, 1 seed, per-sample loop on 5,000 images")
    args = parser.parse_args(argv)
    epochs = args.epochs or (3 if args.quick else None)
    seeds = 1 if args.quick else args.seeds
    reference_samples = 5_000 if args.quick else 50_000

    images, labels, test_x, test_y, source = load_mnist()
    data = (images[:50_000], labels[:50_000], images[50_000:], labels[50_000:], test_x, test_y)
    header = (f"numpy {np.__version__} with {blas_info()}, Python {platform.python_version()}, "
              f"{platform.machine()}, {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at start), "
              f"MNIST from {source}")
    print(f"# digitrec.scratch benchmark\n\n{header}\n")

    nielsen = get_recipe("nielsen")
    repeats = 3
    engines = [  # (engine, dtype, fast)
        ("digitrec.scratch, plain `update_mini_batch` (sgd fast=False)", "float64", False),
        ("digitrec.scratch, `FastStep` (sgd default)", "float64", True),
        ("digitrec.scratch, `FastStep` (sgd default)", "float32", True),
    ]
    vectorised = [{"engine": engine, "dtype": dtype, "fast": fast,
                   "seconds": time_epoch(nielsen, dtype, fast, data[0], data[1], repeats)}
                  for engine, dtype, fast in engines]
    ref_seconds = time_reference_epoch(nielsen, data[0], data[1], reference_samples)
    scale = 50_000 / reference_samples
    speed = {
        "reference_seconds": ref_seconds * scale, "vectorised": vectorised, "repeats": repeats,
        "reference_samples": reference_samples,
        "reference_note": "one full epoch" if scale == 1 else f"{reference_samples:,} images timed, x{scale:g}",
    }
    print("## Speed: one epoch of `nielsen` (784-30-10 sigmoid, quadratic, eta 3.0)\n\n" + speed_table(speed) + "\n")

    runs = []
    for name in ("nielsen", "nielsen-improved"):
        for seed in range(seeds):
            runs.append(train(name, seed, epochs or get_recipe(name).epochs, data))
            print(f"{name} seed {seed}: {runs[-1]['seconds']:.1f} s, best test {100 * runs[-1]['best_test_acc']:.2f}%",
                  file=sys.stderr)
    checks, met = checks_table(speed, runs, full=not args.quick)
    report = (
        "## Training runs (50,000 train / 10,000 val / 10,000 test; time includes per-epoch val + test evaluation)\n\n"
        + runs_table(runs) + "\n\n## Targets\n\n" + checks + "\n"
    )
    print(report)

    RESULTS.mkdir(parents=True, exist_ok=True)
    presets = {name: get_recipe(name).to_dict() for name in ("nielsen", "nielsen-improved")}
    meta = {"numpy": np.__version__, "blas": blas_info(), "python": platform.python_version(),
            "machine": platform.machine(), "cpus": os.cpu_count(), "header": header, "quick": args.quick,
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"), "presets": presets}
    atomic_write_text(RESULTS / "scratch.json", json.dumps(
        {"meta": meta, "speed": speed, "runs": runs, "targets_met": met}, indent=1))
    command = " ".join(["python", "benchmarks/scratch.py", *(argv or sys.argv[1:])])
    markdown = f"# digitrec.scratch benchmark\n\n`{command}`\n\n{header}\n\n"
    atomic_write_text(RESULTS / "scratch.md",
                      markdown + "## Speed: one epoch of `nielsen`\n\n" + speed_table(speed) + "\n\n" + report)


if __name__ == "__main__":
    main()
