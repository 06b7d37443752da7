"""CMU ASF/AMC reader: skeleton (ASF) + motion (AMC) -> joint positions by forward kinematics.

ASF conventions (Acclaim, as the CMU database uses them):

* ``:units length L``: lengths and root translations are in 1/L inches, so metres =
  value / L * 0.0254 (CMU's L = 0.45 gives the familiar factor 0.056444).
* Each bone has a rest ``direction`` (world axes, Y up), a ``length`` and an ``axis``
  (Euler angles and order, e.g. ``0 0 20 XYZ``) giving its local frame C. Its motion
  rotation M comes from the AMC values of its ``dof`` (degrees, in the listed order);
  the global rotation is ``G = G_parent @ C @ M @ C^-1`` and the bone's end is its start
  plus ``G @ direction * length``. The root's axis is ``:root axis`` + ``orientation``.
* A bone's head is its parent's end (the root's children start at the root position).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .bvh import MotionFileError
from .rotations import euler_matrix

INCH = 0.0254


@dataclass
class AsfBone:
    name: str
    direction: np.ndarray
    length: float
    axis: np.ndarray  # (3, 3) C
    dofs: list[str] = field(default_factory=list)
    parent: str = "root"


@dataclass
class AsfSkeleton:
    path: str
    length_unit: float  # the ASF ':units length' value
    angle_unit: str
    root_order: list[str]
    root_axis: np.ndarray
    root_position: np.ndarray
    bones: dict[str, AsfBone]  # in hierarchy order (parents first)

    @property
    def metres_per_unit(self) -> float:
        return INCH / self.length_unit


def _sections(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(":"):
            key, _, rest = line[1:].partition(" ")
            current = key.lower()
            out[current] = [rest.strip()] if rest.strip() else []
        elif current is not None:
            out[current].append(line)
    return out


def _axis_matrix(values: list[str], order: str, degrees: bool) -> np.ndarray:
    angles = np.array([float(v) for v in values], dtype=np.float64)
    if not degrees:
        angles = np.degrees(angles)
    # The order names the axes the angles are about, first applied first.
    by_axis = dict(zip("XYZ", angles))
    return euler_matrix(np.array([[by_axis[a] for a in reversed(order)]]), order[::-1])[0]


def read_asf(path: str | os.PathLike) -> AsfSkeleton:
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise MotionFileError(f"cannot read ASF file {path}: {exc.strerror or exc}") from None
    sec = _sections(text)
    missing = [s for s in ("root", "bonedata", "hierarchy") if s not in sec]
    if missing:
        raise MotionFileError(f"{path} is not an ASF skeleton: missing section(s) {', '.join(':' + m for m in missing)}")
    units = dict(l.split(None, 1) for l in sec.get("units", []) if len(l.split(None, 1)) == 2)
    try:
        length_unit = float(units.get("length", "1"))
    except ValueError:
        raise MotionFileError(f"{path}: bad ':units length' {units.get('length')!r}") from None
    degrees = units.get("angle", "deg").strip().lower().startswith("deg")
    root = {l.split()[0].lower(): l.split()[1:] for l in sec["root"]}
    try:
        root_order = [t.upper() for t in root["order"]]
        axis_order = root["axis"][0].upper()
        root_axis = _axis_matrix(root.get("orientation", ["0", "0", "0"]), axis_order, degrees)
        root_position = np.array([float(v) for v in root.get("position", ["0", "0", "0"])])
    except (KeyError, IndexError, ValueError):
        raise MotionFileError(f"{path}: the :root section needs 'order', 'axis', 'position' and 'orientation'") from None

    bones: dict[str, AsfBone] = {}
    block: dict[str, list[str]] | None = None
    for line in sec["bonedata"]:
        key, *vals = line.split()
        if key == "begin":
            block = {}
        elif key == "end":
            if block is None:
                raise MotionFileError(f"{path}: 'end' without 'begin' in :bonedata")
            try:
                name = block["name"][0]
                ax = block["axis"]
                bone = AsfBone(
                    name=name,
                    direction=np.array([float(v) for v in block["direction"]]),
                    length=float(block["length"][0]),
                    axis=_axis_matrix(ax[:3], ax[3].upper(), degrees),
                    dofs=[d.lower() for d in block.get("dof", [])],
                )
            except (KeyError, IndexError, ValueError):
                raise MotionFileError(f"{path}: bone block {block.get('name', ['?'])[0]!r} lacks name/direction/length/axis") from None
            bones[name] = bone
            block = None
        elif block is not None:
            block[key] = vals  # 'limits' continuation lines are not needed
    order: list[str] = []
    for line in sec["hierarchy"]:
        parts = line.split()
        if parts[0] in ("begin", "end"):
            continue
        parent, kids = parts[0], parts[1:]
        for kid in kids:
            if kid not in bones:
                raise MotionFileError(f"{path}: hierarchy names bone {kid!r} that :bonedata does not define")
            if parent != "root" and parent not in bones:
                raise MotionFileError(f"{path}: hierarchy names parent {parent!r} that :bonedata does not define")
            bones[kid].parent = parent
            order.append(kid)
    ordered = {name: bones[name] for name in order}
    return AsfSkeleton(path, length_unit, "deg" if degrees else "rad", root_order, root_axis, root_position, ordered)


def read_amc(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """AMC motion: bone name -> (F, k) values (root: the ASF root order)."""
    path = str(path)
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise MotionFileError(f"cannot read AMC file {path}: {exc.strerror or exc}") from None
    frames: list[dict[str, list[float]]] = []
    for no, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith(":"):
            continue
        if re.fullmatch(r"\d+", line):
            frames.append({})
            continue
        if not frames:
            raise MotionFileError(f"{path}, line {no}: bone values before the first frame number")
        name, *vals = line.split()
        try:
            frames[-1][name] = [float(v) for v in vals]
        except ValueError:
            raise MotionFileError(f"{path}, line {no}: non-numeric value for bone {name!r}") from None
    if not frames:
        raise MotionFileError(f"{path} holds no AMC frames")
    names = frames[0].keys()
    out = {}
    for name in names:
        try:
            out[name] = np.array([f[name] for f in frames], dtype=np.float64)
        except (KeyError, ValueError):
            raise MotionFileError(f"{path}: bone {name!r} is missing or changes width in some frame") from None
    return out


def forward_kinematics(skel: AsfSkeleton, motion: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Bone names (``root`` first), heads and tails (F, N, 3) in metres, ASF axes (Y up)."""
    if "root" not in motion:
        raise MotionFileError(f"{skel.path}: the AMC motion has no 'root' lines")
    root_vals = motion["root"]
    n = root_vals.shape[0]
    scale = skel.metres_per_unit
    pos = np.zeros((n, 3))
    rot_axes, rot_cols = "", []
    for k, ch in enumerate(skel.root_order):
        if k >= root_vals.shape[1]:
            raise MotionFileError(f"{skel.path}: the AMC root lines have fewer values than :root order {skel.root_order}")
        kind, axis = ch[0], ch[1]
        if kind == "T":
            pos[:, "XYZ".index(axis)] = root_vals[:, k] * scale
        else:
            rot_axes, rot_cols = rot_axes + axis, rot_cols + [root_vals[:, k]]
    angles = np.stack(rot_cols, -1) if skel.angle_unit == "deg" else np.degrees(np.stack(rot_cols, -1))
    m_root = _motion_matrix(angles, rot_axes)
    c = skel.root_axis
    glob = {"root": c @ m_root @ c.T}
    ends = {"root": pos + skel.root_position * scale}
    names, heads, tails = ["root"], [ends["root"]], [ends["root"]]
    for name, bone in skel.bones.items():
        if bone.dofs:
            if name not in motion:
                raise MotionFileError(f"{skel.path}: bone {name!r} has degrees of freedom but no AMC values")
            vals = motion[name]
            if vals.shape[1] != len(bone.dofs):
                raise MotionFileError(f"{skel.path}: bone {name!r} has {len(bone.dofs)} dofs but {vals.shape[1]} AMC values")
            angles = vals if skel.angle_unit == "deg" else np.degrees(vals)
            m = _motion_matrix(angles, "".join(d[1].upper() for d in bone.dofs))
        else:
            m = np.eye(3)[None]
        c = bone.axis
        g = glob[bone.parent] @ (c @ m @ c.T)
        head = ends[bone.parent]
        tail = head + np.einsum("fij,j->fi", g, bone.direction * bone.length * scale)
        glob[name], ends[name] = g, tail
        names.append(name)
        heads.append(head)
        tails.append(tail)
    return names, np.stack(heads, 1), np.stack(tails, 1)


def _motion_matrix(angles_deg: np.ndarray, axes: str) -> np.ndarray:
    """AMC dof rotations, applied in the listed order (first listed innermost)."""
    return euler_matrix(angles_deg[:, ::-1], axes[::-1])
