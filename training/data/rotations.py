"""Euler angles to rotation matrices, vectorised over frames (numpy only)."""
from __future__ import annotations

import numpy as np


def axis_rotation(axis: str, angle_rad: np.ndarray) -> np.ndarray:
    """(F,) angles about ``axis`` ('X', 'Y' or 'Z') -> (F, 3, 3) rotation matrices."""
    a = np.asarray(angle_rad, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    one, zero = np.ones_like(a), np.zeros_like(a)
    axis = axis.upper()
    if axis == "X":
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif axis == "Y":
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    elif axis == "Z":
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    else:
        raise ValueError(f"rotation axis must be X, Y or Z, got {axis!r}")
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def euler_matrix(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """(F, k) angles in degrees about the axes in ``order`` -> (F, 3, 3).

    The matrix is R[order[0]] @ R[order[1]] @ ..., the BVH convention: the channel
    listed first is the outermost rotation (applied last to a vector).
    """
    angles = np.radians(np.asarray(angles_deg, dtype=np.float64))
    if angles.ndim == 1:
        angles = angles[:, None]
    out = np.broadcast_to(np.eye(3), (angles.shape[0], 3, 3)).copy()
    for k, axis in enumerate(order):
        out = out @ axis_rotation(axis, angles[:, k])
    return out
