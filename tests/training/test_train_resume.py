"""Both stages end to end on the tiny model, and resumption mid-epoch."""
import json

import pytest
import torch

from engine.checkpoint import load_model, read_checkpoint
from .loop_fixtures import synthetic_cache, tiny_config, tiny_config_text  # noqa: F401  (fixtures)
from training.run_config import load_config
from training.train import main, train


def test_cli_trains_both_stages_and_writes_metrics(tiny_config):
    assert main(["--config", str(tiny_config)]) == 0
    run = tiny_config.parent / "run"
    for stage in ("stage1", "stage2"):
        records = [json.loads(line) for line in (run / stage / "metrics.jsonl").read_text().splitlines()]
        assert [r["epoch"] for r in records] == [1, 2]
        assert all(r["val_lift_full_mm"] > 0 and r["train_loss"] > 0 for r in records)
        assert (run / stage / "curves.png").stat().st_size > 1000
        assert (run / stage / "best.pt").exists()
    assert "val_lift_centre_mm" in records[-1] and "train_centre" in records[-1]
    model, ckpt = load_model(run / "stage2" / "final.pt")
    assert ckpt["stage"] == "finetune" and ckpt["epoch"] == 2 and ckpt["step"] == 6
    assert ckpt["meta"]["val_subjects"] == ["09"] and "09" not in ckpt["meta"]["train_subjects"]
    # stage II started from stage I's weights, not from scratch
    s1 = read_checkpoint(run / "stage1" / "final.pt")["model"]
    s2 = read_checkpoint(run / "stage2" / "final.pt")["model"]
    untouched = "centre_head.blocks.0.pos"
    assert not torch.equal(s1[untouched], s2[untouched])
    diff = (s1["encoder_2d.linear.weight"] - s2["encoder_2d.linear.weight"]).abs().max()
    assert 0 < diff < 0.05


