"""Loopback load test of `digitrec serve`: /api/predict under concurrent clients.

    python benchmarks/load.py --model tests/fixtures/digits.pt --requests 2000 --concurrency 32

Starts `python -m digitrec serve MODEL` on a free loopback port (a real process, uvicorn and all),
waits for /api/health, then sends REQUESTS POSTs of photo-like digit PNGs (synth.photoize of MNIST
fixture digits, 100-400 px) from CONCURRENCY client connections (threads with keep-alive, standard
library only). Records throughput, latency percentiles, every non-200 answer, and the server's
resident memory (VmRSS from /proc) before and after: it should stay flat. The whole run is bounded
by --timeout. Writes benchmarks/results/load.json and load.md. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import io
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).parents[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "tests" / "fixtures" / "digits.pt"), help="model to serve")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--images", type=int, default=50, help="distinct PNGs, sent in turn")
    parser.add_argument("--timeout", type=float, default=600, help="s; the whole run, server start included")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    command = "python benchmarks/load.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    deadline = time.monotonic() + args.timeout

    bodies = _bodies(args.images)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "digitrec", "serve", args.model, "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_healthy(port, server, deadline)
        _post(port, bodies[0])  # one warm-up request: the first one loads lazily imported code
        rss_before = _rss_kib(server.pid)
        latencies, failures, wall = _load(port, bodies, args.requests, args.concurrency, deadline)
        rss_after = _rss_kib(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    done = len(latencies)
    ms = np.array(latencies) * 1000
    report = {
        "command": command, "date": dt.date.today().isoformat(), "model": args.model,
        "requests": args.requests, "completed": done, "concurrency": args.concurrency,
        "ok": int(done - len(failures)), "errors": len(failures), "error_samples": failures[:10],
        "wall_seconds": wall, "requests_per_second": done / wall if wall else None,
        "latency_ms": {"p50": float(np.percentile(ms, 50)), "p90": float(np.percentile(ms, 90)),
                       "p99": float(np.percentile(ms, 99)), "max": float(ms.max())} if done else None,
        "server_rss_mib": {"before": rss_before / 1024, "after": rss_after / 1024,
                           "growth": (rss_after - rss_before) / 1024},
        "image_bytes_mean": float(np.mean([len(b) for b in bodies])),
        "load_average_before": os.getloadavg()[0],  # other work on the machine slows every figure
        "machine": _machine(),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT / "src"))
    from digitrec.atomic import atomic_write_text

    atomic_write_text(out / "load.json", json.dumps(report, indent=2) + "\n")
    atomic_write_text(out / "load.md", _markdown(report) + "\n")
    print(_markdown(report))
    if failures or done < args.requests:
        raise SystemExit(f"{len(failures)} errors, {args.requests - done} requests not completed")


def _bodies(count: int) -> list[bytes]:
    """Photo-like PNGs of the fixture's MNIST test digits."""
    sys.path.insert(0, str(ROOT / "src"))
    from digitrec.synth import photoize

    with np.load(ROOT / "tests" / "fixtures" / "mnist_small.npz") as data:
        digits = data["test_images"][:count]
    rng = np.random.default_rng(0)
    bodies = []
    for digit in digits:
        buffer = io.BytesIO()
        photoize(digit, rng).save(buffer, "PNG")
        bodies.append(buffer.getvalue())
    return bodies


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(port: int, server: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited ({server.returncode}): {server.stderr.read()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/api/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not answer /api/health in time")


def _multipart(body: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"digit.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()
    return head + body + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _post(port: int, body: bytes, connection: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    payload, kind = _multipart(body)
    connection.request("POST", "/api/predict", body=payload, headers={"Content-Type": kind})
    answer = connection.getresponse()
    return answer.status, answer.read()


def _load(port: int, bodies: list[bytes], total: int, concurrency: int, deadline: float):
    """`total` requests from `concurrency` keep-alive connections; (latencies, failures, wall s)."""
    latencies, failures, lock = [], [], threading.Lock()
    counter = iter(range(total))

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < deadline:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            started = time.perf_counter()
            try:
                status, data = _post(port, bodies[index % len(bodies)], connection)
                problem = None if status == 200 and b'"label"' in data else f"{status}: {data[:120]!r}"
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if problem:
                    failures.append(problem)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return latencies, failures, time.perf_counter() - started


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _machine() -> dict:
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "isa": platform.machine(),
            "python": platform.python_version()}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            info["cpu"] = value.strip()
        elif key.strip() == "flags":
            flags = set(value.split())
            info["isa"] = platform.machine() + "".join(
                f" {f}" for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "amx_tile") if f in flags)
            break
    return info


def _markdown(r: dict) -> str:
    lat, rss, m = r["latency_ms"] or {}, r["server_rss_mib"], r["machine"]
    return "\n".join([
        "# Load test of `digitrec serve`: POST /api/predict on loopback",
        "",
        f"{r['completed']} of {r['requests']} requests from {r['concurrency']} concurrent keep-alive connections, "
        f"photo-like digit PNGs (mean {r['image_bytes_mean'] / 1000:.1f} kB), model `{r['model']}`.",
        "",
        "| requests/s | p50 ms | p90 ms | p99 ms | max ms | errors | server RSS before | after | growth |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {r['requests_per_second']:.1f} | {lat.get('p50', 0):.0f} | {lat.get('p90', 0):.0f} | {lat.get('p99', 0):.0f} | "
        f"{lat.get('max', 0):.0f} | {r['errors']} | {rss['before']:.0f} MiB | {rss['after']:.0f} MiB | {rss['growth']:+.1f} MiB |",
        "",
        "Latency includes waiting for one of the server's inference slots (`Limits.inference_slots`, "
        "default max(2, cores)); the client threads share the machine with the server.",
        "",
        f"`{r['command']}` on {m['cpu']} ({m['cores']} cores; {m['isa']}), Python {m['python']}, {r['date']}; "
        f"load average {r['load_average_before']:.1f} when it started.",
    ])


if __name__ == "__main__":
    main()
