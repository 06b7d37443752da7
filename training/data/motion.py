"""The canonical motion clip every reader yields, and frame-rate resampling."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from engine.skeleton import Skeleton, get_skeleton


@dataclass(eq=False)  # arrays: compare clips by identity
class MotionClip:
    """3D joint positions of one take on a canonical skeleton.

    ``positions`` is (F, J, 3) float32, metres, world Z up (Blender convention), joints in
    the order of ``skeleton``; NaN marks a joint the source does not give.
    """

    positions: np.ndarray
    fps: float
    subject: str
    clip: str
    source: str
    action: str | None = None
    skeleton: str = "anim19"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.positions = np.asarray(self.positions, dtype=np.float32)
        skel = self.skel
        if self.positions.ndim != 3 or self.positions.shape[1:] != (skel.num_joints, 3):
            raise ValueError(
                f"clip {self.clip!r}: positions must be (F, {skel.num_joints}, 3) for {skel.name!r}, "
                f"got {self.positions.shape}"
            )
        if not self.fps > 0:
            raise ValueError(f"clip {self.clip!r}: fps must be positive, got {self.fps}")

    @property
    def skel(self) -> Skeleton:
        return get_skeleton(self.skeleton)

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    @property
    def visible(self) -> np.ndarray:
        """(F, J) bool: True where the joint is given."""
        return np.isfinite(self.positions).all(-1)

    def resampled(self, fps: float) -> "MotionClip":
        return replace(self, positions=resample(self.positions, self.fps, fps), fps=float(fps), meta=dict(self.meta))


def resample(positions: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """Linear resampling in time of (F, ...) positions from ``fps_in`` to ``fps_out``.

    Frame k of the output lies at time k / fps_out; an integer ratio (120 -> 30) picks
    every n-th frame exactly. NaN stays NaN where either neighbour is missing.
    """
    positions = np.asarray(positions)
    if abs(fps_in - fps_out) < 1e-9 * fps_in:
        return positions.copy()
    n_in = positions.shape[0]
    n_out = int(np.floor((n_in - 1) * fps_out / fps_in + 1e-6)) + 1 if n_in else 0
    t = np.arange(n_out) * (fps_in / fps_out)
    lo = np.clip(np.floor(t + 1e-6).astype(int), 0, max(n_in - 1, 0))
    hi = np.minimum(lo + 1, n_in - 1)
    w = (t - lo).reshape((-1,) + (1,) * (positions.ndim - 1))
    w = np.where(w < 1e-6, 0.0, w)
    out = positions[lo] * (1.0 - w) + np.where(w > 0, positions[hi], 0.0) * w
    return out.astype(positions.dtype, copy=False)
