"""keep_freed_memory: a step's freed activations stay in the process instead of being page-faulted in again."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

from digitrec.training import environment

# Six 12.8 MB maps (a `best` batch's 32x28x28 activations) allocated, written and freed, ten
# times over; prints the page faults those ten steps took. NumPy's buffers come from malloc, as torch's do.
_STEPS = textwrap.dedent("""
    import resource, sys
    import numpy as np
    if sys.argv[1] == "keep":
        from digitrec.training.environment import keep_freed_memory
        assert keep_freed_memory()
    def step():
        maps = [np.ones(3_200_000, dtype=np.float32) for _ in range(6)]
        del maps
    for _ in range(3):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        step()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def _page_faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", _STEPS, mode], capture_output=True, text=True, timeout=60, check=True)
    return int(done.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt tuning is glibc's")
def test_freed_activations_are_reused_without_page_faults():
    plain, kept = _page_faults("plain"), _page_faults("keep")
    # glibc by default trims the freed top of its heap back to the kernel: ~30,000 faults measured
    assert plain > 5_000, f"glibc no longer trims freed memory here ({plain} faults): revisit keep_freed_memory"
    assert kept < plain / 20, (plain, kept)


def test_other_c_libraries_are_left_alone(monkeypatch):
    monkeypatch.setattr(environment.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert environment.keep_freed_memory() is False
