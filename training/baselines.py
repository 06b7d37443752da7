"""Baselines the evaluation compares MPM with.

* :class:`MLPLifter`: the single-frame lifter of Martinez et al. (2017), "A simple yet
  effective baseline for 3d human pose estimation": 2J normalised 2D -> linear 1024 ->
  two residual blocks of (linear, BatchNorm, ReLU, dropout 0.5) x 2 -> 3J root-relative
  3D. Trained by ``python -m training.train_baseline`` on the same pairs as MPM.
  Martinez et al. standardise the 2D over a dataset shot by four fixed cameras; under
  virtual cameras of any distance and framing the equivalent is ``input_norm = "frame"``:
  each frame centred on its joints and divided by their RMS spread (MPM's ``window``
  normalisation, one frame at a time). ``"image"`` feeds image-normalised 2D as is.
* :func:`fill_missing` (2D or 3D): the non-learned completion: a joint
  seen elsewhere in the sequence is interpolated linearly in time (held at the ends);
  a joint never seen is its mirror twin reflected across the body's plane of symmetry.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from engine.gaps import fill_interpolate
from engine.skeleton import Skeleton, get_skeleton

BASELINE_FORMAT = "mpm-baseline"
INPUT_NORMS = ("image", "frame")


class ResidualBlock(nn.Module):
    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.layers(x)


class MLPLifter(nn.Module):
    """Single-frame 2D -> 3D lifter. ``forward`` takes (..., J, 2) and gives (..., J, 3)."""

    def __init__(self, skeleton: str = "anim19", width: int = 1024, blocks: int = 2, dropout: float = 0.5,
                 input_norm: str = "image") -> None:
        super().__init__()
        if input_norm not in INPUT_NORMS:
            raise ValueError(f"MLPLifter input_norm must be one of {INPUT_NORMS}, got {input_norm!r}")
        self.skeleton = skeleton
        self.input_norm = input_norm
        self.hparams = {"skeleton": skeleton, "width": width, "blocks": blocks, "dropout": dropout, "input_norm": input_norm}
        j = get_skeleton(skeleton).num_joints
        self.inp = nn.Sequential(nn.Linear(2 * j, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout))
        self.blocks = nn.Sequential(*(ResidualBlock(width, dropout) for _ in range(blocks)))
        self.out = nn.Linear(width, 3 * j)
        self.root = get_skeleton(skeleton).root

    def forward(self, x: Tensor, visible: Tensor | None = None) -> Tensor:
        """``visible`` (..., J): the joints the detector saw (default: the finite ones);
        only they set a frame's centre and spread, hidden ones enter as zeros."""
        shape = x.shape[:-2]
        j = x.shape[-2]
        if visible is None:
            visible = torch.isfinite(x).all(-1)
        x = torch.where(visible[..., None], x, 0.0)
        if self.input_norm == "frame":
            weight = visible[..., None].to(x.dtype)
            count = weight.sum(-2, keepdim=True).clamp_min(1.0)
            centre = x.sum(-2, keepdim=True) / count
            spread = ((((x - centre) ** 2).sum(-1, keepdim=True) * weight).sum(-2, keepdim=True) / count).sqrt()
            x = torch.where(visible[..., None], (x - centre) / spread.clamp_min(1e-3), 0.0)
        y = self.out(self.blocks(self.inp(x.reshape(-1, 2 * j)))).reshape(*shape, j, 3)
        return y - y[..., self.root : self.root + 1, :]


def save_baseline(path: str | os.PathLike, model: MLPLifter, **extra) -> Path:
    """Write a baseline checkpoint atomically (its own format: not loadable as an MPM)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": BASELINE_FORMAT, "version": 1, "kind": "mlp", "config": model.hparams, "model": model.state_dict(), **extra}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_baseline(path: str | os.PathLike, device: str = "cpu") -> MLPLifter:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"cannot read baseline checkpoint {path}: {exc}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != BASELINE_FORMAT:
        raise ValueError(f"{path} is not a baseline checkpoint (write one with python -m training.train_baseline)")
    model = MLPLifter(**ckpt["config"])
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval()


# -- non-learned fill --------------------------------------------------------------------
def _mirror(values: np.ndarray, filled: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Joints still missing become their left/right twin reflected across the plane (3D) or
    line (2D) of symmetry: through the pelvis, normal to the hip (else shoulder) axis."""
    out = values.copy()
    twin = skeleton.flip_permutation
    pairs = [("left_hip", "right_hip"), ("left_shoulder", "right_shoulder")]
    root = skeleton.root
    for f in range(values.shape[0]):
        missing = np.flatnonzero(~filled[f])
        if not len(missing):
            continue
        normal = None
        for a, b in pairs:
            ia, ib = skeleton.index(a), skeleton.index(b)
            if filled[f, ia] and filled[f, ib]:
                d = values[f, ib] - values[f, ia]
                if np.linalg.norm(d) > 1e-9:
                    normal = d / np.linalg.norm(d)
                    break
        origin = values[f, root] if filled[f, root] else np.nanmean(np.where(filled[f, :, None], values[f], np.nan), 0)
        for j in missing:
            t = twin[j]
            if normal is not None and filled[f, t] and t != j:
                p = values[f, t]
                out[f, j] = p - 2.0 * np.dot(p - origin, normal) * normal
            else:
                out[f, j] = origin  # nothing to mirror: the body's centre is the least-bad guess
    return out


def fill_missing(values: np.ndarray, visible: np.ndarray, skeleton: str | Skeleton = "anim19") -> np.ndarray:
    """(F, J, C) poses with hidden joints filled: interpolation in time, else mirror."""
    skel = get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
    values = np.nan_to_num(np.asarray(values, np.float64))
    visible = np.asarray(visible, bool) & np.isfinite(values).all(-1)
    # Interpolation fills every joint seen at least once; the mirror fills the rest.
    return _mirror(fill_interpolate(values, visible), visible | visible.any(0), skel)

