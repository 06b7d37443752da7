"""One training stage of MPM: the loop, checkpoints, resumption and metrics.

Determinism: batches come from (seed, epoch, step, rank) (``pairs.MixedBatches``) and
masks from a generator seeded the same way, so the only running random state is torch's
global generator (dropout); a checkpoint stores it with the model, optimizer, step and
partial-epoch sums. A run killed at any point resumes from its last checkpoint and ends
with the weights an uninterrupted run would have (tests/training/test_resume.py).

Files in the stage folder: ``last.pt`` (rolling), ``best.pt`` (best validation lifting
error), ``final.pt`` (end of the stage), ``metrics.jsonl`` (one line per epoch),
``curves.png``.
"""
from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from engine.checkpoint import read_checkpoint, save_checkpoint, strip_module_prefix
from engine.model import MPM

from .distributed import DistContext, all_reduce_mean, barrier, broadcast_buffers
from .losses import FinetuneObjective, PretrainObjective, mpjpe
from .masking import MaskingConfig, sample_masks
from .pairs import MixedBatches, PairSource, epoch_batches
from .plots import plot_curves, write_metrics
from .run_config import StageConfig, TrainConfig

STAGES = {"stage1": "pretrain", "stage2": "finetune"}


def learning_rate(stage: StageConfig, epoch: int, step: int) -> float:
    """The paper's per-epoch exponential decay, after a linear warm-up over global steps."""
    lr = stage.lr * stage.lr_decay**epoch
    if stage.warmup_steps > 0 and step < stage.warmup_steps:
        lr *= (step + 1) / stage.warmup_steps
    return lr


