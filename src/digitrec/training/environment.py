"""Where and how reproducibly a run computes: one seed for every generator, and the device."""

from __future__ import annotations

import ctypes
import platform
import random

import numpy as np

from ..errors import DigitrecError


def seed_everything(seed: int) -> None:
    """One seed for Python, NumPy and torch (CPU and CUDA)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep the memory a CPU training step frees, for the next step to reuse.

    A step allocates and frees tens of MB of activations (a `best` batch: 12.8 MB a 32x28x28 map).
    By default glibc hands a freed block at the top of the heap back to the kernel once more than
    about twice the largest recent block is free, so the next step page-faults it in again, zero-filled:
    8,000-16,000 page faults a `best` step on 2 Zen 3 cores (0-470 with this), whose element-wise
    batch norm and ReLU backward then ran 7x slower than on warm memory; steps timed alone took
    320-330 ms against 238-304, a whole epoch 1.5-4% longer (a noisy host). PyTorch's CPU tuning
    guide preloads jemalloc or tcmalloc for this; two mallopt calls do it inside the process. The
    numbers computed do not change. Process-wide and idempotent; returns False where the C library is not glibc.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)  # the process's own C library
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    # Blocks up to 32 MiB (glibc's ceiling for this setting) come from the heap, and up to 1 GiB
    # of free heap is kept: more than any digitrec step frees, and small beside the memory of a machine that trains.
    return bool(libc.mallopt(m_mmap_threshold, 32 << 20)) and bool(libc.mallopt(m_trim_threshold, 1 << 30))


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
