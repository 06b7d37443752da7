"""Root trajectory: where the person is in camera space, frame by frame.

The lifted pose is root-relative; its camera-space translation t follows from the 2D
keypoints it came from: each joint X + t must project onto its detection. With intrinsics
(fx, fy, cx, cy) this is a small least-squares problem per frame:

* a linear solve (each joint gives two equations linear in t after multiplying out the
  perspective division), then
* a few Gauss-Newton steps on the true re-projection error in pixels (the linear solve
  weights joints by depth), with per-joint weights from the detection confidence.

Frames without enough visible joints are interpolated from their neighbours, and the path
is smoothed (a Savitzky-Golay filter by default: zero lag, depth is the noisiest axis).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import validate
from .coords import focal_from_fov
from .postprocess import FILTERS, smooth

# Horizontal field of view assumed when no intrinsics are given (a typical phone or webcam).
DEFAULT_FOV_DEG = 60.0
MIN_DEPTH = 0.1  # metres; keeps every joint in front of the camera during the solve
GAUSS_NEWTON_STEPS = 5


def camera_intrinsics(
    image_size: tuple[float, float], intrinsics: Any = None, fov_deg: float = DEFAULT_FOV_DEG
) -> tuple[float, float, float, float]:
    """(fx, fy, cx, cy) in pixels: as given, or square pixels and a centred principal point
    from a horizontal field of view."""
    if intrinsics is not None:
        try:
            fx, fy, cx, cy = (float(v) for v in intrinsics)
        except (TypeError, ValueError):
            raise validate.InputError(f"intrinsics: expected (fx, fy, cx, cy) in pixels, got {intrinsics!r}") from None
        if not (fx > 0 and fy > 0 and np.isfinite([fx, fy, cx, cy]).all()):
            raise validate.InputError(f"intrinsics: expected positive finite focal lengths, got {intrinsics!r}")
        return fx, fy, cx, cy
    w, h = validate.image_size(image_size)
    if not 1.0 <= fov_deg <= 179.0:
        raise validate.InputError(f"fov_deg: expected a horizontal field of view in (1, 179) degrees, got {fov_deg}")
    f = focal_from_fov(w, fov_deg)
    return f, f, w / 2.0, h / 2.0


def solve_translation(
    points_px: np.ndarray, poses: np.ndarray, weights: np.ndarray, intrinsics: tuple[float, float, float, float]
) -> np.ndarray:
    """Per-frame translation (F, 3) minimising the weighted re-projection error; NaN for
    frames with fewer than two weighted joints."""
    fx, fy, cx, cy = intrinsics
    u = points_px[..., 0] - cx
    v = points_px[..., 1] - cy
    x, y, z = poses[..., 0], poses[..., 1], poses[..., 2]
    w = weights
    # Linear: fx (X + tx) = u (Z + tz)  and  fy (Y + ty) = v (Z + tz).
    zero = np.zeros_like(u)
    rows = np.concatenate(
        [np.stack([fx + zero, zero, -u], -1), np.stack([zero, fy + zero, -v], -1)], axis=1
    )  # (F, 2J, 3)
    rhs = np.concatenate([u * z - fx * x, v * z - fy * y], axis=1)
    ww = np.concatenate([w, w], axis=1)
    t = _weighted_lstsq(rows, rhs, ww)
    solvable = (weights > 0).sum(1) >= 2
    if not solvable.any():
        return np.full((len(poses), 3), np.nan)
    t = np.where(solvable[:, None], t, np.array([0.0, 0.0, 3.0]))
    nearest = np.where(weights > 0, z, np.inf).min(1)
    min_tz = np.where(np.isfinite(nearest), MIN_DEPTH - nearest, -np.inf)
    for _ in range(GAUSS_NEWTON_STEPS):
        t[:, 2] = np.maximum(t[:, 2], min_tz)
        X, Y = x + t[:, None, 0], y + t[:, None, 1]
        Z = np.maximum(z + t[:, None, 2], MIN_DEPTH)
        res = np.concatenate([fx * X / Z - u, fy * Y / Z - v], axis=1)
        jac = np.concatenate(
            [np.stack([fx / Z, zero, -fx * X / Z**2], -1), np.stack([zero, fy / Z, -fy * Y / Z**2], -1)], axis=1
        )
        t = t - _weighted_lstsq(jac, res, ww)
    t[~solvable] = np.nan
    return t


def _weighted_lstsq(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Batched weighted least squares: per frame argmin_t sum w (a t - b)^2; (F, R, 3) -> (F, 3)."""
    aw = a * w[..., None]
    normal = np.einsum("fri,frj->fij", aw, a) + 1e-9 * np.eye(3)
    return np.linalg.solve(normal, np.einsum("fri,fr->fi", aw, b)[..., None])[..., 0]


def estimate_root_trajectory(
    points_px: Any,
    poses: Any,
    image_size: tuple[float, float] | None = None,
    intrinsics: Any = None,
    confidence: Any = None,
    fps: float | None = None,
    fov_deg: float = DEFAULT_FOV_DEG,
    min_confidence: float = 0.3,
    filter: str = "savgol",
) -> np.ndarray:
    """Camera-space root translation (F, 3) in metres for a root-relative 3D clip.

    ``points_px`` (F, J, 2): the 2D keypoints in pixels (NaN = missing); ``poses`` (F, J, 3):
    the root-relative camera-space pose, same joints (e.g. the output of ``lift``).
    ``intrinsics`` (fx, fy, cx, cy) in pixels, or ``image_size`` (w, h) with a horizontal
    ``fov_deg``. ``confidence`` (F, J) weights joints; below ``min_confidence`` they are
    ignored. ``filter``: smoothing of the path (see ``engine.postprocess.smooth``); ``fps``
    sets its time scale (default 30). ``poses + t[:, None]`` is the posed clip in camera space."""
    points = validate.point_array("points_px", points_px, 2).astype(np.float64)
    poses = validate.point_array("poses", poses, 3, allow_nan=False, shape=points.shape[:2] + (3,)).astype(np.float64)
    fps = validate.frame_rate(fps) or 30.0
    filter = validate.choice("filter", filter, FILTERS)
    K = camera_intrinsics(image_size, intrinsics, fov_deg)
    weights = np.isfinite(points).all(-1).astype(np.float64)
    if confidence is not None:
        conf = np.nan_to_num(validate.point_array("confidence", np.asarray(confidence)[..., None], 1)[..., 0].astype(np.float64))
        if conf.shape != weights.shape:
            raise validate.InputError(f"confidence: expected shape {weights.shape} to match the keypoints, got {conf.shape}")
        weights *= np.where(conf >= min_confidence, conf, 0.0)
    t = solve_translation(np.nan_to_num(points), poses, weights, K)
    solved = np.isfinite(t).all(-1)
    if not solved.any():
        raise validate.InputError("points_px: no frame has two or more usable joints; expected visible, confident keypoints")
    frames = np.arange(len(t))
    t = np.stack([np.interp(frames, frames[solved], t[solved, c]) for c in range(3)], axis=1)
    return smooth(t[:, None], fps, filter=filter).poses[:, 0]
