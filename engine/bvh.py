"""BVH writer for a canonical skeleton (joint positions in, joint rotations out).

* Axes: BVH's usual Y up, the character facing +Z (so its left is +X). Engine positions are
  camera space (OpenCV: x right, y down, z forward), so camera (x, y, z) -> BVH (x, -y, -z):
  a person facing the camera faces +Z.
* Rest pose: a T-pose built from the joint names (legs down, arms out sideways, spine up,
  toes forward), with one length per bone (the clip's medians unless given).
* Rotations: a joint with several children (pelvis, thorax) gets the rotation that best
  maps its rest bones onto the frame's bones (Kabsch, each bone weighted by the joints it
  carries); a joint with one child gets the
  smallest rotation, relative to its parent, that aims its bone (no spurious twist).
  Leaves become End Sites, so each BVH joint is a bone from that joint to its child.
* Channels: root ``Xposition Yposition Zposition Zrotation Xrotation Yrotation``, others
  ``Zrotation Xrotation Yrotation``; a joint's local matrix is Rz @ Rx @ Ry (degrees).

With constant bone lengths (see ``engine.postprocess.fit_bone_lengths``) and rigid
multi-child joints the file reproduces the positions exactly; otherwise single-child bones
keep their direction and multi-child joints get the best rigid fit.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from . import validate
from .postprocess import bone_lengths
from .skeleton import Skeleton, get_skeleton

CAMERA_TO_BVH = np.diag([1.0, -1.0, -1.0])

# Rest (T-pose) direction of the bone ending at a joint, by name, in BVH axes.
_REST_BY_SUFFIX = {
    "hip": (1.0, 0.0, 0.0), "knee": (0.0, -1.0, 0.0), "ankle": (0.0, -1.0, 0.0), "toe": (0.0, 0.0, 1.0),
    "shoulder": (1.0, 0.0, 0.0), "elbow": (1.0, 0.0, 0.0), "wrist": (1.0, 0.0, 0.0),
}
_REST_UP = ("spine", "thorax", "neck", "head")


def rest_direction(joint: str) -> np.ndarray | None:
    """Unit rest direction of the bone ending at ``joint`` (None: unknown name)."""
    if joint in _REST_UP:
        return np.array([0.0, 1.0, 0.0])
    for side, sign in (("left_", 1.0), ("right_", -1.0)):
        if joint.startswith(side) and joint[len(side):] in _REST_BY_SUFFIX:
            d = np.array(_REST_BY_SUFFIX[joint[len(side):]])
            return d * np.array([sign, 1.0, 1.0])
    return None


def _children(skel: Skeleton) -> list[list[int]]:
    kids: list[list[int]] = [[] for _ in skel.joints]
    for parent, child in skel.bones:
        kids[parent].append(child)
    return kids


def _root_outward(skel: Skeleton, kids: list[list[int]]) -> list[int]:
    order = [skel.root]
    for j in order:
        order += kids[j]
    return order


def _min_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-frame smallest rotations (F, 3, 3) taking unit vectors a (F, 3) to b (F, 3)."""
    v = np.cross(a, b)
    c = np.einsum("fi,fi->f", a, b)
    s = np.linalg.norm(v, axis=-1)
    # Opposite vectors: rotate half a turn about any axis perpendicular to a.
    opposite = c < -1.0 + 1e-9
    helper = np.where(np.abs(a[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    axis = np.where(opposite[:, None], np.cross(a, helper), v / np.maximum(s, 1e-12)[:, None])
    axis /= np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-12)
    angle = np.arctan2(s, c)
    angle = np.where(opposite, np.pi, angle)
    return _axis_angle(axis, angle)


def _axis_angle(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    x, y, z = axis[:, 0], axis[:, 1], axis[:, 2]
    zero = np.zeros_like(x)
    k = np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)], -2)
    s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    return np.eye(3) + s * k + (1 - c) * k @ k


