"""Retargeting joint positions onto rigs of several naming styles, rest poses and sizes."""
from __future__ import annotations

import numpy as np
import pytest

from engine.retarget import RetargetError, Retargeter, RigRest, basis_to_channels, retarget
from engine.rig_mapping import RigMapping
from engine.rotations import euler_to_matrix, quaternion_to_matrix, vec_roll_to_matrix
from tests.rigs import STYLES, humanoid_bones, mapping_for, rig_joints, rig_rest, walking_basis

PROPORTIONS = {"LeftArm": 1.15, "RightArm": 1.15, "LeftLeg": 0.9, "RightLeg": 0.9, "Spine1": 1.2}
LIMB_BONES = [
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("spine", "thorax"), ("thorax", "neck"), ("neck", "head"),
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"), ("right_ankle", "right_toe"), ("left_ankle", "left_toe"),
]


@pytest.fixture(scope="module")
def motion():
    """Joint positions of a walk performed by a Mixamo-style source rig (60 frames)."""
    src = rig_rest(humanoid_bones("mixamo"))
    return rig_joints(src, mapping_for("mixamo"), walking_basis(src, 60))


def solve_and_pose(rig: RigRest, mapping: RigMapping, positions, passive=None, **options):
    result = Retargeter(rig, mapping, options.pop("parts", None)).solve(positions, passive, **options)
    full = np.tile(np.eye(4), (len(positions), len(rig.names), 1, 1))
    for name, value in (passive or {}).items():
        full[:, rig.index(name)] = value
    for name, value in result.basis.items():
        full[:, rig.index(name)] = value
    return result, rig_joints(rig, mapping, full), full


