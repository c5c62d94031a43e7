"""Throughput and latency of `digitrec serve` on loopback: POST /api/predict with canvas drawings and
photos from 16 concurrent connections, per backend, optionally side by side with an older commit.

    python benchmarks/serve.py                                   # the default model, see --model
    python benchmarks/serve.py --model runs/default-*/model.pt --seconds 20 --baseline 68fd5eb

Each server is a real `python -m digitrec serve MODEL --port P` process (uvicorn and all) on a free
loopback port, started once per variant and backend and waited for on /api/health. Every kind of
image then gets one warm-up pass and SECONDS of load: CONCURRENCY client threads, each with its own
keep-alive connection (standard library only), sending the kind's PNGs in turn. Drawings are what
the web page sends (dark strokes on a transparent 280x280 canvas, as benchmarks/realworld.py makes
them); photos are synth.photoize of MNIST test digits (100-400 px, photo-like PNGs, as
benchmarks/load.py sends). Every number is bounded in time: each phase by SECONDS, the whole run by
--timeout. Besides requests/s and latency percentiles, the server's CPU time per request (its
process and children, from /proc) is recorded: on a shared machine it moves less than wall time.
The client threads run on the same cores; their CPU time is recorded too.
Writes results/serve.{json,md}. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import _machine  # noqa: E402
import load  # noqa: E402  (free port, health wait, multipart body)
from _baseline import export as _export  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "digits.pt"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model to serve (default: the newest runs/default-*/model.pt, "
                        "what `make run` trains, else tests/fixtures/digits.pt)")
    parser.add_argument("--backends", default="onnxruntime,torch", help="comma-separated --backend values for this checkout")
    parser.add_argument("--workers", default="1,2", help="comma-separated --workers values for this checkout")
    parser.add_argument("--kinds", default="drawing,photo", help="comma-separated, from drawing, photo")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0, help="s of load per kind of image and round, after a warm-up")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all servers; rows give the median round")
    parser.add_argument("--images", type=int, default=20, help="distinct PNGs of each kind, sent in turn")
    parser.add_argument("--baseline", default=None, help="a git commit to serve side by side (its own default backend)")
    parser.add_argument("--timeout", type=float, default=900, help="s; the whole run, servers' start-up included")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.timeout
    model = Path(args.model) if args.model else _default_model()
    print(f"model: {model}", flush=True)
    bodies = {kind: _bodies(kind, args.images) for kind in args.kinds.split(",")}
    variants = [("this checkout", ROOT / "src", ["--backend", backend, "--workers", workers])
                for backend in args.backends.split(",") for workers in args.workers.split(",")]
    if args.baseline:
        src = _export(args.baseline, Path(tempfile.mkdtemp(prefix="digitrec-serve-")) / "baseline")
        variants.insert(0, (f"baseline {args.baseline}", src, []))
    facts = _machine.machine()
    with contextlib.ExitStack() as stack:  # every server up at once, so that the rounds alternate
        servers = [(variant, options, stack.enter_context(_Server(src, model, options, deadline)))
                   for variant, src, options in variants]
        runs: dict[tuple[int, str], list[dict]] = {}
        for _ in range(args.rounds):  # a busy spell on the shared machine hits every variant alike
            for index, (variant, options, server) in enumerate(servers):
                for kind, images in bodies.items():
                    run = _measure(server, images, args.concurrency, args.seconds, deadline)
                    runs.setdefault((index, kind), []).append(run)
                    print(f"{variant} {' '.join(options)} {kind}: {run['requests_per_second']:.1f} requests/s, "
                          f"p99 {run['latency_ms']['p99']:.0f} ms, {run['errors']} errors", flush=True)
        rows = [_combine(runs[index, kind]) | {
                    "variant": variant, "options": options, "backend": server.backend, "kind": kind,
                    "workers": int(options[-1]) if "--workers" in options else 1, "startup_line": server.line,
                    "startup_seconds": server.startup_seconds}
                for index, (variant, options, server) in enumerate(servers) for kind in bodies]
    markdown = (f"## `digitrec serve`: POST /api/predict on loopback, {args.concurrency} connections\n\n{_table(rows)}\n\n"
                f"Model `{model}`. Drawings: 280x280 RGBA PNG canvas strokes (mean "
                f"{np.mean([len(b) for b in bodies.get('drawing', [b''])]) / 1000:.1f} kB); photos: synth.photoize PNGs "
                f"(mean {np.mean([len(b) for b in bodies.get('photo', [b''])]) / 1000:.1f} kB). {args.seconds:g} s of load "
                f"per round after a warm-up pass, {args.rounds} rounds alternating the servers: requests/s, CPU and load are the "
                f"median round's, latency percentiles over all rounds' requests; server CPU = its process tree's "
                f"user + system time / requests; "
                f"client CPU = the {args.concurrency} client threads' (same machine, same cores).\n")
    print(markdown)
    payload = {"command": _machine.command_line("serve.py", argv), "machine": facts, "model": str(model), "rows": rows,
               "versions": _versions()}
    print("wrote", _machine.write("serve", payload, markdown))
    if any(row["errors"] for row in rows):
        raise SystemExit("some requests failed: see error_samples in results/serve.json")


def _default_model() -> Path:
    runs = sorted((ROOT / "runs").glob("default-*/model.pt"), key=lambda p: p.stat().st_mtime)
    return runs[-1] if runs else FIXTURE


def _bodies(kind: str, count: int) -> list[bytes]:
    """`count` PNGs of MNIST fixture test digits: canvas drawings or photo-like images."""
    import realworld
    from digitrec.synth import photoize

    with np.load(ROOT / "tests" / "fixtures" / "mnist_small.npz") as data:
        digits = data["test_images"][:count]
    rng = np.random.default_rng(0)
    make = {"drawing": lambda d: realworld._canvas(d, 0, rng), "photo": lambda d: photoize(d, rng)}[kind]
    out = []
    for digit in digits:
        buffer = io.BytesIO()
        make(digit).save(buffer, "PNG")
        out.append(buffer.getvalue())
    return out


class _Server:
    """`python -m digitrec serve` of one source tree on a free port, for a `with` block."""

    def __init__(self, src: Path, model: Path, options: list[str], deadline: float) -> None:
        self.port = load._free_port()
        command = [sys.executable, "-m", "digitrec", "serve", str(model), "--port", str(self.port), *options]
        env = os.environ | {"PYTHONPATH": str(src)}
        # uvicorn logs a line a request (to stdout): into a file, since a pipe nobody reads fills up
        # and then blocks the server.
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT, text=True)
        self.deadline, self.started = deadline, time.perf_counter()

    def __enter__(self) -> "_Server":
        try:
            load._wait_healthy(self.port, self.process, self.deadline)
            self.startup_seconds = time.perf_counter() - self.started
        except SystemExit:
            self.__exit__()
            self.log.seek(0)
            raise SystemExit(f"the server did not start: {self.log.read()[-2000:]}") from None
        self.log.seek(0)
        self.line = next((line.strip() for line in self.log if line.startswith("digitrec: serving")), "")
        self.backend = _health(self.port).get("engine")
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def cpu_seconds(self) -> float:
        return _tree_cpu_seconds(self.process.pid)


def _health(port: int) -> dict:
    import json

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/api/health")
    return json.loads(connection.getresponse().read())


def _measure(server: _Server, bodies: list[bytes], concurrency: int, seconds: float, deadline: float) -> dict:
    """One warm-up pass over `bodies`, then `seconds` of load from `concurrency` keep-alive clients."""
    payloads = [load._multipart(body) for body in bodies]
    warm = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    for payload in payloads:
        _send(warm, payload)
    latencies, failures, lock = [], [], threading.Lock()
    stop = min(time.monotonic() + seconds, deadline)

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        index = offset
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                status, data = _send(connection, payloads[index % len(payloads)])
                problem = None if status == 200 and b'"label"' in data else f"{status}: {data[:120]!r}"
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if problem:
                    failures.append(problem)
            index += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(concurrency)]
    load_before, cpu_before, client_before = os.getloadavg()[0], server.cpu_seconds(), time.process_time()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + 60)
    wall = time.perf_counter() - started
    cpu, client_cpu = server.cpu_seconds() - cpu_before, time.process_time() - client_before
    done = len(latencies)
    ms = 1000 * np.array(latencies or [0.0])
    return {"requests": done, "errors": len(failures), "error_samples": failures[:10], "wall_seconds": wall,
            "latencies_ms": ms.tolist() if done else [],
            "requests_per_second": done / wall, "concurrency": concurrency,
            "latency_ms": {q: float(np.percentile(ms, int(q[1:]))) for q in ("p50", "p90", "p99")} | {"max": float(ms.max())},
            "server_cpu_ms_per_request": 1000 * cpu / max(done, 1), "client_cpu_ms_per_request": 1000 * client_cpu / max(done, 1),
            "loadavg_before": load_before}


def _combine(runs: list[dict]) -> dict:
    """One row from the rounds: the median round's rates, percentiles of all their requests."""
    ms = np.concatenate([run["latencies_ms"] for run in runs]) if any(run["requests"] for run in runs) else np.zeros(1)
    median = _machine.median
    return {"rounds": len(runs), "requests": sum(run["requests"] for run in runs),
            "errors": sum(run["errors"] for run in runs),
            "error_samples": [sample for run in runs for sample in run["error_samples"]][:10],
            "requests_per_second": median([run["requests_per_second"] for run in runs]),
            "requests_per_second_rounds": [run["requests_per_second"] for run in runs],
            "concurrency": runs[0]["concurrency"],
            "latency_ms": {q: float(np.percentile(ms, int(q[1:]))) for q in ("p50", "p90", "p99")} | {"max": float(ms.max())},
            "server_cpu_ms_per_request": median([run["server_cpu_ms_per_request"] for run in runs]),
            "client_cpu_ms_per_request": median([run["client_cpu_ms_per_request"] for run in runs]),
            "loadavg_before": median([run["loadavg_before"] for run in runs])}


