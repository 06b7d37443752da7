"""Forward kinematics of an armature and Blender F-curve evaluation, in numpy.

Reads an action without stepping frames: the add-on hands over each F-curve's keyframe
arrays (read with ``foreach_get``) and the armature's rest matrices; this module
evaluates the curves at every frame, builds the bones' local (basis) transforms and
chains them into armature-space pose matrices, all frames at once.

Blender's pose of bone b (armature space), for bones that inherit rotation and scale::

    pose[b] = pose[parent] @ inv(rest[parent]) @ rest[b] @ basis[b]
    basis[b] = T(location) @ R(rotation) @ S(scale)

``rest`` is ``Bone.matrix_local`` (4x4, +Y along the bone). The location of a bone
connected to its parent has no effect, as in Blender.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rotations import axis_angle_matrix, euler_to_matrix, quaternion_to_matrix

# Blender's Keyframe.interpolation enum values (as foreach_get returns them).
INTERPOLATION = {"CONSTANT": 0, "LINEAR": 1, "BEZIER": 2}
EXTRAPOLATION = ("CONSTANT", "LINEAR")


class FCurveError(ValueError):
    """Keyframes this module cannot evaluate (the caller falls back to Blender's own)."""


@dataclass
class FCurveKeys:
    """One F-curve's keyframes: ``co``, ``handle_left``, ``handle_right`` (K, 2) as
    (frame, value); ``interpolation`` (K,) Blender enum values or names; ``extrapolation``
    "CONSTANT" or "LINEAR"."""

    co: np.ndarray
    handle_left: np.ndarray
    handle_right: np.ndarray
    interpolation: np.ndarray
    extrapolation: str = "CONSTANT"

    def __post_init__(self) -> None:
        self.co = np.asarray(self.co, dtype=np.float64).reshape(-1, 2)
        k = len(self.co)
        self.handle_left = np.asarray(self.handle_left, dtype=np.float64).reshape(k, 2)
        self.handle_right = np.asarray(self.handle_right, dtype=np.float64).reshape(k, 2)
        ipo = np.asarray(self.interpolation).reshape(k)
        if ipo.dtype.kind in "US":
            unknown = sorted(set(ipo.tolist()) - set(INTERPOLATION))
            if unknown:
                raise FCurveError(f"interpolation {unknown} not supported; expected {', '.join(INTERPOLATION)}")
            ipo = np.array([INTERPOLATION[i] for i in ipo], dtype=np.int64)
        ipo = ipo.astype(np.int64)
        if k and (ipo.min() < 0 or ipo.max() > 2):
            raise FCurveError("easing interpolations (sine, bounce ...) are not supported; expected CONSTANT, LINEAR or BEZIER")
        self.interpolation = ipo
        if self.extrapolation not in EXTRAPOLATION:
            raise FCurveError(f"extrapolation {self.extrapolation!r} not supported; expected {EXTRAPOLATION}")
        if k > 1 and np.any(np.diff(self.co[:, 0]) <= 0):
            raise FCurveError("keyframes must be sorted by frame without duplicates")

    @property
    def frames(self) -> np.ndarray:
        return self.co[:, 0]


def evaluate_fcurve(keys: FCurveKeys, frames: np.ndarray) -> np.ndarray:
    """Values of an F-curve at ``frames`` (N,), as Blender evaluates it (no modifiers)."""
    t = np.asarray(frames, dtype=np.float64)
    co = keys.co
    if len(co) == 0:
        raise FCurveError("F-curve has no keyframes")
    out = np.empty_like(t)
    if len(co) == 1:
        out[:] = co[0, 1]
        return out
    x = co[:, 0]
    before, after = t <= x[0], t >= x[-1]
    out[before] = _extrapolate(keys, 0, t[before])
    out[after] = _extrapolate(keys, -1, t[after])
    inside = ~(before | after)
    ti = t[inside]
    seg = np.clip(np.searchsorted(x, ti, side="right") - 1, 0, len(x) - 2)
    x0, x1 = x[seg], x[seg + 1]
    y0, y1 = co[seg, 1], co[seg + 1, 1]
    ipo = keys.interpolation[seg]
    value = np.where(ipo == INTERPOLATION["CONSTANT"], y0, y0 + (y1 - y0) * (ti - x0) / (x1 - x0))
    bez = ipo == INTERPOLATION["BEZIER"]
    if bez.any():
        s = seg[bez]
        value[bez] = _bezier(co[s], keys.handle_right[s], keys.handle_left[s + 1], co[s + 1], ti[bez])
    out[inside] = value
    return out


def _extrapolate(keys: FCurveKeys, end: int, t: np.ndarray) -> np.ndarray:
    co = keys.co
    y = np.full_like(t, co[end, 1])
    if keys.extrapolation == "CONSTANT" or len(t) == 0:
        return y
    # Blender extrapolates by the end key's own interpolation.
    ipo = keys.interpolation[end]
    if ipo == INTERPOLATION["CONSTANT"]:
        return y
    if ipo == INTERPOLATION["LINEAR"]:
        a, b = (co[0], co[1]) if end == 0 else (co[-2], co[-1])
    else:  # Bezier: along the outer handle.
        a, b = (keys.handle_left[0], co[0]) if end == 0 else (co[-1], keys.handle_right[-1])
    dx = b[0] - a[0]
    if dx == 0:
        return y
    return co[end, 1] + (t - co[end, 0]) * (b[1] - a[1]) / dx


def _bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, p3: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Value of the Bezier segments at frames ``t``, handles corrected as Blender does
    (shortened so the curve never runs backwards in time)."""
    h1 = p0 - p1
    h2 = p3 - p2
    span = p3[:, 0] - p0[:, 0]
    # Each handle reaches at most to the other key's frame (Blender's correct_bezpart).
    for h in (h1, h2):
        reach = np.abs(h[:, 0])
        h *= np.where(reach > span, span / np.where(reach > 0, reach, 1.0), 1.0)[:, None]
    p1 = p0 - h1
    p2 = p3 - h2

    def cubic(a, b, c, d, u):
        v = 1.0 - u
        return v * v * v * a + 3 * v * v * u * b + 3 * v * u * u * c + u * u * u * d

    # x(u) is monotonic after the correction: bisection converges for every point.
    lo, hi = np.zeros_like(t), np.ones_like(t)
    for _ in range(52):
        mid = 0.5 * (lo + hi)
        left = cubic(p0[:, 0], p1[:, 0], p2[:, 0], p3[:, 0], mid) < t
        lo = np.where(left, mid, lo)
        hi = np.where(left, hi, mid)
    return cubic(p0[:, 1], p1[:, 1], p2[:, 1], p3[:, 1], 0.5 * (lo + hi))


# -- bone transforms -------------------------------------------------------------------
def basis_matrices(
    location: np.ndarray | None = None,
    rotation: np.ndarray | None = None,
    rotation_mode: str = "QUATERNION",
    scale: np.ndarray | None = None,
    frames: int | None = None,
) -> np.ndarray:
    """Local (basis) transforms (F, 4, 4) from channel values: ``location`` (F, 3),
    ``rotation`` (F, 4) quaternion w,x,y,z / (F, 4) axis-angle angle,x,y,z / (F, 3) Euler
    per ``rotation_mode`` (a PoseBone.rotation_mode), ``scale`` (F, 3). Missing channels
    are the identity."""
    n = frames
    for value in (location, rotation, scale):
        if value is not None:
            n = len(value)
    if n is None:
        raise ValueError("basis_matrices: give at least one channel or frames=")
    out = np.tile(np.eye(4), (n, 1, 1))
    if rotation is not None:
        rotation = np.asarray(rotation, dtype=np.float64)
        if rotation_mode == "QUATERNION":
            out[:, :3, :3] = quaternion_to_matrix(rotation)
        elif rotation_mode == "AXIS_ANGLE":
            out[:, :3, :3] = axis_angle_matrix(rotation[:, 1:], rotation[:, 0])
        else:
            out[:, :3, :3] = euler_to_matrix(rotation, rotation_mode)
    if scale is not None:
        out[:, :3, :3] *= np.asarray(scale, dtype=np.float64)[:, None, :]
    if location is not None:
        out[:, :3, 3] = location
    return out


def topological_order(parents: np.ndarray) -> np.ndarray:
    """Bone indices with every parent before its children."""
    parents = np.asarray(parents)
    depth = np.zeros(len(parents), dtype=np.int64)
    for b in range(len(parents)):
        p, seen = parents[b], 0
        while p >= 0:
            depth[b] += 1
            p = parents[p]
            seen += 1
            if seen > len(parents):
                raise ValueError(f"bone parents form a cycle at bone {b}")
    return np.argsort(depth, kind="stable")


def pose_matrices(
    rest: np.ndarray, parents: np.ndarray, basis: np.ndarray, connected: np.ndarray | None = None
) -> np.ndarray:
    """Armature-space pose matrices (F, B, 4, 4) from rest matrices (B, 4, 4), parent
    indices (B,) (-1 = root) and basis transforms (F, B, 4, 4)."""
    rest = np.asarray(rest, dtype=np.float64)
    parents = np.asarray(parents)
    basis = np.array(basis, dtype=np.float64)
    if connected is not None:
        basis[:, np.asarray(connected, dtype=bool), :3, 3] = 0.0
    inv_rest = np.linalg.inv(rest)
    pose = np.empty_like(basis)
    for b in topological_order(parents):
        p = parents[b]
        if p < 0:
            pose[:, b] = rest[b] @ basis[:, b]
        else:
            pose[:, b] = pose[:, p] @ (inv_rest[p] @ rest[b]) @ basis[:, b]
    return pose


def heads_and_tails(pose: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bone heads and tails (F, B, 3) from pose matrices (F, B, 4, 4) and bone lengths (B,)."""
    heads = pose[..., :3, 3]
    tails = heads + pose[..., :3, 1] * np.asarray(lengths, dtype=np.float64)[:, None]
    return heads, tails
