#!/usr/bin/env bash
# The prepared GPU check for the `device` tool. That machine has its own python3 with a CUDA torch
# (no venv to build) and no internet, so MNIST travels with the working tree, gzipped:
#
#   here, once:  bash scripts/device_check.sh --pack                  # cached MNIST -> .device-data/ (git-ignored, 12 MB)
#   the call:    run(command="bash scripts/device_check.sh", carry=[".device-data"], timeout_s=560)
#
# With no arguments it runs benchmarks/gpu.py (`fast` x 5 seeds, one epoch of every torch recipe,
# starting no run after 420 s). A first argument ending in .py names another benchmark, the rest
# are its options, e.g. tuning `best` on the GPU:
#   bash scripts/device_check.sh best.py --seeds 3 --extra "--device cuda"
# The results files the run writes are copied to $OUT (what the device tool brings back).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--pack" ]]; then  # on the machine that has MNIST cached
    cache="${DIGITREC_HOME:-$HOME/.cache/digitrec}/mnist"
    mkdir -p .device-data
    for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
        gzip -c "$cache/$name" > ".device-data/$name.gz"
    done
    du -sh .device-data
    exit 0
fi
script=gpu.py
if [[ "${1:-}" == *.py ]]; then script=$1; shift; fi
if [[ "$script" == gpu.py ]]; then set -- --budget 420 "$@"; fi  # a later --budget wins
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export DIGITREC_HOME="${DIGITREC_HOME:-/tmp/digitrec-home}"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "gpus", torch.cuda.device_count())'
python3 -m digitrec data fetch --from .device-data
stamp=$(mktemp)
python3 "benchmarks/$script" "$@" || status=$?
if [[ -n "${OUT:-}" ]]; then  # what this run wrote, for the device tool to bring back
    find benchmarks/results -maxdepth 1 -type f \( -name '*.json' -o -name '*.md' \) -newer "$stamp" -exec cp {} "$OUT"/ \;
fi
rm -f "$stamp"
exit "${status:-0}"
