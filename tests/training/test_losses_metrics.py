import numpy as np
import pytest
import torch

from engine.config import MPMConfig
from engine.model import MPM
from training import metrics
from training.losses import FinetuneObjective, LossWeights, PretrainObjective, mpjpe
from training.masking import MaskingConfig
from training.trainer import draw_masks


def test_mpjpe_loss_uses_only_valid_joints():
    pred = torch.zeros(1, 2, 3, 3)
    target = torch.zeros(1, 2, 3, 3)
    target[..., 0, 0] = 3.0  # joint 0 is 3 away
    target[..., 1, 1] = 100.0  # joint 1 is far, but invalid
    valid = torch.tensor([True, False, True]).expand(1, 2, 3)
    assert mpjpe(pred, target, valid).item() == pytest.approx(1.5)
    assert mpjpe(pred, target, torch.zeros_like(valid)).item() == 0.0


def _batch(cfg, b=4):
    g = torch.Generator().manual_seed(0)
    t, j = cfg.num_frames, cfg.num_joints
    pose_3d = torch.randn(b, t, j, 3, generator=g) * 0.3
    pose_3d = pose_3d - pose_3d[:, :, :1]
    pose_2d = torch.randn(b, t, j, 2, generator=g) * 0.2
    valid = torch.ones(b, t, j, dtype=torch.bool)
    valid[:, :, -1] = False  # a joint the data lacks (toes of a toe-less format)
    return {"pose_2d": pose_2d, "valid_2d": valid, "target_2d": pose_2d, "target_valid_2d": valid,
            "pose_3d": pose_3d, "valid_3d": valid, "has_3d": torch.ones(b, dtype=torch.bool)}


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
def test_objectives_give_every_term_and_gradients(stage):
    torch.manual_seed(0)
    cfg = MPMConfig.preset("tiny")
    model = MPM(cfg)
    if stage == "stage1":
        obj = PretrainObjective(model, LossWeights.pretrain_default())
        masking = MaskingConfig()
        expected = {"mask_2d", "mask_3d", "lift"}
    else:
        obj = FinetuneObjective(model, LossWeights.finetune_default())
        masking = MaskingConfig(temporal_ratio=0.3, clean_prob=0.5)
        expected = {"centre", "full", "mask_2d", "mask_3d"}
    masks = draw_masks(masking, model, 4, stage, torch.Generator().manual_seed(1), torch.device("cpu"))
    loss, parts = obj(_batch(cfg), masks)
    assert set(parts) == expected
    w = obj.weights
    assert loss.item() == pytest.approx(sum(getattr(w, k) * v.item() for k, v in parts.items()), rel=1e-5)
    loss.backward()
    assert model.encoder_2d.linear.weight.grad.abs().sum() > 0
    assert model.encoder_3d.linear.weight.grad.abs().sum() > 0
    if stage == "stage2":
        assert model.centre_head.out.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("detached", [False, True])
def test_detached_centre_head_trains_only_itself(detached):
    torch.manual_seed(0)
    cfg = MPMConfig.preset("tiny")
    model = MPM(cfg)
    # The output heads start at zero, which would stop any gradient into the trunk anyway.
    torch.nn.init.normal_(model.centre_head.out.weight, std=0.1)
    masks = draw_masks(MaskingConfig(mode="none"), model, 4, "stage2", torch.Generator().manual_seed(1), torch.device("cpu"))
    loss, _ = FinetuneObjective(model, LossWeights(centre=1.0), centre_detached=detached)(_batch(cfg), masks)
    loss.backward()
    assert model.centre_head.out.weight.grad.abs().sum() > 0
    trunk_grad = model.encoder_2d.linear.weight.grad
    if detached:
        assert trunk_grad is None
    else:
        assert trunk_grad.abs().sum() > 0


def test_zero_weights_skip_terms_and_all_zero_is_refused():
    cfg = MPMConfig.preset("tiny")
    model = MPM(cfg)
    masks = draw_masks(MaskingConfig(), model, 2, "stage1", torch.Generator().manual_seed(1), torch.device("cpu"))
    _, parts = PretrainObjective(model, LossWeights(lift=1.0))(_batch(cfg, 2), masks)
    assert set(parts) == {"lift"}
    with pytest.raises(ValueError, match="every loss weight is zero"):
        PretrainObjective(model, LossWeights())(_batch(cfg, 2), masks)


def _rot(axis_angle):
    x, y, z = axis_angle
    a = np.linalg.norm(axis_angle)
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]]) / a
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def test_mpjpe_and_p_mpjpe():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(5, 17, 3))
    assert metrics.mpjpe(gt + [0.003, 0.004, 0.0], gt) == pytest.approx(np.full(5, 0.005))
    similar = 1.3 * gt @ _rot([0.3, -0.2, 0.9]).T + [1.0, 2.0, 3.0]
    assert np.allclose(metrics.p_mpjpe(similar, gt), 0.0, atol=1e-9)
    assert metrics.mpjpe(similar, gt).min() > 0.1
    mirrored = gt * [-1, 1, 1]  # a reflection is not a rotation: Procrustes must not undo it
    assert metrics.p_mpjpe(mirrored, gt).min() > 1e-3


def test_metrics_ignore_missing_ground_truth():
    gt = np.zeros((2, 3, 3))
    pred = np.zeros((2, 3, 3))
    pred[:, 2] = [0.2, 0, 0]
    gt[:, 2] = np.nan
    assert np.allclose(metrics.mpjpe(pred, gt), 0.0)
    assert np.allclose(metrics.p_mpjpe(pred + 0.1, gt), 0.0, atol=1e-9)


def test_pck_auc_and_accel():
    gt = np.zeros((1, 4, 3))
    pred = np.zeros((1, 4, 3))
    pred[0, :, 0] = [0.0, 0.05, 0.1, 0.2]
    assert metrics.pck(pred, gt)[0] == pytest.approx(0.75)
    # thresholds 0..150 mm step 5: joint errors 0, 50, 100 and 200 mm
    expected = np.mean([np.mean([e < t for e in (0, 0.05, 0.1, 0.2)]) for t in metrics.AUC_THRESHOLDS])
    assert metrics.auc(pred, gt)[0] == pytest.approx(expected)
    t = np.arange(10, dtype=float)[:, None, None]
    linear = np.broadcast_to(t * [0.1, 0, 0], (10, 2, 3))
    assert np.allclose(metrics.accel_error(linear, np.zeros((10, 2, 3))), 0.0)
    shaky = linear.copy()
    shaky[5] += [0, 0.01, 0]
    assert metrics.accel_error(shaky, linear).max() == pytest.approx(0.02)


def test_average_by_action():
    values = np.array([1.0, 1.0, 1.0, 4.0])
    assert metrics.average_by_action(values, ["a", "a", "a", "b"]) == pytest.approx(2.5)
    assert metrics.average_by_action(values, None) == pytest.approx(1.75)
    assert metrics.means_by_action(values, ["b", "a", "a", "b"]) == pytest.approx({"b": 2.5, "a": 1.0})
    assert list(metrics.means_by_action(values, ["b", "a", "a", "b"])) == ["b", "a"]  # order of appearance
    assert metrics.means_by_action(values, None) == {} == metrics.means_by_action(values, [None] * 4)
