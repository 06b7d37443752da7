"""Rotations in numpy, in Blender's conventions, vectorised over leading axes.

* Matrices act on column vectors (``R @ v``); a bone's rest matrix has the bone along
  its local +Y (Blender's ``Bone.matrix_local``).
* Quaternions are ``(w, x, y, z)`` like ``PoseBone.rotation_quaternion``.
* Euler orders are Blender's ``rotation_mode`` strings: ``"XYZ"`` applies X first, then
  Y, then Z, i.e. ``R = Rz @ Ry @ Rx``.
"""
from __future__ import annotations

import numpy as np

EULER_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")
_AXIS = {"X": 0, "Y": 1, "Z": 2}


def normalize(v: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Unit vectors along the last axis; zero vectors stay zero."""
    v = np.asarray(v, dtype=np.float64)
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, eps)


def axis_angle_matrix(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about unit ``axis`` (..., 3) by ``angle`` (...) radians."""
    axis = normalize(axis)
    angle = np.asarray(angle, dtype=np.float64)
    x, y, z = np.moveaxis(axis, -1, 0)
    c, s = np.cos(angle), np.sin(angle)
    t = 1.0 - c
    return np.stack(
        [
            np.stack([t * x * x + c, t * x * y - s * z, t * x * z + s * y], -1),
            np.stack([t * x * y + s * z, t * y * y + c, t * y * z - s * x], -1),
            np.stack([t * x * z - s * y, t * y * z + s * x, t * z * z + c], -1),
        ],
        -2,
    )


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (w, x, y, z), not necessarily unit -> (..., 3, 3)."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-12)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def matrix_to_quaternion(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions (w, x, y, z), w >= 0."""
    m = np.asarray(m, dtype=np.float64)
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # Each candidate is accurate where its diagonal term is largest (Shepperd's method).
    cands = np.stack(
        [
            np.stack([1 + m00 + m11 + m22, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
            np.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m00 - m11 - m22, m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
            np.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m00 + m11 - m22, m[..., 1, 2] + m[..., 2, 1]], -1),
            np.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m00 - m11 + m22], -1),
        ],
        -2,
    )
    best = np.argmax(np.stack([m00 + m11 + m22, m00, m11, m22], -1), axis=-1)
    q = np.take_along_axis(cands, best[..., None, None], axis=-2)[..., 0, :]
    q = normalize(q)
    return np.where(q[..., :1] < 0, -q, q)


def quaternion_continuity(q: np.ndarray, axis: int = 0) -> np.ndarray:
    """Flip signs along ``axis`` (frames) so consecutive quaternions lie in one hemisphere:
    the same rotations, but F-curves without jumps between q and -q."""
    q = np.moveaxis(np.array(q, dtype=np.float64), axis, 0)
    dots = np.sum(q[1:] * q[:-1], axis=-1)
    flips = np.concatenate([np.zeros((1,) + dots.shape[1:], dtype=bool), dots < 0], axis=0)
    sign = np.where(np.cumsum(flips, axis=0) % 2 == 1, -1.0, 1.0)
    return np.moveaxis(q * sign[..., None], 0, axis)


def slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation of unit quaternions (..., 4) by ``t`` (...), shortest path."""
    q0, q1 = np.asarray(q0, dtype=np.float64), np.asarray(q1, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot).clip(max=1.0)
    theta = np.arccos(dot)
    sin = np.sin(theta)
    small = sin < 1e-6
    w0 = np.where(small, 1.0 - t, np.sin((1.0 - t) * theta) / np.where(small, 1.0, sin))
    w1 = np.where(small, t, np.sin(t * theta) / np.where(small, 1.0, sin))
    return normalize(w0 * q0 + w1 * q1)


def _axis_matrix(axis: int, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    if axis == 0:
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif axis == 1:
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    else:
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    return np.stack([np.stack(r, -1) for r in rows], -2)


def _check_order(order: str) -> str:
    if order not in EULER_ORDERS:
        raise ValueError(f"unknown Euler order {order!r}; expected one of {', '.join(EULER_ORDERS)}")
    return order


def euler_to_matrix(euler: np.ndarray, order: str = "XYZ") -> np.ndarray:
    """(..., 3) angles (x, y, z) in radians -> (..., 3, 3), Blender's ``rotation_mode`` order."""
    euler = np.asarray(euler, dtype=np.float64)
    m = None
    for name in _check_order(order):
        r = _axis_matrix(_AXIS[name], euler[..., _AXIS[name]])
        m = r if m is None else r @ m
    return m


