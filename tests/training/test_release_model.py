"""A training checkpoint made shippable: same weights and config, no training state."""
import pytest
import torch

from engine.checkpoint import CheckpointError, load_model, read_checkpoint, save_checkpoint
from training.release_model import main


def test_release_keeps_weights_and_history_drops_training_state(tiny_model, tmp_path):
    optimizer = torch.optim.Adam(tiny_model.parameters())
    training = save_checkpoint(tmp_path / "final.pt", tiny_model, tiny_model.cfg, epoch=3, step=30, stage="finetune",
                               optimizer=optimizer.state_dict(), rng={"torch": torch.get_rng_state()},
                               meta={"lr": 3e-4, "history": ["stage I and II on a GPU"]})
    out = tmp_path / "shipped.pt"
    assert main([str(training), "--out", str(out), "--note", "stage II continued on a CPU"]) == 0
    ckpt = read_checkpoint(out)
    assert not {"optimizer", "rng"} & set(ckpt) and (ckpt["epoch"], ckpt["step"], ckpt["stage"]) == (3, 30, "finetune")
    assert ckpt["meta"]["lr"] == 3e-4
    assert ckpt["meta"]["history"] == ["stage I and II on a GPU", "stage II continued on a CPU"]
    shipped, _ = load_model(out)
    original = read_checkpoint(training)["model"]
    assert all(torch.equal(shipped.state_dict()[k], original[k]) for k in original)
    # history carried over from the checkpoint a continued run started from
    again = tmp_path / "again.pt"
    assert main([str(training), "--out", str(again), "--history-from", str(out), "--note", "more"]) == 0
    assert read_checkpoint(again)["meta"]["history"][-2:] == ["stage II continued on a CPU", "more"]


def test_release_refuses_weights_that_do_not_fit_their_config(tiny_model, tmp_path):
    bad = tmp_path / "bad.pt"
    state = {k: v for k, v in tiny_model.state_dict().items() if not k.startswith("centre_head")}
    torch.save({"format": "mpm-checkpoint", "version": 1, "config": tiny_model.cfg.to_dict(), "model": state}, bad)
    with pytest.raises(CheckpointError, match="centre_head"):
        main([str(bad), "--out", str(tmp_path / "out.pt")])
    with pytest.raises(CheckpointError):
        main([str(tmp_path / "missing.pt"), "--out", str(tmp_path / "out.pt")])


def test_release_takes_a_checkpoint_saved_from_distributed_training(tiny_model, tmp_path):
    ddp = tmp_path / "ddp.pt"
    state = {f"module.{k}": v for k, v in tiny_model.state_dict().items()}
    torch.save({"format": "mpm-checkpoint", "version": 1, "config": tiny_model.cfg.to_dict(), "model": state}, ddp)
    assert main([str(ddp), "--out", str(tmp_path / "out.pt")]) == 0
    released = read_checkpoint(tmp_path / "out.pt")["model"]
    assert released.keys() == tiny_model.state_dict().keys()


def test_release_sets_only_inference_fields(tiny_model, tmp_path):
    src = save_checkpoint(tmp_path / "final.pt", tiny_model, tiny_model.cfg, epoch=1, step=10)
    out = tmp_path / "centred.pt"
    assert not tiny_model.cfg.view_centring
    assert main([str(src), "--out", str(out), "--set", "view_centring=true", "--note", "trained on centred views"]) == 0
    released, ckpt = load_model(out)
    assert released.cfg.view_centring and ckpt["meta"]["history"] == ["trained on centred views"]
    assert all(torch.equal(released.state_dict()[k], v) for k, v in tiny_model.state_dict().items())
    for bad in ("width=64", "view_centring=maybe", "view_centring"):
        with pytest.raises(SystemExit):
            main([str(src), "--out", str(tmp_path / "bad.pt"), "--set", bad])


def _tiny(seed: int, **changes):
    from dataclasses import replace

    from engine.config import MPMConfig
    from engine.model import MPM

    torch.manual_seed(seed)
    model = MPM(replace(MPMConfig.preset("tiny"), **changes))
    with torch.no_grad():  # give BatchNorm distinct running statistics, as after training
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2.0)
                module.num_batches_tracked.fill_(seed + 1)
    return model.eval()


def test_release_averages_checkpoints_of_one_network(tmp_path):
    a, b = _tiny(1), _tiny(2, view_centring=True)  # an inference field may differ
    pa = save_checkpoint(tmp_path / "a.pt", a, a.cfg, epoch=1, step=10, stage="finetune", meta={"history": ["GPU run"]})
    pb = save_checkpoint(tmp_path / "b.pt", b, b.cfg, epoch=6, step=1200, stage="finetune",
                         meta={"history": ["GPU run", "continued"]})
    out = tmp_path / "soup.pt"
    assert main([str(pa), str(pb), "--weights", "1", "3", "--out", str(out), "--note", "averaged"]) == 0
    soup, ckpt = load_model(out)
    sa, sb, ss = a.state_dict(), b.state_dict(), soup.state_dict()
    floats = [k for k, v in sb.items() if v.is_floating_point()]
    assert any("running_mean" in k for k in floats)
    assert sum(not torch.equal(sa[k], sb[k]) for k in floats) > len(floats) // 2
    for key in floats:
        torch.testing.assert_close(ss[key], 0.25 * sa[key] + 0.75 * sb[key])
    counters = [k for k, v in sb.items() if not v.is_floating_point()]
    assert counters and all(torch.equal(ss[k], sb[k]) for k in counters)  # the last checkpoint's
    assert soup.cfg.view_centring and (ckpt["epoch"], ckpt["step"]) == (6, 1200)
    assert [p["weight"] for p in ckpt["meta"]["averaged_from"]] == [0.25, 0.75]
    assert ckpt["meta"]["history"] == ["GPU run", "continued", "averaged"]
    # equal weights by default; a checkpoint averaged with itself is itself, bit for bit
    same = tmp_path / "same.pt"
    assert main([str(pb), str(pb), "--out", str(same)]) == 0
    assert all(torch.equal(v, sb[k]) for k, v in load_model(same)[0].state_dict().items())


def test_release_refuses_to_average_different_networks_or_bad_weights(tmp_path):
    a, wide = _tiny(1), _tiny(2, decoder_width=48)
    pa = save_checkpoint(tmp_path / "a.pt", a, a.cfg)
    pw = save_checkpoint(tmp_path / "wide.pt", wide, wide.cfg)
    with pytest.raises(CheckpointError, match="decoder_width"):
        main([str(pa), str(pw), "--out", str(tmp_path / "x.pt")])
    with pytest.raises(SystemExit):  # one weight for two checkpoints
        main([str(pa), str(pa), "--weights", "1", "--out", str(tmp_path / "x.pt")])
    with pytest.raises(ValueError, match="non-negative"):
        main([str(pa), str(pa), "--weights", "1", "-1", "--out", str(tmp_path / "x.pt")])
    assert not (tmp_path / "x.pt").exists()
