"""DistributedDataParallel on the CPU: two gloo processes train a few steps of each stage
and must end with identical weights (gradients averaged, BatchNorm buffers broadcast)."""
import os
import socket
import sys
from pathlib import Path

import torch
import torch.multiprocessing as mp

from .loop_fixtures import synthetic_cache, tiny_config  # noqa: F401  (fixtures)

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, config: str, out: str) -> None:
    sys.path.insert(0, str(HERE))  # spawned processes start without pytest's path
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from engine.model import MPM
    from training.distributed import init_distributed, shutdown
    from training.pairs import MixedBatches
    from training.run_config import load_config
    from training.train import build_sources
    from training.trainer import StageTrainer

    cfg = load_config(config, out=out)
    ctx = init_distributed("cpu")
    try:
        train_sources, val_sources = build_sources(cfg)
        for stage in ("stage1", "stage2"):
            torch.manual_seed(cfg.seed)
            s = cfg.stage(stage)
            batches = MixedBatches(train_sources, [1.0], s.batch_size, cfg.seed, s.steps_per_epoch, ctx.world_size)
            trainer = StageTrainer(cfg, stage, MPM(cfg.model), batches, val_sources, Path(out) / stage, ctx)
            init = Path(out) / "stage1" / "final.pt" if stage == "stage2" else None
            trainer.run(init_from=init)
            torch.save(trainer.model.state_dict(), Path(out) / f"{stage}_rank{rank}.pt")
    finally:
        shutdown(ctx)


def test_two_gloo_processes_keep_identical_replicas(tiny_config, tmp_path):
    out = tmp_path / "ddp"
    mp.spawn(_worker, args=(2, _free_port(), str(tiny_config), str(out)), nprocs=2, join=True)
    for stage in ("stage1", "stage2"):
        a = torch.load(out / f"{stage}_rank0.pt", weights_only=True)
        b = torch.load(out / f"{stage}_rank1.pt", weights_only=True)
        assert all(torch.equal(a[k], b[k]) for k in a), f"{stage}: replicas differ"
    init = torch.load(out / "stage1_rank0.pt", weights_only=True)
    assert not torch.equal(init["encoder_2d.linear.weight"], a["encoder_2d.linear.weight"])
    assert (out / "stage2" / "final.pt").exists() and (out / "stage2" / "metrics.jsonl").exists()