def matrix_to_euler(m: np.ndarray, order: str = "XYZ", previous: np.ndarray | None = None) -> np.ndarray:
    """(F, 3, 3) -> (F, 3) Euler angles (x, y, z) in ``order``, continuous over frames.

    Of the two decompositions of each matrix and their 2*pi multiples, each frame takes the
    one closest to the frame before (to ``previous`` (3,) for the first frame, when given),
    as Blender's ``to_euler(order, compat)`` does, so F-curves do not jump by 360 degrees."""
    m = np.asarray(m, dtype=np.float64).reshape(-1, 3, 3)
    i, j, k = (_AXIS[a] for a in _check_order(order))
    # Angles of the permuted, parity-corrected matrix: R = R_k(c) R_j(b) R_i(a).
    parity = 1.0 if (j - i) % 3 == 1 else -1.0
    r = m[:, [i, j, k]][:, :, [i, j, k]]
    sb = np.clip(-parity * r[:, 2, 0], -1.0, 1.0)
    cb = np.hypot(r[:, 0, 0], r[:, 1, 0])
    gimbal = cb < 1e-9
    a1 = np.where(gimbal, np.arctan2(-parity * r[:, 1, 2], r[:, 1, 1]), np.arctan2(parity * r[:, 2, 1], r[:, 2, 2]))
    b1 = np.arctan2(sb, cb)
    c1 = np.where(gimbal, 0.0, np.arctan2(parity * r[:, 1, 0], r[:, 0, 0]))
    first = np.stack([a1, b1, c1], -1)
    second = np.stack([a1 + np.pi, np.pi - b1, c1 + np.pi], -1)
    first, second = _wrap_pi(first), _wrap_pi(second)
    out = np.empty_like(first)
    prev = None if previous is None else np.asarray(previous, dtype=np.float64)[[i, j, k]]
    for f in range(len(m)):
        cands = (first[f], second[f])
        if prev is not None:
            cands = tuple(c + 2 * np.pi * np.round((prev - c) / (2 * np.pi)) for c in cands)
            best = min(cands, key=lambda c: float(np.abs(c - prev).sum()))
        else:
            best = cands[0]
        out[f] = best
        prev = best
    euler = np.empty_like(out)
    euler[:, [i, j, k]] = out
    return euler


def _wrap_pi(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


def vec_roll_to_matrix(direction: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """A bone's rest orientation (..., 3, 3) from its head-to-tail ``direction`` and ``roll``,
    exactly as Blender builds it (``Bone.MatrixFromAxisRoll``): +Y along the bone."""
    nor = normalize(direction)
    roll = np.asarray(roll, dtype=np.float64)
    x, y, z = np.moveaxis(nor, -1, 0)
    theta = 1.0 + y
    theta_alt = x * x + z * z
    regular = (theta > 1e-3) | (theta_alt > 1e-7)
    theta = np.where(theta > 1e-3, theta, 0.5 * theta_alt + 0.125 * theta_alt * theta_alt)
    theta = np.where(regular, theta, 1.0)
    b = np.stack(
        [
            np.stack([1 - x * x / theta, x, -x * z / theta], -1),
            np.stack([-x, y, -z], -1),
            np.stack([-x * z / theta, z, 1 - z * z / theta], -1),
        ],
        -2,
    )
    flipped = np.diag([-1.0, -1.0, 1.0])
    b = np.where(regular[..., None, None], b, flipped)
    return axis_angle_matrix(nor, roll) @ b


def two_vector_frame(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Orthonormal frames (..., 3, 3) whose first column is along ``primary`` and whose
    second lies in the plane of ``primary`` and ``secondary`` (Gram-Schmidt)."""
    a = normalize(primary)
    b = normalize(secondary - np.sum(secondary * a, axis=-1, keepdims=True) * a)
    return np.stack([a, b, np.cross(a, b)], -1)


def swing(v_from: np.ndarray, v_to: np.ndarray) -> np.ndarray:
    """The smallest rotation (..., 3, 3) taking direction ``v_from`` to ``v_to``."""
    a, b = normalize(v_from), normalize(v_to)
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=-1)
    cos = np.sum(a * b, axis=-1)
    # Opposite vectors: any axis perpendicular to ``a`` gives a half turn.
    helper = np.where(np.abs(a[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    fallback = np.cross(a, helper)
    axis = np.where((sin < 1e-9)[..., None], fallback, axis)
    return axis_angle_matrix(axis, np.arctan2(sin, cos))
