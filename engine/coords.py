"""Coordinate conventions (docs/contracts.md).

* Image: pixels, origin at the top-left corner, x right, y down.
* Normalised image (model input): ``x / w * 2 - [1, h / w]``: x in [-1, 1], aspect kept.
* Camera space (model 3D): metres, OpenCV axes: x right, y down, z forward (away from
  the camera). Poses are root-relative (pelvis at the origin) unless a root trajectory
  is added.
* Blender world: metres, Z up. A Blender camera looks down its local -Z with +Y up, so
  OpenCV camera axes map to Blender camera-local axes as (x, -y, -z).
* Default view (no camera given): a camera at the front of the subject looking along
  Blender's +Y, so camera (x, y, z) -> world (x, z, -y): the person stands on Z and
  faces Blender's front view (-Y).
"""
from __future__ import annotations

import numpy as np

# OpenCV camera axes -> Blender camera-local axes.
CV_TO_BLENDER_CAMERA = np.diag([1.0, -1.0, -1.0])
# OpenCV camera axes -> Blender world axes for the default front view.
CV_TO_BLENDER_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def normalize_screen(points: np.ndarray, width: float, height: float) -> np.ndarray:
    """Pixels -> normalised image coordinates (the paper's 2D input)."""
    points = np.asarray(points, dtype=np.float32)
    return points / width * 2.0 - np.array([1.0, height / width], dtype=np.float32)


def denormalize_screen(points: np.ndarray, width: float, height: float) -> np.ndarray:
    """Normalised image coordinates -> pixels."""
    points = np.asarray(points, dtype=np.float32)
    return (points + np.array([1.0, height / width], dtype=np.float32)) * width / 2.0


def camera_to_blender_world(points: np.ndarray, camera_matrix_world: np.ndarray | None = None) -> np.ndarray:
    """OpenCV camera-space points (..., 3) -> Blender world.

    With ``camera_matrix_world`` (a Blender camera's 4x4 ``matrix_world``), points land
    where that camera sees them; without it, the default front view is used.
    """
    points = np.asarray(points, dtype=np.float64)
    if camera_matrix_world is None:
        return points @ CV_TO_BLENDER_WORLD.T
    m = np.asarray(camera_matrix_world, dtype=np.float64)
    local = points @ CV_TO_BLENDER_CAMERA.T
    return local @ m[:3, :3].T + m[:3, 3]


def blender_world_to_camera(points: np.ndarray, camera_matrix_world: np.ndarray | None = None) -> np.ndarray:
    """Inverse of :func:`camera_to_blender_world`."""
    points = np.asarray(points, dtype=np.float64)
    if camera_matrix_world is None:
        return points @ CV_TO_BLENDER_WORLD  # orthonormal: inverse = transpose
    m = np.asarray(camera_matrix_world, dtype=np.float64)
    local = (points - m[:3, 3]) @ np.linalg.inv(m[:3, :3]).T
    return local @ CV_TO_BLENDER_CAMERA  # diagonal +-1: its own inverse


def focal_from_fov(width: float, fov_deg: float) -> float:
    """Focal length in pixels from a horizontal field of view in degrees."""
    return width / (2.0 * np.tan(np.radians(fov_deg) / 2.0))
