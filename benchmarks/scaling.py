"""Data-parallel scaling on this machine: one epoch of a recipe as 1 process x all cores, N
processes x (cores / N) threads (`digitrec train --nproc N`), and 2 simulated nodes (two
`torchrun --nnodes 2` on loopback, one process each).

    python benchmarks/scaling.py                          # default recipe, 20,000 MNIST images
    python benchmarks/scaling.py --recipe cnn-deep --limit 60000

Writes benchmarks/results/scaling.{json,md}. Not part of `make test`. Each setup trains the same
global batch (the recipe's), so samples/s compare directly; the ratio is against 1 process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="default")
    parser.add_argument("--limit", type=int, default=20_000, help="training images (a stratified subset of MNIST)")
    parser.add_argument("--nproc", type=int, default=2)
    args = parser.parse_args(argv)
    command = "python benchmarks/scaling.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    cores = len(os.sched_getaffinity(0))
    train = ["train", "--recipe", args.recipe, "--epochs", "1", "--limit", str(args.limit), "--quiet"]
    subprocess.run([sys.executable, "-m", "digitrec", "data", "fetch"], check=True, capture_output=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="digitrec-scaling-") as tmp:
        setups = [
            (f"1 process x {cores} threads", [[sys.executable, "-m", "digitrec", *train]], {}),
            (f"{args.nproc} processes x {max(1, cores // args.nproc)} thread(s) (--nproc)",
             [[sys.executable, "-m", "digitrec", *train, "--nproc", str(args.nproc)]], {}),
            ("2 simulated nodes x 1 process (torchrun --nnodes 2, loopback)", _two_nodes(train), {"GLOO_SOCKET_IFNAME": "lo"}),
        ]
        for i, (name, commands, env) in enumerate(setups):
            out = Path(tmp) / f"run{i}"
            jobs = [subprocess.Popen([*c, "--out", str(out)], env=os.environ | env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True) for c in commands]
            errors = [job.communicate(timeout=3600)[1] for job in jobs]
            if any(job.returncode for job in jobs):
                raise SystemExit(f"{name} failed:\n" + "\n".join(errors))
            metrics = json.loads((out / "metrics.json").read_text())
            rows.append({"setup": name, "samples_per_second": metrics["samples_per_second"],
                         "train_seconds": metrics["train_seconds"], "test_accuracy": metrics["test_accuracy"]})
            print(f"{name}: {metrics['samples_per_second']:,.0f} samples/s", flush=True)
    base = rows[0]["samples_per_second"]
    for row in rows:
        row["ratio"] = row["samples_per_second"] / base
    result = {"recipe": args.recipe, "limit": args.limit, "rows": rows, "machine": _machine(), "command": command,
              "date": dt.date.today().isoformat(), "load_average": os.getloadavg()[0]}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scaling.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "scaling.md").write_text(_table(result) + "\n")
    print(_table(result))


def _two_nodes(train: list[str]) -> list[list[str]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    node = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d",
            "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "digitrec-scaling", "-m", "digitrec", *train]
    return [node, node]


def _machine() -> str:
    import torch
    from _machine import cpu

    return f"{cpu()}, {len(os.sched_getaffinity(0))} cores, torch {torch.__version__}, Gloo"


def _table(result: dict) -> str:
    lines = [f"# Data-parallel scaling: one epoch of `{result['recipe']}` on {result['limit']:,} MNIST images", "",
             "| setup | samples/s | vs 1 process | train time | test accuracy |", "|---|---:|---:|---:|---:|"]
    for row in result["rows"]:
        lines.append(f"| {row['setup']} | {row['samples_per_second']:,.0f} | {row['ratio']:.2f}x | "
                     f"{row['train_seconds']:.1f} s | {row['test_accuracy']:.4f} |")
    lines += ["", f"`{result['command']}` on {result['machine']} ({result['date']}, load average "
              f"{result['load_average']:.1f} at the end)."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
