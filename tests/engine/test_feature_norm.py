"""``MPMConfig.norm``: the paper's BatchNorm or LayerNorm inside the frame encoders, the
spatial block and the decoders. LayerNorm makes each window's output independent of the
other windows in a training batch; old checkpoints, saved before the field, stay BatchNorm."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.backends import JOBS, TorchBackend, load_backend
from engine.checkpoint import load_model, save_checkpoint
from engine.config import MPMConfig
from engine.model import MPM
from engine.onnx_export import export_onnx


def _model(norm: str) -> MPM:
    torch.manual_seed(0)
    return MPM(MPMConfig.preset("tiny", input_norm="window", norm=norm))


def _batch(cfg: MPMConfig, batch: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = 0.3 * torch.randn(batch, cfg.num_frames, cfg.num_joints, 2, generator=g)
    return x, torch.ones(x.shape[:3], dtype=torch.bool)


def test_layer_norm_model_has_no_batch_norm_and_uses_the_norm_everywhere():
    layer, batch = _model("layer"), _model("batch")
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in layer.modules())
    for model, kind in ((layer, torch.nn.LayerNorm), (batch, torch.nn.BatchNorm1d)):
        for norm in (model.encoder_2d.norm, model.encoder_3d.norm, model.spatial.bn1, model.spatial.bn2,
                     model.decoder_2d.norm, model.decoder_3d.norm):
            assert isinstance(norm, kind)


def test_in_training_a_layer_norm_window_does_not_depend_on_its_batch():
    for norm, independent in (("layer", True), ("batch", False)):
        model = _model(norm).train()
        x, visible = _batch(model.cfg)
        alone, together = model(x[:1], visible[:1]), model(x, visible)[:1]
        assert torch.allclose(alone, together, atol=1e-5) is independent, norm


def test_unknown_norm_is_refused():
    with pytest.raises(ValueError, match="norm 'group'"):
        MPMConfig.preset("tiny", norm="group")


def test_checkpoints_from_before_the_field_load_as_batch_norm(tmp_path):
    model = _model("batch").eval()
    old = save_checkpoint(tmp_path / "old.pt", model, model.cfg)
    ckpt = torch.load(old, weights_only=True)
    del ckpt["config"]["norm"]  # written before the field existed
    torch.save(ckpt, old)
    loaded, read = load_model(old)
    assert "norm" not in read["config"] and loaded.cfg.norm == "batch"
    x, visible = _batch(model.cfg)
    torch.testing.assert_close(loaded(x, visible), model(x, visible))


def test_onnx_export_of_a_layer_norm_model_matches_torch(tmp_path):
    model = _model("layer").eval()
    export_onnx(model, tmp_path / "layer")
    ort, reference = load_backend(tmp_path / "layer"), TorchBackend(model)
    assert ort.config.norm == "layer"
    rng = np.random.default_rng(0)
    n, j = model.cfg.num_frames, model.cfg.num_joints
    for job in JOBS:
        channels = 3 if job == "complete_3d" else 2
        pose = rng.normal(0.0, 0.3, (3, n, j, channels)).astype(np.float32)
        visible = rng.random((3, n, j)) > 0.3
        got, expected = ort.run(job, pose, visible), reference.run(job, pose, visible)
        assert np.abs(got - expected).max() < 1e-4, job
