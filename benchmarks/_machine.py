"""What a timing was measured on, written next to every figure: CPU model and ISA, cores, load,
torch and BLAS versions; and writing a benchmark's JSON and Markdown into results/."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shlex
import statistics
import sys
from pathlib import Path

RESULTS = Path(__file__).parent / "results"

# As the `digitrec` command does (cli/__init__.py): idle OpenMP threads sleep instead of spinning,
# which on a shared 2-core machine decides the timings more than anything measured. Set before
# torch loads; a value you set yourself wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def cpu() -> str:
    """The CPU model and its widest vector ISA, from /proc/cpuinfo (timings differ by both)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.machine()
    fields = {}
    for line in info.splitlines():  # the first processor's block is enough
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    model, flags = fields.get("model name", ""), fields.get("flags", "").split()
    isa = next((name for name in ("avx512f", "avx2", "avx") if name in flags), "no AVX")
    # A virtual machine often names only "AMD EPYC": family and model tell Zen 1 (23/1) from Zen 3
    # (25/1) and Zen 5 (26/...), whose timings differ by 3x and more.
    generation = f"family {fields['cpu family']} model {fields['model']}, " if "cpu family" in fields and "model" in fields else ""
    return f"{model or platform.machine()} ({generation}{isa})"


def machine(torch_loaded: bool = True) -> dict:
    """The machine and library facts for a results file (imports torch unless told not to)."""
    facts = {"cpu": cpu(), "cores": os.cpu_count(), "python": platform.python_version(),
             "loadavg_start": list(os.getloadavg()),
             "env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OMP_NUM_THREADS", "OMP_WAIT_POLICY") if k in os.environ}}
    import numpy

    facts["numpy"] = numpy.__version__
    try:
        from threadpoolctl import threadpool_info

        facts["numpy_blas"] = sorted({f"{p.get('internal_api')} {p.get('version')}" for p in threadpool_info()
                                      if p.get("user_api") == "blas"})
    except ImportError:
        pass
    if torch_loaded:
        import torch

        config = torch.__config__.show()
        mkl = next((line.strip(" -") for line in config.splitlines() if "Math Kernel Library" in line), "")
        facts |= {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                  "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
                  "torch_blas": mkl or ("BLAS_INFO=" + next((p for p in config.split(", ") if "BLAS_INFO" in p), "?"))}
    return facts


def nominal_peak() -> tuple[float | None, int, str]:
    """(cores x MHz x float32 FLOPs per cycle, FLOPs per cycle, ISA): 2 FMA units, so 64 with
    AVX-512, 32 with AVX2."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None, 0, "unknown ISA"
    mhz = [float(line.split(":")[1]) for line in info.splitlines() if line.startswith("cpu MHz")]
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    per_cycle, isa = (64, "AVX-512") if "avx512f" in flags else (32, "AVX2") if "avx2" in flags else (8, "SSE")
    return (len(mhz) * statistics.mean(mhz) * 1e6 * per_cycle if mhz else None), per_cycle, isa


def describe(facts: dict) -> str:
    parts = [f"{facts['cpu']}, {facts['cores']} cores"]
    if "torch" in facts:
        parts.append(f"torch {facts['torch']} ({facts['torch_cpu_capability']}, {facts['torch_threads']} threads, "
                     f"{facts['torch_blas']})")
    parts.append(f"numpy {facts['numpy']} ({', '.join(facts.get('numpy_blas', [])) or 'BLAS ?'})")
    load = facts.get("loadavg_start", [0])[0], facts.get("loadavg_end", [0])[0]
    parts.append(f"load average {load[0]:.1f} at start, {load[1]:.1f} at end"
                 + (" (machine busy with other jobs)" if max(load) > 1.5 else ""))
    if facts.get("env"):
        parts.append(" ".join(f"{k}={v}" for k, v in facts["env"].items()))
    return "; ".join(parts)


def command_line(script: str, argv: list[str] | None) -> str:
    args = argv if argv is not None else sys.argv[1:]
    return f"python benchmarks/{script} " + " ".join(shlex.quote(a) for a in args)


def median(values) -> float:
    return float(statistics.median(values))


def write(name: str, payload: dict, markdown: str) -> Path:
    """results/NAME.json and results/NAME.md, with the finishing load average added."""
    payload["machine"]["loadavg_end"] = list(os.getloadavg())
    payload.setdefault("date", dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    text = (f"{markdown.rstrip()}\n\nCommand: `{payload['command']}` ({payload['date']}).\n"
            f"Machine: {describe(payload['machine'])}.\n")
    (RESULTS / f"{name}.md").write_text(text)
    return RESULTS / f"{name}.md"
