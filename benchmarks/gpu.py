"""digitrec on a CUDA GPU: `fast` over seeds and one epoch of every torch recipe, in one run.

    python benchmarks/gpu.py                              # CUDA: fast x 5 seeds, then 1 epoch of each torch recipe
    python benchmarks/gpu.py --budget 420                 # start no run after 420 s (the device tool's 10-minute calls)
    python benchmarks/gpu.py --device cpu --limit 2000 --seeds 1 --recipes mxnet-mlp --name gpu-smoke   # anywhere

Each row is the whole `digitrec train ... --device D` command in a subprocess, so its wall time
includes starting Python, torch and CUDA; training seconds, samples/s, the precision `auto` chose
and the test accuracy come from the run's metrics.json. The NumPy engine's recipes (`nielsen*`)
never use a GPU and are left out. Results are rewritten after every row, so a run stopped by a
time limit keeps what it finished; rows the budget left out are listed as skipped. Writes
results/gpu.{json,md} (or --name). scripts/device_check.sh runs this on a lent GPU machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import _machine  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    from digitrec.recipes import get_recipe, list_recipes

    torch_recipes = [name for name in list_recipes() if get_recipe(name).engine == "torch" and name != "fast"]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N (or cpu for a smoke run)")
    parser.add_argument("--seeds", type=int, default=5, help="fast runs, seeds 0..N-1 (0: none)")
    parser.add_argument("--recipes", default=",".join(torch_recipes), help="recipes trained for one epoch each ('' for none)")
    parser.add_argument("--limit", type=int, default=0, help="training images per run (0: all of MNIST's)")
    parser.add_argument("--budget", type=float, default=0, help="seconds after which no further run is started (0: no limit)")
    parser.add_argument("--name", default="gpu", help="results file name: results/NAME.{json,md}")
    args = parser.parse_args(argv)
    facts = _machine.machine() | _accelerator(args.device)
    plan = [("fast", seed, None) for seed in range(args.seeds)]
    plan += [(name, 0, 1) for name in args.recipes.split(",") if name]
    started = time.perf_counter()
    rows: list[dict] = []
    payload = {"command": _machine.command_line("gpu.py", argv), "machine": facts, "rows": rows}
    with tempfile.TemporaryDirectory(prefix="digitrec-gpu-") as folder:
        for recipe, seed, epochs in plan:
            if args.budget and time.perf_counter() - started > args.budget:
                rows.append({"recipe": recipe, "seed": seed, "epochs": epochs, "skipped": "budget"})
                continue
            rows.append(_train(recipe, seed, epochs, args.device, args.limit, Path(folder) / f"{recipe}-{seed}"))
            print(_row_line(rows[-1]), flush=True)
            _machine.write(args.name, payload, _markdown(rows, facts))
    path = _machine.write(args.name, payload, _markdown(rows, facts))
    print(_table(rows))
    print("wrote", path)


def _accelerator(device: str) -> dict:
    """GPU name, memory and library versions (nothing but the device name off CUDA)."""
    import torch

    if not device.startswith("cuda"):
        return {"device": device}
    if not torch.cuda.is_available():
        raise SystemExit(f"gpu.py: --device {device}, but torch {torch.__version__} sees no CUDA GPU; use --device cpu "
                         "for a smoke run")
    props = torch.cuda.get_device_properties(torch.device(device))
    return {"device": device, "gpu": props.name, "gpu_memory_gib": round(props.total_memory / 2**30, 1),
            "gpu_count": torch.cuda.device_count(), "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(), "bf16": torch.cuda.is_bf16_supported()}


def _train(recipe: str, seed: int, epochs: int | None, device: str, limit: int, out: Path) -> dict:
    command = [sys.executable, "-m", "digitrec", "train", "--recipe", recipe, "--seed", str(seed), "--device", device,
               "--out", str(out), "--quiet"]
    command += ["--epochs", str(epochs)] if epochs else []
    command += ["--limit", str(limit)] if limit else []
    began = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - began
    row = {"recipe": recipe, "seed": seed, "epochs": epochs, "wall_seconds": round(wall, 2)}
    if done.returncode != 0:  # one failing recipe must not cost the others' figures
        return row | {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]}
    metrics = json.loads((out / "metrics.json").read_text())
    return row | {key: metrics.get(key) for key in ("epochs_run", "test_accuracy", "train_seconds", "samples_per_second",
                                                    "train_precision", "train_size")}


def _row_line(row: dict) -> str:
    name = f"{row['recipe']} seed {row['seed']}"
    if "error" in row:
        return f"{name}: failed: {row['error']}"
    return (f"{name}: {row['test_accuracy']:.4f} after {row['epochs_run']} epoch(s), {row['train_seconds']:.2f} s training "
            f"({row['samples_per_second']:,.0f} samples/s, {row['train_precision']}), {row['wall_seconds']:.2f} s whole process")


def _table(rows: list[dict]) -> str:
    lines = ["| run | epochs | test accuracy | training s | samples/s | precision | whole process s |",
             "|---|---:|---:|---:|---:|---|---:|"]
    for row in rows:
        name = f"{row['recipe']}, seed {row['seed']}" if row["recipe"] == "fast" else row["recipe"]
        if "skipped" in row or "error" in row:
            why = "skipped: time budget spent" if "skipped" in row else f"failed: {row['error']}"
            lines.append(f"| {name} | | {why} | | | | |")
            continue
        lines.append(f"| {name} | {row['epochs_run']} | {row['test_accuracy']:.4f} | {row['train_seconds']:.2f} | "
                     f"{row['samples_per_second']:,.0f} | {row['train_precision']} | {row['wall_seconds']:.2f} |")
    fast = [row for row in rows if row["recipe"] == "fast" and "test_accuracy" in row]
    if fast:
        accuracies = [row["test_accuracy"] for row in fast]
        lines.append(f"\n`fast` over {len(fast)} seeds: mean {sum(accuracies) / len(accuracies):.4f}, min {min(accuracies):.4f}; "
                     f"median {_machine.median([r['train_seconds'] for r in fast]):.2f} s training, "
                     f"{_machine.median([r['wall_seconds'] for r in fast]):.2f} s whole process.")
    return "\n".join(lines)


def _markdown(rows: list[dict], facts: dict) -> str:
    where = facts.get("gpu") or facts["device"]
    details = f" ({facts['gpu_memory_gib']} GiB, CUDA {facts['cuda']}, cuDNN {facts['cudnn']})" if "gpu" in facts else ""
    return f"## digitrec on {where}{details}\n\n{_table(rows)}"


if __name__ == "__main__":
    main()