def mask_generator(seed: int, stage: str, epoch: int, step: int, rank: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(int(np.random.SeedSequence([seed, list(STAGES).index(stage), epoch, step, rank]).generate_state(1)[0]))
    return g


def draw_masks(masking: MaskingConfig, model: MPM, batch: int, stage: str, generator: torch.Generator, device: torch.device) -> dict[str, torch.Tensor | None]:
    """Independent masks for the 2D and the 3D pass of one step."""
    drop = stage == "stage1"
    skel, frames = model.cfg.skel, model.cfg.num_frames
    vis2, keep2 = sample_masks(masking, batch, frames, skel, generator, drop_frames=drop)
    # Clean rows teach lifting from unmasked 2D; a 3D pass with nothing hidden teaches nothing.
    vis3, keep3 = sample_masks(replace(masking, clean_prob=0.0), batch, frames, skel, generator, drop_frames=drop)
    move = lambda t: None if t is None else t.to(device)  # noqa: E731
    return {"visible_2d": move(vis2), "keep_2d": move(keep2), "visible_3d": move(vis3), "keep_3d": move(keep3)}


class StageTrainer:
    """Trains one stage (``stage1`` pre-training or ``stage2`` fine-tuning) into ``folder``."""

    def __init__(
        self,
        cfg: TrainConfig,
        stage: str,
        model: MPM,
        batches: MixedBatches,
        val_sources: Sequence[PairSource],
        folder: Path,
        ctx: DistContext = DistContext(),
        meta: dict[str, Any] | None = None,
    ) -> None:
        if stage not in STAGES:
            raise ValueError(f"stage {stage!r}: expected one of {list(STAGES)}")
        self.cfg, self.stage, self.ctx = cfg, stage, ctx
        self.settings = cfg.stage(stage)
        self.model = model.to(ctx.device)
        self.batches = batches
        self.val_sources = list(val_sources)
        self.folder = Path(folder)
        self.meta = dict(meta or {})  # its own: load_weights and resume add to it
        if stage == "stage1":
            self.objective: PretrainObjective | FinetuneObjective = PretrainObjective(self.model, self.settings.weights)
        else:
            self.objective = FinetuneObjective(self.model, self.settings.weights, self.settings.centre_detached)
        self.runner: torch.nn.Module = self.objective
        if ctx.enabled:
            w = self.settings.weights
            # Stage I never uses the centre head; stage II uses every module unless a term is off.
            every_module_used = stage == "stage2" and all((w.centre, w.full, w.mask_2d, w.mask_3d))
            self.runner = DistributedDataParallel(
                self.objective,
                device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None,
                find_unused_parameters=not every_module_used,
            )
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=self.settings.lr, amsgrad=self.settings.amsgrad, weight_decay=self.settings.weight_decay
        )
        cuda = ctx.device.type == "cuda"
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.amp) if cuda else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype is torch.float16)
        self.epoch = 0
        self.step_in_epoch = 0
        self.global_step = 0
        self.sums: dict[str, float] = {}
        self.best = math.inf
        # frozen_norm: these layers go back to eval mode after each train() switch.
        self.frozen_norms = [
            m for m in self.model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
        ] if self.settings.frozen_norm else []

    # -- checkpoints -------------------------------------------------------------------
    @property
    def last_path(self) -> Path:
        return self.folder / "last.pt"

    @property
    def final_path(self) -> Path:
        return self.folder / "final.pt"

    def _state(self) -> dict[str, Any]:
        rng = {"torch": torch.get_rng_state()}
        if self.ctx.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.ctx.device)
        return {
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "step": self.global_step,
            "step_in_epoch": self.step_in_epoch,
            "stage": STAGES[self.stage],
            "rng": rng,
            "sums": dict(self.sums),
            "best": self.best,
            "meta": {**self.meta, "train_config": self.cfg.source, "world_size": self.ctx.world_size},
        }

    def save(self, path: Path) -> None:
        broadcast_buffers(self.model, self.ctx)
        if self.ctx.is_main:
            save_checkpoint(path, self.model, self.model.cfg, **self._state())
        barrier(self.ctx)

    def load_weights(self, path: Path) -> None:
        """Start from another checkpoint's weights (stage II from stage I, or ``--init``). The
        run's checkpoints name it (``meta.init_from``) and carry on its ``meta.history``, so a
        model continued from a release still says how the release was made."""
        ckpt = read_checkpoint(path)
        self.model.load_state_dict(strip_module_prefix(ckpt["model"]))
        self.meta["init_from"] = str(path)
        history = (ckpt.get("meta") or {}).get("history")
        if history:
            self.meta["history"] = list(history)

    def resume(self, path: Path) -> None:
        ckpt = read_checkpoint(path)
        if ckpt.get("stage") != STAGES[self.stage]:
            raise ValueError(f"{path} is a {ckpt.get('stage')} checkpoint, not {STAGES[self.stage]}")
        self.model.load_state_dict(strip_module_prefix(ckpt["model"]))
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scaler.load_state_dict(ckpt["scaler"])
        self.epoch, self.global_step, self.step_in_epoch = ckpt["epoch"], ckpt["step"], ckpt["step_in_epoch"]
        self.sums, self.best = dict(ckpt["sums"]), float(ckpt["best"])
        saved = ckpt.get("meta") or {}
        for key in ("init_from", "history"):  # where the run started, kept across restarts
            if key in saved:
                self.meta[key] = saved[key]
        torch.set_rng_state(ckpt["rng"]["torch"])
        if "cuda" in ckpt["rng"] and self.ctx.device.type == "cuda":
            torch.cuda.set_rng_state(ckpt["rng"]["cuda"], self.ctx.device)

    # -- loop --------------------------------------------------------------------------
    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    def train_step(self, batch: dict[str, torch.Tensor] | None = None) -> dict[str, float]:
        """One optimiser step on ``batch`` (default: this step's batch, made here)."""
        s = self.settings
        lr = learning_rate(s, self.epoch, self.global_step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if batch is None:
            batch = self.batches.batch(self.epoch, self.step_in_epoch, self.ctx.rank)
        batch = {k: v.to(self.ctx.device, non_blocking=True) for k, v in batch.items()}
        gen = mask_generator(self.cfg.seed, self.stage, self.epoch, self.step_in_epoch, self.ctx.rank)
        masks = draw_masks(s.masking, self.model, batch["pose_2d"].shape[0], self.stage, gen, self.ctx.device)
        self.runner.train()
        for norm in self.frozen_norms:
            norm.eval()
        with self._autocast():
            loss, parts = self.runner(batch, masks)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if s.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), s.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        values = {"loss": float(loss.detach()), **{k: float(v.detach()) for k, v in parts.items()}}
        if not all(math.isfinite(v) for v in values.values()):
            raise FloatingPointError(f"{self.stage} epoch {self.epoch} step {self.step_in_epoch}: non-finite loss {values}")
        return values

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Validation errors (mm) on fixed windows: lifting with the full-sequence head (and
        the centre head in stage II) and 3D completion. Stage II lifts clean, whole 2D and
        completes 3D with random joints hidden; stage I measures its own pretext tasks, under
        its own masks (frames dropped), since its encoder never sees a whole window."""
        if not self.val_sources:
            return {}
        broadcast_buffers(self.model, self.ctx)
        model = self.model.eval()
        sums: dict[str, float] = {}
        count = 0
        bs = max(1, self.settings.batch_size // self.ctx.world_size)
        pretext = self.stage == "stage1"
        masking = self.settings.masking if pretext else _spatial_only(self.settings.masking)
        for si, source in enumerate(self.val_sources):
            n = min(len(source), self.settings.val_windows)
            rows = np.linspace(0, len(source) - 1, n).round().astype(np.int64)
            mine = rows[self.ctx.rank :: self.ctx.world_size]
            for start in range(0, len(mine), bs):
                chunk = mine[start : start + bs]
                rng = np.random.default_rng([99, si, int(chunk[0])])  # the same views whatever the run's seed
                batch = {k: torch.from_numpy(v).to(self.ctx.device) for k, v in source.make(chunk, rng, augment=False).items()}
                gen = torch.Generator().manual_seed(int(chunk[0]))
                masks = draw_masks(masking, model, len(chunk), "stage1", gen, self.ctx.device)
                target, valid = batch["pose_3d"], batch["valid_3d"]
                with self._autocast():
                    vis2 = batch["valid_2d"] & masks["visible_2d"] if pretext else batch["valid_2d"]
                    latent, frames = model.encode(batch["pose_2d"], vis2, masks["keep_2d"] if pretext else None)
                    values = {"val_lift_full_mm": mpjpe(model.decode_3d(latent, frames), target, valid)}
                    if not pretext:
                        c = model.cfg.centre
                        values["val_lift_centre_mm"] = mpjpe(model.decode_centre(latent, frames), target[:, c], valid[:, c])
                    lat3, fr3 = model.encode(target, valid & masks["visible_3d"], masks["keep_3d"])
                    values["val_complete_3d_mm"] = mpjpe(model.decode_3d(lat3, fr3), target, valid)
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + float(v) * 1000.0 * len(chunk)
                count += len(chunk)
        total = all_reduce_mean({**sums, "_count": float(count)}, self.ctx)
        n = max(total.pop("_count"), 1.0)
        return {k: v / n for k, v in total.items()}

    def run(self, resume: bool = False, init_from: Path | None = None, max_steps: int | None = None, deadline: float | None = None) -> Path | None:
        """Train to the end of the stage and return ``final.pt``; ``None`` if stopped
        early by ``max_steps`` (steps run by this call) or ``deadline`` (time.time()),
        after a checkpoint from which ``resume=True`` continues."""
        if self.final_path.exists() and resume:
            return self.final_path
        if resume and self.last_path.exists():
            self.resume(self.last_path)
        elif init_from is not None:
            self.load_weights(init_from)
        s = self.settings
        steps = self.batches.steps_per_epoch
        interactive = sys.stderr.isatty()
        run_here = 0
        while self.epoch < s.epochs:
            started, steps_before = time.time(), run_here
            bar = tqdm(
                total=steps, initial=self.step_in_epoch, desc=f"{self.stage} epoch {self.epoch + 1}/{s.epochs}",
                disable=not self.ctx.is_main, mininterval=1.0 if interactive else 30.0, dynamic_ncols=True,
            )
            batches = epoch_batches(self.batches, self.epoch, self.step_in_epoch, self.ctx.rank, self.cfg.data_workers)
            while self.step_in_epoch < steps:
                values = self.train_step(next(batches))
                for k, v in values.items():
                    self.sums[k] = self.sums.get(k, 0.0) + v
                self.sums["_steps"] = self.sums.get("_steps", 0.0) + 1
                self.step_in_epoch += 1
                self.global_step += 1
                run_here += 1
                bar.update(1)
                bar.set_postfix(loss=f"{values['loss']:.4f}", lr=f"{learning_rate(s, self.epoch, self.global_step):.2e}", refresh=False)
                stop = (max_steps is not None and run_here >= max_steps) or (deadline is not None and time.time() >= deadline)
                if stop or (self.cfg.checkpoint_every and self.global_step % self.cfg.checkpoint_every == 0):
                    self.save(self.last_path)
                if stop:
                    bar.close()
                    return None
            bar.close()
            self._end_epoch(time.time() - started, run_here - steps_before)
        self.save(self.final_path)
        return self.final_path

    def _end_epoch(self, seconds: float, steps_run: int) -> None:
        n = max(self.sums.pop("_steps", 1.0), 1.0)
        train = all_reduce_mean({f"train_{k}": v / n for k, v in self.sums.items()}, self.ctx)
        val = self.validate()
        record = {
            "stage": self.stage, "epoch": self.epoch + 1, "step": self.global_step,
            "lr": learning_rate(self.settings, self.epoch, self.global_step),
            "epoch_seconds": round(seconds, 2),
            "samples_per_second": round(steps_run * self.settings.batch_size / max(seconds, 1e-9), 2),
            **train, **val,
        }
        key = "val_lift_centre_mm" if self.stage == "stage2" else "val_lift_full_mm"
        improved = key in val and val[key] < self.best
        if improved:
            self.best = val[key]
        self.epoch += 1
        self.step_in_epoch = 0
        self.sums = {}
        if self.ctx.is_main:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_metrics(self.folder / "metrics.jsonl", record)
            plot_curves(
                self.folder / "metrics.jsonl", self.folder / "curves.png", title=f"{self.cfg.name}: {self.stage} ({self.folder})"
            )
            tqdm.write(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
        self.save(self.last_path)
        if improved:
            self.save(self.folder / "best.pt")


def _spatial_only(masking: MaskingConfig) -> MaskingConfig:
    return MaskingConfig(mode="spatial", spatial_joints=masking.spatial_joints, temporal_ratio=0.0)


def stage_summary(cfg: TrainConfig, stage: str) -> dict[str, Any]:
    s = cfg.stage(stage)
    return {"stage": stage, **{k: v for k, v in asdict(s).items() if k not in ("weights", "masking")}, "weights": asdict(s.weights), "masking": asdict(s.masking)}
