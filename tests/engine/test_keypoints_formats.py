"""Keypoint formats -> canonical skeletons, on hand-made arrays with known answers.

The expected rules are written here by the tools' own indices (formats.md section 1a),
independently of the names in engine/data/keypoint_formats.json, so a wrong index or a
left/right swap in the data fails here.
"""
import numpy as np
import pytest
from ._keypoint_people import person

from engine.keypoints import FORMATS, get_format, to_skeleton
from engine.skeleton import get_skeleton

ANIM19 = get_skeleton("anim19").joints


def mean(*idx):
    return {i: 1 / len(idx) for i in idx}


def head_from_eyes(left_eye, right_eye, nose):
    return {left_eye: 1.0, right_eye: 1.0, nose: -1.0}


# anim19 joint -> {tool keypoint index: weight}; None = absent.
COCO_LIMBS = {
    "right_hip": 12, "right_knee": 14, "right_ankle": 16, "left_hip": 11, "left_knee": 13, "left_ankle": 15,
    "left_shoulder": 5, "left_elbow": 7, "left_wrist": 9, "right_shoulder": 6, "right_elbow": 8, "right_wrist": 10,
    "neck": 0,
}
OPENPOSE_LIMBS = {
    "right_hip": 9, "right_knee": 10, "right_ankle": 11, "left_hip": 12, "left_knee": 13, "left_ankle": 14,
    "left_shoulder": 5, "left_elbow": 6, "left_wrist": 7, "right_shoulder": 2, "right_elbow": 3, "right_wrist": 4,
    "neck": 0,
}
EXPECTED = {
    "coco17": {
        **COCO_LIMBS,
        "pelvis": mean(11, 12), "spine": mean(5, 6, 11, 12), "thorax": mean(5, 6),
        "head": head_from_eyes(1, 2, 0), "right_toe": None, "left_toe": None,
    },
    "halpe26": {  # MotionBERT halpe2h36m
        **COCO_LIMBS,
        "pelvis": 19, "spine": mean(18, 19), "thorax": 18, "head": 17,
        "right_toe": mean(21, 23), "left_toe": mean(20, 22),
    },
    "body25": {
        **OPENPOSE_LIMBS,
        "pelvis": 8, "spine": mean(1, 8), "thorax": 1, "head": head_from_eyes(16, 15, 0),
        "right_toe": mean(22, 23), "left_toe": mean(19, 20),
    },
    "body25b": {
        **COCO_LIMBS,
        "pelvis": mean(11, 12), "spine": mean(5, 6, 11, 12), "thorax": mean(5, 6), "head": 18,
        "right_toe": mean(22, 23), "left_toe": mean(19, 20),
    },
    "coco18": {
        "right_hip": 8, "right_knee": 9, "right_ankle": 10, "left_hip": 11, "left_knee": 12, "left_ankle": 13,
        "left_shoulder": 5, "left_elbow": 6, "left_wrist": 7, "right_shoulder": 2, "right_elbow": 3, "right_wrist": 4,
        "neck": 0, "pelvis": mean(8, 11), "spine": {1: 0.5, 8: 0.25, 11: 0.25}, "thorax": 1,
        "head": head_from_eyes(15, 14, 0), "right_toe": None, "left_toe": None,
    },
    "mediapipe33": {
        "right_hip": 24, "right_knee": 26, "right_ankle": 28, "left_hip": 23, "left_knee": 25, "left_ankle": 27,
        "left_shoulder": 11, "left_elbow": 13, "left_wrist": 15, "right_shoulder": 12, "right_elbow": 14, "right_wrist": 16,
        "neck": 0, "pelvis": mean(23, 24), "spine": mean(11, 12, 23, 24), "thorax": mean(11, 12),
        "head": head_from_eyes(2, 5, 0), "right_toe": 32, "left_toe": 31,
    },
}
EXPECTED["coco_wholebody133"] = {**EXPECTED["coco17"], "right_toe": mean(20, 21), "left_toe": mean(17, 18)}
EXPECTED["halpe136"] = EXPECTED["halpe26"]
COUNTS = {"coco17": 17, "halpe26": 26, "body25": 25, "body25b": 25, "coco18": 18, "mediapipe33": 33,
          "coco_wholebody133": 133, "halpe136": 136}


