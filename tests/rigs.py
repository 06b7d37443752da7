"""Humanoid test rigs (bpy-free): bone lists in the naming styles of Mixamo, Blender's
human metarig and CMU BVH imports, in T- or A-pose, at any size, plus a motion made by
posing one of them. Shared by tests/engine and tests/blender (which builds the same
bones in real Blender).

Armature space: Z up, the character faces -Y, its left side is +X.
"""
from __future__ import annotations

import numpy as np

from engine.fk import heads_and_tails
from engine.retarget import RigRest
from engine.rig_mapping import RigMapping
from engine.rotations import axis_angle_matrix

# (name, parent, head, tail) of the left side and centre, Mixamo-style names, T-pose, 1.8 m.
_CENTRE = [
    ("Hips", None, (0, 0, 1.00), (0, 0, 1.10)),
    ("Spine", "Hips", (0, 0, 1.10), (0, 0, 1.20)),
    ("Spine1", "Spine", (0, 0, 1.20), (0, 0, 1.32)),
    ("Spine2", "Spine1", (0, 0, 1.32), (0, 0, 1.45)),
    ("Neck", "Spine2", (0, 0, 1.45), (0, -0.01, 1.55)),
    ("Head", "Neck", (0, -0.01, 1.55), (0, -0.01, 1.72)),
    ("HeadTop_End", "Head", (0, -0.01, 1.72), (0, -0.01, 1.80)),
]
_LEFT = [
    ("LeftShoulder", "Spine2", (0.03, 0.0, 1.42), (0.16, 0.0, 1.43)),
    ("LeftArm", "LeftShoulder", (0.16, 0.0, 1.43), (0.44, 0.0, 1.43)),
    ("LeftForeArm", "LeftArm", (0.44, 0.0, 1.43), (0.70, 0.0, 1.43)),
    ("LeftHand", "LeftForeArm", (0.70, 0.0, 1.43), (0.78, 0.0, 1.43)),
    ("LeftUpLeg", "Hips", (0.09, 0.0, 0.97), (0.09, 0.0, 0.54)),
    ("LeftLeg", "LeftUpLeg", (0.09, 0.0, 0.54), (0.09, 0.02, 0.09)),
    ("LeftFoot", "LeftLeg", (0.09, 0.02, 0.09), (0.09, -0.10, 0.02)),
    ("LeftToeBase", "LeftFoot", (0.09, -0.10, 0.02), (0.09, -0.18, 0.02)),
]
MIXAMO_JOINTS = {
    "Hips": "pelvis", "Spine1": "spine", "Neck": "thorax", "Head": "neck", "HeadTop_End": "head",
    "LeftUpLeg": "left_hip", "LeftLeg": "left_knee", "LeftFoot": "left_ankle",
    "LeftArm": "left_shoulder", "LeftForeArm": "left_elbow", "LeftHand": "left_wrist",
}
# Blender human metarig names for the same bones (one spine bone less, no HeadTop_End).
METARIG_NAMES = {
    "Hips": "spine", "Spine": "spine.001", "Spine1": "spine.002", "Spine2": "spine.003", "Neck": "spine.004",
    "Head": "spine.006", "LeftShoulder": "shoulder.L", "LeftArm": "upper_arm.L", "LeftForeArm": "forearm.L",
    "LeftHand": "hand.L", "LeftUpLeg": "thigh.L", "LeftLeg": "shin.L", "LeftFoot": "foot.L", "LeftToeBase": "toe.L",
}
# CMU BVH: an extra bone from the hips' centre to each hip joint (LHipJoint).
CMU_NAMES = {
    "Hips": "Hips", "Spine": "LowerBack", "Spine1": "Spine1", "Spine2": "Spine2", "Neck": "Neck1",
    "Head": "Head", "LeftShoulder": "LeftShoulder", "LeftArm": "LeftArm", "LeftForeArm": "LeftForeArm",
    "LeftHand": "LeftHand", "LeftUpLeg": "LeftUpLeg", "LeftLeg": "LeftLeg", "LeftFoot": "LeftFoot",
    "LeftToeBase": "LeftToeBase",
}
STYLES = ("mixamo", "metarig", "cmu")


