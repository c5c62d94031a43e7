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
    """'auto' becomes bf16 where bf16 matmuls are fast (a CUDA GPU that has them, a CPU with AMX
    tiles), else fp32. On a CPU without AMX, bf16 autocast was 10x slower than fp32 (AVX2, torch
    2.13); with AMX (Xeon, AVX-512) a `best` step took half the time."""
    import torch

    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)  # private, hence looked up with care
    return "bf16" if device == "cpu" and amx is not None and amx() else "fp32"


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
