"""``input_norm = "window"``: each 2D window is centred on its observed joints and divided
by their spread inside the network, so lifting does not depend on where the person is in
the image or how large, and 2D completion comes back in the input's coordinates."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.backends import JOBS, TorchBackend, load_backend
from engine.config import MPMConfig
from engine.model import MPM
from engine.onnx_export import export_onnx


def _model(input_norm: str) -> MPM:
    torch.manual_seed(0)
    return MPM(MPMConfig.preset("tiny", input_norm=input_norm)).eval()


def _window(cfg: MPMConfig, batch: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = 0.3 * torch.randn(batch, cfg.num_frames, cfg.num_joints, 2, generator=g) + 0.2
    visible = torch.rand(batch, cfg.num_frames, cfg.num_joints, generator=g) > 0.25
    return x, visible


@torch.no_grad()
def test_lifting_ignores_where_and_how_large_the_person_is():
    window, image = _model("window"), _model("image")
    x, visible = _window(window.cfg)
    moved = 2.5 * x + torch.tensor([-0.4, 0.3])
    for head in ("full", "centre"):
        assert torch.allclose(window(moved, visible, head=head), window(x, visible, head=head), atol=1e-5)
        # the paper's input keeps the image position: the same change moves its output
        assert not torch.allclose(image(moved, visible, head=head), image(x, visible, head=head), atol=1e-3)


@torch.no_grad()
def test_completed_2d_comes_back_in_the_input_coordinates():
    model = _model("window")
    x, visible = _window(model.cfg)
    scale, shift = 1.7, torch.tensor([0.25, -0.1])
    out = TorchBackend(model).run("complete_2d", x.numpy(), visible.numpy())
    out_moved = TorchBackend(model).run("complete_2d", (scale * x + shift).numpy(), visible.numpy())
    np.testing.assert_allclose(out_moved, scale * out + shift.numpy(), atol=1e-5)
    # and it lands where the person is, not around the image centre
    seen = visible.numpy()
    assert np.abs(out.mean((1, 2)) - x.numpy()[seen].mean(0)).max() < 0.5
    assert np.abs(out_moved.mean((1, 2)) - (scale * x + shift).numpy()[seen].mean(0)).max() < 0.5 * scale


@torch.no_grad()
def test_hidden_joints_and_dropped_frames_do_not_move_the_frame():
    model = _model("window")
    x, visible = _window(model.cfg)
    garbage = torch.where(visible[..., None], x, torch.full_like(x, float("nan")))
    centre, spread = model.input_frame(x, visible)
    centre_g, spread_g = model.input_frame(garbage, visible)
    assert torch.equal(centre, centre_g) and torch.equal(spread, spread_g)
    assert torch.isfinite(model(garbage, visible)).all()
    # training drops frames physically (keep_index): only kept frames set the frame
    keep = torch.arange(0, model.cfg.num_frames, 2).expand(len(x), -1)
    kept = torch.zeros(visible.shape[:2], dtype=torch.bool).scatter(1, keep, True)
    shifted = torch.where(kept[..., None, None], x, x + 10.0)
    a, b = model.input_frame(x, visible, keep), model.input_frame(shifted, visible, keep)
    assert torch.allclose(a[0], b[0]) and torch.allclose(a[1], b[1])
    latent, frames = model.encode(x, visible, keep)
    latent_s, _ = model.encode(shifted, visible, keep)
    assert torch.allclose(latent, latent_s, atol=1e-5)


@torch.no_grad()
def test_3d_windows_are_not_normalised():
    model = _model("window")
    pose = torch.randn(2, model.cfg.num_frames, model.cfg.num_joints, 3)
    assert model.input_frame(pose, torch.ones(pose.shape[:3], dtype=torch.bool)) is None


def test_onnx_export_of_a_window_normalised_model_matches_torch(tmp_path):
    model = _model("window")
    stem = tmp_path / "window"
    export_onnx(model, stem)
    ort, reference = load_backend(stem), TorchBackend(model)
    assert ort.config.input_norm == "window"
    rng = np.random.default_rng(0)
    n, j = model.cfg.num_frames, model.cfg.num_joints
    for job in JOBS:
        channels = 3 if job == "complete_3d" else 2
        pose = (rng.normal(0.0, 0.3, (4, n, j, channels)) + 0.5).astype(np.float32)
        visible = rng.random((4, n, j)) > 0.3
        visible[-1] = False  # a window with nothing visible stays finite
        got, expected = ort.run(job, pose, visible), reference.run(job, pose, visible)
        assert np.isfinite(got).all()
        assert np.abs(got - expected).max() < 1e-4, job


def test_unknown_input_norm_is_refused():
    with pytest.raises(ValueError, match="input_norm"):
        MPMConfig.preset("tiny", input_norm="bbox")


def test_fp16_export_of_a_window_normalised_model_loads_and_stays_close(tmp_path):
    model = _model("window")
    export_onnx(model, tmp_path / "window16", precision="fp16")
    ort, reference = load_backend(tmp_path / "window16"), TorchBackend(model)
    x, visible = _window(model.cfg, batch=2)
    for job in ("lift_full", "complete_2d"):
        got, expected = ort.run(job, x.numpy(), visible.numpy()), reference.run(job, x.numpy(), visible.numpy())
        assert np.abs(got - expected).max() < 1e-2, job
