"""Timing helpers shared by ``python -m engine bench`` and ``benchmarks/bench_engine.py``."""
from __future__ import annotations

import time

import numpy as np

from .api import lift
from .backends import Backend
from .flops import job_flops
from .runtime import WindowStats

IMAGE_SIZE = (1920, 1080)


def synthetic_clip(frames: int, joints: int, seed: int = 0) -> np.ndarray:
    """A person-sized 2D skeleton (pixels, 1920x1080) drifting smoothly, with detector-like jitter."""
    rng = np.random.default_rng(seed)
    template = rng.uniform(-150, 150, size=(1, joints, 2)) + [960, 540]
    drift = np.cumsum(rng.normal(scale=0.5, size=(frames, 1, 2)), axis=0)
    wobble = np.cumsum(rng.normal(scale=0.3, size=(frames, joints, 2)), axis=0) * 0.1
    return (template + drift + wobble + rng.normal(scale=1.0, size=(frames, joints, 2))).astype(np.float32)


def time_lift(
    backend: Backend, frames: int, mode: str = "fast", repeats: int = 3, batch_size: int | None = None
) -> dict:
    """Lift a synthetic clip ``repeats`` times after a short warm-up; the best time counts.

    Returns seconds (best and all), frames per second, windows run and their analytic FLOPs."""
    cfg = backend.config
    points = synthetic_clip(frames, cfg.num_joints)
    warm_up = 2 * cfg.num_frames if mode == "fast" else 8  # accurate mode: one window per frame
    lift(backend, points[:warm_up], None, IMAGE_SIZE, mode=mode, batch_size=batch_size)
    times = []
    for _ in range(repeats):
        stats = WindowStats()
        start = time.perf_counter()
        out = lift(backend, points, None, IMAGE_SIZE, mode=mode, batch_size=batch_size, stats=stats)
        times.append(time.perf_counter() - start)
    if out.shape != (frames, cfg.num_joints, 3) or not np.isfinite(out).all():
        raise RuntimeError("the benchmark lift produced a wrong shape or non-finite values")
    flops = sum(job_flops(cfg, job, length) * count for (job, length), count in stats.windows.items())
    best = min(times)
    return {
        "backend": backend.name,
        "device": backend.device,
        "mode": mode,
        "frames": frames,
        "seconds_best": round(best, 4),
        "seconds_all": [round(t, 4) for t in times],
        "fps": round(frames / best, 1),
        "windows": {f"{job}x{length}": count for (job, length), count in stats.windows.items()},
        "gflop": round(flops / 1e9, 3),
        "achieved_gflops": round(flops / best / 1e9, 2),
    }
