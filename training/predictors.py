"""Whole-sequence inference for evaluation: MPM over sliding windows, and the baselines.

Every predictor maps a sequence to root-relative camera-space 3D (F, J, 3):
``lift(points (F, J, 2) normalised, visible (F, J))`` and, where it can,
``complete(pose (F, J, 3), visible (F, J))``. Windows are taken at the model's frame
rate; frames past either end repeat the first / last frame.
"""
from __future__ import annotations

import numpy as np
import torch

from engine.model import MPM

from .baselines import MLPLifter, fill_missing


def window_index(frames: int, length: int, centres: np.ndarray) -> np.ndarray:
    """(len(centres), length) frame indices of windows centred on ``centres``, edges repeated."""
    half = length // 2
    return np.clip(centres[:, None] + np.arange(-half, half + 1), 0, frames - 1)


class MPMPredictor:
    """MPM on a sequence. ``head="centre"``: one window per frame, the centre-frame head
    (the paper's evaluation); ``head="full"``: overlapping full-sequence windows (hop =
    a third of a window), averaged per frame. 3D completion always uses the full head."""

    def __init__(self, model: MPM, head: str = "centre", batch_size: int = 256, device: str = "cpu") -> None:
        if head not in ("centre", "full"):
            raise ValueError(f"head {head!r}: expected centre or full")
        self.model = model.eval().to(device)
        self.head = head
        self.batch_size = batch_size
        self.device = device
        self.name = f"mpm_{head}"

    @torch.no_grad()
    def _centre(self, x: np.ndarray, visible: np.ndarray) -> np.ndarray:
        t = self.model.cfg.num_frames
        idx = window_index(len(x), t, np.arange(len(x)))
        out = []
        for start in range(0, len(idx), self.batch_size):
            rows = idx[start : start + self.batch_size]
            xb = torch.from_numpy(x[rows]).float().to(self.device)
            vb = torch.from_numpy(visible[rows]).to(self.device)
            out.append(self.model(xb, vb, head="centre").cpu().numpy())
        return np.concatenate(out)

    @torch.no_grad()
    def _full(self, x: np.ndarray, visible: np.ndarray) -> np.ndarray:
        f, t = len(x), self.model.cfg.num_frames
        if f <= t:
            xb = torch.from_numpy(x[None]).float().to(self.device)
            vb = torch.from_numpy(visible[None]).to(self.device)
            return self.model(xb, vb, head="full")[0].cpu().numpy()
        hop = max(1, t // 3)
        starts = np.unique(np.append(np.arange(0, f - t + 1, hop), f - t))
        total = np.zeros(x.shape[:2] + (3,))
        count = np.zeros((f, 1, 1))
        for i in range(0, len(starts), self.batch_size):
            chunk = starts[i : i + self.batch_size]
            rows = chunk[:, None] + np.arange(t)
            xb = torch.from_numpy(x[rows]).float().to(self.device)
            vb = torch.from_numpy(visible[rows]).to(self.device)
            pred = self.model(xb, vb, head="full").cpu().numpy()
            for s, p in zip(chunk, pred):
                total[s : s + t] += p
                count[s : s + t] += 1
        return total / count

    def lift(self, points: np.ndarray, visible: np.ndarray) -> np.ndarray:
        x, vis = np.nan_to_num(points).astype(np.float32), visible & np.isfinite(points).all(-1)
        return self._centre(x, vis) if self.head == "centre" else self._full(x, vis)

    def complete(self, pose: np.ndarray, visible: np.ndarray) -> np.ndarray:
        x, vis = np.nan_to_num(pose).astype(np.float32), visible & np.isfinite(pose).all(-1)
        out = self._full(x, vis)
        return np.where(vis[..., None], pose, out)  # the observed joints are kept as given


class MLPPredictor:
    """The single-frame MLP; hidden 2D joints are filled first (interpolation / mirror)."""

    name = "mlp"

    def __init__(self, model: MLPLifter, skeleton: str, device: str = "cpu") -> None:
        self.model = model.eval().to(device)
        self.skeleton = skeleton
        self.device = device

    @torch.no_grad()
    def lift(self, points: np.ndarray, visible: np.ndarray) -> np.ndarray:
        vis = visible & np.isfinite(points).all(-1)
        filled = points if vis.all() else fill_missing(points, vis, self.skeleton)
        x = torch.from_numpy(np.asarray(filled, np.float32)).to(self.device)
        return self.model(x).cpu().numpy()


class FillPredictor:
    """Non-learned 3D completion (no lifting)."""

    name = "fill"

    def __init__(self, skeleton: str) -> None:
        self.skeleton = skeleton

    def complete(self, pose: np.ndarray, visible: np.ndarray) -> np.ndarray:
        return fill_missing(pose, visible, self.skeleton)
