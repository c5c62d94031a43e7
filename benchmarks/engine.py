"""Engine throughput: digitrec's `training.loop.fit` against a plain hand-written PyTorch loop of the
same model (a `models.Classifier`), batch size and optimizer, in the same run, alternated.

    python benchmarks/engine.py                          # every torch recipe, 200 steps each
    python benchmarks/engine.py --recipes default,mxnet-lenet --steps 300 --repeats 5

Both sides train from the same initial weights on the same MNIST images for `--steps` batches
(one epoch of steps * batch_size images, no validation), with the recipe's optimizer and
schedule but without augmentation (a data choice, not engine overhead: the plain loop has none).
The plain loop is what a PyTorch tutorial writes: slice a random permutation, forward, loss,
zero_grad, backward, step, schedule step. Reports samples/s (median of the repeats) and fit's
speed as a fraction of the plain loop's. Writes results/engine.{json,md}.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import _machine  # noqa: E402


def main(argv: list[str] | None = None) -> None:

    from digitrec.data import load_dataset
    from digitrec.recipes import get_recipe, list_recipes

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    torch_recipes = [n for n in list_recipes() if get_recipe(n).engine == "torch"]
    parser.add_argument("--recipes", default=",".join(torch_recipes))
    parser.add_argument("--steps", type=int, default=200, help="batches per timed run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-channels-last", dest="channels_last", action="store_false",
                        help="skip the plain loop with channels-last weights (what fit uses)")
    args = parser.parse_args(argv)
    facts = _machine.machine()
    train = load_dataset("mnist").train
    rows = []
    for name in args.recipes.split(","):
        recipe = get_recipe(name)
        recipe = dataclasses.replace(recipe.override(epochs=1, val_fraction=0.0, augment=False), early_stopping=None)
        rows.append(_compare(recipe, train, args.steps, args.repeats, args.channels_last))
        print(_table(rows[-1:]), flush=True)
    table = _table(rows)
    print(table)
    payload = {"command": _machine.command_line("engine.py", argv), "machine": facts, "rows": rows}
    print("wrote", _machine.write("engine", payload, "## Engine throughput: `fit` vs a plain PyTorch loop\n\n" + table))


def _compare(recipe, train, steps: int, repeats: int, channels_last: bool) -> dict:
    import torch

    from digitrec.models import Classifier, create_model
    from digitrec.training.loop import TensorSplit, fit

    n = steps * recipe.batch_size
    data = TensorSplit.from_arrays(train.images[:n], train.labels[:n], torch.device("cpu"))
    torch.manual_seed(recipe.seed)
    initial = Classifier(create_model(recipe.model, **recipe.model_args), recipe.args.mean, recipe.args.std)
    timings = {"fit": [], "plain": []} | ({"plain, channels-last": []} if channels_last else {})

    def run_fit():
        model = copy.deepcopy(initial)
        started = time.perf_counter()
        fit(model, data, None, recipe)
        return time.perf_counter() - started

    for _ in range(repeats + 1):  # the first round warms up the allocator and kernels, untimed
        results = {"fit": run_fit(), "plain": _plain(copy.deepcopy(initial), data, recipe, False)}
        if channels_last:
            results["plain, channels-last"] = _plain(copy.deepcopy(initial), data, recipe, True)
        if _ == 0:
            continue
        for key, seconds in results.items():
            timings[key].append(seconds)
    rates = {key: n / _machine.median(values) for key, values in timings.items()}
    return {"recipe": recipe.name, "model": recipe.model, "batch_size": recipe.batch_size,
            "optimizer": recipe.args.optimizer, "steps": steps, "seconds": timings,
            "samples_per_second": rates, "fit_vs_plain": rates["fit"] / rates["plain"],
            "fit_vs_plain_channels_last": rates["fit"] / rates["plain, channels-last"] if channels_last else None}


def _plain(model, data, recipe, channels_last: bool) -> float:
    """The loop a tutorial writes, with the recipe's optimizer and schedule."""
    import torch
    from torch import nn

    from digitrec.training.optim import build_optimizer, build_scheduler

    args = recipe.args
    optimizer = build_optimizer(args.optimizer, model.parameters(), recipe.lr, momentum=args.momentum,
                                nesterov=args.nesterov, weight_decay=args.weight_decay, **args.optimizer_args)
    steps = len(data) // recipe.batch_size
    schedule = build_scheduler(args.schedule, optimizer, 1, steps, **args.schedule_args)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    images = data.images.contiguous(memory_format=torch.channels_last) if channels_last else data.images
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    started = time.perf_counter()
    order = torch.randperm(len(data))
    for step in range(steps):
        index = order[step * recipe.batch_size:(step + 1) * recipe.batch_size]
        logits = model(images[index])
        loss = loss_fn(logits, data.labels[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if args.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        schedule.step_batch()
    loss.item()
    return time.perf_counter() - started


def _table(rows: list[dict]) -> str:
    cl = bool(rows) and rows[0]["fit_vs_plain_channels_last"] is not None
    lines = ["| recipe | model | batch | optimizer | fit samples/s | plain loop | fit / plain |"
             + (" plain, channels-last | fit / plain channels-last |" if cl else ""),
             "|---|---|---:|---|---:|---:|---:|" + ("---:|---:|" if cl else "")]
    for row in rows:
        rate = row["samples_per_second"]
        lines.append(f"| {row['recipe']} | {row['model']} | {row['batch_size']} | {row['optimizer']} | "
                     f"{rate['fit']:,.0f} | {rate['plain']:,.0f} | {row['fit_vs_plain']:.3f} |"
                     + (f" {rate['plain, channels-last']:,.0f} | {row['fit_vs_plain_channels_last']:.3f} |" if cl else ""))
    lines += ["", "samples/s, medians of the repeats, each `steps` batches of real MNIST on the CPU, no augmentation. "
              "fit keeps conv weights channels-last (NHWC), so the like-for-like loop is the last pair."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
