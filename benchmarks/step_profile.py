"""Where a torch recipe's training step goes, and what share of the CPU's peak it reaches.

    python benchmarks/step_profile.py                     # the `best` recipe
    python benchmarks/step_profile.py --recipe fast --steps 40
    python benchmarks/step_profile.py --model-args '{"padding": "valid"}' --name step_profile-best-valid
    python benchmarks/step_profile.py --precision fp32 --name step_profile-best-zen4-fp32

One step as `fit` takes it (training/loop.py): augmentation, forward and loss, backward, the
optimizer, the weight average (recipes with ema_decay), each timed on its own (median ms over
--steps after a warm-up), on real MNIST digits at the recipe's batch size, model channels-last and
the recipe's precision as `auto` resolves it here. FLOPs of forward + backward are counted by
torch's FlopCounterMode and set against the nominal float32 peak (cores x MHz x FLOPs a cycle).
torch.profiler lists the operators that take the time. Writes results/step_profile.{json,md}
(--name NAME: results/NAME.*).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import _machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
_PARTS = ("augment", "forward + loss", "backward", "optimizer", "weight average")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="best", help="a torch recipe (see `digitrec recipes`)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps, after --warmup untimed ones")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--model-args", type=json.loads, default=None, help="JSON replacing the recipe's model_args")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default=None,
                        help="replace the recipe's precision (e.g. fp32 on a CPU where auto picks bf16)")
    parser.add_argument("--name", default="step_profile", help="results file name: results/NAME.{json,md}")
    args = parser.parse_args(argv)
    import torch

    overrides = {"model_args": args.model_args} if args.model_args is not None else {}
    if args.precision is not None:
        overrides["precision"] = args.precision
    step, batch, precision = _step(args.recipe, overrides)
    for _ in range(args.warmup):
        step()
    times = {part: [] for part in (*_PARTS, "step")}
    for _ in range(args.steps):
        for part, seconds in zip(times, step()):
            times[part].append(seconds * 1e3)
    ms = {part: statistics.median(values) for part, values in times.items()}
    flops = _flops(args.recipe, overrides)
    peak, per_cycle, isa = _machine.nominal_peak()
    rate = flops * batch / (ms["step"] / 1e3)
    with torch.profiler.profile() as profiler:
        for _ in range(5):
            step()
    total = sum(event.self_cpu_time_total for event in profiler.key_averages())
    operators = [{"name": event.key, "share": event.self_cpu_time_total / total}
                 for event in sorted(profiler.key_averages(), key=lambda e: -e.self_cpu_time_total)[:10]]
    summary = {"recipe": args.recipe, "overrides": overrides, "batch": batch, "precision": precision, "threads": torch.get_num_threads(),
               "ms": ms, "flops_per_training_image": flops, "flops_per_second": rate,
               "nominal_peak": peak, "nominal_flops_per_cycle": per_cycle, "isa": isa,
               "images_per_second": batch / (ms["step"] / 1e3), "operators": operators}
    table = _table(summary)
    print(table)
    payload = {"command": _machine.command_line("step_profile.py", argv), "machine": _machine.machine(), "summary": summary}
    print("wrote", _machine.write(args.name, payload, f"## A `{args.recipe}` training step\n\n" + table))


def _parts(recipe_name: str, overrides: dict):
    """(model, loss_fn, optimizer, average, augment config, precision, recipe) as `fit` builds them."""
    import torch
    from torch import nn

    from digitrec.models import create_model
    from digitrec.models.normalize import Classifier
    from digitrec.recipes import get_recipe
    from digitrec.training.augment import AugmentConfig
    from digitrec.training.environment import keep_freed_memory, resolve_precision
    from digitrec.training.loop import weight_average
    from digitrec.training.optim import build_optimizer

    recipe = get_recipe(recipe_name).override(**overrides)
    if recipe.engine != "torch":
        raise SystemExit(f"step_profile: recipe {recipe_name} runs on the {recipe.engine} engine, not torch")
    args = recipe.args
    torch.manual_seed(recipe.seed)
    model = Classifier(create_model(recipe.model, **recipe.model_args), args.mean, args.std)
    model.to(memory_format=torch.channels_last)
    keep_freed_memory()  # as fit does on the CPU
    optimizer = build_optimizer(args.optimizer, model.parameters(), recipe.lr, momentum=args.momentum,
                                nesterov=args.nesterov, weight_decay=args.weight_decay, **args.optimizer_args)
    average = weight_average(model, args.ema_decay) if args.ema_decay else None
    augment = AugmentConfig(**args.augment_args) if args.augment else None
    loss_fn = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    return model, loss_fn, optimizer, average, augment, resolve_precision(args.precision, "cpu"), recipe


def _batch(size: int):
    import torch

    with np.load(ROOT / "tests" / "fixtures" / "mnist_small.npz") as data:
        images, labels = data["train_images"], data["train_labels"]
    index = np.resize(np.arange(len(images)), size)
    pixels = torch.from_numpy(images[index]).unsqueeze(1).float().div_(255.0)  # (B, 1, 28, 28) in [0, 1]
    return pixels, torch.from_numpy(labels[index].astype(np.int64))


def _step(recipe_name: str, overrides: dict):
    """A function doing one training step and returning the seconds of each part."""
    import torch

    from digitrec.training.augment import augment_batch

    model, loss_fn, optimizer, average, augment, precision, recipe = _parts(recipe_name, overrides)
    images, labels = _batch(recipe.batch_size)
    generator = torch.Generator().manual_seed(recipe.seed)
    model.train()

    def step() -> tuple[float, ...]:
        started = time.perf_counter()
        batch = augment_batch(images, augment, generator) if augment is not None else images
        augmented = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = loss_fn(model(batch), labels)
        forward = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        backward = time.perf_counter()
        optimizer.step()
        stepped = time.perf_counter()
        if average is not None:
            average.update_parameters(model)
        averaged = time.perf_counter()
        return (augmented - started, forward - augmented, backward - forward, stepped - backward,
                averaged - stepped, averaged - started)

    return step, recipe.batch_size, precision


def _flops(recipe_name: str, overrides: dict) -> float:
    """Forward + backward FLOPs of one training image (counted on a batch of 8, divided)."""
    from torch.utils.flop_counter import FlopCounterMode

    model, loss_fn, _, _, _, _, _ = _parts(recipe_name, overrides)
    images, labels = _batch(8)
    with FlopCounterMode(display=False) as counter:
        loss_fn(model(images), labels).backward()
    return counter.get_total_flops() / 8


def _table(summary: dict) -> str:
    ms = summary["ms"]
    lines = ["| part | ms | share |", "|---|---:|---:|"]
    lines += [f"| {part} | {ms[part]:.1f} | {100 * ms[part] / ms['step']:.1f}% |" for part in _PARTS]
    lines.append(f"| **step** (batch {summary['batch']}, {summary['precision']}, {summary['threads']} threads) | "
                 f"**{ms['step']:.1f}** | |")
    rate = summary["flops_per_second"]
    peak = summary["nominal_peak"]
    of_peak = (f", {100 * rate / peak:.0f}% of the nominal float32 peak ({peak / 1e9:.0f} GFLOP/s: "
               f"{summary['nominal_flops_per_cycle']} FLOPs a cycle, {summary['isa']})") if peak else ""
    lines += ["", f"{summary['images_per_second']:,.0f} training images/s; forward + backward "
              f"{summary['flops_per_training_image'] / 1e6:.1f} MFLOP an image: {rate / 1e9:.1f} GFLOP/s{of_peak}.",
              "", "| operator (torch.profiler, 5 steps) | self CPU share |", "|---|---:|"]
    lines += [f"| `{op['name']}` | {100 * op['share']:.1f}% |" for op in summary["operators"]]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
