"""The generated MPM armature: its bones, rest pose and rolls, and the bone rotations
that put its joints on given 3D positions.

bpy-free numpy, shared by the Blender extension (which builds the armature and bakes the
rotations) and tests. Armature space is Blender's: metres, Z up, the character facing -Y
(Blender's front view), its left side on +X (so ``.L`` bones sit on +X, as Blender's
mirror tools expect).

There is one bone per edge of the skeleton, named by its tail joint (``BONES``). Bone
lengths are the skeleton's (constant) bone lengths, so rotations alone reproduce the
joint positions exactly. Rolls follow the usual rigging conventions: the knee and elbow
flex about the bone's local +X, and the torso bones' local X points to the character's
left. Twist, which joint positions alone leave open, is chosen as an animator would:
the hips and chest turn with the hip and shoulder lines, the thigh and upper arm turn so
the knee and elbow bend about their X axis, every other bone takes the smallest rotation
from its parent's orientation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rotations import axis_angle_matrix, matrix_to_quaternion, normalize, quaternion_continuity, quaternion_to_matrix
from .skeleton import Skeleton

# Character's left/right: +X/-X.  Forward: -Y.  Up: +Z.
_FWD, _BACK, _UP, _DOWN = (0.0, -1.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (0.0, 0.0, -1.0)
_TOE = (0.0, -0.866, -0.5)  # foot pointing forward and down, toes on the ground in rest


@dataclass(frozen=True)
class BoneDef:
    """How the bone ending at a joint is named, rests and twists.

    ``direction``: rest direction (head to tail). ``z_axis``: the rest local Z axis (the
    roll), orthogonalised against the direction. ``lateral``: (left, right) joints whose
    line sets the bone's local X (hips, chest). ``hinge``: the joint past the bone's tail
    whose bend sets the bone's twist (the knee or elbow flexes about local X).
    ``flexes_both_ways``: a bend against the usual direction shows as a negative flexion
    (the knee: the thigh cannot turn half round) rather than as a half turn of the bone
    (the elbow: the upper arm turns freely, so its flexion is always positive)."""

    name: str
    direction: tuple[float, float, float]
    z_axis: tuple[float, float, float]
    lateral: tuple[str, str] | None = None
    hinge: str | None = None
    flexes_both_ways: bool = False


# Bone definitions by tail joint.
BONES: dict[str, BoneDef] = {
    "spine": BoneDef("hips", _UP, _FWD, lateral=("left_hip", "right_hip")),
    "thorax": BoneDef("chest", _UP, _FWD, lateral=("left_shoulder", "right_shoulder")),
    "neck": BoneDef("neck", _UP, _FWD),
    "head": BoneDef("head", _UP, _FWD),
}
# Limb bones: (joint, bone name, left-side rest direction, z axis, hinge joint). The right
# side mirrors the direction in X; the z axes have no X part, so they need no mirroring.
_LIMBS = (
    ("hip", "pelvis", (1.0, 0.0, 0.0), _FWD, None),
    ("knee", "thigh", _DOWN, _BACK, "ankle"),  # flexes both ways: see BoneDef
    ("ankle", "shin", _DOWN, _BACK, None),
    ("toe", "foot", _TOE, _DOWN, None),
    ("shoulder", "shoulder", (1.0, 0.0, 0.0), _FWD, None),
    ("elbow", "upper_arm", (1.0, 0.0, 0.0), _FWD, "wrist"),
    ("wrist", "forearm", (1.0, 0.0, 0.0), _FWD, None),
)


def _limb_bones() -> dict[str, BoneDef]:
    bones = {}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        for joint, name, (dx, dy, dz), z_axis, hinge in _LIMBS:
            bones[f"{side}_{joint}"] = BoneDef(
                f"{name}.{side[0].upper()}", (dx * sign, dy, dz), z_axis,
                hinge=f"{side}_{hinge}" if hinge else None, flexes_both_ways=joint == "knee",
            )
    return bones


BONES.update(_limb_bones())


@dataclass(frozen=True)
class Rig:
    """The armature of a skeleton: bones in parent-first order.

    ``head``/``tail``: joint indices; ``parent``: bone index or -1 (one root bone, the
    one from the root joint that carries the location)."""

    skeleton: Skeleton
    names: tuple[str, ...]
    head: np.ndarray
    tail: np.ndarray
    parent: np.ndarray
    defs: tuple[BoneDef, ...]

    @property
    def num_bones(self) -> int:
        return len(self.names)

    @property
    def root(self) -> int:
        return int(np.flatnonzero(self.parent < 0)[0])


def build_rig(skeleton: Skeleton) -> Rig:
    """The MPM armature's bones for ``skeleton`` (every joint but the root ends one bone)."""
    sk = skeleton
    missing = [sk.joints[c] for _, c in sk.bones if sk.joints[c] not in BONES]
    if missing:
        raise ValueError(f"skeleton {sk.name!r}: no armature bone defined for joints {missing}")
    # The root bone is the one along the torso (the root joint's child with a lateral pair).
    root_children = [c for p, c in sk.bones if p == sk.root]
    torso = [c for c in root_children if BONES[sk.joints[c]].lateral]
    if len(torso) != 1:
        raise ValueError(f"skeleton {sk.name!r}: expected one torso bone from the root joint, got {len(torso)}")
    order: list[int] = []  # tail joints, parents first
    bone_of_tail: dict[int, int] = {}
    parents: list[int] = []
    queue = [torso[0]] + [c for c in root_children if c != torso[0]]
    while queue:
        child = queue.pop(0)
        head = sk.parents[child]
        if head == sk.root:
            parent = -1 if child == torso[0] else bone_of_tail[torso[0]]
        else:
            parent = bone_of_tail[head]
        bone_of_tail[child] = len(order)
        order.append(child)
        parents.append(parent)
        queue += [c for p, c in sk.bones if p == child]
    defs = tuple(BONES[sk.joints[c]] for c in order)
    return Rig(
        skeleton=sk,
        names=tuple(d.name for d in defs),
        head=np.array([sk.parents[c] for c in order]),
        tail=np.array(order),
        parent=np.array(parents),
        defs=defs,
    )


