"""Plain joint-position files (npz, CSV) and the Blender-action npz of ``train_bridge.py``.

**npz** (``np.savez``): ``positions`` (F, J, 3); ``joints`` (J,) joint names of the
canonical skeletons (others are ignored), or ``skeleton`` naming the order; ``fps``
(unless passed to the reader); optional ``units`` ("m" default, "cm", "mm", "inch"),
``up`` ("Z" default, or "Y" for Y-up data, turned Z up), ``subject``, ``clip``,
``action``. NaN = missing joint.

**Blender action npz** (written by ``train_bridge.py`` through :func:`write_blender_motion`):
the same keys with ``format`` = "mpm-blender-motion", ``version`` = 1, and all of
``positions`` (float32, world Z up, metres), ``fps``, ``skeleton``, ``joints``, ``clip``
(the action), ``subject`` (the character); optional ``armature``, ``blend_file``,
``frame_start``. One file per action.

**CSV**: one row per frame, a header naming columns ``<joint>_x, <joint>_y, <joint>_z``
(joint names of the canonical skeletons; an optional ``frame`` column and other columns
are ignored); empty cells = missing. Leading ``# key: value`` lines give ``fps``,
``units``, ``up``, ``subject``, ``clip``, ``action``::

    # fps: 30
    # units: m
    frame,pelvis_x,pelvis_y,pelvis_z,right_hip_x,...
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from engine.skeleton import get_skeleton, skeleton_names

from .bvh import MotionFileError, to_world_z_up
from .cleanup import UNIT_CANDIDATES
from .motion import MotionClip
from .npzfile import load_npz

BLENDER_FORMAT = "mpm-blender-motion"
BLENDER_VERSION = 1
_KNOWN_JOINTS = {j for name in skeleton_names() for j in get_skeleton(name).joints}


def _clip_from_columns(
    path: Path, names: list[str], values: np.ndarray, info: dict, fps: float | None, skeleton: str, fmt: str,
) -> MotionClip:
    """(F, K, 3) values of named joints -> a clip on ``skeleton``."""
    skel = get_skeleton(skeleton)
    rate = fps if fps is not None else info.get("fps")
    try:
        rate = float(rate)
    except (TypeError, ValueError):
        raise MotionFileError(f"{path}: no frame rate (an 'fps' entry) in the file; pass fps=") from None
    unit = str(info.get("units", "m")).lower()
    up = str(info.get("up", "Z")).upper()
    if unit not in UNIT_CANDIDATES:
        raise MotionFileError(f"{path}: unknown units {unit!r}; expected one of {', '.join(UNIT_CANDIDATES)}")
    if up not in ("Y", "Z"):
        raise MotionFileError(f"{path}: 'up' must be 'Y' or 'Z', got {up!r}")
    unknown = [n for n in names if n not in _KNOWN_JOINTS]
    if len(unknown) == len(names):
        raise MotionFileError(f"{path}: none of its joints ({', '.join(names[:8])}) is a canonical joint name")
    pos = np.full((values.shape[0], skel.num_joints, 3), np.nan, dtype=np.float64)
    for k, name in enumerate(names):
        if name in skel.joints:
            pos[:, skel.index(name)] = values[:, k]
    pos *= UNIT_CANDIDATES[unit]
    if up == "Y":
        pos = to_world_z_up(pos)
    return MotionClip(
        positions=pos, fps=rate, subject=str(info.get("subject") or path.parent.name), clip=str(info.get("clip") or path.stem),
        source=str(path), action=(str(info["action"]) if info.get("action") else None), skeleton=skeleton,
        meta={"format": fmt, "ignored_joints": ",".join(unknown)} if unknown else {"format": fmt},
    )


def is_positions_npz(keys: set[str]) -> bool:
    return "positions" in keys and ("joints" in keys or "skeleton" in keys)


def read_positions_npz(path: str | os.PathLike, fps: float | None = None, skeleton: str = "anim19") -> MotionClip:
    path = Path(path)
    data = load_npz(path)
    fmt = str(data.get("format", "positions-npz"))
    if fmt == BLENDER_FORMAT:
        missing = [k for k in ("positions", "fps", "skeleton", "joints", "clip", "subject") if k not in data]
        if missing:
            raise MotionFileError(f"{path}: Blender motion file lacks {', '.join(missing)}")
        if int(data.get("version", 0)) > BLENDER_VERSION:
            raise MotionFileError(f"{path}: Blender motion version {int(data['version'])}; this code reads up to {BLENDER_VERSION}")
    if "positions" not in data:
        raise MotionFileError(f"{path}: no 'positions' array")
    values = np.asarray(data["positions"], dtype=np.float64)
    if "joints" in data:
        names = [str(j) for j in data["joints"]]
    elif "skeleton" in data:
        try:
            names = list(get_skeleton(str(data["skeleton"])).joints)
        except KeyError as exc:
            raise MotionFileError(f"{path}: {exc.args[0]}") from None
    else:
        raise MotionFileError(f"{path}: needs 'joints' (names) or 'skeleton' to know the joint order")
    if values.ndim != 3 or values.shape[1:] != (len(names), 3):
        raise MotionFileError(f"{path}: positions {values.shape} do not match {len(names)} joints: expected (F, {len(names)}, 3)")
    info = {k: data[k].item() if data[k].ndim == 0 else None for k in ("fps", "units", "up", "subject", "clip", "action") if k in data}
    clip = _clip_from_columns(path, names, values, info, fps, skeleton, "blender" if fmt == BLENDER_FORMAT else "positions-npz")
    for key in ("armature", "blend_file", "frame_start"):
        if key in data:
            clip.meta[key] = data[key].item()
    return clip


def read_positions_csv(path: str | os.PathLike, fps: float | None = None, skeleton: str = "anim19") -> MotionClip:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise MotionFileError(f"cannot read CSV file {path}: {exc.strerror or exc}") from None
    info, body = {}, []
    for line in text.splitlines():
        if line.startswith("#") and not body:
            key, _, value = line[1:].partition(":")
            if value:
                info[key.strip().lower()] = value.strip()
        elif line.strip():
            body.append(line)
    if len(body) < 2:
        raise MotionFileError(f"{path}: expected a header row and at least one frame")
    rows = list(csv.reader(io.StringIO("\n".join(body))))
    header = [h.strip() for h in rows[0]]
    joints: dict[str, dict[str, int]] = {}
    for col, name in enumerate(header):
        base, _, axis = name.rpartition("_")
        if axis.lower() in ("x", "y", "z") and base:
            joints.setdefault(base, {})[axis.lower()] = col
    complete = [j for j, axes in joints.items() if len(axes) == 3]
    if not complete:
        raise MotionFileError(f"{path}: no '<joint>_x, <joint>_y, <joint>_z' columns in the header")
    values = np.full((len(rows) - 1, len(complete), 3), np.nan)
    for r, row in enumerate(rows[1:]):
        if len(row) != len(header):
            raise MotionFileError(f"{path}, data row {r + 1}: {len(row)} cells, the header has {len(header)}")
        for k, joint in enumerate(complete):
            for a, axis in enumerate("xyz"):
                cell = row[joints[joint][axis]].strip()
                if cell:
                    try:
                        values[r, k, a] = float(cell)
                    except ValueError:
                        raise MotionFileError(f"{path}, data row {r + 1}: {joint}_{axis} = {cell!r} is not a number") from None
    return _clip_from_columns(path, complete, values, info, fps, skeleton, "positions-csv")


def write_blender_motion(
    path: str | os.PathLike, positions: np.ndarray, fps: float, clip: str, subject: str,
    skeleton: str = "anim19", **extra,
) -> Path:
    """Write one action's joint positions ((F, J, 3) world Z up, metres, NaN = missing)
    in the format ``train_bridge.py`` hands to training; ``extra``: armature,
    blend_file, frame_start."""
    skel = get_skeleton(skeleton)
    positions = np.asarray(positions, dtype=np.float32)
    if positions.ndim != 3 or positions.shape[1:] != (skel.num_joints, 3):
        raise ValueError(f"positions must be (F, {skel.num_joints}, 3) for {skeleton!r}, got {positions.shape}")
    unknown = set(extra) - {"armature", "blend_file", "frame_start"}
    if unknown:
        raise ValueError(f"unknown extra fields {sorted(unknown)}; allowed: armature, blend_file, frame_start")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path, format=np.array(BLENDER_FORMAT), version=np.array(BLENDER_VERSION), positions=positions,
        fps=np.array(float(fps)), skeleton=np.array(skel.name), joints=np.array(skel.joints),
        clip=np.array(clip), subject=np.array(subject), **{k: np.array(v) for k, v in extra.items()},
    )
    return path
