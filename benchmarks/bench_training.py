"""Training speed benchmark (a script, not a timed test): seconds per step, windows per
second and the time of one epoch for each stage of a training config, on the device the
config picks (a GPU when there is one).

For the paper's Human3.6M configs without the dataset, ``--h36m-from CACHE`` writes a
stand-in in the VideoPose3D layout (``training.paper_data.write_h36m_stand_in``): the real
motion of a ``python -m training.prepare`` cache spread over the config's subjects and
repeated to ``--frames`` frames per camera over the training subjects (default 389,938:
Human3.6M's 1,559,752 training frames over its four cameras), projected through the four
real cameras as "gt" 2D. Speed does not depend on what the motion is, only on the window
count and shapes, which then match.

    python benchmarks/bench_training.py --config training/configs/paper_h36m_243.toml \\
        --h36m-from build/data/cmu_all.npz --json bench_training.json

Each stage: ``--warmup`` steps (compilation, allocator, worker start; a data-bound config
needs enough of them for the workers' queue to reach its steady state), then ``--steps``
timed steps with the device synchronised at both ends; the batches come from the config's
``data_workers`` background processes exactly as in training. The batch-making rate alone
(the same workers, no training) is measured too, to tell a data-bound run from a
compute-bound one. Validation is not timed (one pass of ``val_windows`` per epoch).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

H36M_TRAIN_FRAMES_PER_CAMERA = 1_559_752 // 4  # docs/formats.md: MotionBERT's count, 4 cameras, 50 fps


def time_stage(cfg, stage: str, sources, steps: int, warmup: int) -> dict:
    import torch

    from engine.model import count_parameters
    from training.distributed import DistContext, pick_device
    from training.pairs import epoch_batches
    from training.train import stage_model_and_batches
    from training.trainer import StageTrainer

    settings = cfg.stage(stage)
    device = pick_device(cfg.device, 0)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    model, batches = stage_model_and_batches(cfg, stage, sources)
    with tempfile.TemporaryDirectory() as folder:
        trainer = StageTrainer(cfg, stage, model, batches, [], Path(folder), DistContext(device=device))
        feed = epoch_batches(batches, 0, 0, 0, cfg.data_workers)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        for _ in range(warmup):
            trainer.train_step(next(feed))
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            trainer.train_step(next(feed))
        sync()
        seconds = (time.perf_counter() - start) / steps
        _close(feed)
        # The batch-making rate alone, from as many fresh workers (started before timing).
        feed = epoch_batches(batches, 1, 0, 0, cfg.data_workers)
        for _ in range(min(warmup, 2)):
            next(feed)
        start = time.perf_counter()
        for _ in range(steps):
            next(feed)
        data_seconds = time.perf_counter() - start
        _close(feed)
    windows = sum(len(source) for source in batches.sources)
    return {
        "stage": stage, "parameters": count_parameters(model), "batch_size": settings.batch_size,
        "num_frames": cfg.model.num_frames, "timed_steps": steps, "seconds_per_step": round(seconds, 4),
        "windows_per_second": round(settings.batch_size / seconds, 1),
        "data_only_windows_per_second": round(settings.batch_size * steps / data_seconds, 1),
        "train_windows": windows, "steps_per_epoch": batches.steps_per_epoch,
        "epoch_minutes": round(batches.steps_per_epoch * seconds / 60.0, 2),
        "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if device.type == "cuda" else None,
    }


def _close(feed) -> None:
    """Stop a DataLoader iterator's worker processes now, not when it is collected, so they
    do not compete with the next measurement."""
    shutdown = getattr(feed, "_shutdown_workers", None)
    if shutdown is not None:
        shutdown()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, required=True)
    ap.add_argument("--h36m-from", type=Path, default=None, help="a training.prepare cache: write a Human3.6M stand-in from it")
    ap.add_argument("--frames", type=int, default=H36M_TRAIN_FRAMES_PER_CAMERA, help="stand-in training frames per camera")
    ap.add_argument("--stages", nargs="+", default=["stage1", "stage2"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--workers", type=int, default=None, help="override the config's data_workers")
    ap.add_argument("--batch-size", type=int, default=None, help="override the stages' batch size")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    import torch

    from training.data import load_prepared
    from training.paper_data import write_h36m_stand_in
    from training.run_config import load_config
    from training.train import build_sources

    cfg = load_config(args.config)
    if args.workers is not None:
        cfg = replace(cfg, data_workers=args.workers)
    if args.batch_size:
        cfg = replace(cfg, **{s: replace(cfg.stage(s), batch_size=args.batch_size) for s in args.stages})
    with tempfile.TemporaryDirectory() as tmp:
        if args.h36m_from is not None:
            train_subjects = [s for spec in cfg.train for s in spec.subjects]
            val_subjects = [s for spec in cfg.val for s in spec.subjects]
            clips = load_prepared(args.h36m_from)
            path = write_h36m_stand_in(Path(tmp), clips, train_subjects, val_subjects, args.frames)
            swap = lambda spec: replace(spec, path=str(path), options={**spec.options, "keypoints": "gt"})  # noqa: E731
            cfg = replace(cfg, train=tuple(swap(s) for s in cfg.train), val=tuple(swap(s) for s in cfg.val))
        made = time.perf_counter()
        sources, _ = build_sources(cfg)
        results = [time_stage(cfg, stage, sources, args.steps, args.warmup) for stage in args.stages]
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() and cfg.device != "cpu" else platform.processor() or "cpu"
    report = {
        "config": str(args.config), "device": device, "torch": torch.__version__, "amp": cfg.amp,
        "data_workers": cfg.data_workers, "stand_in": args.h36m_from is not None,
        "sources_seconds": round(time.perf_counter() - made, 1), "stages": results,
    }
    for r in results:
        print(f"{r['stage']}: {r['parameters'] / 1e6:.2f} M parameters, batch {r['batch_size']} x {r['num_frames']} frames: "
              f"{r['seconds_per_step'] * 1000:.0f} ms/step, {r['windows_per_second']:.0f} windows/s "
              f"(batches alone {r['data_only_windows_per_second']:.0f}/s); epoch of {r['train_windows']} windows = "
              f"{r['steps_per_epoch']} steps = {r['epoch_minutes']:.1f} min; peak GPU memory {r['peak_gpu_memory_gib']} GiB")
    print(f"device {device}, torch {torch.__version__}, amp {cfg.amp}, {cfg.data_workers} data workers")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
