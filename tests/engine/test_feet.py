"""Foot contacts, locking and floor alignment, and feet that stay put after retargeting."""
from __future__ import annotations

import numpy as np
import pytest

from engine.feet import detect_contacts, floor_offset, lock_feet
from engine.retarget import Retargeter, motion_targets
from engine.skeleton import get_skeleton
from tests.rigs import humanoid_bones, mapping_for, rig_joints, rig_rest

SKEL = get_skeleton("anim19")
FPS = 30.0


def stepping_feet(frames: int = 120, seed: int = 0):
    """Positions whose left foot steps forward every 40 frames (planted 25, swinging 15)
    and whose right foot stands, with 3 mm detector-like jitter; and the planted mask."""
    rng = np.random.default_rng(seed)
    pos = np.zeros((frames, SKEL.num_joints, 3))
    planted = np.zeros(frames, bool)
    y = 0.0
    for f in range(frames):
        phase = f % 40
        if phase < 25:
            planted[f] = True
            z = 0.0
        else:
            s = (phase - 25) / 15
            y -= 0.5 / 15
            z = 0.12 * np.sin(np.pi * s)
        pos[f, SKEL.index("left_ankle")] = (0.1, y, 0.08 + z)
        pos[f, SKEL.index("left_toe")] = (0.1, y - 0.15, 0.0 + z)
    pos[:, SKEL.index("right_ankle")] = (-0.1, 0.0, 0.08)
    pos[:, SKEL.index("right_toe")] = (-0.1, -0.15, 0.0)
    pos += rng.normal(0, 0.003, pos.shape)
    return pos, planted


def test_contacts_follow_planted_feet():
    pos, planted = stepping_feet()
    c = detect_contacts(pos, SKEL, FPS)
    left = c.contact[:, c.joints.index("left_ankle")]
    agree = np.mean(left == planted)
    assert agree > 0.9, f"left ankle contact agrees on {agree:.0%} of frames"
    assert c.contact[:, c.joints.index("right_toe")].all()
    assert len(c.intervals(c.joints.index("left_toe"))) == 3


def test_locked_feet_do_not_move_during_contact_and_ease_out():
    pos, _ = stepping_feet()
    c = detect_contacts(pos, SKEL, FPS)
    locked = lock_feet(pos, c, SKEL, blend=4)
    for k, joint in enumerate(c.joints):
        j = SKEL.index(joint)
        for s, e in c.intervals(k):
            assert np.ptp(locked[s : e + 1, j], axis=0).max() == 0.0
    # Easing in and out: the foot starts and stops more gently than a hard lock would make it.
    j = SKEL.index("left_ankle")
    hard = lock_feet(pos, c, SKEL, blend=0)

    def jerk(p):
        return np.linalg.norm(np.diff(p[:, j], 2, axis=0), axis=-1).max()

    assert jerk(locked) < 0.8 * jerk(hard)
    # Joints without contacts are untouched.
    assert np.array_equal(locked[:, SKEL.index("pelvis")], pos[:, SKEL.index("pelvis")])


def test_floor_offset_puts_lowest_contacts_at_standing_height():
    pos, _ = stepping_feet()
    pos[..., 2] += 0.25  # the motion floats 25 cm up
    c = detect_contacts(pos, SKEL, FPS)
    heights = {"left_ankle": 0.08, "right_ankle": 0.08, "left_toe": 0.0, "right_toe": 0.0}
    assert floor_offset(pos, c, SKEL, heights) == pytest.approx(-0.25, abs=0.01)


def test_detection_needs_feet_and_a_frame_rate():
    with pytest.raises(ValueError, match="no ankle or toe"):
        detect_contacts(np.zeros((5, 17, 3)), get_skeleton("h36m17").__class__("x", ("a",), (-1,)), FPS)
    with pytest.raises(ValueError, match="fps"):
        detect_contacts(np.zeros((5, 19, 3)), SKEL, 0)


def test_retargeted_feet_stay_put_on_a_jittery_stance():
    src = rig_rest(humanoid_bones("mixamo"))
    mapping = mapping_for("mixamo")
    rest = rig_joints(src, mapping, np.tile(np.eye(4), (1, len(src.names), 1, 1)))[0]
    rng = np.random.default_rng(1)
    motion = rest[None] + rng.normal(0, 0.004, (90, SKEL.num_joints, 3))  # standing, jittering
    rig = rig_rest(humanoid_bones("metarig", "A", proportions={"LeftLeg": 0.85, "RightLeg": 0.85}))
    rt = Retargeter(rig, mapping_for("metarig"))
    for lock in (False, True):
        targets, _, contacts = motion_targets(rt, motion, fps=FPS, lock_feet=lock, align_floor=True)
        result = rt.solve(targets, root_scale=1.0, leg_reach=lock)
        full = np.tile(np.eye(4), (len(motion), len(rig.names), 1, 1))
        for name, value in result.basis.items():
            full[:, rig.index(name)] = value
        out = rig_joints(rig, mapping_for("metarig"), full)
        ankle = out[:, SKEL.index("left_ankle")]
        drift = np.ptp(ankle, axis=0).max()
        if lock:
            assert contacts.contact.all(axis=0).any()
            assert drift < 1e-6, f"locked ankle drifts {drift * 1000:.3f} mm"
            # Standing on the floor: the rig's ankle at the height it has in its rest pose.
            assert ankle[:, 2].mean() == pytest.approx(Retargeter(rig, mapping_for("metarig")).rest_joints["left_ankle"][2], abs=0.003)
        else:
            assert drift > 0.005  # the jitter slides the unlocked foot


def test_motion_targets_convert_to_a_centimetre_y_up_armature():
    src = rig_rest(humanoid_bones("mixamo"))
    mapping = mapping_for("mixamo")
    motion = rig_joints(src, mapping, np.tile(np.eye(4), (3, len(src.names), 1, 1)))
    # A Mixamo FBX import: bones Y up in centimetres, the object turned 90 deg and scaled 0.01.
    to_world = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]]) * 0.01
    bones = [(n, p, (h @ np.linalg.inv(to_world).T), (t @ np.linalg.inv(to_world).T), r) for n, p, h, t, r in humanoid_bones("mixamo")]
    rt = Retargeter(rig_rest(bones), mapping)
    targets, scale, _ = motion_targets(rt, motion, to_world)
    assert scale == pytest.approx(1.0)
    assert np.allclose(targets @ to_world.T, motion)
