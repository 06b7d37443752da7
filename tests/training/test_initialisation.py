"""Training starts from zeroed pose heads (training.initialisation)."""
import pytest
import torch

from engine.config import MPMConfig
from engine.model import MPM
from training.baselines import MLPLifter
from training.initialisation import output_layers, zero_output_layers
from training.losses import mpjpe


def _lifting_batch(cfg, b=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    pose_3d = torch.randn(b, cfg.num_frames, cfg.num_joints, 3, generator=g) * 0.3
    pose_3d = pose_3d - pose_3d[:, :, :1]
    pose_2d = pose_3d[..., :2] / (3.0 + pose_3d[..., 2:])  # a rough projection: learnable
    return pose_2d, torch.ones(pose_2d.shape[:-1], dtype=torch.bool), pose_3d


def test_zeroed_heads_predict_the_root_and_still_learn():
    torch.manual_seed(0)
    cfg = MPMConfig.preset("tiny")
    model = zero_output_layers(MPM(cfg))
    assert len(output_layers(model)) == 3
    x, vis, y = _lifting_batch(cfg)
    pred = model(x, vis)
    assert torch.count_nonzero(pred) == 0
    mpjpe(pred, y).backward()
    assert model.decoder_3d.out.weight.grad.abs().sum() > 0  # the head's weights get gradients


def test_zeroed_heads_start_closer_than_default_init():
    cfg = MPMConfig.preset("tiny")
    x, vis, y = _lifting_batch(cfg)
    errors = {}
    for zeroed in (False, True):
        torch.manual_seed(0)
        model = MPM(cfg)
        if zeroed:
            zero_output_layers(model)
        model.eval()
        with torch.no_grad():
            errors[zeroed] = mpjpe(model(x, vis), y).item()
    assert errors[True] < 0.7 * errors[False]


def test_baseline_head_is_zeroed_and_unknown_models_are_refused():
    mlp = zero_output_layers(MLPLifter("anim19", width=32, blocks=1))
    assert torch.count_nonzero(mlp.out.weight) == 0
    with pytest.raises(TypeError, match="no known pose head"):
        zero_output_layers(torch.nn.Sequential(torch.nn.Linear(2, 2)))
