"""Retargeting: canonical joint positions -> the bone rotations of any rig.

Given joint positions (F, J, 3) in the rig's armature space, the rig's rest pose and a
:class:`~engine.rig_mapping.RigMapping`, :class:`Retargeter` finds per-bone local
transforms (Blender's pose "basis": what ``rotation_quaternion`` / ``location`` key) that
aim the rig's own bones along the motion, so the rig keeps its bone lengths.

How each bone is driven (measured on the rig's actual rest pose, so A-pose, T-pose and
any bone roll work alike):

* **Pelvis** (the lowest bone carrying both hips and the spine): its orientation is the
  frame of the hip line and the pelvis-to-spine direction; it also carries the root
  motion, scaled by the ratio of the rig's leg length to the motion's.
* **Spine** bone (head at ``spine``): aims at the thorax, twisted by the shoulder line.
* **Thigh** and **upper arm**: aim at the knee / elbow, twisted so the rig's own hinge
  (the knee flexes to the back, the elbow to the front of the rest pose) turns into the
  motion's bend plane (hip-knee-ankle, shoulder-elbow-wrist). Where the limb is nearly
  straight the bend plane is undefined: the knee then follows the foot (ankle-to-toe)
  direction, the elbow the bent frames before and after. A knee never turns round to bend
  backwards: hyperextension stays a small negative bend about the same hinge.
* **Shin, forearm, foot, neck, head**: aim at their child joint (ankle, wrist, toe,
  neck, head top) with the smallest turn from the parent, which keeps hinges hinges.
* **Bridges**: an unmapped bone that alone leads to a joint its driven ancestor does not
  aim at (a clavicle before the shoulder, a Mixamo ``Spine`` before ``Spine1``, CMU's
  ``LowerBack``) aims at that joint, so shoulders shrug and spines bend. The hips are
  not bridged: they sit rigidly in the pelvis (CMU's ``LHipJoint`` keeps its pose).
* Every other bone keeps its given local transform (existing animation, or rest); the
  forward kinematics of the solve includes them.

``parts`` limits a solve to limb groups of the skeleton (``left_arm``, ``torso`` ...):
other bones keep their animation, and without ``torso`` the chosen limbs' motion is
carried over relative to the rig's current body (chest for arms and head, pelvis for
legs). ``only`` limits it to named bones (completing the bones an animation lacks).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from . import feet
from .feet import FootContacts, detect_contacts, floor_offset
from .fk import heads_and_tails, pose_matrices, topological_order
from .rig_mapping import RigMapping
from .rotations import axis_angle_matrix, matrix_to_euler, matrix_to_quaternion, normalize, quaternion_continuity, swing, two_vector_frame, vec_roll_to_matrix

# Below this bend (sine of the angle) a limb counts as straight; above the second it is bent.
_STRAIGHT, _BENT = np.sin(np.radians(6.0)), np.sin(np.radians(25.0))
_LIMBS = {
    # side: (upper, middle, lower, end) joints; "leg" limbs never bend backwards.
    "leg": ("hip", "knee", "ankle", "toe"),
    "arm": ("shoulder", "elbow", "wrist", None),
}


_PELVIS_RIGID = ("left_hip", "right_hip")


class RetargetError(ValueError):
    """The rig or mapping cannot be retargeted (names what is missing)."""


@dataclass
class RigRest:
    """A rig's rest pose in armature space.

    ``matrices`` are the bones' rest matrices (Blender ``Bone.matrix_local``, +Y along
    the bone), ``parents`` parent indices (-1: no parent), ``lengths`` bone lengths,
    ``connected`` whether a bone's head is glued to its parent's tail (its location
    channel then has no effect)."""

    names: list[str]
    parents: np.ndarray
    matrices: np.ndarray
    lengths: np.ndarray
    connected: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.names = list(self.names)
        b = len(self.names)
        self.parents = np.asarray(self.parents, dtype=np.int64).reshape(b)
        self.matrices = np.asarray(self.matrices, dtype=np.float64).reshape(b, 4, 4)
        self.lengths = np.asarray(self.lengths, dtype=np.float64).reshape(b)
        self.connected = np.zeros(b, bool) if self.connected is None else np.asarray(self.connected, bool).reshape(b)
        if len(set(self.names)) != b:
            raise RetargetError("rig bone names must be unique")
        topological_order(self.parents)  # raises on cycles
        self._index = {n: i for i, n in enumerate(self.names)}

    @classmethod
    def from_bones(
        cls,
        names: Iterable[str],
        parents: Iterable[str | None],
        heads: np.ndarray,
        tails: np.ndarray,
        rolls: np.ndarray | None = None,
        connected: np.ndarray | None = None,
    ) -> "RigRest":
        """From edit-bone data: parent names (None for roots), heads, tails, rolls (radians)."""
        names = list(names)
        index = {n: i for i, n in enumerate(names)}
        parent_idx = []
        for name, p in zip(names, parents):
            if p is not None and p not in index:
                raise RetargetError(f"bone {name!r}: parent {p!r} is not a bone of the rig")
            parent_idx.append(-1 if p is None else index[p])
        heads = np.asarray(heads, dtype=np.float64).reshape(-1, 3)
        tails = np.asarray(tails, dtype=np.float64).reshape(-1, 3)
        rolls = np.zeros(len(names)) if rolls is None else np.asarray(rolls, dtype=np.float64)
        mats = np.tile(np.eye(4), (len(names), 1, 1))
        mats[:, :3, :3] = vec_roll_to_matrix(tails - heads, rolls)
        mats[:, :3, 3] = heads
        return cls(names, parent_idx, mats, np.linalg.norm(tails - heads, axis=1), connected)

    def index(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise RetargetError(f"the rig has no bone {name!r}") from None

    @property
    def heads(self) -> np.ndarray:
        return self.matrices[:, :3, 3]

    @property
    def tails(self) -> np.ndarray:
        return self.heads + self.matrices[:, :3, 1] * self.lengths[:, None]

    def ancestors(self, b: int) -> list[int]:
        """Ancestors of bone ``b``, nearest first."""
        out, p = [], self.parents[b]
        while p >= 0:
            out.append(int(p))
            p = self.parents[p]
        return out

    def pose(self, basis: np.ndarray) -> np.ndarray:
        """Armature-space pose matrices (F, B, 4, 4) for basis transforms (F, B, 4, 4)."""
        return pose_matrices(self.matrices, self.parents, basis, self.connected)


@dataclass
class RetargetResult:
    """``basis``: bone -> (F, 4, 4) local transform for every bone the solve drives;
    ``solved``: bone -> (F,) frames where it was solved (elsewhere its given basis is
    repeated); ``root_bone``: the bone carrying the root motion (its location matters);
    ``scale``: root-motion scale used; ``targets``: the (F, J, 3) joint positions the
    solve aimed at (rig space, after scaling and alignment)."""

    basis: dict[str, np.ndarray]
    solved: dict[str, np.ndarray]
    root_bone: str | None
    scale: float
    targets: np.ndarray

    def channels(self, bone: str, rotation_mode: str = "QUATERNION", previous: np.ndarray | None = None):
        """(location (F, 3), rotation) for ``bone``: rotation (F, 4) quaternions w,x,y,z kept
        continuous, or (F, 3) Euler angles in ``rotation_mode`` kept continuous from ``previous``."""
        return basis_to_channels(self.basis[bone], rotation_mode, previous)


def basis_to_channels(basis: np.ndarray, rotation_mode: str = "QUATERNION", previous: np.ndarray | None = None):
    """Split (F, 4, 4) basis transforms into location (F, 3) and rotation in ``rotation_mode``
    (QUATERNION: (F, 4) w,x,y,z; AXIS_ANGLE: (F, 4) angle,x,y,z; else Euler (F, 3))."""
    rot = basis[:, :3, :3]
    loc = basis[:, :3, 3].copy()
    if rotation_mode == "QUATERNION":
        q = matrix_to_quaternion(rot)
        if previous is not None and np.dot(q[0], previous) < 0:
            q[0] = -q[0]
        return loc, quaternion_continuity(q)
    if rotation_mode == "AXIS_ANGLE":
        q = quaternion_continuity(matrix_to_quaternion(rot))
        angle = 2 * np.arctan2(np.linalg.norm(q[:, 1:], axis=1), q[:, 0])
        axis = normalize(q[:, 1:])
        axis[np.linalg.norm(q[:, 1:], axis=1) < 1e-12] = (0.0, 1.0, 0.0)
        return loc, np.concatenate([angle[:, None], axis], axis=1)
    return loc, matrix_to_euler(rot, rotation_mode, previous)


@dataclass
class _Drive:
    """How one bone is driven: ``role``; ``owner`` the joint whose limb group it belongs
    to; ``aim`` the joint it points at (or None for the pelvis frame)."""

    role: str
    owner: str
    aim: str | None = None


class Retargeter:
    """Plan once for a rig and mapping; :meth:`solve` any number of clips."""

    def __init__(
        self, rig: RigRest, mapping: RigMapping, parts: Iterable[str] | None = None, only: Iterable[str] | None = None
    ) -> None:
        self.rig = rig
        self.mapping = mapping
        self.skel = mapping.skel
        missing = sorted(b for b in mapping.rig_bones if b not in rig._index)
        if len(missing) == len(mapping.rig_bones):
            raise RetargetError(
                f"none of the bones of mapping {mapping.name!r} is in the rig (expected e.g. "
                f"{', '.join(sorted(mapping.rig_bones)[:4])})"
            )
        self.missing_bones = missing
        self.sources = self._joint_sources()
        self.rest_joints = self._rest_joint_positions()
        self.parts = self._check_parts(parts)
        self.drives = self._plan()
        if only is not None:
            only = set(only)
            unknown = sorted(only - set(rig.names))
            if unknown:
                raise RetargetError(f"bones {unknown} are not in the rig")
            self.drives = {b: d for b, d in self.drives.items() if rig.names[b] in only}
        if not self.drives:
            raise RetargetError(
                f"mapping {mapping.name!r} drives no bone of this rig: map the hips, spine and limb joints"
            )

    # -- planning --------------------------------------------------------------------
    def _joint_sources(self) -> dict[str, tuple[str, int] | tuple[str, list[str]]]:
        out: dict = {}
        for bone, joint in self.mapping.bones.items():
            if bone in self.rig._index:
                out[joint] = ("head", self.rig.index(bone))
        for bone, joint in self.mapping.tails.items():
            if bone in self.rig._index:
                out[joint] = ("tail", self.rig.index(bone))
        for joint, parts in self.mapping.derived.items():
            if all(p in out for p in parts):
                out[joint] = ("derived", list(parts))
        return out

    def _rest_joint_positions(self) -> dict[str, np.ndarray]:
        heads, tails = self.rig.heads, self.rig.tails
        out = {}
        for joint, (kind, ref) in self.sources.items():
            if kind != "derived":
                out[joint] = (heads if kind == "head" else tails)[ref]
        for joint, (kind, ref) in self.sources.items():
            if kind == "derived":
                out[joint] = np.mean([out[p] for p in ref], axis=0)
        return out

    def _check_parts(self, parts: Iterable[str] | None) -> set[str] | None:
        if parts is None:
            return None
        parts = set(parts)
        unknown = sorted(parts - set(self.skel.limbs))
        if unknown:
            raise RetargetError(f"unknown body parts {unknown}; expected some of {', '.join(self.skel.limbs)}")
        if not parts:
            raise RetargetError("no body part chosen")
        return parts

    def _joint_bone(self, joint: str) -> int | None:
        """The bone whose head is ``joint`` (the bone that turns to aim from it)."""
        src = self.sources.get(joint)
        return src[1] if src and src[0] == "head" else None

    def _anchor_bone(self, joint: str) -> int | None:
        """A bone that ``joint`` moves with: its head/tail bone, or the first part's."""
        src = self.sources.get(joint)
        if src is None:
            return None
        if src[0] == "derived":
            return self._anchor_bone(src[1][0])
        return src[1]

    def _lca(self, bones: list[int]) -> int | None:
        chains = [[b] + self.rig.ancestors(b) for b in bones]
        common = set(chains[0]).intersection(*chains[1:])
        for b in chains[0]:
            if b in common:
                return b
        return None

    def _plan(self) -> dict[int, _Drive]:
        has = self.sources.__contains__
        drives: dict[int, _Drive] = {}
        # Pelvis: the lowest bone moving both hips and the spine.
        carriers = [self._anchor_bone(j) for j in ("left_hip", "right_hip") if has(j)]
        upper = next((j for j in ("spine", "thorax") if has(j)), None)
        if len(carriers) == 2 and upper:
            hips_bone = self._lca(carriers)
            spine_bone = self._joint_bone(upper) or self._anchor_bone(upper)
            pelvis = self._lca([hips_bone, spine_bone]) if hips_bone is not None else None
            if pelvis is not None:
                drives[pelvis] = _Drive("pelvis", "pelvis")
        # Joint bones: a bone whose head is a joint aims at that joint's child.
        aims = {"spine": "thorax", "thorax": "neck", "neck": "head"}
        for side in ("left", "right"):
            for limb, (a, b, c, d) in _LIMBS.items():
                aims[f"{side}_{a}"] = f"{side}_{b}"
                aims[f"{side}_{b}"] = f"{side}_{c}"
                if d:
                    aims[f"{side}_{c}"] = f"{side}_{d}"
        roles = {"spine": "chest", "left_hip": "hinge", "right_hip": "hinge", "left_shoulder": "hinge", "right_shoulder": "hinge"}
        for joint, aim in aims.items():
            bone = self._joint_bone(joint)
            if bone is None or not has(aim) or bone in drives:
                continue
            if joint == "spine" and not (has("left_shoulder") and has("right_shoulder")):
                drives[bone] = _Drive("swing", joint, aim)
            else:
                drives[bone] = _Drive(roles.get(joint, "swing"), joint, aim)
        # Bridges: the top unmapped bone that alone leads to a joint nobody aims at.
        aimed = {d.aim for d in drives.values()}
        for joint in self.skel.joints:
            bone = self._joint_bone(joint)
            # The hips sit rigidly in the pelvis (CMU's LHipJoint is pelvis, not a limb).
            if bone is None or joint in aimed or joint in _PELVIS_RIGID or self.skel.parents[self.skel.index(joint)] < 0:
                continue
            path = []
            for anc in self.rig.ancestors(bone):
                if anc in drives:
                    break
                path.append(anc)
            else:
                continue  # no driven ancestor: nothing to bridge from
            subtree_joints = self._skeleton_subtree(joint)
            for cand in reversed(path):  # top-most first
                reached = self._joints_below(cand)
                head_at_joint = np.linalg.norm(self.rig.heads[cand] - self.rest_joints[joint]) < 1e-6 * (1 + self.rig.lengths.max())
                if reached and reached <= subtree_joints and not head_at_joint:
                    drives[cand] = _Drive("bridge", joint, joint)
                    break
        if self.parts is not None:
            allowed = {j for part in self.parts for j in self.skel.limbs[part]}
            drives = {b: d for b, d in drives.items() if d.owner in allowed}
        rank = {int(b): i for i, b in enumerate(topological_order(self.rig.parents))}
        return dict(sorted(drives.items(), key=lambda kv: rank[kv[0]]))

    def _skeleton_subtree(self, joint: str) -> set[str]:
        idx = self.skel.index(joint)
        out = {joint}
        for i, name in enumerate(self.skel.joints):
            p = self.skel.parents[i]
            while p >= 0:
                if p == idx:
                    out.add(name)
                    break
                p = self.skel.parents[p]
        return out

    def _joints_below(self, bone: int) -> set[str]:
        """Mapped joints (by head or tail) of ``bone``'s subtree, itself excluded for heads."""
        out = set()
        for joint, (kind, ref) in self.sources.items():
            if kind == "derived":
                continue
            if ref != bone and bone in self.rig.ancestors(ref):
                out.add(joint)
            elif ref == bone and kind == "tail":
                out.add(joint)
        return out

    def joint_movers(self, joint: str) -> set[str]:
        """Bones whose rotation moves ``joint`` on this rig (empty if it is not mapped)."""
        src = self.sources.get(joint)
        if src is None:
            return set()
        kind, ref = src
        if kind == "derived":
            return set().union(*(self.joint_movers(p) for p in ref))
        bones = self.rig.ancestors(ref) + ([ref] if kind == "tail" else [])
        return {self.rig.names[b] for b in bones}

    @property
    def driven_bones(self) -> dict[str, str]:
        """Bone name -> role (pelvis, chest, hinge, swing, bridge) of every bone a solve drives."""
        return {self.rig.names[b]: d.role for b, d in self.drives.items()}

    # -- solving ---------------------------------------------------------------------
    def leg_length(self, positions: np.ndarray | None = None) -> float | None:
        """Mean hip-knee-ankle length of the rig's rest pose, or (median over frames) of
        ``positions`` (F, J, 3) in the skeleton's joint order."""
        lengths = []
        for side in ("left", "right"):
            chain = [f"{side}_hip", f"{side}_knee", f"{side}_ankle"]
            if positions is None:
                if all(j in self.rest_joints for j in chain):
                    pts = [self.rest_joints[j] for j in chain]
                    lengths.append(np.linalg.norm(pts[1] - pts[0]) + np.linalg.norm(pts[2] - pts[1]))
            else:
                pts = [positions[:, self.skel.index(j)] for j in chain]
                seg = np.linalg.norm(pts[1] - pts[0], axis=-1) + np.linalg.norm(pts[2] - pts[1], axis=-1)
                seg = seg[np.isfinite(seg)]
                if len(seg):
                    lengths.append(float(np.median(seg)))
        return float(np.mean(lengths)) if lengths else None

    def root_scale(self, positions: np.ndarray) -> float:
        """Rig leg length over the motion's (1.0 when either lacks legs)."""
        rig, motion = self.leg_length(), self.leg_length(positions)
        return rig / motion if rig and motion else 1.0

    def solve(
        self,
        positions: np.ndarray,
        passive_basis: Mapping[str, np.ndarray] | None = None,
        *,
        root_scale: float | None = None,
        root_motion: bool = True,
        leg_reach: bool = False,
    ) -> RetargetResult:
        """Bone transforms that follow ``positions`` (F, J, 3) in armature space, joints in
        the mapping skeleton's order (NaN = not known: the bones aiming at it keep their
        given transform on those frames).

        ``passive_basis``: bone -> (F, 4, 4) or (4, 4) local transforms of the bones not
        driven (their animation; identity when absent). ``root_scale``: factor on the
        motion's positions (default: rig leg length / motion leg length), so the rig's
        feet travel as far as its legs allow. ``root_motion``: move the pelvis bone (else
        it turns in place). ``leg_reach``: place the knee so the rig's own thigh and shin
        put the ankle exactly on its target (for locked feet), sinking the pelvis where a
        leg would otherwise have to stretch."""
        positions = np.asarray(positions, dtype=np.float64)
        j = self.skel.num_joints
        if positions.ndim != 3 or positions.shape[1:] != (j, 3):
            raise RetargetError(f"positions must be (F, {j}, 3) in {self.skel.name!r} joint order, got {positions.shape}")
        n = len(positions)
        scale = self.root_scale(positions) if root_scale is None else float(root_scale)
        targets = positions * scale
        local = self._passive_locals(passive_basis, n)
        if self.parts is not None and "torso" not in self.parts:
            targets = self._align_to_body(targets, local)
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._solve(targets, local, scale, root_motion, leg_reach)

    def _passive_locals(self, passive_basis: Mapping[str, np.ndarray] | None, n: int) -> np.ndarray:
        """(F, B, 4, 4) armature-space deltas ``rest @ basis @ inv(rest)`` of every bone."""
        basis = np.tile(np.eye(4), (n, len(self.rig.names), 1, 1))
        for name, value in (passive_basis or {}).items():
            if name not in self.rig._index:
                raise RetargetError(f"passive_basis names {name!r}, not a bone of the rig")
            value = np.asarray(value, dtype=np.float64)
            basis[:, self.rig.index(name)] = value if value.ndim == 3 else value[None]
        basis[:, self.rig.connected, :3, 3] = 0.0
        rest = self.rig.matrices
        return rest[None] @ basis @ np.linalg.inv(rest)[None]

    def _t(self, targets: np.ndarray, joint: str) -> np.ndarray:
        return targets[:, self.skel.index(joint)]

    def _align_to_body(self, targets: np.ndarray, local: np.ndarray) -> np.ndarray:
        """Carry the chosen limbs over relative to the rig's current chest / pelvis."""
        current = self._current_joints(local)
        out = targets.copy()
        frames = {
            "chest": ("left_shoulder", "right_shoulder", "spine", "thorax", "thorax"),
            "pelvis": ("left_hip", "right_hip", "pelvis", "spine", "pelvis"),
        }
        anchors = {"left_arm": "chest", "right_arm": "chest", "head": "chest", "left_leg": "pelvis", "right_leg": "pelvis"}
        for part in self.parts:
            l, r, lo, hi, origin = frames[anchors[part]]
            need = (l, r, lo, hi, origin)
            if not all(x in current for x in need):
                continue
            src = two_vector_frame(self._t(targets, l) - self._t(targets, r), self._t(targets, hi) - self._t(targets, lo))
            dst = two_vector_frame(current[l] - current[r], current[hi] - current[lo])
            rot = dst @ np.swapaxes(src, -1, -2)
            for joint in self.skel.limbs[part]:
                if joint in self.skel.joints:
                    k = self.skel.index(joint)
                    rel = targets[:, k] - self._t(targets, origin)
                    out[:, k] = np.einsum("fij,fj->fi", rot, rel) + current[origin]
        return out

    def _current_joints(self, local: np.ndarray) -> dict[str, np.ndarray]:
        """Joint positions (F, 3) of the rig as posed by the passive transforms alone."""
        deltas = np.empty_like(local)
        for b in topological_order(self.rig.parents):
            p = self.rig.parents[b]
            deltas[:, b] = local[:, b] if p < 0 else deltas[:, p] @ local[:, b]
        pose = deltas @ self.rig.matrices[None]
        heads, tails = heads_and_tails(pose, self.rig.lengths)
        out = {}
        for joint, (kind, ref) in self.sources.items():
            if kind != "derived":
                out[joint] = (heads if kind == "head" else tails)[:, ref]
        for joint, (kind, ref) in self.sources.items():
            if kind == "derived":
                out[joint] = np.mean([out[p] for p in ref], axis=0)
        return out

    def _point_in(self, bone: int, joint: str, local: np.ndarray) -> np.ndarray:
        """Where ``joint`` sits (F, 3) in ``bone``'s unrotated frame: its rest position moved
        by the passive bones between ``bone`` and the joint; so that, once ``bone`` has
        the armature-space delta D, the joint is at D @ point."""
        kind, ref = self.sources[joint]
        if kind == "derived":
            return np.mean([self._point_in(bone, p, local) for p in ref], axis=0)
        point = (self.rig.heads if kind == "head" else self.rig.tails)[ref]
        n = len(local)
        chain = [ref] + self.rig.ancestors(ref)
        if bone not in chain:
            return np.broadcast_to(point, (n, 3))
        path = chain[: chain.index(bone)]  # bones below ``bone`` down to ``ref``
        if kind == "head" and path and path[0] == ref:
            path = path[1:]  # a bone's own turn does not move its head
        p = np.broadcast_to(np.append(point, 1.0), (n, 4))
        for x in path:  # nearest the joint first
            if x not in self.drives:
                p = np.einsum("fij,fj->fi", local[:, x], p)
        return p[:, :3]

    def _solve(self, targets: np.ndarray, local: np.ndarray, scale: float, root_motion: bool, leg_reach: bool) -> RetargetResult:
        rig, n = self.rig, len(targets)
        targets = targets.copy()
        deltas = np.empty_like(local)  # armature-space pose deltas D = pose @ inv(rest)
        basis: dict[str, np.ndarray] = {}
        solved: dict[str, np.ndarray] = {}
        rest_frames = self._rest_body_frames()
        root_bone = None
        for b in topological_order(rig.parents):
            p = rig.parents[b]
            follow = local[:, b] if p < 0 else deltas[:, p] @ local[:, b]
            drive = self.drives.get(b)
            if drive is None:
                deltas[:, b] = follow
                continue
            parent_delta = np.tile(np.eye(4), (n, 1, 1)) if p < 0 else deltas[:, p]
            head_now = (parent_delta @ np.append(rig.heads[b], 1.0))[:, :3] if p >= 0 else follow[:, :3, 3] + follow[:, :3, :3] @ rig.heads[b]
            rot, ok = self._rotation(b, drive, targets, local, parent_delta, follow, head_now, rest_frames, leg_reach)
            delta = follow.copy()
            delta[ok, :3, :3] = rot[ok]
            # Keep the head where the parent puts it (no stretching) ...
            head = head_now
            if drive.role == "pelvis" and root_motion:
                # ... except the pelvis, which carries the root motion.
                pelvis_point = self._pelvis_point(b, local)
                goal = self._t(targets, "pelvis")
                moved = np.einsum("fij,fj->fi", rot, pelvis_point - rig.heads[b])
                head = np.where(ok[:, None] & np.isfinite(goal).all(-1, keepdims=True), goal - moved, head_now)
                if leg_reach:
                    head = head - self._reach_drop(b, rot, head, targets, local)[:, None] * self._rest_up()
                root_bone = rig.names[b]
            delta[ok, :3, 3] = head[ok] - np.einsum("fij,j->fi", rot[ok], rig.heads[b])
            deltas[:, b] = delta
            inv_parent = np.linalg.inv(parent_delta)
            basis[rig.names[b]] = np.linalg.inv(rig.matrices[b])[None] @ inv_parent @ delta @ rig.matrices[b][None]
            solved[rig.names[b]] = ok
        return RetargetResult(basis, solved, root_bone, scale, targets)

    def _rest_body_frames(self) -> dict[str, np.ndarray]:
        """Forward and lateral directions of the rig's rest pose (hinge priors)."""
        rj = self.rest_joints
        out = {}
        for name, (l, r, lo, hi) in {"pelvis": ("left_hip", "right_hip", "pelvis", "spine"),
                                     "chest": ("left_shoulder", "right_shoulder", "spine", "thorax")}.items():
            if all(x in rj for x in (l, r, lo, hi)):
                lateral = normalize(rj[l] - rj[r])
                up = normalize(rj[hi] - rj[lo])
                out[name + "_lateral"] = lateral
                out[name + "_forward"] = normalize(np.cross(lateral, up))
        if "pelvis_forward" in out and "chest_forward" not in out:
            out["chest_forward"], out["chest_lateral"] = out["pelvis_forward"], out["pelvis_lateral"]
        if "chest_forward" in out and "pelvis_forward" not in out:
            out["pelvis_forward"], out["pelvis_lateral"] = out["chest_forward"], out["chest_lateral"]
        return out

    def _pelvis_point(self, b: int, local: np.ndarray) -> np.ndarray:
        """The rig's pelvis joint in bone ``b``'s frame (the hips' midpoint if unmapped)."""
        if "pelvis" in self.sources:
            return self._point_in(b, "pelvis", local)
        return 0.5 * (self._point_in(b, "left_hip", local) + self._point_in(b, "right_hip", local))

    def _rotation(self, b, drive, targets, local, parent_delta, follow, head_now, rest_frames, leg_reach):
        """World rotation (F, 3, 3) of bone ``b``'s delta, and the frames (F,) it is valid on."""
        t = lambda j: self._t(targets, j)  # noqa: E731
        q = lambda j: self._point_in(b, j, local)  # noqa: E731
        if drive.role == "pelvis":
            up_joint = "spine" if "spine" in self.sources else "thorax"
            lateral_t = t("left_hip") - t("right_hip")
            up_t = t(up_joint) - t("pelvis")
            lateral_r = q("left_hip") - q("right_hip")
            up_r = q(up_joint) - self._pelvis_point(b, local)
            rot = _frame_rotation(lateral_t, up_t, lateral_r, up_r)
            return rot, _finite(lateral_t, up_t)
        aim_t = t(drive.aim) - (head_now if drive.role == "bridge" else t(drive.owner))
        aim_r = q(drive.aim) - self.rig.heads[b]
        if drive.role == "chest":
            lateral_t = t("left_shoulder") - t("right_shoulder")
            lateral_r = q("left_shoulder") - q("right_shoulder")
            rot = _frame_rotation(aim_t, lateral_t, aim_r, lateral_r)
            return rot, _finite(aim_t, lateral_t)
        if drive.role == "hinge":
            side, kind = drive.owner.split("_", 1)
            limb = "leg" if kind == "hip" else "arm"
            _, mid, low, end = (f"{side}_{x}" if x else None for x in _LIMBS[limb])
            if leg_reach and limb == "leg" and low in self.sources:
                self._reach(targets, b, drive.owner, mid, low, local, head_now)
                aim_t = t(mid) - head_now
            hinge_t = self._hinge_target(targets, drive.owner, mid, low, end, limb)
            hinge_r = self._hinge_rest(b, drive.owner, mid, low, limb, local, rest_frames)
            rot = _frame_rotation(aim_t, hinge_t, aim_r, hinge_r)
            return rot, _finite(aim_t, hinge_t)
        # swing / bridge: the smallest turn from following the parent.
        base = follow[:, :3, :3]
        rot = swing(np.einsum("fij,fj->fi", base, aim_r), aim_t) @ base
        return rot, _finite(aim_t)

    def _rest_up(self) -> np.ndarray:
        """The rig's up direction: pelvis to thorax in its rest pose."""
        rj = self.rest_joints
        low = rj.get("pelvis", 0.5 * (rj["left_hip"] + rj["right_hip"]) if "left_hip" in rj and "right_hip" in rj else None)
        high = rj.get("thorax", rj.get("spine"))
        if low is None or high is None:
            raise RetargetError("leg reach needs the rig's pelvis (or hips) and spine or thorax mapped")
        return normalize(high - low)

    def _reach_drop(self, b, rot, head, targets, local) -> np.ndarray:
        """How far (F,) the pelvis must sink for both legs to reach their ankle targets."""
        up = self._rest_up()
        drop = np.zeros(len(targets))
        for side in ("left", "right"):
            hip, knee, ankle = (f"{side}_{j}" for j in ("hip", "knee", "ankle"))
            if not all(j in self.sources for j in (hip, knee, ankle)):
                continue
            reach = 0.9999 * (np.linalg.norm(self.rest_joints[knee] - self.rest_joints[hip])
                              + np.linalg.norm(self.rest_joints[ankle] - self.rest_joints[knee]))
            hip_at = head + np.einsum("fij,fj->fi", rot, self._point_in(b, hip, local) - self.rig.heads[b])
            v = hip_at - self._t(targets, ankle)
            vu = v @ up
            disc = vu * vu - np.sum(v * v, -1) + reach * reach
            need = np.where(disc >= 0, vu - np.sqrt(np.maximum(disc, 0.0)), vu)
            drop = np.fmax(drop, np.nan_to_num(need, nan=0.0))
        return drop

    def _reach(self, targets, b, hip, knee, ankle, local, hip_now) -> None:
        """Move the knee target so the rig's own thigh and shin reach the ankle target."""
        t = lambda j: self._t(targets, j)  # noqa: E731
        l1 = np.linalg.norm(self.rest_joints[knee] - self.rest_joints[hip])
        l2 = np.linalg.norm(self.rest_joints[ankle] - self.rest_joints[knee])
        to_ankle = t(ankle) - hip_now
        d = np.linalg.norm(to_ankle, axis=-1)
        u = to_ankle / np.maximum(d, 1e-12)[:, None]
        d = np.clip(d, abs(l1 - l2) + 1e-9, l1 + l2)
        along = (l1 * l1 - l2 * l2 + d * d) / (2 * d)
        out = np.sqrt(np.maximum(l1 * l1 - along * along, 0.0))
        # The knee goes where the motion's knee points, off the hip-ankle line.
        side = t(knee) - hip_now
        side = side - np.sum(side * u, -1, keepdims=True) * u
        fallback = self._hinge_target(targets, hip, knee, ankle, hip.replace("hip", "toe"), "leg")
        side = np.where((np.linalg.norm(side, axis=-1) > 1e-6 * (l1 + l2))[:, None], side, np.cross(u, fallback))
        side = normalize(side)
        targets[:, self.skel.index(knee)] = hip_now + along[:, None] * u + out[:, None] * side

    def _hinge_target(self, targets, upper, mid, low, end, limb) -> np.ndarray:
        """Per-frame hinge axis (F, 3) of a limb: the bend-plane normal where bent, a
        steady axis where straight (see the module docstring)."""
        t = lambda j: self._t(targets, j)  # noqa: E731
        d1, d2 = t(mid) - t(upper), t(low) - t(mid)
        normal = np.cross(d1, d2)
        bend = np.linalg.norm(normal, axis=-1) / np.maximum(np.linalg.norm(d1, axis=-1) * np.linalg.norm(d2, axis=-1), 1e-12)
        normal = normalize(normal)
        if limb == "leg":
            if end and end in self.sources and np.isfinite(t(end)).all():
                # The ankle's own hinge (foot x shin, never parallel): the knee flexes
                # about nearly the same axis, and a straight knee points along the foot.
                prior = np.cross(t(end) - t(low), d2)
            else:
                prior = np.broadcast_to(t("left_hip") - t("right_hip"), d1.shape)
            prior = normalize(prior)
            # Knees bend one way: a backward bend is a hyperextension about the same hinge.
            normal = np.where(np.sum(normal * prior, -1, keepdims=True) < 0, -normal, normal)
            reference = prior
        else:
            lateral = t("left_shoulder") - t("right_shoulder")
            up = (t("thorax") - t("spine")) if {"thorax", "spine"} <= set(self.sources) else np.broadcast_to([0.0, 0.0, 1.0], d1.shape)
            prior = normalize(np.cross(d1, np.cross(lateral, up)))
            reference = _between_confident(normal, bend >= _BENT, normalize(d1), prior)
            # Where barely bent, the bend's sign is noise: keep the reference's.
            unsure = (bend < _BENT)[:, None] & (np.sum(reference * normal, -1, keepdims=True) < 0)
            normal = np.where(unsure, -normal, normal)
        weight = np.clip((bend - _STRAIGHT) / (_BENT - _STRAIGHT), 0.0, 1.0)
        weight = (weight * weight * (3 - 2 * weight))[:, None]
        reference = reference - np.sum(reference * normalize(d1), -1, keepdims=True) * normalize(d1)
        return normalize(weight * normal + (1 - weight) * normalize(reference))

    def _hinge_rest(self, b, upper, mid, low, limb, local, rest_frames) -> np.ndarray:
        """The rig's own hinge axis in its rest pose (F, 3): its rest bend if clearly bent
        the anatomical way, else knee-to-the-back / elbow-to-the-front of the rest pose."""
        d1 = self._point_in(b, mid, local) - self.rig.heads[b]
        d2 = (self._point_in(b, low, local) - self._point_in(b, mid, local)) if low in self.sources else None
        key = "pelvis" if limb == "leg" else "chest"
        if key + "_forward" not in rest_frames:
            raise RetargetError(f"cannot tell front from back on this rig: map both hips and shoulders (for {upper})")
        forward = rest_frames[key + "_forward"]
        prior = normalize(np.cross(d1, -forward if limb == "leg" else forward))
        if d2 is None:
            return prior
        normal = np.cross(d1, d2)
        bend = np.linalg.norm(normal, axis=-1) / np.maximum(np.linalg.norm(d1, axis=-1) * np.linalg.norm(d2, axis=-1), 1e-12)
        normal = normalize(normal)
        use = ((bend > _BENT) & (np.sum(normal * prior, -1) > 0.5))[:, None]
        return np.where(use, normal, prior)


