"""The shipped rig-mapping presets: valid, and auto-detected from real rigs' bone names."""
from __future__ import annotations

import pytest

from engine.rig_mapping import detect_mapping, load_presets
from engine.skeleton import get_skeleton

FINGERS = ["Thumb", "Index", "Middle", "Ring", "Pinky"]


def mixamo_bones(prefix: str = "mixamorig:") -> list[str]:
    names = ["Hips", "Spine", "Spine1", "Spine2", "Neck", "Head", "HeadTop_End", "LeftEye", "RightEye"]
    for side in ("Left", "Right"):
        names += [f"{side}Shoulder", f"{side}Arm", f"{side}ForeArm", f"{side}Hand"]
        names += [f"{side}Hand{f}{i}" for f in FINGERS for i in range(1, 5)]
        names += [f"{side}UpLeg", f"{side}Leg", f"{side}Foot", f"{side}ToeBase", f"{side}Toe_End"]
    return [prefix + n for n in names]


def cmu_bvh_bones() -> list[str]:
    names = ["Hips", "LowerBack", "Spine", "Spine1", "Neck", "Neck1", "Head"]
    for side, s in (("Left", "L"), ("Right", "R")):
        names += [f"{s}HipJoint", f"{side}UpLeg", f"{side}Leg", f"{side}Foot", f"{side}ToeBase"]
        names += [f"{side}Shoulder", f"{side}Arm", f"{side}ForeArm", f"{side}Hand", f"{side}FingerBase",
                  f"{side}HandIndex1", f"{s}Thumb"]
    return names


def metarig_bones(prefix: str = "") -> list[str]:
    names = ["spine"] + [f"spine.{i:03d}" for i in range(1, 7)] + ["face", "breast.L", "breast.R"]
    for s in ("L", "R"):
        names += [f"pelvis.{s}", f"thigh.{s}", f"shin.{s}", f"foot.{s}", f"toe.{s}", f"heel.02.{s}",
                  f"shoulder.{s}", f"upper_arm.{s}", f"forearm.{s}", f"hand.{s}", f"palm.01.{s}", f"f_index.01.{s}"]
    return [prefix + n for n in names]


def rigify_generated_bones() -> list[str]:
    """A generated rig: controls, ORG-, MCH- and DEF- bones (DEF limbs split in two segments)."""
    names = ["root", "torso", "hips", "chest", "neck", "head", "MCH-torso.parent"]
    names += metarig_bones("ORG-") + metarig_bones("DEF-")
    for s in ("L", "R"):
        names += [f"DEF-thigh.{s}.001", f"DEF-shin.{s}.001", f"DEF-upper_arm.{s}.001", f"DEF-forearm.{s}.001"]
        names += [f"thigh_fk.{s}", f"shin_fk.{s}", f"foot_fk.{s}", f"toe_fk.{s}", f"upper_arm_fk.{s}",
                  f"forearm_fk.{s}", f"hand_fk.{s}", f"thigh_ik.{s}", f"foot_ik.{s}", f"hand_ik.{s}", f"shoulder.{s}"]
    return names


def cc_base_bones() -> list[str]:
    names = ["RL_BoneRoot", "CC_Base_Hip", "CC_Base_Pelvis", "CC_Base_Waist", "CC_Base_Spine01", "CC_Base_Spine02",
             "CC_Base_NeckTwist01", "CC_Base_NeckTwist02", "CC_Base_Head", "CC_Base_FacialBone"]
    for s in ("L", "R"):
        names += [f"CC_Base_{s}_{b}" for b in ("Thigh", "Calf", "Foot", "ToeBase", "Clavicle", "Upperarm", "Forearm", "Hand")]
    return names


def daz_bones() -> list[str]:
    names = ["hip", "abdomen", "chest", "neck", "head", "leftEye", "rightEye"]
    for s in ("l", "r"):
        names += [f"{s}{b}" for b in ("Collar", "Shldr", "ForeArm", "Hand", "Buttock", "Thigh", "Shin", "Foot")]
    return names


def asf_bones() -> list[str]:
    names = ["root", "lowerback", "upperback", "thorax", "lowerneck", "upperneck", "head"]
    for s in ("l", "r"):
        names += [f"{s}{b}" for b in ("hipjoint", "femur", "tibia", "foot", "toes", "clavicle", "humerus", "radius",
                                      "wrist", "hand", "fingers", "thumb")]
    return names


RIGS = {
    "mixamo": mixamo_bones(),
    "mixamo1": mixamo_bones("mixamorig1:"),
    "mixamo_unprefixed": mixamo_bones(""),
    "cmu_bvh": cmu_bvh_bones(),
    "blender_metarig": metarig_bones(),
    "rigify_def": rigify_generated_bones(),
    "iclone_cc_base": cc_base_bones(),
    "daz_poser": daz_bones(),
    "cmu_asf": asf_bones(),
}
EXPECTED = {"mixamo1": "mixamo", "mixamo_unprefixed": "mixamo"}


def test_presets_load_and_map_the_body():
    presets = load_presets()
    assert set(RIGS) - set(EXPECTED) <= set(presets)
    skel = get_skeleton("anim19")
    for key, mapping in presets.items():
        assert mapping.skeleton == "anim19", key
        missing = set(skel.joints) - set(mapping.mapped_joints())
        # Only the head top may be absent (rigs without a bone reaching it).
        assert missing <= {"head"}, (key, missing)


@pytest.mark.parametrize("rig", sorted(RIGS))
def test_detects_preset(rig):
    found = detect_mapping(RIGS[rig])
    assert found is not None, rig
    key, fitted = found
    assert key == EXPECTED.get(rig, rig)
    # The fitted mapping uses the rig's own spelling.
    assert fitted.rig_bones <= set(RIGS[rig])


def test_mixamo1_prefix_kept_in_fitted_mapping():
    _, fitted = detect_mapping(mixamo_bones("mixamorig1:"))
    assert fitted.bone_for_joint("left_knee") == "mixamorig1:LeftLeg"
    assert fitted.bone_for_joint("head") == "mixamorig1:HeadTop_End"
    assert "mixamorig1:LeftToeBase" in fitted.tails


def test_unknown_rig_not_detected():
    assert detect_mapping(["Bone", "Bone.001", "Bone.002", "Arm_L", "Leg_R"]) is None


def test_mixamo_without_leaf_bones_still_detected():
    """Blender's FBX import with 'Ignore Leaf Bones' drops HeadTop_End and Toe_End."""
    bones = [b for b in mixamo_bones() if not b.endswith("_End")]
    key, fitted = detect_mapping(bones)
    assert key == "mixamo" and fitted.bone_for_joint("left_ankle") == "mixamorig:LeftFoot"
