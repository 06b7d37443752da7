"""Analytic FLOP count (checked against torch's own counter) and the MAE masking guarantee:
the temporal encoder never sees masked frames."""
from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from engine.backends import JOBS, job_forward
from engine.config import MPMConfig
from engine.flops import JOB_HEADS, job_flops, window_flops
from engine.model import MPM, count_parameters


def test_paper_config_is_about_7m_parameters_and_2_gflops_per_window():
    cfg = MPMConfig.preset("paper")
    params = count_parameters(MPM(cfg))
    flops = window_flops(cfg, "centre")
    assert params == pytest.approx(7.0e6, rel=0.10)
    assert flops == pytest.approx(2.0e9, rel=0.10)
    # the full-sequence head is cheaper per window than the centre-frame head, and 243x cheaper per frame
    assert window_flops(cfg, "full") < flops


def _attention_flops(cfg: MPMConfig, job: str, frames: int) -> int:
    """QK^T and attention x V of every attention layer a job runs (torch's counter skips them)."""
    head, _ = JOB_HEADS[job]
    macs = cfg.depth * 2 * frames * frames * cfg.width
    if head == "centre":
        length = frames
        for stride in cfg.strides:
            macs += 2 * length * length * cfg.width
            length //= stride
    else:
        macs += 2 * frames * frames * cfg.decoder_width
    return 2 * macs


@pytest.mark.parametrize("preset", ["tiny", "small"])
@pytest.mark.parametrize("job", JOBS)
def test_count_matches_torch_flop_counter(preset, job):
    """torch counts every linear layer and convolution; the analytic count adds attention."""
    cfg = MPMConfig.preset(preset)
    model = MPM(cfg).eval()
    frames = cfg.num_frames
    channels = 3 if job == "complete_3d" else 2
    x = torch.randn(1, frames, cfg.num_joints, channels)
    visible = torch.rand(1, frames, cfg.num_joints) > 0.2
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        job_forward(model, job, x, visible)
    assert job_flops(cfg, job) == counter.get_total_flops() + _attention_flops(cfg, job, frames)


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    return MPM(MPMConfig.preset("small")).eval()


def test_masked_frames_do_not_reach_the_temporal_encoder(small_model):
    """Changing the inputs of frames with no visible joint changes nothing at the other frames."""
    cfg = small_model.cfg
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, cfg.num_frames, cfg.num_joints, 2, generator=g)
    visible = torch.rand(2, cfg.num_frames, cfg.num_joints, generator=g) > 0.3
    dropped = torch.rand(2, cfg.num_frames, generator=g) < 0.6
    visible[dropped] = False
    perturbed = torch.where(dropped[..., None, None], torch.randn_like(x) * 100, x)
    with torch.no_grad():
        latent, frame_visible = small_model.encode(x, visible)
        latent_p, _ = small_model.encode(perturbed, visible)
        out = small_model(x, visible)
        out_p = small_model(perturbed, visible)
        centre = small_model(x, visible, head="centre")
        centre_p = small_model(perturbed, visible, head="centre")
    assert torch.equal(frame_visible, ~dropped)
    assert torch.allclose(latent, latent_p, atol=1e-5)
    assert torch.allclose(out, out_p, atol=1e-5)
    assert torch.allclose(centre, centre_p, atol=1e-5)
    assert (latent[dropped] == 0).all()


def test_keep_index_path_equals_attention_mask_path(small_model):
    """Training drops frames physically (keep_index); inference masks them in attention: same latent."""
    cfg = small_model.cfg
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, cfg.num_frames, cfg.num_joints, 3, generator=g)
    visible = torch.rand(3, cfg.num_frames, cfg.num_joints, generator=g) > 0.3
    visible[..., 0] = True  # every kept frame has a visible joint, so both paths keep the same frames
    keep = torch.stack([torch.randperm(cfg.num_frames, generator=g)[:32].sort().values for _ in range(3)])
    kept = torch.zeros(3, cfg.num_frames, dtype=torch.bool).scatter(1, keep, True)
    masked_visible = visible & kept[..., None]
    with torch.no_grad():
        latent_keep, fv_keep = small_model.encode(x, visible, keep_index=keep)
        latent_mask, fv_mask = small_model.encode(x, masked_visible)
        assert torch.equal(fv_keep, fv_mask)
        assert torch.allclose(latent_keep, latent_mask, atol=1e-5)
        assert torch.allclose(small_model.decode_3d(latent_keep, fv_keep), small_model.decode_3d(latent_mask, fv_mask), atol=1e-5)
