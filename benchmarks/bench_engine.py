"""Engine speed benchmark (a script, not a timed test).

Lifts a synthetic 2D clip with the paper-sized network (random weights unless a checkpoint
is given; speed does not depend on the weights) and reports, per backend and mode:
frames per second, peak memory of the process, and the achieved FLOP/s, counted
analytically over the windows the runtime actually ran, as a ratio to this machine's fp32
matmul rate measured in the same process just before and after (the better of the two;
2048^3, same thread count).

Each measurement runs in a fresh process so peak memory belongs to that measurement.
The time is the best of ``--repeats`` runs in fast mode (the machine may be shared), of one
run in accurate mode (one 2-GFLOP window per frame and a full-sequence window every third
of a window, all twice with flip augmentation). The
load average before each measurement is recorded: other processes on the machine lower
both the lifting speed and the matmul rate it is compared with.

    python benchmarks/bench_engine.py                 # paper config, CPU, 2 threads
    python benchmarks/bench_engine.py --checkpoint model.pt --json out.json
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.benchmark import time_lift  # noqa: E402


def matmul_rate(threads: int, device: str = "cpu", size: int = 2048, repeats: int = 10) -> float:
    """Best fp32 matmul FLOP/s for size^3 with ``threads`` threads."""
    import torch

    torch.set_num_threads(threads)
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    best = float("inf")
    for _ in range(repeats + 2):
        if device != "cpu":
            torch.cuda.synchronize()
        start = time.perf_counter()
        a @ b
        if device != "cpu":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def _measure(spec: dict, queue: mp.Queue) -> None:
    """Child process: build the backend, measure the matmul rate, lift, report."""
    try:
        queue.put(_measure_inner(spec))
    except Exception as exc:  # report, do not hang the parent
        queue.put({"error": f"{type(exc).__name__}: {exc}"})


def _measure_inner(spec: dict) -> dict:
    import os

    from engine.backends import load_backend

    threads, device = spec["threads"], spec["device"]
    load = os.getloadavg()[0]
    matmul_device = "cuda" if device == "cuda" else "cpu"
    rate_before = matmul_rate(threads, matmul_device)
    backend = load_backend(spec["model"], backend=spec["backend"], device=device, threads=threads)
    if spec["backend"] == "torch":
        import torch

        torch.set_num_threads(threads)
    repeats = spec["repeats"] if spec["mode"] == "fast" else 1
    result = time_lift(backend, spec["frames"], spec["mode"], repeats, spec.get("batch_size"))
    # The better of the rates measured just before and just after: on a shared machine this
    # compares the lifting with the most the machine gave a matmul around that time.
    rate = max(rate_before, matmul_rate(threads, matmul_device))
    return {
        **result,
        "matmul_gflops": round(rate / 1e9, 2),
        "ratio_to_matmul": round(result["achieved_gflops"] * 1e9 / rate, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average_before": round(load, 2),
    }


def run(spec: dict) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(spec, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def _print(label: str, r: dict) -> None:
    if "error" in r:
        print(f"{label:34s} ERROR {r['error']}")
        return
    print(
        f"{label:34s} {r['frames']:6d} frames {r['seconds_best']:7.3f} s {r['fps']:9.1f} fps  "
        f"{r['achieved_gflops']:7.1f} GFLOP/s = {100 * r['ratio_to_matmul']:5.1f}% of matmul "
        f"({r['matmul_gflops']:.1f})  peak {r['peak_rss_mb']:.0f} MB  load {r['load_average_before']}"
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="an MPM checkpoint (.pt); default: random weights of --preset")
    parser.add_argument("--preset", default="paper", help="model preset when no checkpoint is given")
    parser.add_argument("--frames", type=int, default=10_000, help="clip length in fast mode")
    parser.add_argument("--accurate-frames", type=int, default=1_000, help="clip length in accurate mode on CPU (0: skip)")
    parser.add_argument("--gpu-accurate-frames", type=int, default=10_000, help="clip length in accurate mode on GPU")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, help="windows per batch (default: the runtime's)")
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "bench_engine.json"))
    args = parser.parse_args(argv)

    import torch

    from engine.onnx_export import export_onnx

    with tempfile.TemporaryDirectory() as tmp:
        if args.checkpoint:
            checkpoint = Path(args.checkpoint)
        else:
            from engine.checkpoint import save_checkpoint
            from engine.config import MPMConfig
            from engine.model import MPM

            torch.manual_seed(0)
            cfg = MPMConfig.preset(args.preset)
            checkpoint = save_checkpoint(Path(tmp) / f"{args.preset}.pt", MPM(cfg), cfg)
        onnx_stem = Path(tmp) / "model"
        export_onnx(checkpoint, onnx_stem, jobs=("lift_full", "lift_centre"))

        common = {"threads": args.threads, "repeats": args.repeats, "batch_size": args.batch_size}
        cases = {
            "cpu/torch/fast": {"model": str(checkpoint), "backend": "torch", "device": "cpu", "mode": "fast", "frames": args.frames},
            "cpu/onnxruntime/fast": {"model": str(onnx_stem), "backend": "onnxruntime", "device": "cpu", "mode": "fast", "frames": args.frames},
        }
        if args.accurate_frames:
            cases["cpu/torch/accurate"] = {"model": str(checkpoint), "backend": "torch", "device": "cpu", "mode": "accurate", "frames": args.accurate_frames}
            cases["cpu/onnxruntime/accurate"] = {"model": str(onnx_stem), "backend": "onnxruntime", "device": "cpu", "mode": "accurate", "frames": args.accurate_frames}
        gpu = torch.cuda.is_available()
        if gpu:
            for mode, frames in (("fast", args.frames), ("accurate", args.gpu_accurate_frames)):
                cases[f"cuda/torch/{mode}"] = {"model": str(checkpoint), "backend": "torch", "device": "cuda", "mode": mode, "frames": frames}
            import onnxruntime

            if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
                for mode, frames in (("fast", args.frames), ("accurate", args.gpu_accurate_frames)):
                    cases[f"cuda/onnxruntime/{mode}"] = {"model": str(onnx_stem), "backend": "onnxruntime", "device": "cuda", "mode": mode, "frames": frames}
        results = {}
        for label, spec in cases.items():
            results[label] = run({**common, **spec})
            _print(label, results[label])
    report = {
        "model": args.checkpoint or f"random weights, preset {args.preset}",
        "threads": args.threads,
        "machine": {"processor": platform.processor() or platform.machine(), "python": platform.python_version(), "torch": torch.__version__},
        "results": results,
        "gpu": "measured" if gpu else "not measured",
    }
    if not gpu:
        print("GPU: not measured (no CUDA device)")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return report


if __name__ == "__main__":
    main()
