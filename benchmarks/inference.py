"""Inference speed: batched throughput and one-image latency in-process (PyTorch and onnxruntime),
the model's FLOPs and the share of the CPU's peak they reach, preprocessing time, and the wall time
of `digitrec predict` over many PNG files.

    python benchmarks/inference.py                               # tests/fixtures/digits.pt
    python benchmarks/inference.py --models runs/default-*/model.pt --files 1000
    python benchmarks/inference.py --baseline 68fd5eb         # to_mnist beside an older commit's

Each `.pt` is exported to ONNX in a temporary folder (unless a `.onnx` with the same stem sits beside
it). Batched: 10,000 images (the committed test sample, tiled) in one `predict_proba` call.
Latency: `predict_proba` of one 28x28 image, after a warm-up. Peak: a large float32 matmul measured
here, and the nominal figure for the ISA (2 FMA units assumed). Preprocessing: `vision.to_mnist`,
wall and CPU time (CPU moves less on a shared machine), beside --baseline's image by image.
Writes results/inference.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT / "src"))  # this checkout's digitrec, whatever else is installed
import _machine  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=[str(ROOT / "tests" / "fixtures" / "digits.pt")])
    parser.add_argument("--batch", type=int, default=10_000, help="images in the batched measurement")
    parser.add_argument("--single", type=int, default=300, help="one-image calls in the latency measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--files", type=int, default=1000, help="PNG files for `digitrec predict` (0: skip)")
    parser.add_argument("--baseline", default=None, help="a git commit whose to_mnist is timed beside this checkout's")
    args = parser.parse_args(argv)
    import torch

    facts = _machine.machine()
    work = Path(tempfile.mkdtemp(prefix="digitrec-inference-"))
    with np.load(ROOT / "tests" / "fixtures" / "mnist_small.npz") as data:
        digits = data["test_images"]
    batch = np.resize(digits, (args.batch, 28, 28))
    cores = torch.get_num_threads()
    nominal, per_cycle, isa = _machine.nominal_peak()
    peak = {"matmul_measured": _matmul_flops(), "nominal": nominal, "nominal_flops_per_cycle": per_cycle}
    rows = []
    for model_path in map(Path, args.models):
        onnx_path = _onnx_for(model_path, work)
        flops = _flops(model_path)
        for backend, path in (("torch", model_path), ("onnxruntime", onnx_path)):
            for threads in (cores, 1):
                row = _measure(path, backend, threads, batch, args.single, args.repeats)
                row |= {"model": str(model_path), "flops_per_image": flops}
                row["fraction_of_matmul_peak"] = row["batched_images_per_s"] * flops / peak["matmul_measured"]
                if peak["nominal"]:
                    row["fraction_of_nominal_peak"] = row["batched_images_per_s"] * flops / peak["nominal"]
                rows.append(row)
                print(_table(rows[-1:]), flush=True)
    torch.set_num_threads(cores)
    prep = _preprocessing(digits[:20], args.repeats, args.baseline, work)
    cli = _cli_many(Path(args.models[0]), digits, args.files, work) if args.files else None
    markdown = (f"## Inference\n\n{_table(rows)}\n\nPeak float32 throughput: {peak['matmul_measured'] / 1e9:.0f} GFLOP/s "
                f"measured (best of 5 2048x2048 matmuls in torch, as busy as the rest of the run), "
                f"{(peak['nominal'] or 0) / 1e9:.0f} GFLOP/s nominal (cores x MHz x {per_cycle} float32 FLOPs a cycle: "
                f"{isa}, 2 FMA units assumed).\n\n"
                f"## Preprocessing (`vision.to_mnist`)\n\n{_prep_table(prep)}\n")
    if cli:
        markdown += (f"\n## `digitrec predict` over {cli['files']} PNG files (280x280 drawings)\n\n"
                     f"{cli['wall']:.1f} s wall with {Path(cli['model']).name} "
                     f"({cli['files'] / cli['wall']:.0f} files/s, start-up included)\n")
    print(markdown)
    payload = {"command": _machine.command_line("inference.py", argv), "machine": facts, "peak_flops": peak,
               "rows": rows, "preprocessing": prep, "predict_cli": cli}
    print("wrote", _machine.write("inference", payload, markdown))


def _onnx_for(model_path: Path, work: Path) -> Path:
    beside = model_path.with_suffix(".onnx")
    if beside.is_file():
        return beside
    from digitrec.export.onnx import export_checkpoint

    out = work / f"{model_path.stem}-{abs(hash(str(model_path)))}.onnx"
    export_checkpoint(model_path, out)
    return out


def _flops(model_path: Path) -> int:
    """Floating-point operations of one image's forward pass (a multiply-add counts 2), by torch's counter."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from digitrec.models import build_model, load_checkpoint

    model = build_model(load_checkpoint(model_path), model_path).eval()
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 1, 28, 28))
    return int(counter.get_total_flops())


