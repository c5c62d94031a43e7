"""`--nproc N`: run a digitrec command under torchrun on this machine, from the same process.

This is torchrun itself (`torch.distributed.run`, standalone rendezvous on localhost), not a
launcher of our own: `digitrec train --nproc 2 ARGS` does what `torchrun --standalone
--nproc-per-node 2 -m digitrec train ARGS` does, and says in one line which rank failed.
"""

from __future__ import annotations

import logging
import os
import signal

from ..errors import DigitrecError, Terminated
from .distributed import usable_cores

# A worker that failed with this exit code printed its own "digitrec: error: ..." line already.
_REPORTED = 1


def run_workers(nproc: int, worker_args: list[str], max_restarts: int = 0) -> None:
    """Start `python -m digitrec WORKER_ARGS` in `nproc` processes; wait for all of them.

    Raises DigitrecError naming the first rank that failed (a signal, or an unexpected exit);
    exits 1 quietly when a rank already explained itself.
    """
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    if nproc < 1:
        raise DigitrecError(f"--nproc must be at least 1, got {nproc}")
    cores = usable_cores()
    # torchrun would set 1 and warn about it; each worker picks cores // workers itself anyway
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, cores // nproc)))
    os.environ["DIGITREC_LAUNCHER"] = "1"  # workers leave the report of a dead rank to this process
    args = torchrun.parse_args([
        "--standalone", "--nproc-per-node", str(nproc), "--max-restarts", str(max_restarts),
        "--monitor-interval", "0.5", "-m", "digitrec", *worker_args,
    ])
    # Its own report of a failure is many lines, and its modules' loggers each carry their own level
    # (torch's get_logger sets one from LOGLEVEL), so the parent's level alone does not quiet them.
    for name in [*logging.root.manager.loggerDict, "torch.distributed.elastic"]:
        if name.startswith("torch.distributed.elastic"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        torchrun.run(args)
    except ChildFailedError as exc:
        cause = _cause(exc.failures)
        if cause is None:
            raise SystemExit(1) from None
        rank, failure = cause
        raise DigitrecError(f"rank {rank} of {nproc} failed: {_how(failure.exitcode)}"
                            + (f" (after {max_restarts} restart(s))" if max_restarts else "")
                            + "; the run can continue with --resume") from None
    except SignalException as exc:
        # torchrun turns a SIGTERM or SIGINT to this process into SignalException once it has
        # stopped the workers (each left its run resumable): end as one process does on it.
        raise (Terminated() if exc.sigval == signal.SIGTERM else KeyboardInterrupt()) from None


def _cause(failures: dict) -> tuple[int, object] | None:
    """The rank whose failure started it: the first to die without a word (a signal, an unexpected
    exit code). None when every failed rank explained itself (exit 1 after its own error line).

    torchrun's own `get_first_failure` goes by timestamps in whole seconds, so a rank that lost its
    peer and said so within the same second as the peer's SIGKILL could be named instead.
    """
    silent = {rank: failure for rank, failure in failures.items() if failure.exitcode != _REPORTED}
    if not silent:
        return None
    rank = min(silent, key=lambda r: (silent[r].timestamp, r))
    return rank, silent[rank]


def _how(exitcode: int) -> str:
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"