def test_killed_mid_epoch_resumes_to_the_same_weights(tiny_config, tmp_path):
    straight = train(load_config(tiny_config, out=str(tmp_path / "straight")))
    interrupted = load_config(tiny_config, out=str(tmp_path / "interrupted"), checkpoint_every=0)
    # Each stage has 2 epochs of 3 steps. Stop mid-epoch 1 of stage I (step 2); then at
    # its very last step, before the epoch-end bookkeeping (step 6); then mid-epoch 2 of
    # stage II (step 4); then finish.
    stage1 = tmp_path / "interrupted" / "stage1"
    assert train(interrupted, max_steps=2) is None
    assert read_checkpoint(stage1 / "last.pt")["step_in_epoch"] == 2
    assert train(interrupted, resume=True, max_steps=4) is None
    assert read_checkpoint(stage1 / "last.pt")["step"] == 6 and not (stage1 / "final.pt").exists()
    assert train(interrupted, resume=True, max_steps=4) is None
    last2 = read_checkpoint(tmp_path / "interrupted" / "stage2" / "last.pt")
    assert (last2["epoch"], last2["step_in_epoch"]) == (1, 1)
    final = train(interrupted, resume=True)
    a, b = read_checkpoint(straight)["model"], read_checkpoint(final)["model"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed run diverged from the uninterrupted one"
    m1 = (tmp_path / "straight" / "stage1" / "metrics.jsonl").read_text().splitlines()
    m2 = (tmp_path / "interrupted" / "stage1" / "metrics.jsonl").read_text().splitlines()
    drop = ("epoch_seconds", "samples_per_second")
    assert [{k: v for k, v in json.loads(x).items() if k not in drop} for x in m1] == [
        {k: v for k, v in json.loads(x).items() if k not in drop} for x in m2
    ]


def test_hard_kill_between_checkpoints_resumes_to_the_same_weights(tiny_config, tmp_path, monkeypatch):
    """A crash loses the steps after the last periodic checkpoint; resuming redoes them
    exactly (same batches, masks and dropout), so the end result is unchanged."""
    from training.pairs import MixedBatches

    straight = train(load_config(tiny_config, out=str(tmp_path / "straight")))
    killed = load_config(tiny_config, out=str(tmp_path / "killed"), checkpoint_every=2)
    real_batch = MixedBatches.batch

    def dying_batch(self, epoch, step, rank=0):
        if (epoch, step) == (1, 2):  # global step 6 of stage I; last checkpoint at step 4
            raise KeyboardInterrupt("simulated kill")
        return real_batch(self, epoch, step, rank)

    monkeypatch.setattr(MixedBatches, "batch", dying_batch)
    try:
        train(killed)
    except KeyboardInterrupt:
        pass
    assert read_checkpoint(tmp_path / "killed" / "stage1" / "last.pt")["step"] == 4
    monkeypatch.setattr(MixedBatches, "batch", real_batch)
    final = train(killed, resume=True)
    a, b = read_checkpoint(straight)["model"], read_checkpoint(final)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_batches_made_in_a_worker_process_train_the_same_weights(tiny_config, tmp_path):
    inline = train(load_config(tiny_config, out=str(tmp_path / "inline")), stages=("stage1",))
    worker = train(load_config(tiny_config, out=str(tmp_path / "worker"), data_workers=1), stages=("stage1",))
    a, b = read_checkpoint(inline)["model"], read_checkpoint(worker)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_stage2_from_scratch_is_the_ablation_without_pretraining(tiny_config, tmp_path):
    with pytest.raises(FileNotFoundError, match="stage I"):
        main(["--config", str(tiny_config), "--stage", "stage2", "--out", str(tmp_path / "a")])
    assert main(["--config", str(tiny_config), "--stage", "stage2", "--from-scratch", "--seed", "7", "--out", str(tmp_path / "b")]) == 0
    ckpt = read_checkpoint(tmp_path / "b" / "stage2" / "final.pt")
    assert ckpt["stage"] == "finetune" and not (tmp_path / "b" / "stage1").exists()
    assert json.loads((tmp_path / "b" / "config_effective.json").read_text())["seed"] == 7
    assert ckpt["meta"]["train_config"]["seed"] == 7


def test_a_stage_can_set_its_own_dropout(synthetic_cache, tmp_path):  # noqa: F811  (fixture)
    path = tmp_path / "dropout.toml"
    path.write_text(tiny_config_text(synthetic_cache, tmp_path / "run", stage1="dropout = 0.3"), encoding="utf-8")
    assert main(["--config", str(path)]) == 0
    pretrained, _ = load_model(tmp_path / "run" / "stage1" / "final.pt")
    finetuned, _ = load_model(tmp_path / "run" / "stage2" / "final.pt")
    assert pretrained.cfg.dropout == 0.3 and finetuned.cfg.dropout == 0.0  # the [model] value
    rates = lambda m: {x.p for x in m.modules() if isinstance(x, torch.nn.Dropout)}  # noqa: E731
    assert rates(pretrained) == {0.3} and rates(finetuned) == {0.0}


def test_init_fine_tunes_an_existing_checkpoint(tiny_config, tmp_path):
    """--init: stage II starts from any checkpoint of the same network (the shipped model
    trained further, or adapted to a user's data), not from stage I or random weights."""
    def run(name: str, *extra: str) -> dict:
        argv = ["--config", str(tiny_config), "--stage", "stage2", "--seed", "5", "--out", str(tmp_path / name), *extra]
        assert main(argv) == 0
        return read_checkpoint(tmp_path / name / "stage2" / "final.pt")["model"]

    start = run("start", "--from-scratch", "--seed", "1")
    continued = run("continued", "--init", str(tmp_path / "start" / "stage2" / "final.pt"))
    scratch = run("scratch", "--from-scratch")
    assert not (tmp_path / "continued" / "stage1").exists()
    key = "encoder_2d.linear.weight"
    moved = (continued[key] - start[key]).abs().max()
    assert 0 < moved < 0.05, "a few small steps from the given weights"
    assert (continued[key] - scratch[key]).abs().max() > 4 * moved, "not the seed's random weights"


def test_a_run_from_a_released_model_carries_on_its_history(tiny_config, tmp_path):
    """--init from a release: the run's checkpoints name where it started and keep the
    release's meta.history, through a restart too, so releasing the continuation again
    still says how the model was made."""
    from training.release_model import main as release

    assert main(["--config", str(tiny_config), "--stage", "stage2", "--from-scratch", "--out", str(tmp_path / "start")]) == 0
    released = tmp_path / "released.pt"
    assert release([str(tmp_path / "start" / "stage2" / "final.pt"), "--out", str(released), "--note", "made by hand"]) == 0
    argv = ["--config", str(tiny_config), "--stage", "stage2", "--init", str(released), "--out", str(tmp_path / "continued")]
    assert main([*argv, "--max-steps", "2"]) == 0
    stopped = read_checkpoint(tmp_path / "continued" / "stage2" / "last.pt")["meta"]
    assert stopped["history"] == ["made by hand"] and stopped["init_from"] == str(released)
    assert main([*argv, "--resume"]) == 0
    final = read_checkpoint(tmp_path / "continued" / "stage2" / "final.pt")["meta"]
    assert final["history"] == ["made by hand"] and final["init_from"] == str(released)
    assert "history" not in read_checkpoint(tmp_path / "start" / "stage2" / "final.pt")["meta"]


def test_frozen_norm_trains_with_the_running_statistics_and_keeps_them(synthetic_cache, tmp_path):  # noqa: F811
    """[stage2] frozen_norm: BatchNorm normalises with its running statistics while the
    weights train, so those statistics come out exactly as they went in."""
    def run(name: str, stage2: str, *extra: str) -> dict:
        path = tmp_path / f"{name}.toml"
        path.write_text(tiny_config_text(synthetic_cache, tmp_path / name, stage2=stage2), encoding="utf-8")
        assert main(["--config", str(path), "--stage", "stage2", *extra]) == 0
        return read_checkpoint(tmp_path / name / "stage2" / "final.pt")["model"]

    start = run("start", "", "--from-scratch")
    init = ("--init", str(tmp_path / "start" / "stage2" / "final.pt"))
    frozen, free = run("frozen", "frozen_norm = true", *init), run("free", "", *init)
    stats = [k for k in start if k.endswith(("running_mean", "running_var"))]
    assert stats, "the tiny model has BatchNorm layers"
    for key in stats:
        assert torch.equal(frozen[key], start[key]), key
    assert any(not torch.equal(free[key], start[key]) for key in stats)
    assert (frozen["encoder_2d.linear.weight"] - start["encoder_2d.linear.weight"]).abs().max() > 0


def test_validation_sees_the_same_windows_whatever_the_runs_seed(tiny_config):
    """Runs with different --seed (the ablation's seeds, continuations) are compared by their
    validation numbers, so its cameras, noise and masks must not depend on the seed."""
    from engine.model import MPM
    from training.train import build_sources, stage_model_and_batches
    from training.trainer import StageTrainer

    torch.manual_seed(0)
    results, weights = [], None
    for seed in (0, 7):
        cfg = load_config(tiny_config, seed=seed)
        train_sources, val_sources = build_sources(cfg)
        model, batches = stage_model_and_batches(cfg, "stage2", train_sources)
        if weights is None:  # random output heads too: a zeroed head's error would not see the camera
            weights = MPM(model.cfg).state_dict()
        model.load_state_dict(weights)
        trainer = StageTrainer(cfg, "stage2", model, batches, val_sources, tiny_config.parent / f"val{seed}")
        results.append(trainer.validate())
    assert set(results[0]) == {"val_lift_full_mm", "val_lift_centre_mm", "val_complete_3d_mm"}
    assert results[0] == results[1]