def distinct_keypoints(k: int, frames: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, 1000, size=(frames, k, 2))
    confidence = rng.uniform(0.1, 1.0, size=(frames, k))
    return points, confidence


def test_every_format_is_tested_and_has_its_tool_count():
    assert set(FORMATS) == set(EXPECTED)
    for name, fmt in FORMATS.items():
        assert fmt.num_keypoints == COUNTS[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_converter_matches_index_rules(name):
    fmt = get_format(name)
    points, confidence = distinct_keypoints(fmt.num_keypoints)
    joints, conf = to_skeleton(points, name, skeleton="anim19", confidence=confidence)
    assert joints.shape == (3, 19, 2) and conf.shape == (3, 19)
    for j, joint in enumerate(ANIM19):
        rule = EXPECTED[name][joint]
        if rule is None:
            assert np.isnan(joints[:, j]).all() and (conf[:, j] == 0).all(), joint
            continue
        rule = {rule: 1.0} if isinstance(rule, int) else rule
        want = sum(w * points[:, i] for i, w in rule.items())
        np.testing.assert_allclose(joints[:, j], want, rtol=1e-5, atol=1e-3, err_msg=f"{name} {joint}")
        np.testing.assert_allclose(conf[:, j], confidence[:, list(rule)].min(axis=1), rtol=1e-6, err_msg=joint)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_synthetic_person_lands_on_the_right_sides(name):
    """A person facing the camera: their left joints on the image right, head above neck
    above thorax above spine above pelvis, toes below ankles."""
    kp = person(name, offset=(0, 0))
    joints, conf = to_skeleton(kp[:, :2], name, confidence=kp[:, 2])
    at = {j: joints[i] for i, j in enumerate(ANIM19)}
    for side in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
        assert at[f"left_{side}"][0] > 0 > at[f"right_{side}"][0], side
    ys = [at[j][1] for j in ("head", "neck", "thorax", "spine", "pelvis")]
    assert all(a < b for a, b in zip(ys, ys[1:])), ys
    np.testing.assert_allclose(at["pelvis"], [0, 0], atol=1e-4)
    np.testing.assert_allclose(at["thorax"], [0, -205], atol=1e-4)
    assert at["head"][1] < -258  # above the eyes
    if EXPECTED[name]["left_toe"] is not None:
        assert at["left_toe"][1] > at["left_ankle"][1] and at["left_toe"][0] > 0 > at["right_toe"][0]
    assert conf[np.isfinite(joints[:, 0])] == pytest.approx(0.9)


def test_h36m17_is_anim19_without_toes():
    points, confidence = distinct_keypoints(26)
    a, ca = to_skeleton(points, "halpe26", skeleton="anim19", confidence=confidence)
    h, ch = to_skeleton(points, "halpe26", skeleton="h36m17", confidence=confidence)
    assert h.shape == (3, 17, 2)
    np.testing.assert_array_equal(h, a[:, :17])
    np.testing.assert_array_equal(ch, ca[:, :17])


def test_absent_parts_make_derived_joints_absent():
    frames = np.stack([person("coco17")] * 3)
    frames[0, 11] = (np.nan, np.nan, 0.8)  # left hip NaN despite a confidence
    frames[1, 5, 2] = 0.0  # left shoulder confidence 0
    frames[2, 1] = (500.0, 300.0, -1.0)  # left eye, negative confidence
    joints, conf = to_skeleton(frames[..., :2], "coco17", confidence=frames[..., 2])
    j = {n: i for i, n in enumerate(ANIM19)}
    for f, gone in ((0, ("pelvis", "left_hip", "spine")), (1, ("thorax", "spine", "left_shoulder")), (2, ("head",))):
        for name in gone:
            assert np.isnan(joints[f, j[name]]).all() and conf[f, j[name]] == 0, (f, name)
        kept = [i for n, i in j.items() if n not in gone and "toe" not in n]
        assert np.isfinite(joints[f, kept]).all() and (conf[f, kept] > 0).all(), f


def test_confidence_defaults_to_one_where_finite_and_extra_channels_convert():
    points, _ = distinct_keypoints(17)
    xyz = np.concatenate([points, np.full((3, 17, 1), 2.0)], axis=-1)
    xyz[1, 0] = np.nan  # nose
    joints, conf = to_skeleton(xyz, "coco17", skeleton="h36m17")
    assert joints.shape == (3, 17, 3)
    np.testing.assert_allclose(joints[..., 2][np.isfinite(joints[..., 2])], 2.0)
    assert conf[0].min() == 1.0 and conf[1, 9] == 0 and conf[1, 10] == 0  # neck (nose) and head need the nose
    single, single_conf = to_skeleton(points[0], "coco17")  # (K, C) without a frame axis
    assert single.shape == (19, 2) and single_conf.shape == (19,)


def test_format_names_and_aliases():
    for alias, name in (("BODY_25B", "body25b"), ("body_25", "body25"), ("COCO-17", "coco17"),
                        ("Halpe", "halpe26"), ("MediaPipe", "mediapipe33"), ("BlazePose", "mediapipe33")):
        assert get_format(alias).name == name
    with pytest.raises(KeyError, match="unknown keypoint format 'anim19'; known: coco17"):
        get_format("anim19")


def test_bad_input_shapes_are_refused_with_the_expected_shape():
    with pytest.raises(ValueError, match=r"expected keypoints \(\.\.\., 17, C\) of format 'coco17'"):
        to_skeleton(np.zeros((5, 25, 2)), "coco17")
    with pytest.raises(ValueError, match="needs format="):
        to_skeleton(np.zeros((5, 17, 2)))
    with pytest.raises(ValueError, match="confidence shape"):
        to_skeleton(np.zeros((5, 17, 2)), "coco17", confidence=np.ones((5, 18)))


# (index, name) pairs from formats.md section 1a: every eye, ear and foot point, whose
# left/right order the joint rules alone would not reveal.
NAMES_AT = {
    "coco17": {1: "left_eye", 2: "right_eye", 3: "left_ear", 4: "right_ear"},
    "halpe26": {17: "head", 18: "neck", 19: "hip", 20: "left_big_toe", 21: "right_big_toe",
                22: "left_small_toe", 23: "right_small_toe", 24: "left_heel", 25: "right_heel"},
    "body25": {1: "neck", 8: "mid_hip", 15: "right_eye", 16: "left_eye", 17: "right_ear", 18: "left_ear",
               19: "left_big_toe", 20: "left_small_toe", 21: "left_heel", 22: "right_big_toe",
               23: "right_small_toe", 24: "right_heel"},
    "body25b": {1: "left_eye", 2: "right_eye", 3: "left_ear", 4: "right_ear", 17: "upper_neck", 18: "head_top",
                19: "left_big_toe", 20: "left_small_toe", 21: "left_heel", 22: "right_big_toe",
                23: "right_small_toe", 24: "right_heel"},
    "coco18": {1: "neck", 14: "right_eye", 15: "left_eye", 16: "right_ear", 17: "left_ear"},
    "mediapipe33": {1: "left_eye_inner", 2: "left_eye", 3: "left_eye_outer", 4: "right_eye_inner", 5: "right_eye",
                    6: "right_eye_outer", 7: "left_ear", 8: "right_ear", 9: "mouth_left", 10: "mouth_right",
                    17: "left_pinky", 18: "right_pinky", 19: "left_index", 20: "right_index", 21: "left_thumb",
                    22: "right_thumb", 29: "left_heel", 30: "right_heel", 31: "left_foot_index", 32: "right_foot_index"},
    "coco_wholebody133": {17: "left_big_toe", 19: "left_heel", 20: "right_big_toe", 22: "right_heel",
                          23: "face_0", 91: "left_hand_0", 112: "right_hand_0", 132: "right_hand_20"},
    "halpe136": {25: "right_heel", 26: "face_0", 94: "left_hand_0", 115: "right_hand_0", 135: "right_hand_20"},
}


@pytest.mark.parametrize("name", sorted(NAMES_AT))
def test_keypoint_names_at_tool_indices(name):
    fmt = get_format(name)
    assert {i: fmt.keypoints[i] for i in NAMES_AT[name]} == NAMES_AT[name]
    assert len(set(fmt.keypoints)) == fmt.num_keypoints
