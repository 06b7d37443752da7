"""Evaluation sequences: 3D motion seen by fixed, documented virtual cameras.

Cameras (``EVAL_CAMERAS``): four cameras at azimuths 45, 135, 225 and 315 degrees (the
diagonals, like Human3.6M's four corners), 10 degrees above the subject's mean root
height looking down at it, 1000 x 1000 images with a 50-degree horizontal field of view
(focal 1072 px; Human3.6M: 1145 px). Each camera stays fixed for the whole clip, aimed at
the clip's mean root position, 5 m away plus the clip's horizontal extent (so a subject
walking around never comes closer than about 5 m). Nothing here is random.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.coords import normalize_screen
from engine.perspective import ViewCentring
from engine.skeleton import convert_joints, get_skeleton

from .data.cameras import camera_at

EVAL_CAMERAS = {
    "azimuth_deg": (45.0, 135.0, 225.0, 315.0),
    "elevation_deg": 10.0,
    "fov_deg": 50.0,
    "image_size": (1000, 1000),
    "distance_m": "5 + the clip's horizontal extent",
}


@dataclass
class EvalView:
    """One sequence as one camera sees it: root-relative camera-space 3D (NaN = no
    ground truth) and the 2D input in pixels (clean projection or real detections)."""

    name: str
    subject: str
    action: str | None
    pose_3d: np.ndarray
    points_px: np.ndarray
    image_size: tuple[float, float]
    confidence: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    intrinsics: tuple[float, float, float, float] | None = None  # (fx, fy, cx, cy) px, where known

    def centring(self) -> ViewCentring | None:
        """The camera, for lifting as if it were aimed at the person (None: unknown)."""
        return None if self.intrinsics is None else ViewCentring.from_pixels(self.intrinsics, *self.image_size)

    @property
    def points(self) -> np.ndarray:
        """The 2D input, image-normalised."""
        return normalize_screen(self.points_px, *self.image_size)

    @property
    def visible_2d(self) -> np.ndarray:
        vis = np.isfinite(self.points_px).all(-1)
        if self.confidence is not None:
            vis &= self.confidence > 0
        return vis


def action_group(action: str | None) -> str | None:
    """A CMU description ("dance - expressive arms, pirouette") -> its category ("dance")."""
    if not action:
        return None
    return action.split(" - ")[0].split(",")[0].strip().lower()


def views_from_clips(
    clips, skeleton: str, fps: float, azimuths: tuple[float, ...] = EVAL_CAMERAS["azimuth_deg"], turn: np.ndarray | None = None
) -> list[EvalView]:
    """Every clip (MotionClip, world Z up) through the evaluation cameras (``azimuths``: a
    subset of them). ``turn`` (3, 3): each camera then turned about its own centre by this
    camera-space rotation (``engine.perspective.pan_tilt``), the person off-centre."""
    skel = get_skeleton(skeleton)
    views = []
    for clip in clips:
        positions = clip.resampled(fps).positions
        if clip.skeleton != skel.name:
            positions = convert_joints(positions, get_skeleton(clip.skeleton), skel)
        root = positions[:, skel.root]
        target = np.nanmean(root, 0)
        extent = float(np.nanmax(np.linalg.norm(root[:, :2] - target[:2], axis=-1)))
        for az in azimuths:
            camera = camera_at(target, az, EVAL_CAMERAS["elevation_deg"], 5.0 + extent, EVAL_CAMERAS["fov_deg"], EVAL_CAMERAS["image_size"])
            cam3d = camera.world_to_camera(positions)
            if turn is not None:
                cam3d = cam3d @ np.asarray(turn).T
            px = camera.project_camera(cam3d)
            views.append(
                EvalView(
                    name=f"{clip.subject}/{clip.clip}/az{int(az)}", subject=str(clip.subject), action=action_group(clip.action),
                    pose_3d=(cam3d - cam3d[:, skel.root : skel.root + 1]).astype(np.float64), points_px=px.astype(np.float64),
                    image_size=tuple(float(v) for v in EVAL_CAMERAS["image_size"]),
                    intrinsics=camera.intrinsics,
                    meta={"root_3d": cam3d[:, skel.root].astype(np.float64)},  # camera-space root path, metres
                )
            )
    return views


def views_from_sequences(sequences, skeleton: str, fps: float) -> list[EvalView]:
    """Camera-space sequences with their own 2D (``paper_data``) as evaluation views."""
    skel = get_skeleton(skeleton)
    views = []
    for seq in sequences:
        step = int(round(seq.get("fps", fps) / fps)) or 1
        pose = np.asarray(seq["pose_3d"], np.float64)[::step]
        valid = np.asarray(seq.get("valid", np.ones(len(seq["pose_3d"]), bool)), bool)[::step]
        pose = np.where(valid[:, None, None], pose - pose[:, skel.root : skel.root + 1], np.nan)
        views.append(
            EvalView(
                name=seq.get("name", f"seq{len(views)}"), subject=str(seq.get("subject", "")), action=seq.get("action"),
                pose_3d=pose, points_px=np.asarray(seq["pose_2d"], np.float64)[::step], image_size=tuple(seq["image_size"]),
            )
        )
    return views