def _mirror(name: str, style: str) -> str:
    if style == "metarig":
        return name[:-2] + ".R"
    return name.replace("Left", "Right").replace("LHip", "RHip")


def humanoid_bones(style: str = "mixamo", pose: str = "T", size: float = 1.0, proportions: dict | None = None,
                   roll_seed: int | None = None) -> list[tuple[str, str | None, np.ndarray, np.ndarray, float]]:
    """(name, parent, head, tail, roll) of a humanoid rig. ``pose`` "A" lowers the arms
    45 degrees; ``proportions`` scales segments by Mixamo name (e.g. {"LeftArm": 1.2}), and
    ``roll_seed`` gives every bone a random roll (the retargeter must not care)."""
    proportions = proportions or {}
    bones = {n: [p, np.array(h, float), np.array(t, float)] for n, p, h, t in _CENTRE + _LEFT}
    # Segment scaling keeps the chain connected: children move with the scaled tail.
    for name in [n for n, *_ in _CENTRE + _LEFT]:
        k = proportions.get(name)
        if k:
            old_tail = bones[name][2].copy()
            bones[name][2] = bones[name][1] + (old_tail - bones[name][1]) * k
            _shift_children(bones, name, bones[name][2] - old_tail)
    if pose == "A":
        pivot = bones["LeftArm"][1].copy()
        rot = axis_angle_matrix(np.array([0.0, 1.0, 0.0]), np.radians(45.0))
        for name in ("LeftArm", "LeftForeArm", "LeftHand"):
            bones[name][1] = pivot + rot @ (bones[name][1] - pivot)
            bones[name][2] = pivot + rot @ (bones[name][2] - pivot)
    names = {"mixamo": {n: n for n in bones}, "metarig": METARIG_NAMES, "cmu": CMU_NAMES}[style]
    out = []
    rng = np.random.default_rng(roll_seed)
    for name, (parent, head, tail) in bones.items():
        if name not in names:
            continue
        rename = names[name]
        parent_name = names.get(parent) if parent else None
        if style == "metarig" and parent == "Neck":  # metarig: spine.004 -> spine.005 -> spine.006
            parent_name = "spine.005"
        roll = float(rng.uniform(-np.pi, np.pi)) if roll_seed is not None else 0.0
        out.append((rename, parent_name, head * size, tail * size, roll))
        if name.startswith("Left"):
            mirror = np.array([-1.0, 1.0, 1.0])
            parent_mirror = _mirror(parent_name, style) if parent.startswith("Left") else parent_name
            out.append((_mirror(rename, style), parent_mirror, head * mirror * size, tail * mirror * size, -roll))
    if style == "metarig":
        neck = next(b for b in out if b[0] == "spine.004")
        mid = 0.5 * (neck[2] + neck[3])
        out = [b if b[0] != "spine.004" else (b[0], b[1], b[2], mid, b[4]) for b in out]
        out.append(("spine.005", "spine.004", mid, neck[3], 0.0))
    if style == "cmu":
        hips = next(b for b in out if b[0] == "Hips")
        fixed = []
        for b in out:
            if b[0] in ("LeftUpLeg", "RightUpLeg"):
                joint = ("LHipJoint" if b[0].startswith("Left") else "RHipJoint")
                fixed.append((joint, "Hips", hips[2], b[2], 0.0))
                b = (b[0], joint) + b[2:]
            fixed.append(b)
        out = fixed
    return out


def _shift_children(bones: dict, name: str, offset: np.ndarray) -> None:
    for child, value in bones.items():
        if value[0] == name:
            value[1] = value[1] + offset
            value[2] = value[2] + offset
            _shift_children(bones, child, offset)


def rig_rest(bones) -> RigRest:
    names, parents, heads, tails, rolls = zip(*bones)
    return RigRest.from_bones(names, parents, np.array(heads), np.array(tails), np.array(rolls))