def _send(connection: http.client.HTTPConnection, payload: tuple[bytes, str]) -> tuple[int, bytes]:
    body, kind = payload
    connection.request("POST", "/api/predict", body=body, headers={"Content-Type": kind})
    answer = connection.getresponse()
    return answer.status, answer.read()


def _tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` and its live descendants (uvicorn workers, if any)."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry.name))  # fields[1]: the parent's pid
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        if current in stats:
            total += (int(stats[current][11]) + int(stats[current][12])) / ticks  # utime, stime
        todo += children.get(current, [])
    return total


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("fastapi", "starlette", "uvicorn", "h11", "httptools", "uvloop", "python-multipart", "pydantic",
                    "pillow", "numpy", "scipy", "onnxruntime", "torch"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


def _table(rows: list[dict]) -> str:
    lines = ["| variant | backend | workers | images | requests/s | p50 | p90 | p99 | errors | requests | server CPU/request | client CPU/request | load before | start-up |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lat = r["latency_ms"]
        lines.append(f"| {r['variant']} | {r['backend']} | {r['workers']} | {r['kind']} | {r['requests_per_second']:.1f} | {lat['p50']:.0f} ms | "
                     f"{lat['p90']:.0f} ms | {lat['p99']:.0f} ms | {r['errors']} | {r['requests']} | "
                     f"{r['server_cpu_ms_per_request']:.1f} ms | {r['client_cpu_ms_per_request']:.1f} ms | {r['loadavg_before']:.1f} | "
                     f"{r['startup_seconds']:.1f} s |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