@dataclass(frozen=True)
class RestPose:
    """The armature's rest pose: joint positions (J,3) and per-bone matrices (B,3,3)
    whose columns are the bone's local X, Y (along the bone) and Z axes, as Blender's
    ``Bone.matrix_local`` has them."""

    rig: Rig
    joints: np.ndarray
    matrices: np.ndarray

    @property
    def heads(self) -> np.ndarray:
        return self.joints[self.rig.head]

    @property
    def tails(self) -> np.ndarray:
        return self.joints[self.rig.tail]

    @property
    def z_axes(self) -> np.ndarray:
        return self.matrices[:, :, 2]

    @property
    def lengths(self) -> np.ndarray:
        """Bone lengths in ``skeleton.bones`` order (as ``engine.postprocess`` takes them)."""
        sk = self.rig.skeleton
        return np.array([np.linalg.norm(self.joints[c] - self.joints[p]) for p, c in sk.bones])


def rest_pose(rig: Rig, lengths: np.ndarray) -> RestPose:
    """A T-pose with the given bone lengths (in ``skeleton.bones`` order), standing on
    Z = 0, facing -Y."""
    sk = rig.skeleton
    lengths = np.asarray(lengths, dtype=np.float64)
    if lengths.shape != (len(sk.bones),):
        raise ValueError(f"expected {len(sk.bones)} bone lengths (skeleton {sk.name!r} bones order), got {lengths.shape}")
    length_of = {child: lengths[i] for i, (_, child) in enumerate(sk.bones)}
    joints = np.zeros((sk.num_joints, 3))
    for b in range(rig.num_bones):  # parents first
        d = np.asarray(rig.defs[b].direction)
        joints[rig.tail[b]] = joints[rig.head[b]] + d / np.linalg.norm(d) * length_of[int(rig.tail[b])]
    joints[:, 2] -= joints[:, 2].min()
    directions = normalize(joints[rig.tail] - joints[rig.head])
    hints = np.array([d.z_axis for d in rig.defs], dtype=np.float64)
    z = normalize(hints - np.sum(hints * directions, axis=-1, keepdims=True) * directions)
    x = np.cross(directions, z)
    return RestPose(rig, joints, np.stack([x, directions, z], axis=-1))