def mapping_for(style: str) -> RigMapping:
    """The joint mapping of a test rig of ``style``."""
    both = {}
    for name, joint in MIXAMO_JOINTS.items():
        both[name] = joint
        if name.startswith("Left"):
            both[name.replace("Left", "Right")] = joint.replace("left_", "right_")
    tails = {"LeftToeBase": "left_toe", "RightToeBase": "right_toe"}
    derived = {}
    if style == "metarig":
        rename = {**METARIG_NAMES, **{k.replace("Left", "Right"): v[:-2] + ".R" for k, v in METARIG_NAMES.items() if k.startswith("Left")}}
        both = {rename[k]: v for k, v in both.items() if k != "HeadTop_End"}
        tails = {rename[k]: v for k, v in tails.items()} | {"spine.006": "head"}
    elif style == "cmu":
        rename = {**CMU_NAMES, **{k.replace("Left", "Right"): v.replace("Left", "Right") for k, v in CMU_NAMES.items()}}
        both = {rename[k]: v for k, v in both.items() if k not in ("HeadTop_End", "Hips")}
        tails = {rename[k]: v for k, v in tails.items()} | {"Head": "head"}
        derived = {"pelvis": ["left_hip", "right_hip"]}
    return RigMapping(name=f"test {style}", bones=both, tails=tails, derived=derived)


def rig_joints(rig: RigRest, mapping: RigMapping, basis: np.ndarray) -> np.ndarray:
    """(F, J, 3) joint positions of ``rig`` posed by ``basis`` (F, B, 4, 4)."""
    heads, tails = heads_and_tails(rig.pose(basis), rig.lengths)
    pos, _ = mapping.joint_positions(
        {n: heads[:, i] for i, n in enumerate(rig.names)}, {n: tails[:, i] for i, n in enumerate(rig.names)}
    )
    return pos


def walking_basis(rig: RigRest, frames: int = 60, seed: int = 0, hyperextend: bool = False) -> np.ndarray:
    """(F, B, 4, 4) basis transforms of a Mixamo-named T-pose ``rig`` doing a walk-like
    motion: knees and elbows bending, a turning torso, root travel. The turns are chosen
    in armature space (relative to the parent) and converted to each bone's frame."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, frames)
    ph = rng.uniform(0, 0.3)
    world: dict[str, np.ndarray] = {}

    def rot(axis, angle):
        return axis_angle_matrix(np.broadcast_to(np.asarray(axis, float), (frames, 3)), angle)

    x, y, z = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)
    # Armature-space rotations of each bone's delta, relative to its parent's delta.
    rel = {
        "Hips": rot(z, 0.3 * np.sin(t + ph)) @ rot(x, 0.1 * np.sin(2 * t)),
        "Spine1": rot(z, -0.4 * np.sin(t)) @ rot(x, 0.15 + 0.1 * np.sin(2 * t)),
        "Head": rot(x, 0.2 * np.sin(t)),
    }
    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        s = sign
        phase = t if side == "Left" else t + np.pi
        knee = 0.6 * (1 - np.cos(phase)) + (-0.08 if hyperextend else 0.05)
        rel[f"{side}UpLeg"] = rot(x, -0.5 * np.sin(phase)) @ rot(y, s * 0.1 * np.sin(phase))
        rel[f"{side}Leg"] = rot(x, knee)  # the shin swings back: knee bends forward
        rel[f"{side}Foot"] = rot(x, -0.2 * np.sin(phase))
        rel[f"{side}Arm"] = rot(y, s * 1.1) @ rot(z, s * 0.4 * np.sin(phase)) @ rot(x, 0.2 * np.sin(phase))
        rel[f"{side}ForeArm"] = rot(z, -s * (0.5 + 0.4 * np.sin(phase + 1.0)))  # forwards
        rel[f"{side}Shoulder"] = rot(y, s * 0.1 * np.sin(2 * phase))
    basis = np.tile(np.eye(4), (frames, len(rig.names), 1, 1))
    for name, r in rel.items():
        if name in rig.names:
            b = rig.index(name)
            rest = rig.matrices[b, :3, :3]
            basis[:, b, :3, :3] = rest.T @ r @ rest
    hips = rig.index("Hips")
    travel = np.stack([0.1 * np.sin(t), -0.8 * t / (2 * np.pi), 0.03 * np.cos(2 * t)], -1)
    basis[:, hips, :3, 3] = travel @ rig.matrices[hips, :3, :3]  # location is in the bone's rest frame
    return basis
