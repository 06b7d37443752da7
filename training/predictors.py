"""Whole-sequence inference for evaluation: MPM over sliding windows, and the baselines.

Every predictor maps sequences to root-relative camera-space 3D (F, J, 3):
``lift_many([(points (F, J, 2) normalised, visible (F, J)), ...])`` and, where it can,
``complete_many([(pose (F, J, 3), visible (F, J)), ...])``. Windows are taken at the model's frame
rate; frames past either end repeat the first / last frame.
"""
from __future__ import annotations

import numpy as np
import torch

from engine.model import MPM
from engine.skeleton import get_skeleton

from .baselines import MLPLifter, fill_missing


def window_index(frames: int, length: int, centres: np.ndarray) -> np.ndarray:
    """(len(centres), length) frame indices of windows centred on ``centres``, edges repeated."""
    half = length // 2
    return np.clip(centres[:, None] + np.arange(-half, half + 1), 0, frames - 1)


class MPMPredictor:
    """MPM on sequences. ``head="centre"``: one window per evaluated frame, the centre-frame
    head (the paper's evaluation); ``head="full"``: overlapping full-sequence windows (hop =
    a third of a window), averaged per frame. 3D completion always uses the full head.
    ``frame_stride`` > 1 evaluates the centre head on every n-th frame only (the others
    come back NaN), for CPU budgets. ``flip``: every window is also run mirrored (x -> -x,
    left and right joints swapped) and the mirrored output flipped back and averaged with
    the plain one, as the runtime's accurate mode does; twice the compute. Windows of all
    sequences are batched together."""

    def __init__(self, model: MPM, head: str = "centre", batch_size: int = 256, device: str = "cpu", frame_stride: int = 1, flip: bool = False) -> None:
        if head not in ("centre", "full"):
            raise ValueError(f"head {head!r}: expected centre or full")
        self.model = model.eval().to(device)
        self.head = head
        self.batch_size = batch_size
        self.device = device
        self.frame_stride = max(1, frame_stride)
        self.flip = flip
        self.name = f"mpm_{head}" + ("_flip" if flip else "")

    def _run(self, x: np.ndarray, visible: np.ndarray, head: str) -> np.ndarray:
        """The model on windows (N, T, J, 2 or 3) -> (N, J, 3) centre or (N, T, J, 3) full;
        with ``flip`` averaged with the mirrored windows' output, flipped back."""
        plain = self._run_plain(x, visible, head)
        if not self.flip:
            return plain
        perm = get_skeleton(self.model.cfg.skeleton).flip_permutation
        mirror_in = np.ones(x.shape[-1], np.float32)
        mirror_in[0] = -1.0
        mirrored = self._run_plain(x[..., perm, :] * mirror_in, visible[..., perm], head)
        return 0.5 * (plain + mirrored[..., perm, :] * np.array([-1.0, 1.0, 1.0], np.float32))

    @torch.no_grad()
    def _run_plain(self, x: np.ndarray, visible: np.ndarray, head: str) -> np.ndarray:
        out = []
        for start in range(0, len(x), self.batch_size):
            xb = torch.from_numpy(x[start : start + self.batch_size]).float().to(self.device)
            vb = torch.from_numpy(visible[start : start + self.batch_size]).to(self.device)
            out.append(self.model(xb, vb, head=head).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0,))

    def _centre(self, items: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        t = self.model.cfg.num_frames
        xs, vs, where = [], [], []
        for i, (x, vis) in enumerate(items):
            centres = np.arange(0, len(x), self.frame_stride)
            idx = window_index(len(x), t, centres)
            xs.append(x[idx])
            vs.append(vis[idx])
            where.append((i, centres))
        pred = self._run(np.concatenate(xs), np.concatenate(vs), "centre")
        outs, k = [], 0
        for (i, centres), (x, _) in zip(where, items):
            full = np.full(x.shape[:2] + (3,), np.nan)
            full[centres] = pred[k : k + len(centres)]
            outs.append(full)
            k += len(centres)
        return outs

    def _full(self, items: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        t = self.model.cfg.num_frames
        outs: list[np.ndarray] = [None] * len(items)  # type: ignore[list-item]
        xs, vs, where = [], [], []
        for i, (x, vis) in enumerate(items):
            f = len(x)
            if f <= t:  # one window of the sequence's own length
                outs[i] = self._run(x[None], vis[None], "full")[0]
                continue
            hop = max(1, t // 3)
            starts = np.unique(np.append(np.arange(0, f - t + 1, hop), f - t))
            rows = starts[:, None] + np.arange(t)
            xs.append(x[rows])
            vs.append(vis[rows])
            where.append((i, starts))
        if xs:
            pred = self._run(np.concatenate(xs), np.concatenate(vs), "full")
            k = 0
            for i, starts in where:
                x = items[i][0]
                total = np.zeros(x.shape[:2] + (3,))
                count = np.zeros((len(x), 1, 1))
                for s in starts:
                    total[s : s + t] += pred[k]
                    count[s : s + t] += 1
                    k += 1
                outs[i] = total / count
        return outs

    def lift_many(self, items: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """Lift (points (F, J, 2) normalised, visible (F, J)) sequences to (F, J, 3)."""
        prepared = [(np.nan_to_num(p).astype(np.float32), v & np.isfinite(p).all(-1)) for p, v in items]
        return self._centre(prepared) if self.head == "centre" else self._full(prepared)

    def complete_many(self, items: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """Complete (pose (F, J, 3) root-relative, visible (F, J)); observed joints kept."""
        prepared = [(np.nan_to_num(p).astype(np.float32), v & np.isfinite(p).all(-1)) for p, v in items]
        outs = self._full(prepared)
        return [np.where(v[..., None], p, o) for (p, v), o in zip(items, outs)]


class MLPPredictor:
    """The single-frame MLP; hidden 2D joints are filled first (interpolation / mirror)."""

    name = "mlp"

    def __init__(self, model: MLPLifter, skeleton: str, device: str = "cpu") -> None:
        self.model = model.eval().to(device)
        self.skeleton = skeleton
        self.device = device

    @torch.no_grad()
    def lift_many(self, items: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        filled = []
        for points, visible in items:
            vis = visible & np.isfinite(points).all(-1)
            filled.append(points if vis.all() else fill_missing(points, vis, self.skeleton))
        x = torch.from_numpy(np.concatenate(filled).astype(np.float32)).to(self.device)
        pred = self.model(x).cpu().numpy()
        return np.split(pred, np.cumsum([len(f) for f in filled])[:-1])


class FillPredictor:
    """Non-learned 3D completion (no lifting)."""

    name = "fill"

    def __init__(self, skeleton: str) -> None:
        self.skeleton = skeleton

    def complete_many(self, items: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        return [fill_missing(pose, visible, self.skeleton) for pose, visible in items]
