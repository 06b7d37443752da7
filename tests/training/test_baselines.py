"""The single-frame MLP baseline: its input normalisation and its checkpoint round trip."""
import pytest
import torch

from engine.skeleton import get_skeleton
from training.baselines import MLPLifter, load_baseline, save_baseline

J = get_skeleton("anim19").num_joints


def _frames(n: int = 8) -> torch.Tensor:
    return torch.randn(n, J, 2, generator=torch.Generator().manual_seed(0)) * 0.2


def test_frame_norm_ignores_where_and_how_large_the_person_is():
    model = MLPLifter("anim19", width=64, blocks=1, input_norm="frame").eval()
    x = _frames()
    moved = x * 2.5 + torch.tensor([0.3, -0.4])
    assert torch.allclose(model(x), model(moved), atol=1e-5)


def test_image_norm_sees_the_position():
    model = MLPLifter("anim19", width=64, blocks=1, input_norm="image").eval()
    x = _frames()
    assert not torch.allclose(model(x), model(x + torch.tensor([0.3, 0.0])), atol=1e-4)


def test_hidden_joints_do_not_change_the_output():
    model = MLPLifter("anim19", width=64, blocks=1, input_norm="frame").eval()
    x = _frames()
    visible = torch.ones(x.shape[:2], dtype=torch.bool)
    visible[:, 3] = False
    other = x.clone()
    other[:, 3] = torch.tensor([50.0, float("nan")])  # anything, NaN included
    a, b = model(x, visible), model(other, visible)
    assert torch.isfinite(b).all()
    assert torch.allclose(a, b, atol=1e-6)
    assert torch.allclose(a[:, get_skeleton("anim19").root], torch.zeros(3), atol=1e-6)


def test_checkpoint_keeps_the_input_norm(tmp_path):
    model = MLPLifter("anim19", width=32, blocks=1, input_norm="frame").eval()
    path = save_baseline(tmp_path / "mlp.pt", model)
    loaded = load_baseline(path)
    assert loaded.input_norm == "frame"
    x = _frames()
    assert torch.allclose(loaded(x), model(x))


def test_unknown_input_norm_is_refused():
    with pytest.raises(ValueError, match="input_norm"):
        MLPLifter("anim19", input_norm="bbox")