def _measure(path: Path, backend: str, threads: int, batch: np.ndarray, single: int, repeats: int) -> dict:
    import torch

    from digitrec.predict import load_model

    from digitrec.predict.onnx import load_onnx

    torch.set_num_threads(threads)
    predictor = load_onnx(path, threads=threads) if backend == "onnxruntime" else load_model(path)
    predictor.predict_proba(batch[:1000])  # warm-up
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        predictor.predict_proba(batch)
        rates.append(len(batch) / (time.perf_counter() - started))
    one = batch[:1]
    for _ in range(20):
        predictor.predict_proba(one)
    latencies = []
    for i in range(single):
        started = time.perf_counter()
        predictor.predict_proba(batch[i % len(batch)])
        latencies.append(time.perf_counter() - started)
    return {"backend": backend, "threads": threads, "batched_images_per_s": _machine.median(rates),
            "latency_p50_ms": 1e3 * float(np.percentile(latencies, 50)),
            "latency_p99_ms": 1e3 * float(np.percentile(latencies, 99))}


def _matmul_flops() -> float:
    import torch

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * 2048**3 / best


def _preprocessing(digits: np.ndarray, repeats: int, baseline: str | None, work: Path) -> dict:
    """p50/p90 of to_mnist on 280x280 canvas drawings (what the web page sends, as a PIL image and as
    its PNG file's bytes) and 400-px photos; with `baseline`, that commit's to_mnist on the same
    images, alternated image by image in this process. Wall and CPU (this thread's) time."""
    from PIL import Image

    import realworld
    from digitrec.synth import photoize
    from digitrec.vision import to_mnist

    rng = np.random.default_rng(0)
    photos = []
    for digit in digits:
        photo = photoize(digit, rng)
        scale = 400 / max(photo.size)
        photos.append(photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.BICUBIC))
    canvases = [realworld._canvas(d, 0, rng) for d in digits]
    sets = {"280x280 canvas drawing": canvases, "280x280 canvas drawing, PNG bytes": [_png(c) for c in canvases],
            "400-px photo": photos, "400-px photo, PNG bytes": [_png(p) for p in photos]}
    variants = {"this checkout": to_mnist}
    if baseline:
        import importlib

        import _baseline

        _baseline.import_package(_baseline.export(baseline, work / "baseline"), "digitrec_baseline")
        variants = {f"baseline {baseline}": importlib.import_module("digitrec_baseline.vision").to_mnist} | variants
    out = {}
    for name, images in sets.items():
        times = {variant: {"wall": [], "cpu": []} for variant in variants}
        for _ in range(repeats):
            for image in images:
                for variant, function in variants.items():  # alternated: a busy spell slows both
                    wall, cpu = time.perf_counter(), time.thread_time()
                    function(image)
                    times[variant]["cpu"].append(time.thread_time() - cpu)
                    times[variant]["wall"].append(time.perf_counter() - wall)
        out[name] = {variant: {f"{kind}_{q}_ms": 1e3 * float(np.percentile(t[kind], int(q[1:])))
                               for kind in ("wall", "cpu") for q in ("p50", "p90")} | {"images": len(images), "repeats": repeats}
                     for variant, t in times.items()}
    return out


def _png(image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _cli_many(model: Path, digits: np.ndarray, count: int, work: Path) -> dict:
    from PIL import Image

    folder = work / "pngs"
    folder.mkdir()
    for i in range(count):
        Image.fromarray(255 - digits[i % len(digits)]).resize((280, 280), Image.Resampling.BILINEAR).save(folder / f"{i:04d}.png")
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "digitrec", "predict", str(model), str(folder), "--json"], env=env,
                   check=True, capture_output=True)
    return {"files": count, "wall": time.perf_counter() - started, "model": str(model)}


def _table(rows: list[dict]) -> str:
    lines = ["| model | backend | threads | batched images/s | 1 image p50 | p99 | MFLOP/image | of measured matmul | of nominal peak |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {Path(r['model']).name} | {r['backend']} | {r['threads']} | {r['batched_images_per_s']:,.0f} | "
                     f"{r['latency_p50_ms']:.2f} ms | {r['latency_p99_ms']:.2f} ms | {r['flops_per_image'] / 1e6:.2f} | "
                     f"{100 * r['fraction_of_matmul_peak']:.1f}% | {100 * r.get('fraction_of_nominal_peak', 0):.1f}% |")
    return "\n".join(lines)


def _prep_table(prep: dict) -> str:
    variants = list(next(iter(prep.values())))
    lines = ["| input | " + " | ".join(f"{v}: wall p50 | p90 | CPU p50" for v in variants)
             + (" | wall ratio | CPU ratio |" if len(variants) > 1 else " |"),
             "|---|" + "---:|---:|---:|" * len(variants) + ("---:|---:|" if len(variants) > 1 else "")]
    for name, results in prep.items():
        cells = [f"{r['wall_p50_ms']:.1f} ms | {r['wall_p90_ms']:.1f} ms | {r['cpu_p50_ms']:.1f} ms" for r in results.values()]
        if len(variants) > 1:
            old, new = results[variants[0]], results[variants[-1]]
            cells.append(f"{old['wall_p50_ms'] / new['wall_p50_ms']:.1f}x | {old['cpu_p50_ms'] / new['cpu_p50_ms']:.1f}x")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
