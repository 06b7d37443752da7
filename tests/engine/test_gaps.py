"""Missing frames, gap-edge blending and the non-learned fills."""
from __future__ import annotations

import numpy as np
import pytest

from engine.gaps import edge_weights, fill_interpolate, fill_mirrored, missing_frames
from engine.retarget import Retargeter
from engine.skeleton import get_skeleton
from tests.rigs import humanoid_bones, mapping_for, rig_joints, rig_rest, walking_basis

FRAMES = np.arange(1, 101, dtype=float)


def runs(mask):
    d = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return [(int(FRAMES[s]), int(FRAMES[e - 1])) for s, e in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1))]


def test_a_gap_in_captured_motion_is_missing():
    keys = np.concatenate([np.arange(1, 41), np.arange(61, 101)])
    assert runs(missing_frames(keys, FRAMES)) == [(41, 60)]


def test_captured_motion_that_stops_early_or_starts_late():
    assert runs(missing_frames(np.arange(21, 81), FRAMES)) == [(1, 20), (81, 100)]


def test_a_dropped_frame_or_two_is_not_a_gap():
    keys = np.delete(np.arange(1, 101), [49, 70, 71])
    assert not missing_frames(keys, FRAMES).any()


def test_an_animators_sparse_keys_leave_nothing_missing():
    assert not missing_frames(np.array([1, 12, 30, 31, 55, 100]), FRAMES).any()
    assert not missing_frames(np.array([20.0]), FRAMES).any()  # one held pose


def test_no_key_in_the_range_means_all_missing():
    assert missing_frames(np.array([]), FRAMES).all()
    assert missing_frames(np.arange(200, 300), FRAMES).all()


def test_edge_weights_ramp_from_neighbouring_keys():
    missing = np.zeros(30, bool)
    missing[10:20] = True
    w = edge_weights(missing, blend=3)
    assert np.all(w[~missing] == 0)
    assert 0 < w[10] < w[11] < w[12] < 1 and w[13:17].min() == 1.0 and w[19] == w[10]
    # A gap open at the end of the range (no key after it) does not ramp there.
    missing[25:] = True
    w = edge_weights(missing, blend=3, keyed_after=False)
    assert w[-1] == 1.0 and w[25] < 1.0
    assert np.array_equal(edge_weights(missing, 0), missing.astype(float))


@pytest.fixture(scope="module")
def walk():
    rig = rig_rest(humanoid_bones("mixamo"))
    return rig_joints(rig, mapping_for("mixamo"), walking_basis(rig, 90))


def test_interpolation_fill_keeps_visible_joints_and_bridges_gaps(walk):
    visible = np.ones(walk.shape[:2], bool)
    visible[20:40, 13] = False
    out = fill_interpolate(walk, visible)
    assert np.array_equal(out[visible], walk[visible])
    assert np.allclose(out[30, 13], 0.5 * (walk[19, 13] + walk[40, 13]), atol=0.02)


def test_mirrored_fill_reflects_the_other_limb(walk):
    skel = get_skeleton("anim19")
    # A pose that is its own mirror image: the reflected right arm is the left arm.
    still = walk[:1].copy()
    still[0, skel.left] = still[0, skel.flip_permutation[skel.left]] * [-1, 1, 1]
    still[0, [0, 7, 8, 9, 10], 0] = 0.0
    visible = np.ones((1, skel.num_joints), bool)
    visible[0, skel.limb_indices("left_arm")] = False
    out = fill_mirrored(still, visible, skel)
    assert np.allclose(out, still, atol=1e-9)


def test_joint_movers_follow_the_hierarchy():
    rt = Retargeter(rig_rest(humanoid_bones("cmu", size=100)), mapping_for("cmu"))
    assert rt.joint_movers("left_wrist") == {"LeftForeArm", "LeftArm", "LeftShoulder", "Spine2", "Spine1", "LowerBack", "Hips"}
    assert rt.joint_movers("left_toe") >= {"LeftToeBase", "LeftFoot"}
    assert rt.joint_movers("pelvis") == {"Hips", "LHipJoint", "RHipJoint"}
    assert "LowerBack" in rt.driven_bones and rt.driven_bones["LeftUpLeg"] == "hinge"
