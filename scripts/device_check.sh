#!/usr/bin/env bash
# The prepared GPU check for the `device` tool: `fast` over 5 seeds and one epoch of every torch
# recipe on the lent GPU (benchmarks/gpu.py), results into $OUT. That machine has its own python3
# with a CUDA torch (no venv to build) and no internet, so MNIST travels with the working tree:
#
#   here, once:  mkdir -p .device-data && gzip -c ~/.cache/digitrec/mnist/train-images-idx3-ubyte > ...
#                (or simply: bash scripts/device_check.sh --pack)        # .device-data/ is git-ignored
#   the call:    run(command="bash scripts/device_check.sh", carry=[".device-data"], timeout_s=560)
#
# Any arguments go to benchmarks/gpu.py (e.g. --seeds 3 --recipes best,default --budget 300).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--pack" ]]; then  # on the machine that has MNIST cached: gzip it into .device-data/
    cache="${DIGITREC_HOME:-$HOME/.cache/digitrec}/mnist"
    mkdir -p .device-data
    for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
        gzip -c "$cache/$name" > ".device-data/$name.gz"
    done
    du -sh .device-data
    exit 0
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export DIGITREC_HOME="${DIGITREC_HOME:-/tmp/digitrec-home}"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "gpus", torch.cuda.device_count())'
python3 -m digitrec data fetch --from .device-data
results="${OUT:-benchmarks/results}"
python3 benchmarks/gpu.py --budget 420 "$@" || status=$?
if [[ "$results" != benchmarks/results ]]; then cp benchmarks/results/gpu*.json benchmarks/results/gpu*.md "$results"/ 2>/dev/null || true; fi
exit "${status:-0}"
