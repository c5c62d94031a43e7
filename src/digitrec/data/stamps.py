"""What the cache already verified: a file's sha256 remembered with its size and mtime.

A file is hashed once, when it enters the cache (or when `digitrec data verify` asks); later loads
compare one `stat` against the stamp instead of reading and hashing megabytes again. A file that
was rewritten, truncated or replaced no longer matches its stamp and is verified afresh.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import atomic_write_text

STAMPS_FILE = ".verified.json"


def _signature(path: Path) -> list[int] | None:
    """(size, mtime in ns, inode) of `path`, or None when it is not a readable file."""
    try:
        info = path.stat()
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns, info.st_ino]


class Stamps:
    """The stamps of one cache folder: {file name: {"sha256", "stat"}}, kept in `.verified.json`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            loaded = json.loads((folder / STAMPS_FILE).read_text(encoding="utf-8"))
            self._entries = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            self._entries = {}  # no stamps yet, or an unreadable file: everything is verified afresh

    def matches(self, name: str, sha256: str) -> bool:
        """True when `name` was stamped with `sha256` and has not changed since (one stat call)."""
        entry = self._entries.get(name)
        if not isinstance(entry, dict) or entry.get("sha256") != sha256:
            return False
        now = _signature(self.folder / name)
        return now is not None and entry.get("stat") == now

    def record(self, name: str, sha256: str) -> None:
        self._entries[name] = {"sha256": sha256, "stat": _signature(self.folder / name)}

    def forget(self, name: str) -> None:
        self._entries.pop(name, None)

    def save(self) -> None:
        """Write the stamps (atomically; callers hold the cache folder's lock)."""
        atomic_write_text(self.folder / STAMPS_FILE, json.dumps(self._entries, indent=1, sort_keys=True))
