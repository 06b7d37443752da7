"""A numpy BVH reader: hierarchy, channels in any order, end sites, forward kinematics.

Conventions (as Blender's importer reads BVH):

* Rotation channels compose in the order listed: ``Zrotation Xrotation Yrotation`` gives
  R = Rz @ Rx @ Ry, in degrees.
* A joint's position channels replace its OFFSET (its translation relative to the parent);
  joints without them sit at OFFSET.
* A bone's tail is its end site, or else the mean of its children's heads (Blender's
  rule); a zero-length end site falls back to the bone's head.
* Positions come out in the file's units and axes; :func:`to_world_z_up` turns a Y-up file
  into the Z-up world (x, y, z) -> (x, -z, y), the rotation Blender's importer applies.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .rotations import euler_matrix

# Y-up (BVH, ASF) -> Z-up world: a +90 degree turn about X.
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


class MotionFileError(ValueError):
    """A motion file that cannot be read; the message names the file and the problem."""


@dataclass
class BvhJoint:
    name: str
    parent: int
    offset: np.ndarray
    channels: list[str]
    channel_start: int = 0
    end_site: np.ndarray | None = None


@dataclass
class BvhData:
    """A parsed BVH file: joints in file order (parents first) and the motion block."""

    path: str
    joints: list[BvhJoint]
    frame_time: float
    motion: np.ndarray  # (F, channels)

    @property
    def names(self) -> list[str]:
        return [j.name for j in self.joints]

    @property
    def fps(self) -> float:
        """Frames per second; a rounded Frame Time (0.016667) snaps to the whole rate (60)."""
        rate = 1.0 / self.frame_time
        return float(round(rate)) if abs(rate - round(rate)) < 0.01 else rate

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])

    def forward_kinematics(self) -> tuple[np.ndarray, np.ndarray]:
        """World positions of joint heads and tails, (F, N, 3) each, file units and axes."""
        return forward_kinematics(self)


def _tokens(text: str):
    for line_no, line in enumerate(text.splitlines(), 1):
        for tok in line.split():
            yield line_no, tok


def parse_bvh(path: str | os.PathLike) -> BvhData:
    """Parse a BVH file; :class:`MotionFileError` names the file and what is wrong."""
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise MotionFileError(f"cannot read BVH file {path}: {exc.strerror or exc}") from None
    head, sep, motion_text = text.partition("MOTION")
    if not head.lstrip().startswith("HIERARCHY") or not sep:
        raise MotionFileError(f"{path} is not a BVH file: expected a HIERARCHY section followed by MOTION")
    joints = _parse_hierarchy(path, head)
    frame_time, motion = _parse_motion(path, motion_text, sum(len(j.channels) for j in joints))
    return BvhData(path=path, joints=joints, frame_time=frame_time, motion=motion)


def _parse_hierarchy(path: str, text: str) -> list[BvhJoint]:
    tokens = list(_tokens(text))
    joints: list[BvhJoint] = []
    stack: list[int] = []  # open joints; -1 marks an open End Site block
    pending: tuple[str, int] | None = None
    n_channels = 0
    i = 1  # skip HIERARCHY

    def fail(line: int, what: str) -> MotionFileError:
        return MotionFileError(f"{path}, line {line}: {what}")

    def floats(k: int, n: int, line: int) -> np.ndarray:
        try:
            return np.array([float(t) for _, t in tokens[k : k + n]], dtype=np.float64)
        except ValueError:
            raise fail(line, f"expected {n} numbers") from None

    while i < len(tokens):
        line, tok = tokens[i]
        key = tok.upper()
        if key in ("ROOT", "JOINT"):
            if i + 1 >= len(tokens):
                raise fail(line, f"{tok} without a name")
            if key == "ROOT" and stack:
                raise fail(line, "ROOT inside another joint")
            pending = (tokens[i + 1][1], stack[-1] if stack else -1)
            i += 2
        elif key == "END":
            pending = ("<end>", stack[-1] if stack else -1)
            i += 2  # "End Site"
        elif tok == "{":
            if pending is None:
                raise fail(line, "'{' without ROOT/JOINT/End Site")
            name, parent = pending
            if name == "<end>":
                stack.append(-1)
            else:
                joints.append(BvhJoint(name=name, parent=parent, offset=np.zeros(3), channels=[]))
                stack.append(len(joints) - 1)
            pending = None
            i += 1
        elif tok == "}":
            if not stack:
                raise fail(line, "unbalanced '}'")
            stack.pop()
            i += 1
        elif key == "OFFSET":
            if not stack:
                raise fail(line, "OFFSET outside a joint")
            off = floats(i + 1, 3, line)
            if stack[-1] == -1:
                joints[stack[-2]].end_site = off
            else:
                joints[stack[-1]].offset = off
            i += 4
        elif key == "CHANNELS":
            if not stack or stack[-1] == -1:
                raise fail(line, "CHANNELS outside a joint")
            try:
                n = int(tokens[i + 1][1])
            except (IndexError, ValueError):
                raise fail(line, "CHANNELS needs a count") from None
            names = [t for _, t in tokens[i + 2 : i + 2 + n]]
            bad = [c for c in names if c.lower()[:1] not in "xyz" or c.lower()[1:] not in ("position", "rotation")]
            if len(names) != n or bad:
                raise fail(line, f"bad channel names {bad or names}")
            joint = joints[stack[-1]]
            joint.channels, joint.channel_start = names, n_channels
            n_channels += n
            i += 2 + n
        else:
            raise fail(line, f"unexpected token {tok!r}")
    if stack:
        raise MotionFileError(f"{path}: hierarchy ends with {len(stack)} unclosed block(s)")
    if not joints:
        raise MotionFileError(f"{path}: the hierarchy has no joints")
    return joints


def _parse_motion(path: str, text: str, n_channels: int) -> tuple[float, np.ndarray]:
    lines = text.strip().splitlines()
    header: dict[str, str] = {}
    k = 0
    while k < len(lines) and ":" in lines[k] and k < 2:
        key, _, value = lines[k].partition(":")
        header[key.strip().lower()] = value.strip()
        k += 1
    try:
        n_frames = int(header["frames"])
        frame_time = float(header["frame time"])
    except (KeyError, ValueError):
        raise MotionFileError(f"{path}: MOTION must start with 'Frames: N' and 'Frame Time: T'") from None
    if not frame_time > 0:
        raise MotionFileError(f"{path}: Frame Time must be positive, got {frame_time}")
    body = " ".join(lines[k:])
    try:
        values = np.array(body.split(), dtype=np.float64)
    except ValueError:
        raise MotionFileError(f"{path}: the motion block holds something other than numbers") from None
    if n_channels == 0:
        values = values[:0]
    if n_channels and values.size % n_channels:
        raise MotionFileError(
            f"{path}: {values.size} motion values are not a whole number of frames of {n_channels} channels"
        )
    motion = values.reshape(-1, n_channels) if n_channels else np.zeros((n_frames, 0))
    if motion.shape[0] < n_frames:
        raise MotionFileError(f"{path}: header says {n_frames} frames but the file holds {motion.shape[0]}")
    if not np.isfinite(motion).all():
        raise MotionFileError(f"{path}: the motion block holds NaN or infinite values")
    return frame_time, motion[:n_frames]


def forward_kinematics(data: BvhData) -> tuple[np.ndarray, np.ndarray]:
    """Heads and tails (F, N, 3) of every joint, in the file's units and axes."""
    n_frames, joints = data.num_frames, data.joints
    heads = np.zeros((n_frames, len(joints), 3))
    rots = np.zeros((n_frames, len(joints), 3, 3))
    children: dict[int, list[int]] = {}
    for idx, joint in enumerate(joints):
        local_pos = np.broadcast_to(joint.offset, (n_frames, 3)).copy()
        rot_axes, rot_cols = "", []
        for k, channel in enumerate(joint.channels):
            axis, kind = channel[0].upper(), channel[1:].lower()
            column = data.motion[:, joint.channel_start + k]
            if kind == "position":
                local_pos[:, "XYZ".index(axis)] = column
            else:
                rot_axes += axis
                rot_cols.append(column)
        local_rot = euler_matrix(np.stack(rot_cols, -1), rot_axes) if rot_axes else np.eye(3)[None].repeat(n_frames, 0)
        if joint.parent < 0:
            heads[:, idx] = local_pos
            rots[:, idx] = local_rot
        else:
            p = joint.parent
            heads[:, idx] = heads[:, p] + np.einsum("fij,fj->fi", rots[:, p], local_pos)
            rots[:, idx] = rots[:, p] @ local_rot
            children.setdefault(p, []).append(idx)
    tails = heads.copy()
    for idx, joint in enumerate(joints):
        if joint.end_site is not None and np.linalg.norm(joint.end_site) > 0:
            tails[:, idx] = heads[:, idx] + rots[:, idx] @ joint.end_site
        elif idx in children:
            tails[:, idx] = heads[:, children[idx]].mean(axis=1)
    return heads, tails


def to_world_z_up(points: np.ndarray) -> np.ndarray:
    """Y-up file axes -> Z-up world axes."""
    return np.asarray(points) @ Y_UP_TO_Z_UP.T
