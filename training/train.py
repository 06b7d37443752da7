"""Train MPM: stage I (masked pre-training) then stage II (fine-tuning), from a TOML config.

    python -m training.train --config training/configs/cpu_shipped.toml [--resume]
    torchrun --nproc_per_node 8 -m training.train --config training/configs/paper_h36m_243.toml

Output under the config's ``out`` folder: ``stage1/`` and ``stage2/`` each with
``last.pt``, ``best.pt``, ``final.pt``, ``metrics.jsonl`` and ``curves.png``. ``--resume``
continues a killed or stopped run where it was (mid-epoch included); a finished stage is
skipped. ``--time-limit-min`` stops cleanly (checkpoint written) after that many minutes.
The "without stage I" ablation: ``--stage stage2 --from-scratch --seed N --out DIR``.
Fine-tuning an existing model (the shipped one, on more steps or a user's own data):
``--stage stage2 --init assets/models/mpm_base.pt --config CFG`` with CFG's network the same.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from dataclasses import replace
from pathlib import Path

import torch

from engine.model import MPM, count_parameters

from .datasets import build_source, check_disjoint_subjects
from .distributed import DistContext, init_distributed, shutdown
from .initialisation import zero_output_layers
from .pairs import MixedBatches
from .run_config import TrainConfig, load_config
from .trainer import StageTrainer, stage_summary

log = logging.getLogger("training.train")


def build_sources(cfg: TrainConfig):
    train = [build_source(spec, cfg) for spec in cfg.train]
    val = [build_source(spec, cfg) for spec in cfg.val]
    check_disjoint_subjects(train, val)
    return train, val


def stage_model_and_batches(cfg: TrainConfig, stage: str, train_sources, world_size: int = 1) -> tuple[MPM, MixedBatches]:
    """A stage's network (the stage's own dropout, zeroed output heads; weights drawn from
    torch's generator as seeded by the caller) and its batches over the sources it uses."""
    settings = cfg.stage(stage)
    index = ("stage1", "stage2").index(stage)  # seeds do not depend on which stages a call runs
    model_cfg = cfg.model if settings.dropout is None else replace(cfg.model, dropout=settings.dropout)
    used = [i for i, spec in enumerate(cfg.train) if stage in spec.stages]
    if not used:
        raise ValueError(f"no [[data.train]] source is used in {stage} (see their 'stages')")
    batches = MixedBatches(
        [train_sources[i] for i in used], [cfg.train[i].weight for i in used], settings.batch_size,
        cfg.seed + 1000 * index, settings.steps_per_epoch or None, world_size,
    )
    return zero_output_layers(MPM(model_cfg)), batches


def train(
    cfg: TrainConfig,
    stages: tuple[str, ...] = ("stage1", "stage2"),
    resume: bool = False,
    ctx: DistContext | None = None,
    max_steps: int | None = None,
    deadline: float | None = None,
    sources=None,
    from_scratch: bool = False,
    init: Path | None = None,
) -> Path | None:
    """Run the requested stages; returns the last stage's ``final.pt`` (None if stopped
    early). ``max_steps`` counts the steps each stage runs in this call (tests, time
    slicing). ``from_scratch``: stage II starts from random weights (the "without stage I"
    ablation) instead of stage I's. ``init``: the first stage run starts from this checkpoint's
    weights (any MPM checkpoint of the same network, e.g. the shipped model fine-tuned
    further or on a user's own data) instead of stage I's or random ones."""
    ctx = ctx or init_distributed(cfg.device)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    train_sources, val_sources = sources or build_sources(cfg)
    meta = {
        "train_windows": [len(s) for s in train_sources],
        "val_windows": [len(s) for s in val_sources],
        "train_subjects": sorted(set().union(*(s.subjects for s in train_sources))),
        "val_subjects": sorted(set().union(*(s.subjects for s in val_sources))) if val_sources else [],
    }
    final = None
    stages = tuple(s for s in stages if getattr(cfg, s) is not None)
    for stage in stages:
        index = ("stage1", "stage2").index(stage)  # seeds do not depend on which stages this call runs
        settings = cfg.stage(stage)
        torch.manual_seed(cfg.seed + index)
        model, batches = stage_model_and_batches(cfg, stage, train_sources, ctx.world_size)
        folder = out / stage
        if ctx.is_main:
            log.info("%s: %d parameters, %d steps/epoch x %d epochs, batch %d, into %s", stage, count_parameters(model),
                     batches.steps_per_epoch, settings.epochs, settings.batch_size, folder)
        trainer = StageTrainer(cfg, stage, model, batches, val_sources, folder, ctx, meta={**meta, **stage_summary(cfg, stage)})
        if stage == stages[0] and init is not None:
            start = init
        elif stage == "stage2" and not from_scratch:
            previous = out / "stage1" / "final.pt"
            start = previous if previous.exists() else None
            if start is None and cfg.stage1 is not None:
                raise FileNotFoundError(f"stage II starts from stage I weights, but {previous} does not exist: run stage1 first")
        else:
            start = None
        final = trainer.run(resume=resume, init_from=start, max_steps=max_steps, deadline=deadline)
        if final is None:
            return None
    return final


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, type=Path)
    ap.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoints")
    ap.add_argument("--stage", choices=("stage1", "stage2", "both"), default="both")
    ap.add_argument("--out", default=None, help="run folder (default: the config's 'out')")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--seed", type=int, default=None, help="override the config's seed")
    ap.add_argument("--from-scratch", action="store_true",
                    help="with --stage stage2: fine-tune from random weights (the 'without stage I' ablation)")
    ap.add_argument("--init", type=Path, default=None,
                    help="start the first stage run from this checkpoint's weights (e.g. continue or adapt the shipped model)")
    ap.add_argument("--max-steps", type=int, default=None, help="stop each stage after this many steps (checkpointed)")
    ap.add_argument("--time-limit-min", type=float, default=None, help="stop cleanly after this many minutes")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = load_config(args.config, out=args.out, threads=args.threads, seed=args.seed)
    deadline = time.time() + 60.0 * args.time_limit_min if args.time_limit_min else None
    ctx = init_distributed(cfg.device)
    try:
        if ctx.is_main:
            Path(cfg.out).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(args.config, Path(cfg.out) / "config.toml")
            # the settings in force, command-line overrides included
            (Path(cfg.out) / "config_effective.json").write_text(json.dumps(cfg.source, indent=1), encoding="utf-8")
        stages = ("stage1", "stage2") if args.stage == "both" else (args.stage,)
        final = train(cfg, stages, resume=args.resume, ctx=ctx, max_steps=args.max_steps, deadline=deadline,
                      from_scratch=args.from_scratch, init=args.init)
    finally:
        shutdown(ctx)
    if ctx.is_main:
        print(f"finished: {final}" if final else "stopped early; continue with --resume")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