def direction_error_deg(a, b):
    cos = np.sum(a * b, -1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def test_rest_matrix_from_head_tail_roll_matches_blender():
    # Bone.MatrixFromAxisRoll((0.3, 0.4, 0.866), 0.5) in Blender 4.2 and 5.0.
    blender = np.array([[0.9101, 0.3000, 0.2857], [0.1519, 0.4000, -0.9038], [-0.3855, 0.8660, 0.3185]])
    assert np.allclose(vec_roll_to_matrix(np.array([0.3, 0.4, 0.866]), 0.5), blender, atol=1e-4)
    # A bone pointing straight down -Y is Blender's special case.
    assert np.allclose(vec_roll_to_matrix(np.array([0.0, -1.0, 0.0]), 0.0), np.diag([-1.0, -1.0, 1.0]))


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("pose", ["T", "A"])
def test_bones_follow_the_motion_without_stretching(motion, style, pose):
    size = 100.0 if style == "cmu" else 1.2  # a centimetre rig too
    rig = rig_rest(humanoid_bones(style, pose, size=size, proportions=PROPORTIONS, roll_seed=7))
    mapping = mapping_for(style)
    _, out, _ = solve_and_pose(rig, mapping, motion)
    skel = mapping.skel
    rest = Retargeter(rig, mapping).rest_joints
    for a, b in LIMB_BONES:
        ia, ib = skel.index(a), skel.index(b)
        err = direction_error_deg(out[:, ib] - out[:, ia], motion[:, ib] - motion[:, ia])
        assert err.max() < 0.01, f"{style} {pose}: {a}-{b} off by {err.max():.3f} deg"
        length = np.linalg.norm(out[:, ib] - out[:, ia], axis=-1)
        assert np.allclose(length, np.linalg.norm(rest[b] - rest[a]), rtol=1e-9), f"{a}-{b} stretched"


def test_rest_pose_and_bone_rolls_do_not_change_the_result(motion):
    mapping = mapping_for("mixamo")
    results = []
    for pose, seed in (("T", None), ("A", 1), ("A", 2), ("T", 3)):
        rig = rig_rest(humanoid_bones("mixamo", pose, proportions=PROPORTIONS, roll_seed=seed))
        results.append(solve_and_pose(rig, mapping, motion)[1])
    for other in results[1:]:
        assert np.abs(other - results[0]).max() < 1e-6


def test_root_motion_is_scaled_by_leg_length(motion):
    # The source rig at half size, with shins 20 % shorter: legs 0.5 * (0.43 + 0.8 * 0.45) long.
    rig = rig_rest(humanoid_bones("metarig", size=0.5, proportions={"LeftLeg": 0.8, "RightLeg": 0.8}))
    result, out, _ = solve_and_pose(rig, mapping_for("metarig"), motion)
    source_leg = 0.43 + np.hypot(0.45, 0.02)
    assert result.scale == pytest.approx(0.5 * (0.43 + 0.8 * np.hypot(0.45, 0.02)) / source_leg, rel=1e-6)
    assert np.abs(out[:, 0] - motion[:, 0] * result.scale).max() < 1e-9
    assert result.root_bone == "spine"
    still = solve_and_pose(rig, mapping_for("metarig"), motion, root_motion=False)[1]
    assert np.abs(still[:, 0] - still[0, 0]).max() < 1e-9  # pelvis turns in place


def test_knees_bend_forward_about_the_rigs_own_hinge(motion):
    rig = rig_rest(humanoid_bones("mixamo", "A", proportions=PROPORTIONS, roll_seed=5))
    result, out, _ = solve_and_pose(rig, mapping_for("mixamo"), motion)
    for side in ("left", "right"):
        hip, knee, ankle, toe = (mapping_for("mixamo").skel.index(f"{side}_{j}") for j in ("hip", "knee", "ankle", "toe"))
        bend = direction_error_deg(motion[:, knee] - motion[:, hip], motion[:, ankle] - motion[:, knee])
        forward = out[:, knee] - 0.5 * (out[:, hip] + out[:, ankle])
        foot = out[:, toe] - out[:, ankle]
        bent = bend > 10
        assert bent.sum() > 10
        assert np.all(np.sum(forward[bent] * foot[bent], -1) > 0), "a knee bends backwards"
        # The shin turns about one fixed local axis: a hinge, no twist.
        shin = result.basis[("Left" if side == "left" else "Right") + "Leg"][:, :3, :3]
        angle = np.arccos(np.clip((np.trace(shin, axis1=1, axis2=2) - 1) / 2, -1, 1))
        axis = np.stack([shin[:, 2, 1] - shin[:, 1, 2], shin[:, 0, 2] - shin[:, 2, 0], shin[:, 1, 0] - shin[:, 0, 1]], -1)
        axis = axis[angle > np.radians(10)]
        axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
        assert direction_error_deg(axis, axis[:1]).max() < 0.5


def test_a_slightly_hyperextended_knee_never_flips_the_leg():
    src = rig_rest(humanoid_bones("mixamo"))
    motion = rig_joints(src, mapping_for("mixamo"), walking_basis(src, 90, hyperextend=True))
    rig = rig_rest(humanoid_bones("cmu", size=100.0, roll_seed=2))
    result, _, _ = solve_and_pose(rig, mapping_for("cmu"), motion)
    for thigh in ("LeftUpLeg", "RightUpLeg"):
        x_axis = (result.basis[thigh] @ rig.matrices[rig.index(thigh)][None])[:, :3, 0]
        step = direction_error_deg(x_axis[1:], x_axis[:-1])
        assert step.max() < 15, f"{thigh} twists {step.max():.0f} deg in one frame"


def test_elbow_hinge_survives_a_straight_arm():
    src = rig_rest(humanoid_bones("mixamo"))
    basis = walking_basis(src, 60)
    # Straighten the left elbow for 20 frames: the bend plane is undefined there.
    fore = src.index("LeftForeArm")
    basis[20:40, fore] = np.eye(4)
    motion = rig_joints(src, mapping_for("mixamo"), basis)
    rig = rig_rest(humanoid_bones("metarig", "A", roll_seed=4))
    result, _, _ = solve_and_pose(rig, mapping_for("metarig"), motion)
    x_axis = (result.basis["upper_arm.L"] @ rig.matrices[rig.index("upper_arm.L")][None])[:, :3, 0]
    assert direction_error_deg(x_axis[1:], x_axis[:-1]).max() < 15


def test_leg_reach_puts_the_rig_ankle_on_its_target(motion):
    rig = rig_rest(humanoid_bones("mixamo", proportions={"LeftLeg": 0.8, "RightLeg": 0.8}))
    mapping = mapping_for("mixamo")
    plain = solve_and_pose(rig, mapping, motion)
    target = plain[0].targets
    reach = solve_and_pose(rig, mapping, motion, leg_reach=True)[1]
    for side in ("left", "right"):
        ankle = mapping.skel.index(f"{side}_ankle")
        miss_plain = np.linalg.norm(plain[1][:, ankle] - target[:, ankle], axis=-1)
        miss_reach = np.linalg.norm(reach[:, ankle] - target[:, ankle], axis=-1)
        assert miss_reach.max() < 1e-6
        assert miss_plain.max() > 0.01  # without reach the shorter shins miss by centimetres


def test_parts_keep_other_bones_and_follow_the_rigs_own_chest(motion):
    rig = rig_rest(humanoid_bones("mixamo"))
    mapping = mapping_for("mixamo")
    # The rig already has an animation: a walk with a different phase and a turned body.
    existing = walking_basis(rig, len(motion), seed=3)
    hips = rig.index("Hips")
    existing[:, hips, :3, :3] = existing[:, hips, :3, :3] @ euler_to_matrix(np.array([0.0, 0.0, 1.0]))  # turned
    passive = {name: existing[:, i] for i, name in enumerate(rig.names)}
    result, out, _ = solve_and_pose(rig, mapping, motion, passive, parts=["left_arm"])
    assert set(result.basis) == {"LeftShoulder", "LeftArm", "LeftForeArm"}
    before = rig_joints(rig, mapping, existing)
    skel = mapping.skel
    untouched = [j for j in skel.joints if j not in ("left_shoulder", "left_elbow", "left_wrist")]
    assert np.abs(out[:, skel.indices(untouched)] - before[:, skel.indices(untouched)]).max() < 1e-9

    def in_chest_frame(pos):
        lat = pos[:, skel.index("left_shoulder")] - pos[:, skel.index("right_shoulder")]
        up = pos[:, skel.index("thorax")] - pos[:, skel.index("spine")]
        a = lat / np.linalg.norm(lat, axis=-1, keepdims=True)
        b = up - np.sum(up * a, -1, keepdims=True) * a
        b /= np.linalg.norm(b, axis=-1, keepdims=True)
        frame = np.stack([a, b, np.cross(a, b)], -1)
        arm = pos[:, skel.index("left_wrist")] - pos[:, skel.index("left_elbow")]
        return np.einsum("fji,fj->fi", frame, arm)

    assert direction_error_deg(in_chest_frame(out), in_chest_frame(motion)).max() < 3.0


def test_unknown_frames_keep_the_given_transform(motion):
    rig = rig_rest(humanoid_bones("mixamo"))
    mapping = mapping_for("mixamo")
    holed = motion.copy()
    holed[10:20, mapping.skel.index("left_wrist")] = np.nan
    result = retarget(holed, rig, mapping)
    assert not result.solved["LeftForeArm"][10:20].any() and result.solved["LeftForeArm"][:10].all()
    assert np.allclose(result.basis["LeftForeArm"][10:20], np.eye(4))
    assert np.isfinite(result.basis["LeftArm"]).all()


@pytest.mark.parametrize("mode", ["QUATERNION", "XYZ", "ZXY", "AXIS_ANGLE"])
def test_channels_reproduce_the_basis(motion, mode):
    rig = rig_rest(humanoid_bones("mixamo"))
    result = retarget(motion, rig, mapping_for("mixamo"))
    basis = result.basis["LeftArm"]
    loc, rot = basis_to_channels(basis, mode)
    if mode == "QUATERNION":
        back = quaternion_to_matrix(rot)
        assert np.all(np.sum(rot[1:] * rot[:-1], -1) > 0)  # no sign flips between frames
    elif mode == "AXIS_ANGLE":
        from engine.rotations import axis_angle_matrix

        back = axis_angle_matrix(rot[:, 1:], rot[:, 0])
    else:
        back = euler_to_matrix(rot, mode)
        assert np.abs(np.diff(rot, axis=0)).max() < np.pi  # continuous
    assert np.allclose(back, basis[:, :3, :3], atol=1e-9)
    assert np.allclose(loc, basis[:, :3, 3])


def test_errors_name_what_is_wrong(motion):
    rig = rig_rest(humanoid_bones("mixamo"))
    with pytest.raises(RetargetError, match="none of the bones"):
        Retargeter(rig, mapping_for("metarig"))
    with pytest.raises(RetargetError, match="unknown body parts"):
        Retargeter(rig, mapping_for("mixamo"), parts=["tail"])
    with pytest.raises(RetargetError, match=r"\(F, 19, 3\)"):
        retarget(motion[:, :17], rig, mapping_for("mixamo"))
    with pytest.raises(RetargetError, match="parent 'Nope'"):
        RigRest.from_bones(["a"], ["Nope"], np.zeros((1, 3)), np.ones((1, 3)))