def pose_bones(rest: RestPose, joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bone rotations putting the armature's joints on ``joints`` (F,J,3), armature space.

    Returns (quaternions (F,B,4) w-x-y-z, each bone's rotation relative to its rest pose
    and parent as Blender's ``PoseBone.rotation_quaternion`` holds it, sign-continuous
    over frames; root location (F,3), the root bone's ``PoseBone.location``). With bone
    lengths equal to the rest pose's, the posed joints land exactly on ``joints``."""
    rig = rest.rig
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (rig.skeleton.num_joints, 3):
        raise ValueError(f"expected joints (frames, {rig.skeleton.num_joints}, 3), got {joints.shape}")
    if not np.isfinite(joints).all():
        raise ValueError("joint positions contain NaN or inf; fill or complete them before posing")
    frames = joints.shape[0]
    sk = rig.skeleton
    R = rest.matrices
    world = np.empty((frames, rig.num_bones, 3, 3))  # posed bone matrices, armature space
    local = np.empty_like(world)
    for b in range(rig.num_bones):
        d = joints[:, rig.tail[b]] - joints[:, rig.head[b]]
        p = rig.parent[b]
        # Orientation the bone would have with no rotation of its own.
        inherited = np.broadcast_to(R[b], (frames, 3, 3)) if p < 0 else world[:, p] @ (R[p].T @ R[b])
        posed = _swing(inherited, d)
        bone = rig.defs[b]
        if bone.lateral is not None:
            posed = _align_x(posed, joints[:, sk.index(bone.lateral[0])] - joints[:, sk.index(bone.lateral[1])], 1.0)
        elif bone.hinge is not None:
            lower = joints[:, sk.index(bone.hinge)] - joints[:, rig.tail[b]]
            axis = np.cross(d, lower)
            sin_bend = np.linalg.norm(axis, axis=-1) / np.maximum(
                np.linalg.norm(d, axis=-1) * np.linalg.norm(lower, axis=-1), 1e-12
            )
            # Full twist once the limb is clearly bent (> ~15 deg), none when it is straight.
            weight = np.clip((sin_bend - 0.09) / 0.17, 0.0, 1.0)
            posed = _align_x(posed, axis, weight, either_sign=bone.flexes_both_ways)
        world[:, b] = posed
        local[:, b] = np.swapaxes(R[b], -1, -2) @ (posed if p < 0 else R[p] @ np.swapaxes(world[:, p], -1, -2) @ posed)
    quats = quaternion_continuity(matrix_to_quaternion(local))
    root = rig.root
    location = (joints[:, rig.head[root]] - rest.joints[rig.head[root]]) @ R[root]
    return quats, location


def posed_joints(rest: RestPose, quats: np.ndarray, location: np.ndarray) -> np.ndarray:
    """Forward kinematics of :func:`pose_bones`' output: joint positions (F,J,3)."""
    rig = rest.rig
    R = rest.matrices
    frames = quats.shape[0]
    rot = quaternion_to_matrix(quats)
    world = np.empty((frames, rig.num_bones, 3, 3))
    joints = np.zeros((frames, rig.skeleton.num_joints, 3))
    root = rig.root
    joints[:, rig.head[root]] = rest.joints[rig.head[root]] + location @ R[root].T
    for b in range(rig.num_bones):
        p = rig.parent[b]
        base = np.broadcast_to(R[b], (frames, 3, 3)) if p < 0 else world[:, p] @ (R[p].T @ R[b])
        world[:, b] = base @ rot[:, b]
        if p >= 0:
            joints[:, rig.head[b]] = joints[:, rig.head[p]] + (rest.heads[b] - rest.heads[p]) @ (
                np.swapaxes(world[:, p] @ R[p].T, -1, -2)
            )
        length = np.linalg.norm(rest.tails[b] - rest.heads[b])
        joints[:, rig.tail[b]] = joints[:, rig.head[b]] + world[:, b][:, :, 1] * length
    return joints


def floor_offset(joints: np.ndarray) -> float:
    """Height to add so the body stands on Z = 0: the median over frames of the lowest
    joint, so a few jumping or badly lifted frames do not move the floor."""
    return float(-np.median(np.nanmin(np.asarray(joints)[..., 2], axis=-1)))


def _swing(frames: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Rotate each frame (F,3,3) by the smallest rotation taking its Y axis onto ``direction``."""
    y = frames[:, :, 1]
    d = normalize(direction)
    degenerate = np.linalg.norm(direction, axis=-1) < 1e-9
    d = np.where(degenerate[:, None], y, d)
    axis = np.cross(y, d)
    sin = np.linalg.norm(axis, axis=-1)
    cos = np.sum(y * d, axis=-1)
    # Opposite directions: turn about the frame's own X axis.
    axis = np.where((sin < 1e-9)[:, None], frames[:, :, 0], axis / np.maximum(sin, 1e-12)[:, None])
    angle = np.arctan2(sin, cos)
    return axis_angle_matrix(axis, angle) @ frames


def _align_x(frames: np.ndarray, target: np.ndarray, weight, either_sign: bool = False) -> np.ndarray:
    """Twist each frame about its Y axis so its X axis points along ``target`` projected
    onto the plane normal to Y, by ``weight`` (0..1) of the way. ``either_sign``: align
    with +target or -target, whichever is nearer (no half turns)."""
    x, y, z = frames[:, :, 0], frames[:, :, 1], frames[:, :, 2]
    t = target - np.sum(target * y, axis=-1, keepdims=True) * y
    valid = np.linalg.norm(t, axis=-1) > 1e-9
    angle = np.arctan2(np.sum(t * z, axis=-1), np.sum(t * x, axis=-1))  # from X towards Z
    if either_sign:
        angle = (angle + np.pi / 2) % np.pi - np.pi / 2
    angle = np.where(valid, angle * weight, 0.0)
    # A rotation by -angle about Y takes X towards Z by +angle (right-handed: Y x Z = X).
    return axis_angle_matrix(y, -angle) @ frames
