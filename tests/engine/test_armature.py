"""The generated MPM armature: rest pose, rolls and joint positions -> bone rotations."""
from __future__ import annotations

import numpy as np
import pytest

from engine.armature import (
    build_rig,
    floor_offset,
    pose_bones,
    posed_joints,
    rest_pose,
)
from engine.rotations import matrix_to_quaternion, quaternion_continuity, quaternion_to_matrix
from engine.skeleton import get_skeleton


@pytest.fixture(params=["anim19", "h36m17"])
def rest(request):
    sk = get_skeleton(request.param)
    lengths = np.random.default_rng(0).uniform(0.1, 0.5, len(sk.bones))
    return rest_pose(build_rig(sk), lengths)


def random_clip(rest, frames=200, seed=1):
    """Joint positions with the rest pose's bone lengths and random bone directions."""
    rng = np.random.default_rng(seed)
    sk = rest.rig.skeleton
    joints = np.zeros((frames, sk.num_joints, 3))
    joints[:, sk.root] = rng.normal(size=(frames, 3))
    for (parent, child), length in zip(sk.bones, rest.lengths):
        d = rng.normal(size=(frames, 3))
        joints[:, child] = joints[:, parent] + d / np.linalg.norm(d, axis=-1, keepdims=True) * length
    return joints


def angle_about_x(q):
    """Signed rotation angle (degrees) of a quaternion that turns about local X only."""
    return np.degrees(2 * np.arctan2(q[..., 1], q[..., 0]))


def test_one_bone_per_edge_named_for_blender_mirroring(rest):
    rig = rest.rig
    assert rig.num_bones == len(rig.skeleton.bones)
    assert rig.names[rig.root] == "hips" and (rig.parent < 0).sum() == 1
    for name in rig.names:
        if name.endswith(".L"):
            assert name[:-2] + ".R" in rig.names
    # parents come first, so one pass over the bones can pose them
    assert all(p < b for b, p in enumerate(rig.parent))


