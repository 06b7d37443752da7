"""Train the single-frame MLP baseline (Martinez et al.) on the same data as an MPM config.

    python -m training.train_baseline --config training/configs/cpu_shipped.toml \\
        [--out runs/shipped_mlp]

Pairs come from the config's data, virtual cameras, augmentation and 2D noise, one frame
per sample (``frames_per_window`` consecutive frames share a camera draw); the
``[baseline]`` section sets epochs, batch (frames), learning rate, the input
normalisation and a wall-clock cap (``minutes``). Writes ``final.pt`` (an ``mpm-baseline`` checkpoint for
``python -m training.evaluate --baseline mlp=...``) and ``metrics.jsonl``.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .baselines import MLPLifter, save_baseline
from .datasets import build_source, check_disjoint_subjects
from .initialisation import zero_output_layers
from .losses import mpjpe
from .pairs import MixedBatches, epoch_batches
from .run_config import TrainConfig, load_config


def train_baseline(cfg: TrainConfig, out: Path, max_steps: int | None = None) -> Path:
    b = cfg.baseline
    torch.manual_seed(cfg.seed)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    frames = b.frames_per_window if b.frames_per_window % 2 else b.frames_per_window + 1
    train = [build_source(spec, cfg, num_frames=frames) for spec in cfg.train]
    val = [build_source(spec, cfg, num_frames=1) for spec in cfg.val]
    check_disjoint_subjects(train, val)
    windows = max(1, b.batch_size // frames)
    # Windows overlap (stride 1): an epoch of steps_per_epoch = 0 visits every frame about once.
    steps = b.steps_per_epoch or max(1, sum(len(s) for s in train) // b.batch_size)
    batches = MixedBatches(train, [s.weight for s in cfg.train], windows, cfg.seed + 77, steps)
    model = zero_output_layers(MLPLifter(cfg.model.skeleton, b.width, b.blocks, b.dropout, b.input_norm))
    optimizer = torch.optim.Adam(model.parameters(), lr=b.lr, amsgrad=True)
    deadline = time.time() + 60.0 * b.minutes if b.minutes else math.inf
    out.mkdir(parents=True, exist_ok=True)
    step, stopped = 0, False
    with open(out / "metrics.jsonl", "w", encoding="utf-8") as log:
        for epoch in range(b.epochs):
            for group in optimizer.param_groups:
                group["lr"] = b.lr * b.lr_decay**epoch
            model.train()
            losses, started = [], time.time()
            for batch in tqdm(epoch_batches(batches, epoch, 0, 0, cfg.data_workers), total=batches.steps_per_epoch,
                              desc=f"mlp epoch {epoch + 1}/{b.epochs}", mininterval=30.0):
                pred = model(batch["pose_2d"].flatten(0, 1), batch["valid_2d"].flatten(0, 1))  # every frame a sample
                loss = mpjpe(pred, batch["pose_3d"].flatten(0, 1), batch["valid_3d"].flatten(0, 1))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
                step += 1
                if time.time() > deadline or (max_steps is not None and step >= max_steps):
                    stopped = True
                    break
            record = {"epoch": epoch + 1, "step": step, "train_mpjpe_mm": 1000 * float(np.mean(losses)),
                      "epoch_seconds": round(time.time() - started, 1), **validate(model, val)}
            log.write(json.dumps(record) + "\n")
            log.flush()
            tqdm.write(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
            if stopped:
                break
    return save_baseline(out / "final.pt", model, epoch=epoch + 1, step=step, meta={"train_config": cfg.source})


@torch.no_grad()
def validate(model: MLPLifter, sources, limit: int = 3000) -> dict[str, float]:
    if not sources:
        return {}
    model.eval()
    errors = []
    for i, source in enumerate(sources):
        rows = np.linspace(0, len(source) - 1, min(len(source), limit)).round().astype(np.int64)
        batch = source.make(rows, np.random.default_rng([i, 99]), augment=False)
        pred = model(torch.from_numpy(batch["pose_2d"][:, 0]), torch.from_numpy(batch["valid_2d"][:, 0]))
        errors.append(float(mpjpe(pred, torch.from_numpy(batch["pose_3d"][:, 0]), torch.from_numpy(batch["valid_3d"][:, 0]))))
    return {"val_lift_mm": 1000 * float(np.mean(errors))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.train_baseline", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, type=Path)
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: the config's out + '_mlp')")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--minutes", type=float, default=None, help="override [baseline] minutes (wall-clock cap)")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, threads=args.threads)
    if args.minutes is not None:
        cfg = replace(cfg, baseline=replace(cfg.baseline, minutes=args.minutes))
    out = args.out or Path(cfg.out + "_mlp")
    print(f"wrote {train_baseline(cfg, out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
