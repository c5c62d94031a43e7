"""Where this process stands in a torchrun job, and the few collectives training needs.

digitrec never launches or talks to other processes itself: `torchrun` (torch.distributed.run)
starts the workers and sets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE; `torch.distributed`
with Gloo (CPU) or NCCL (CUDA) carries the traffic. Outside torchrun everything here is a no-op
for a world of one.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from dataclasses import dataclass
from typing import Any, Iterator, NoReturn

from ..errors import RankLostError

# What Gloo and NCCL say when the other end of a collective went away (their errors are often
# plain RuntimeErrors, not torch.distributed.DistError).
_LOST = ("Connection reset by peer", "Connection closed by peer", "Broken pipe", "timed out", "NCCL error", "DistBackendError")


@dataclass(frozen=True)
class Ranks:
    """This process's place in the job: global rank and size, and the same on this node."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def writer(self) -> bool:
        """Only global rank 0 prints, draws progress and writes files."""
        return self.rank == 0


SINGLE = Ranks()


def ranks_from_env() -> Ranks:
    """The ranks torchrun set in the environment (a world of one without torchrun)."""
    env = os.environ
    world = int(env.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    return Ranks(int(env["RANK"]), world, int(env.get("LOCAL_RANK", "0")), int(env.get("LOCAL_WORLD_SIZE", "1")))


def restart_count() -> int:
    """How often torchrun has restarted this job's workers (`--max-restarts`); 0 on the first try."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))


def start(device: str) -> tuple[Ranks, str, str]:
    """Join the torchrun job (once per process): the process group, this rank's device and threads.

    Threads: torchrun gives each worker one thread, which leaves cores idle when a node has more
    cores than workers; each worker takes cores // workers-on-this-node instead. Returns the
    ranks, this rank's device (cuda:LOCAL_RANK for CUDA) and a line saying what was chosen.
    """
    ranks = ranks_from_env()
    if not ranks.distributed:
        return ranks, device, ""
    import torch
    import torch.distributed as dist

    if device.startswith("cuda"):
        device = f"cuda:{ranks.local_rank}"
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        store, rank, world = next(dist.rendezvous("env://"))
        # torchrun's store outlives a restart, and the Gloo addresses the dead attempt's ranks
        # left in it would be read back (the new ranks then wait on listeners that are gone):
        # each attempt keeps its keys apart.
        store = dist.PrefixStore(f"digitrec/attempt-{restart_count()}", store)
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo", store=store, rank=rank, world_size=world)
        atexit.register(_leave_group)  # the polite goodbye; `end_worker` makes sure nothing follows it
    threads = max(1, usable_cores() // ranks.local_world)
    torch.set_num_threads(threads)
    backend = dist.get_backend()
    line = (f"distributed: rank {ranks.rank} of {ranks.world} ({ranks.local_world} on this node), {backend}, "
            f"{threads} thread(s) per process (cores // processes on this node)")
    return ranks, device, line


def _leave_group() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def joined_a_job() -> bool:
    """True in a process that joined a torchrun job's process group (`start` did)."""
    return "torch.distributed" in sys.modules and sys.modules["torch.distributed"].is_initialized()


def end_worker(code: int | str | None) -> NoReturn:
    """End a torchrun worker: exit functions run, output is flushed, then the process exits at once.

    The interpreter's own teardown is skipped on purpose. A DistributedDataParallel model keeps its
    Gloo group alive past `destroy_process_group` (torch 2.13, measured: constructing one adds 11
    references to the group, deleting it and collecting garbage takes back 1, and the group's
    threads, pt_gloo_runloop x2 and gloo_tcp_loop, still run after destroy). A thread that drops a
    finished collective during the final garbage collection of Py_Finalize must take the GIL to
    free its tensors; a thread asking for the GIL then is ended by pthread_exit, which C++ turns
    into std::terminate: "terminate called without an active exception", SIGABRT. A core dump
    showed exactly that stack (ProcessGroupGloo::AsyncWork::~AsyncWork -> decref_pyobject ->
    take_gil -> pthread_exit) in 1 of 17-38 two-rank runs on a busy 2-core machine.
    `code` is what SystemExit carried: None is 0, a message is printed and is 1, as `sys.exit` does.
    """
    if isinstance(code, str):
        print(code, file=sys.stderr)
    atexit._run_exitfuncs()  # while Python is whole: _leave_group, temporary folders, logging
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


@contextlib.contextmanager
def peers_watched(ranks: Ranks) -> Iterator[None]:
    """Turn a collective that failed because another rank died into one clear RankLostError."""
    try:
        yield
    except RuntimeError as exc:
        text = str(exc)
        if not ranks.distributed or not (type(exc).__module__.startswith("torch.distributed") or any(m in text for m in _LOST)):
            raise
        first = text.strip().splitlines()[0][:160] if text.strip() else type(exc).__name__
        raise RankLostError(f"rank {ranks.rank}: lost contact with another rank, which died or hung ({first})") from exc


def barrier(ranks: Ranks) -> None:
    if ranks.distributed:
        import torch.distributed as dist

        dist.barrier()


@contextlib.contextmanager
def rank_zero_first(ranks: Ranks) -> Iterator[None]:
    """Rank 0 runs the block first (fetching a dataset into the cache, say), the others after it."""
    if ranks.rank != 0:
        barrier(ranks)
    yield
    if ranks.rank == 0:
        barrier(ranks)


def all_reduce_sum(ranks: Ranks, *tensors):
    """Sum each tensor over the ranks, in place (a no-op in a world of one)."""
    if ranks.distributed:
        import torch.distributed as dist

        for tensor in tensors:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensors


def gather_objects(ranks: Ranks, value: Any) -> list[Any]:
    """Every rank's `value`, in rank order, on every rank (picklable Python objects)."""
    if not ranks.distributed:
        return [value]
    import torch.distributed as dist

    found: list[Any] = [None] * ranks.world
    dist.all_gather_object(found, value)
    return found


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), which threads and process counts follow."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
