"""Which rank `--nproc`'s launcher names when a job fails (torchrun's failures, as plain records)."""

from __future__ import annotations

import signal
from types import SimpleNamespace

from digitrec.training.launch import _cause


def _failure(exitcode: int, timestamp: int) -> SimpleNamespace:
    return SimpleNamespace(exitcode=exitcode, timestamp=timestamp)  # torchrun's ProcessFailure fields


def test_the_rank_killed_by_a_signal_is_named_over_the_one_that_lost_it_in_the_same_second():
    # rank 0 exited 1 after saying it lost its peer; rank 1 was SIGKILLed: both stamped second 100
    failures = {0: _failure(1, 100), 1: _failure(-signal.SIGKILL, 100)}
    rank, failure = _cause(failures)
    assert (rank, failure.exitcode) == (1, -signal.SIGKILL)


def test_among_silent_failures_the_earliest_then_the_lowest_rank_is_named():
    assert _cause({0: _failure(-9, 101), 1: _failure(3, 100)})[0] == 1
    assert _cause({2: _failure(-9, 100), 1: _failure(-6, 100)})[0] == 1


def test_ranks_that_all_explained_themselves_leave_nothing_to_name():
    assert _cause({0: _failure(1, 100), 1: _failure(1, 99)}) is None
