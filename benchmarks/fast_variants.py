"""Is `fast`'s network as small as one epoch to 99% allows? Smaller variants against it, in one run.

    python benchmarks/fast_variants.py                          # every variant, seeds 0..4
    python benchmarks/fast_variants.py --variants fast,narrow --seeds 3

Each variant trains with the `fast` recipe's settings (Adam + one-cycle lr 1e-2, batch 256, label
smoothing 0.1, one epoch) through digitrec's `fit`, in this process, on the training images
`digitrec train --recipe fast --seed N` trains on (its stratified 98%; for a seed, every variant
sees the same ones), and is scored on the 10,000 test images. Training seconds exclude data loading and evaluation. Writes results/fast_variants.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import _machine  # noqa: E402

VARIANTS = {
    "fast": "the recipe's network: conv 16@5x5, pool, conv 32@3x3, pool, dense 256 (1.62 M multiply-adds)",
    "narrow": "conv 12@5x5 and 24@3x3, dense 128 (0.55x the multiply-adds)",
    "dense-128": "dense 128 instead of 256 (0.88x)",
    "strided-stem": "the first conv with stride 2 in place of its max-pool (0.86x, and no 28x28 map)",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated: {', '.join(VARIANTS)}")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 for each variant")
    args = parser.parse_args(argv)
    names = args.variants.split(",")
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from: {', '.join(VARIANTS)}")
    facts = _machine.machine()
    splits = {seed: _splits(seed) for seed in range(args.seeds)}
    rows = []
    for name in names:
        for seed, (train, test) in splits.items():
            rows.append({"variant": name, "seed": seed, **_train(name, seed, train, test)})
            print(f"{name} seed {seed}: {rows[-1]['test_accuracy']:.4f} in {rows[-1]['train_seconds']:.2f} s", flush=True)
    table = _table(rows, names)
    print(table)
    payload = {"command": _machine.command_line("fast_variants.py", argv), "machine": facts, "rows": rows}
    print("wrote", _machine.write("fast_variants", payload, "## `fast`: smaller networks, one epoch each\n\n" + table))


def _splits(seed: int):
    """The training images `digitrec train --recipe fast --seed N` uses (its stratified 98%), and the test set."""
    import torch

    from digitrec.recipes import get_recipe
    from digitrec.training.loop import TensorSplit
    from digitrec.training.run import RunOptions, prepare_data

    data, test = prepare_data(get_recipe("fast").override(seed=seed), RunOptions())
    cpu = torch.device("cpu")
    return (TensorSplit.from_arrays(data.train.images, data.train.labels, cpu),
            TensorSplit.from_arrays(test.images, test.labels, cpu))


def _network(name: str):
    from torch import nn

    from digitrec.models import create_model

    if name == "narrow":
        return create_model("fast-cnn", channels=(12, 24), hidden=128)
    if name == "dense-128":
        return create_model("fast-cnn", hidden=128)
    net = create_model("fast-cnn")
    if name == "strided-stem":  # 28 -> 14 px by the convolution's stride, then as before
        net.features = nn.Sequential(nn.Conv2d(1, 16, 5, stride=2, padding=2), nn.ReLU(),
                                     nn.Conv2d(16, 32, 3, padding=1), nn.MaxPool2d(2), nn.ReLU())
    return net


def _train(name: str, seed: int, train, test) -> dict:
    from digitrec.models import Classifier
    from digitrec.recipes import get_recipe
    from digitrec.training.environment import seed_everything
    from digitrec.training.loop import evaluate_tensors, fit

    recipe = get_recipe("fast").override(seed=seed)
    seed_everything(seed)
    model = Classifier(_network(name), recipe.args.mean, recipe.args.std)
    started = time.perf_counter()
    fit(model, train, None, recipe, precision="fp32")
    seconds = time.perf_counter() - started
    _, accuracy = evaluate_tensors(model, test, recipe.args.eval_batch_size)
    return {"test_accuracy": accuracy, "train_seconds": seconds,
            "params": sum(p.numel() for p in model.parameters())}


def _table(rows: list[dict], names: list[str]) -> str:
    lines = ["| variant | parameters | test accuracy: mean (min-max) | >= 99.0% mean, each >= 98.9% | training s (median) |",
             "|---|---:|---:|---|---:|"]
    for name in names:
        mine = [row for row in rows if row["variant"] == name]
        accuracies = [row["test_accuracy"] for row in mine]
        mean = sum(accuracies) / len(accuracies)
        meets = "yes" if mean >= 0.99 and min(accuracies) >= 0.989 else "no"
        lines.append(f"| {name}: {VARIANTS[name]} | {mine[0]['params']:,} | {mean:.4f} ({min(accuracies):.4f}-"
                     f"{max(accuracies):.4f}) | {meets} | {_machine.median([r['train_seconds'] for r in mine]):.2f} |")
    lines.append(f"\n{len(rows) // len(names)} seeds each; fp32 (this benchmark does not use bf16 even where the CPU has it).")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