def test_rest_pose_stands_on_the_floor_facing_front(rest):
    sk = rest.rig.skeleton
    j = rest.joints
    assert j[:, 2].min() == pytest.approx(0.0)
    assert j[sk.index("head"), 2] == j[:, 2].max()
    assert j[sk.index("left_wrist"), 0] > 0 > j[sk.index("right_wrist"), 0]  # .L on +X
    np.testing.assert_allclose(rest.lengths, np.linalg.norm(j[[c for _, c in sk.bones]] - j[[p for p, _ in sk.bones]], axis=-1))
    # bone matrices: orthonormal, Y along the bone
    m = rest.matrices
    np.testing.assert_allclose(m.transpose(0, 2, 1) @ m, np.broadcast_to(np.eye(3), m.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(m), 1.0)
    d = rest.tails - rest.heads
    np.testing.assert_allclose(m[:, :, 1], d / np.linalg.norm(d, axis=-1, keepdims=True), atol=1e-12)


def test_rest_joints_give_identity_rotations(rest):
    quats, location = pose_bones(rest, rest.joints[None])
    np.testing.assert_allclose(quats[0], np.tile([1.0, 0, 0, 0], (rest.rig.num_bones, 1)), atol=1e-9)
    np.testing.assert_allclose(location, 0.0, atol=1e-12)


def test_rotations_reproduce_the_joints_exactly(rest):
    joints = random_clip(rest)
    quats, location = pose_bones(rest, joints)
    np.testing.assert_allclose(np.linalg.norm(quats, axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(posed_joints(rest, quats, location), joints, atol=1e-9)


def test_quaternions_are_sign_continuous(rest):
    quats, _ = pose_bones(rest, random_clip(rest))
    assert (np.sum(quats[1:] * quats[:-1], axis=-1) >= 0).all()


def bend(rest, lower_joint, end_joint, direction):
    """The rest pose with the bone lower_joint->end_joint turned to ``direction``."""
    sk = rest.rig.skeleton
    j = rest.joints.copy()
    lower, end = sk.index(lower_joint), sk.index(end_joint)
    length = np.linalg.norm(j[end] - j[lower])
    moved = j[lower] + length * np.asarray(direction, dtype=float) / np.linalg.norm(direction)
    shift = moved - j[end]
    for i in range(sk.num_joints):  # the joints below ``end`` follow it
        k = i
        while k >= 0 and k != end:
            k = sk.parents[k]
        if k == end:
            j[i] += shift
    return j


@pytest.mark.parametrize("side", ["left", "right"])
def test_knee_flexes_about_local_x(rest, side):
    rig = rest.rig
    flexed = bend(rest, f"{side}_knee", f"{side}_ankle", (0, np.sin(1.0), -np.cos(1.0)))
    quats, _ = pose_bones(rest, flexed[None])
    shin = quats[0, rig.names.index(f"shin.{side[0].upper()}")]
    assert angle_about_x(shin) == pytest.approx(np.degrees(1.0))
    np.testing.assert_allclose(shin[2:], 0.0, atol=1e-9)


@pytest.mark.parametrize("side", ["left", "right"])
def test_elbow_flexion_is_positive_about_local_x_in_any_arm_direction(rest, side):
    rig = rest.rig
    sk = rig.skeleton
    s = 1.0 if side == "left" else -1.0
    forearm = rig.names.index(f"forearm.{side[0].upper()}")
    for forearm_dir in ((s * np.cos(1.0), -np.sin(1.0), 0), (0, 0, 1), (0, 0, -1), (s * 0.3, 0.2, 1.0)):
        j = rest.joints.copy()
        shoulder, elbow, wrist = sk.index(f"{side}_shoulder"), sk.index(f"{side}_elbow"), sk.index(f"{side}_wrist")
        upper = np.linalg.norm(j[elbow] - j[shoulder])
        lower = np.linalg.norm(j[wrist] - j[elbow])
        j[elbow] = j[shoulder] + upper * np.array([0.0, -1.0, 0.0])  # upper arm reaching forward
        j[wrist] = j[elbow] + lower * np.asarray(forearm_dir) / np.linalg.norm(forearm_dir)
        quats, location = pose_bones(rest, j[None])
        q = quats[0, forearm]
        np.testing.assert_allclose(q[2:], 0.0, atol=1e-9)
        assert angle_about_x(q) > 0
        np.testing.assert_allclose(posed_joints(rest, quats, location)[0], j, atol=1e-9)


def test_hips_turn_with_the_hip_line(rest):
    sk = rest.rig.skeleton
    turn = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # 90 deg about Z
    joints = (rest.joints - rest.joints[sk.root]) @ turn.T
    quats, _ = pose_bones(rest, joints[None])
    hips = quats[0, rest.rig.root]
    # the rest hips bone points up Z, so a turn about world Z is a turn about its local Y
    assert np.degrees(2 * np.arccos(min(1.0, abs(hips[0])))) == pytest.approx(90.0)
    np.testing.assert_allclose(abs(hips[2]), np.sqrt(0.5), atol=1e-9)


def test_quaternion_matrix_round_trip():
    rng = np.random.default_rng(3)
    q = rng.normal(size=(500, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    q[q[:, 0] < 0] *= -1
    np.testing.assert_allclose(matrix_to_quaternion(quaternion_to_matrix(q)), q, atol=1e-9)


def test_quaternion_continuity_flips_only_signs():
    q = np.array([[1.0, 0, 0, 0], [-0.9, 0.1, 0, 0], [0.8, -0.2, 0, 0]])
    out = quaternion_continuity(q[:, None])[:, 0]
    assert (np.sum(out[1:] * out[:-1], axis=-1) > 0).all()
    np.testing.assert_allclose(np.abs(out), np.abs(q))


def test_floor_offset_ignores_a_few_jumping_frames():
    joints = np.zeros((10, 3, 3))
    joints[..., 2] = [[-1.0, 0.0, 1.0]]
    joints[:2, :, 2] += 0.5  # two frames in the air
    assert floor_offset(joints) == pytest.approx(1.0)


def test_errors_name_what_is_wrong(rest):
    with pytest.raises(ValueError, match="bone lengths"):
        rest_pose(rest.rig, np.ones(3))
    with pytest.raises(ValueError, match="expected joints"):
        pose_bones(rest, np.zeros((4, 5, 3)))
    bad = rest.joints[None].copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pose_bones(rest, bad)
