"""The canonical motion clip every reader yields, and frame-rate resampling."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from engine.coords import camera_to_blender_world
from engine.skeleton import Skeleton, convert_joints, get_skeleton


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

    def on_skeleton(self, skeleton: str) -> "MotionClip":
        """The clip with its joints re-ordered to ``skeleton`` (joints it lacks: NaN)."""
        positions = convert_joints(self.positions, self.skel, get_skeleton(skeleton))
        return replace(self, positions=positions, skeleton=skeleton, meta=dict(self.meta))

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


@dataclass(eq=False)
class CameraSequence:
    """Camera-space 3D with the same camera's 2D (Human3.6M / MPI-INF-3DHP style data).

    ``pose_3d`` (F, J, 3) metres, OpenCV camera axes (x right, y down, z forward);
    ``pose_2d`` (F, J, 2) pixels; ``valid`` (F,) frames with ground truth; joints in the
    order of ``skeleton``, NaN = missing.
    """

    pose_3d: np.ndarray
    pose_2d: np.ndarray
    image_size: tuple[int, int]
    fps: float
    subject: str
    name: str
    source: str
    camera: str = ""
    action: str | None = None
    valid: np.ndarray | None = None
    skeleton: str = "anim19"

    def __post_init__(self) -> None:
        self.pose_3d = np.asarray(self.pose_3d, dtype=np.float32)
        self.pose_2d = np.asarray(self.pose_2d, dtype=np.float32)
        n, j = self.pose_3d.shape[:2]
        if self.pose_2d.shape != (n, j, 2) or j != get_skeleton(self.skeleton).num_joints:
            raise ValueError(
                f"sequence {self.name!r}: pose_3d {self.pose_3d.shape} and pose_2d {self.pose_2d.shape} "
                f"must be (F, J, 3) and (F, J, 2) with J of {self.skeleton!r}"
            )
        self.valid = np.ones(n, bool) if self.valid is None else np.asarray(self.valid, bool).reshape(n)

    def as_dict(self) -> dict:
        """The dict the trainer's ``CameraPairs`` takes."""
        return {
            "pose_3d": self.pose_3d, "pose_2d": self.pose_2d, "image_size": self.image_size, "valid": self.valid,
            "fps": self.fps, "action": self.action, "name": self.name, "subject": self.subject,
        }

    def to_motion_clip(self) -> MotionClip:
        """The 3D alone, seen from the default front view (camera -> Blender world, Z up)."""
        world = camera_to_blender_world(self.pose_3d)
        world[~self.valid] = np.nan
        return MotionClip(
            positions=world, fps=self.fps, subject=self.subject, clip=self.name, source=self.source,
            action=self.action, skeleton=self.skeleton, meta={"camera": self.camera, "from": "camera space"},
        )


@dataclass(eq=False)
class KeypointClip:
    """One person's 2D joints over time (2D-only data for masked 2D modelling).

    ``points`` (F, J, 2) pixels, NaN = not detected; ``confidence`` (F, J), 0 = absent.
    """

    points: np.ndarray
    confidence: np.ndarray
    image_size: tuple[int, int]
    fps: float
    subject: str
    clip: str
    source: str
    skeleton: str = "anim19"

    def as_dict(self) -> dict:
        """The dict the trainer's ``Keypoint2DPairs`` takes."""
        return {"points": self.points, "confidence": self.confidence, "image_size": self.image_size,
                "fps": self.fps, "subject": self.subject, "name": self.clip}
