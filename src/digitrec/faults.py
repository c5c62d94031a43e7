"""Named pause points, so that tests can kill a real process at a chosen moment (off unless asked).

`DIGITREC_PAUSE_AT=NAME#K` makes the K-th arrival (1-based; default 1) at `pause_point(NAME)`
create the file named by `DIGITREC_PAUSE_FLAG` and then sleep until the process is killed. The
points: `progress` (the training loop's progress update, every 20 batches and at an epoch's end:
mid-epoch), `write:FILE` (an atomic write of FILE, e.g. `write:last.pt`, with the new bytes in the
temporary file and the old FILE still in place). Unset, each point costs one comparison.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_WHERE, _, _WHEN = os.environ.get("DIGITREC_PAUSE_AT", "").partition("#")
_arrivals = 0


def pause_point(name: str) -> None:
    """Pause here for ever if DIGITREC_PAUSE_AT names this point and this is the arrival it counts."""
    global _arrivals
    if not _WHERE or name != _WHERE:
        return
    _arrivals += 1
    if _arrivals != int(_WHEN or 1):
        return
    flag = os.environ.get("DIGITREC_PAUSE_FLAG")
    if flag:
        Path(flag).write_text(f"{os.getpid()} {name}#{_arrivals}\n")
    while True:  # until SIGKILL; a test that forgets to kill still ends with its own timeout
        time.sleep(3600)
