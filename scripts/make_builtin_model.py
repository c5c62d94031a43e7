"""Train the built-in model with digitrec's own `train` command and install it into the package.

    python scripts/make_builtin_model.py                        # recipe best, seed 0 (make builtin-model)
    python scripts/make_builtin_model.py --recipe fast --seed 1
    python scripts/make_builtin_model.py -- --device cuda       # anything after -- goes to `digitrec train`

The run is kept (default runs/builtin-RECIPE-seedN/); a finished run of the recipe as it is now
(same values and seed, all of MNIST) found there is installed without training again. Its model.pt is copied to
src/digitrec/weights/builtin.pt and builtin.json records the recipe, the seed, the exact
`digitrec train ...` command that reproduces it (without --out; on a CPU with OMP_NUM_THREADS set to the
threads the run used, as recorded in its metrics.json),
its test figures and its sha256.
Commit both files; `digitrec predict photo.jpg` then uses them.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

# This checkout's digitrec, whatever else is installed: the model goes into the package beside the script.
SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))
from digitrec.predict import builtin  # noqa: E402

MAX_MB = 5.0  # "a few MB at most": the wheel carries the file to every install


def train(args: list[str]) -> None:
    """`digitrec ARGS...` in a fresh process, as a person would type it; stops the script if it fails."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "digitrec", *args], env=env)
    if done.returncode != 0:
        raise SystemExit(f"make_builtin_model: `digitrec {shlex.join(args)}` failed (exit {done.returncode})")


def _finished_run_of(run: Path, recipe: str, seed: int) -> bool:
    """Whether `run` holds a finished run of `recipe` with `seed` on all of MNIST, every value as the
    recipe has it now (its description aside): such a run is installed instead of trained again."""
    from digitrec.recipes import get_recipe

    try:
        config = json.loads((run / "config.json").read_text())
    except (OSError, ValueError):
        return False
    opts, wanted = config.get("options") or {}, get_recipe(recipe).override(seed=seed)
    return ((run / "metrics.json").is_file() and not wanted.differences(config.get("recipe") or {})
            and (opts.get("data"), opts.get("limit")) == ("mnist", None))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="best", help="digitrec recipe to train (default: best)")
    parser.add_argument("--seed", type=int, default=0, help="the recipe's seed (default: 0)")
    parser.add_argument("--run", type=Path, help="run directory to train into (default: runs/builtin-RECIPE-seedN)")
    parser.add_argument("--weights", type=Path, default=builtin.WEIGHTS, help=f"where to install (default: {builtin.WEIGHTS})")
    parser.add_argument("--max-mb", type=float, default=MAX_MB, help=f"refuse a model file larger than this (default: {MAX_MB})")
    parser.add_argument("train_args", nargs="*", help="more `digitrec train` options, after --")
    options = parser.parse_args(argv)

    command = ["train", "--recipe", options.recipe, "--seed", str(options.seed), *options.train_args]
    run = options.run or Path("runs") / f"builtin-{options.recipe}-seed{options.seed}"
    if not options.train_args and _finished_run_of(run, options.recipe, options.seed):
        print(f"{run}: a finished run of recipe {options.recipe}, seed {options.seed}, as the recipe is now: installing it")
    else:
        train([*command, "--out", str(run)])
    model = run / "model.pt"
    megabytes = model.stat().st_size / 1e6
    if megabytes > options.max_mb:
        raise SystemExit(f"make_builtin_model: {model} is {megabytes:.1f} MB, over --max-mb {options.max_mb}; choose a smaller recipe")
    threads = _threads_of(run)  # a CPU run repeats bit for bit only at the same thread count
    info = builtin.install_builtin(model, (f"OMP_NUM_THREADS={threads} " if threads else "") + shlex.join(["digitrec", *command]),
                                   options.weights)
    described = builtin.BuiltinModel(options.weights / builtin.MODEL_FILE, info).describe()
    print(f"installed {options.weights / builtin.MODEL_FILE} ({megabytes:.2f} MB) and {builtin.INFO_FILE}: {described}")
    return info


def _threads_of(run: Path) -> str | None:
    """The torch threads the run trained with (metrics.json; runs before it was recorded: this
    shell's OMP_NUM_THREADS), or None for a run on a GPU."""
    metrics = json.loads((run / "metrics.json").read_text())
    if "train_threads" not in metrics:
        return os.environ.get("OMP_NUM_THREADS")
    return str(metrics["train_threads"]) if metrics.get("train_device", "cpu") == "cpu" else None


if __name__ == "__main__":
    main()