def _kabsch(rest: np.ndarray, current: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-frame rotation (F, 3, 3) best mapping rest vectors (K, 3) onto current (F, K, 3),
    in the weighted least-squares sense."""
    h = np.einsum("k,ki,fkj->fij", weights, rest, current)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.swapaxes(vt, 1, 2) @ np.swapaxes(u, 1, 2)))
    fix = np.stack([np.ones_like(d), np.ones_like(d), d], -1)[:, None, :]
    return np.swapaxes(vt, 1, 2) @ (np.swapaxes(u, 1, 2) * fix.transpose(0, 2, 1))


def euler_zxy(m: np.ndarray) -> np.ndarray:
    """Angles (F, 3) in degrees as (z, x, y) with m = Rz @ Rx @ Ry, unwrapped over time."""
    x = np.arcsin(np.clip(m[:, 2, 1], -1.0, 1.0))
    gimbal = np.abs(m[:, 2, 1]) > 1.0 - 1e-9
    y = np.where(gimbal, 0.0, np.arctan2(-m[:, 2, 0], m[:, 2, 2]))
    z = np.where(gimbal, np.arctan2(m[:, 1, 0], m[:, 0, 0]), np.arctan2(-m[:, 0, 1], m[:, 1, 1]))
    return np.degrees(np.unwrap(np.stack([z, x, y], -1), axis=0))


def _end_site(pad: str, offset: np.ndarray) -> list[str]:
    return [f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}", f"{pad}  }}"]


def write_bvh(
    path: str | os.PathLike,
    positions: Any,
    skeleton: str | Skeleton,
    fps: float,
    lengths: Any = None,
    scale: float = 1.0,
) -> Path:
    """Write (F, J, 3) camera-space ``positions`` (metres) as a BVH file of ``skeleton``.

    ``lengths``: bone lengths in ``skeleton.bones`` order (default: the clip's medians);
    ``scale``: unit factor for the file (1 = metres, 100 = centimetres)."""
    skel = get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
    positions = validate.joint_array("positions", positions, skel, 3, allow_nan=False).astype(np.float64)
    fps = validate.frame_rate(fps)
    if fps is None:
        raise validate.InputError("fps: required for the BVH frame time; expected frames per second")
    points = positions @ CAMERA_TO_BVH.T * scale
    lengths = bone_lengths(points, skel) if lengths is None else np.asarray(lengths, dtype=np.float64) * scale
    if lengths.shape != (len(skel.bones),):
        raise validate.InputError(f"lengths: expected {len(skel.bones)} bone lengths (skeleton.bones order), got {lengths.shape}")
    length = {child: lengths[i] for i, (_, child) in enumerate(skel.bones)}
    kids = _children(skel)
    frames = len(points)

    rest = np.zeros((skel.num_joints, 3))  # rest offset of each joint from its parent
    for parent, child in skel.bones:
        direction = rest_direction(skel.joints[child])
        if direction is None:  # unknown joint name: the clip's mean direction
            mean = (points[:, child] - points[:, parent]).mean(0)
            direction = mean / max(np.linalg.norm(mean), 1e-12)
        rest[child] = direction * length[child]

    # A multi-child joint weighs each child by the joints it carries: a misaimed spine moves
    # the whole upper body, a misaimed hip one leg.
    subtree = [1] * skel.num_joints
    for j in reversed(_root_outward(skel, kids)):
        subtree[j] += sum(subtree[c] for c in kids[j])

    global_rot = np.zeros((skel.num_joints, frames, 3, 3))
    local_rot = np.zeros_like(global_rot)
    for j in _root_outward(skel, kids):
        parent = skel.parents[j]
        parent_rot = np.broadcast_to(np.eye(3), (frames, 3, 3)) if parent < 0 else global_rot[parent]
        bones = points[:, kids[j]] - points[:, j : j + 1]
        unit = bones / np.maximum(np.linalg.norm(bones, axis=-1, keepdims=True), 1e-12)
        if len(kids[j]) >= 2:
            rest_unit = rest[kids[j]] / np.maximum(np.linalg.norm(rest[kids[j]], axis=-1, keepdims=True), 1e-12)
            rot = _kabsch(rest_unit, unit, np.array([subtree[c] for c in kids[j]], dtype=np.float64))
        elif len(kids[j]) == 1:
            aimed = np.einsum("fij,j->fi", parent_rot, rest[kids[j][0]] / max(length[kids[j][0]], 1e-12))
            rot = _min_rotation(aimed, unit[:, 0]) @ parent_rot
        else:
            rot = parent_rot.copy()  # a leaf: no bone of its own to aim
        global_rot[j] = rot
        local_rot[j] = np.swapaxes(parent_rot, 1, 2) @ rot

    end_sites = {j for j in range(skel.num_joints) if not kids[j] and len(kids[skel.parents[j]]) == 1}
    lines = ["HIERARCHY"]
    channel_joints: list[int] = []

    def emit(j: int, depth: int) -> None:
        pad = "  " * depth
        offset = np.zeros(3) if j == skel.root else rest[j]
        lines.append(f"{pad}{'ROOT' if j == skel.root else 'JOINT'} {skel.joints[j]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}")
        if j == skel.root:
            lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation")
        else:
            lines.append(f"{pad}  CHANNELS 3 Zrotation Xrotation Yrotation")
        channel_joints.append(j)
        for child in kids[j]:
            if child in end_sites:
                o = rest[child]
                lines.extend(_end_site(pad, o))
            else:
                emit(child, depth + 1)
        if not kids[j]:  # a leaf among siblings: a short end so the bone has a length
            o = rest[j] * 0.1
            lines.extend(_end_site(pad, o))
        lines.append(f"{pad}}}")

    emit(skel.root, 0)
    columns = [points[:, skel.root]] + [euler_zxy(local_rot[j]) for j in channel_joints]
    motion = np.concatenate(columns, axis=1)
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {1.0 / fps:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in motion]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
