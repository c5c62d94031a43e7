"""Where and how reproducibly a run computes: one seed for every generator, and the device."""

from __future__ import annotations

import random

import numpy as np

from ..errors import DigitrecError


def seed_everything(seed: int) -> None:
    """One seed for Python, NumPy and torch (CPU and CUDA)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


PRECISIONS = ("fp32", "bf16", "auto")


def resolve_precision(precision: str, device: str) -> str:
    """'auto' becomes bf16 where bf16 matmuls are fast (a CUDA GPU that has them, a CPU with native
    bf16 dot products: AMX tiles or AVX512-BF16), else fp32. Measured with torch 2.13: on AVX2 alone
    bf16 autocast was 10x slower than fp32; with AMX (Xeon) a `best` step took half the time; with
    AVX512-BF16 (Zen 5, 2 threads) a `fast` step 20 vs 43 ms, a `best` step 68 vs 105 ms."""
    import torch

    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device == "cpu" and _cpu_has_native_bf16() else "fp32"


def _cpu_has_native_bf16() -> bool:
    import torch

    # private torch.cpu probes, hence looked up with care: an older torch simply says no
    probes = (getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"))
    return any(probe is not None and probe() for probe in probes)


def resolve_device(name: str) -> str:
    """'auto' becomes cuda, mps or cpu (what this machine has); an unavailable device is refused."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if mps and mps.is_available():
            return "mps"
        return "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DigitrecError(f"--device {name}: CUDA is not available on this machine; use --device cpu or auto")
    if name == "mps" and not (mps and mps.is_available()):
        raise DigitrecError("--device mps: Apple's MPS is not available on this machine; use --device cpu or auto")
    if name != "cpu" and not name.startswith(("cuda", "mps")):
        raise DigitrecError(f"unknown device '{name}'; choose from: auto, cpu, cuda, cuda:N, mps")
    return name
