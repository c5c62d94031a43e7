"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

from .faults import pause_point


def _default_mode() -> int:
    """rw for whoever the umask allows, as open() would give; mkstemp alone gives 0600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_TEMP_GLOB = ".*.*.tmp*"  # the names atomic_path's temporary files take: .<stem>.<random>.tmp<suffix>


def remove_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Delete temporary files that a killed writer (SIGKILL, power cut) left in `folder`; return them.

    Only for a folder that no other process is writing into at the time.
    """
    stale = [p for p in Path(folder).glob(_TEMP_GLOB) if p.is_file() and _is_temp_name(p.name)]
    for path in stale:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return stale


def _is_temp_name(name: str) -> bool:
    stem, _, suffix = name[1:].rpartition(".tmp")
    return name.startswith(".") and "." in stem and (suffix == "" or suffix.startswith("."))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; when the block succeeds, fsync it and rename it over `path`.

    The temporary file lives in the same directory so the final `os.replace` is a rename on one
    file system (atomic on POSIX); its name keeps the final suffix, so writers that pick a format
    from it (`torch.save`, `np.savez`, `Figure.savefig`) still work. If the block raises, the
    temporary file is removed and any existing `path` is left untouched. An OSError (no permission,
    a full disk) names `path`, the file the caller asked for, not the hidden temporary one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    except OSError as error:
        raise _naming(error, path, None) from None
    try:  # from here on, whatever stops the block (an error, Ctrl-C, SIGTERM) removes the temporary file
        os.fchmod(fd, _default_mode())
        os.close(fd)
        yield Path(tmp_name)
        pause_point(f"write:{path.name}")
        with open(tmp_name, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        if isinstance(error, OSError):
            raise _naming(error, path, tmp_name) from None
        raise


def _naming(error: OSError, path: Path, tmp_name: str | None) -> OSError:
    """`error` about `path`: a copy naming it when it named the temporary file (any, if `tmp_name`
    is None: mkstemp failed on one) or nothing."""
    if error.filename is not None and tmp_name is not None and str(error.filename) != tmp_name:
        return error  # about another file, e.g. one that the writer read
    renamed = type(error)(error.errno, error.strerror or str(error), str(path))
    return renamed if error.errno is not None else error


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", **open_kwargs) -> Iterator[IO]:
    """`open(path, mode)` that only replaces `path` once the block has written everything."""
    with atomic_path(path) as tmp, open(tmp, mode, **open_kwargs) as handle:
        yield handle


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