def _frame_rotation(p_t, s_t, p_r, s_r) -> np.ndarray:
    """Rotation taking the rest frame of (primary, secondary) to the target one."""
    return two_vector_frame(p_t, s_t) @ np.swapaxes(two_vector_frame(np.broadcast_to(p_r, p_t.shape), np.broadcast_to(s_r, s_t.shape)), -1, -2)


def _finite(*arrays: np.ndarray) -> np.ndarray:
    ok = np.ones(len(arrays[0]), dtype=bool)
    for a in arrays:
        ok &= np.isfinite(a).all(-1) & (np.linalg.norm(np.nan_to_num(a), axis=-1) > 1e-12)
    return ok


def _between_confident(values: np.ndarray, confident: np.ndarray, axis: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Per frame, unit ``values`` turned about ``axis`` (F, 3) from the confident frame
    before to the one after, in proportion to the time between them (so a limb held
    straight twists gradually, never by a sudden half turn); ``fallback`` if none is
    confident."""
    n = len(values)
    idx = np.arange(n)
    if not confident.any():
        return np.array(fallback, dtype=np.float64)
    last = np.maximum.accumulate(np.where(confident, idx, -1))
    nxt = np.minimum.accumulate(np.where(confident, idx, n)[::-1])[::-1]
    both = (last >= 0) & (nxt < n)
    before = values[np.where(last >= 0, last, nxt)]
    after = values[np.where(nxt < n, nxt, last)]

    def flat(v):
        return normalize(v - np.sum(v * axis, -1, keepdims=True) * axis)

    before, after = flat(before), flat(after)
    angle = np.arctan2(np.sum(np.cross(before, after) * axis, -1), np.sum(before * after, -1))
    weight = np.where(both, (idx - last) / np.maximum(nxt - last, 1), 0.0)
    return np.einsum("fij,fj->fi", axis_angle_matrix(axis, weight * angle), before)


def motion_targets(
    retargeter: Retargeter,
    positions: np.ndarray,
    armature_to_world: np.ndarray | None = None,
    *,
    fps: float | None = None,
    lock_feet: bool = False,
    align_floor: bool = False,
    root_scale: float | None = None,
) -> tuple[np.ndarray, float, FootContacts | None]:
    """Joint positions in metres (F, J, 3, world axes, Z up, the motion's origin placed at
    the armature's) -> retarget targets in armature space, for :meth:`Retargeter.solve`
    with ``root_scale=1``.

    ``armature_to_world``: the armature object's 3x3 world matrix part (rotation and
    scale: a Mixamo import is Y up in centimetres). The motion is scaled by the rig's leg
    length over the motion's (``root_scale`` overrides); with ``lock_feet`` its ankle
    and toe contacts are held still, with ``align_floor`` the lowest contacts go to the
    heights the rig's ankles and toes stand at. Returns (targets, scale, contacts)."""
    positions = np.asarray(positions, dtype=np.float64)
    linear = np.eye(3) if armature_to_world is None else np.asarray(armature_to_world, dtype=np.float64)[:3, :3]
    unit = abs(np.linalg.det(linear)) ** (1.0 / 3.0)
    if root_scale is None:
        rig_leg, motion_leg = retargeter.leg_length(), retargeter.leg_length(positions)
        root_scale = rig_leg * unit / motion_leg if rig_leg and motion_leg else 1.0
    targets = positions * root_scale
    contacts = None
    skel = retargeter.skel
    if lock_feet or align_floor:
        if not fps:
            raise RetargetError("feet locking and floor alignment need the motion's frame rate (fps)")
        contacts = detect_contacts(positions, skel, fps)
    if lock_feet:
        targets = feet.lock_feet(targets, contacts, skel)
    if align_floor:
        heights = {j: float((linear @ p)[2]) for j, p in retargeter.rest_joints.items() if j in contacts.joints}
        targets = targets.copy()
        targets[..., 2] += floor_offset(targets, contacts, skel, heights)
    return targets @ np.linalg.inv(linear).T, float(root_scale), contacts


def retarget(
    positions: np.ndarray,
    rig: RigRest,
    mapping: RigMapping,
    parts: Iterable[str] | None = None,
    passive_basis: Mapping[str, np.ndarray] | None = None,
    **options,
) -> RetargetResult:
    """One-call form of :class:`Retargeter` (see :meth:`Retargeter.solve` for ``options``)."""
    return Retargeter(rig, mapping, parts).solve(positions, passive_basis, **options)
