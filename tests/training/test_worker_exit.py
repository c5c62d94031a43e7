"""How a torchrun worker ends: exit functions and output first, then no interpreter teardown.

The race it removes (a Gloo thread freeing tensors during Py_Finalize, SIGABRT) cannot be forced
on demand; these tests pin the mechanism, and test_distributed.py runs real two-rank jobs through it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

_WORKER = textwrap.dedent("""
    import atexit, sys
    from pathlib import Path
    from digitrec.training.distributed import end_worker

    class Teardown:
        def __del__(self):
            print("teardown ran", file=sys.stderr, flush=True)

    keep = Teardown()  # freed only by the interpreter's teardown, which end_worker skips
    atexit.register(lambda: Path(sys.argv[1]).write_text("exit functions ran"))
    sys.stdout.write("unflushed output")  # no newline: still in the buffer when the process ends
    end_worker(eval(sys.argv[2]))
""")


@pytest.mark.parametrize(("code", "status", "message"), [
    ("0", 0, ""), ("None", 0, ""), ("3", 3, ""), ("'digitrec: error: rank 1 lost'", 1, "digitrec: error: rank 1 lost"),
])
def test_a_worker_runs_its_exit_functions_and_flushes_then_skips_the_teardown(tmp_path, code, status, message):
    marker = tmp_path / "atexit.txt"
    job = subprocess.run([sys.executable, "-c", _WORKER, str(marker), code], capture_output=True, text=True, timeout=60)
    assert job.returncode == status, job.stderr
    assert marker.read_text() == "exit functions ran"
    assert job.stdout == "unflushed output"
    assert "teardown ran" not in job.stderr
    assert job.stderr.strip() == message


def test_the_same_script_without_end_worker_does_tear_down(tmp_path):
    """The control: the Teardown object above is freed at teardown when a process exits normally."""
    plain = _WORKER.replace("end_worker(eval(sys.argv[2]))", "sys.exit(eval(sys.argv[2]))")
    job = subprocess.run([sys.executable, "-c", plain, str(tmp_path / "m.txt"), "0"], capture_output=True, text=True, timeout=60)
    assert job.returncode == 0 and "teardown ran" in job.stderr


def test_a_process_outside_a_job_has_not_joined_one():
    from digitrec.training.distributed import joined_a_job

    assert not joined_a_job()
