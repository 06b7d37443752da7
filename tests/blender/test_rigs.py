"""The user's own rig in real Blender: reading actions in numpy, retargeting, mapping presets."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import bpy
import numpy as np
import pytest

from ..rigs import humanoid_bones
from ..conftest import require_shared_data
from .conftest import RecordingLayout
from .rig_scenes import CMU_FIRST, build_armature, ensure_presets, ext, import_cmu, run_on, world_joints


@pytest.fixture
def cmu(scene):
    return import_cmu()


def test_numpy_curves_and_forward_kinematics_match_blender(cmu):
    """The extension reads a real BVH action (Euler ZYX, 60 fps) without stepping frames."""
    action_io, rig_io = ext("action_io"), ext("rig_io")
    frames = np.arange(CMU_FIRST, CMU_FIRST + 40, dtype=float)
    for fc in action_io.action_fcurves(cmu)[:20]:
        ours = action_io.evaluate(fc, frames + 0.5)  # between keys too
        theirs = np.array([fc.evaluate(f + 0.5) for f in frames])
        assert np.abs(ours - theirs).max() < 1e-4, fc.data_path
    rig = rig_io.rig_rest(cmu)
    assert np.allclose(rig.matrices[5], np.array(cmu.data.bones[5].matrix_local), atol=1e-6)
    mapping, _ = ext("mapping_store").mapping_for(cmu)
    ours, visible, _ = rig_io.posed_joints(cmu, rig, mapping, frames)
    truth = world_joints(cmu, frames)
    assert np.abs(ours[visible] - truth[visible]).max() < 1e-5


def test_auto_detected_preset_reads_a_cmu_import(cmu):
    mapping, origin = ext("mapping_store").mapping_for(cmu)
    assert origin.startswith("preset")
    assert len(mapping.mapped_joints()) >= 17
    assert len(cmu.mpm_mapping.joints) == 19  # stored on the armature for review


LIMBS = [(f"{side}_{a}", f"{side}_{b}") for side in ("left", "right")
         for a, b in (("hip", "knee"), ("knee", "ankle"), ("ankle", "toe"), ("shoulder", "elbow"), ("elbow", "wrist"))]


def _bone_lengths_kept(target, frames):
    """The limbs of the target (one bone from joint to joint) never change length."""
    joints = world_joints(target, frames)
    skel = ext("mapping_store").mapping_for(target)[0].skel
    for a, b in LIMBS:
        d = np.linalg.norm(joints[:, skel.index(b)] - joints[:, skel.index(a)], axis=-1)
        assert np.ptp(d) < 1e-5 * d.mean(), f"{a}-{b} changes length by {np.ptp(d):.6f}"
    return joints


@pytest.mark.parametrize("style,pose", [("metarig", "A"), ("mixamo", "T"), ("bvh", None)])
def test_retarget_real_motion_keeps_the_rigs_bone_lengths(cmu, style, pose):
    if style == "bvh":  # another capture's BVH import (Euler channels, its own action) as the target
        bpy.ops.import_anim.bvh(filepath=str(require_shared_data("cmu_iclone", "001_01.bvh")), global_scale=0.01)
        target = bpy.context.object
        target.location.x = 1.5
    else:
        ensure_presets("blender_metarig" if style == "metarig" else "mixamo")
        bones = humanoid_bones(style, pose, size=1.15, proportions={"LeftLeg": 0.9, "RightLeg": 0.9}, roll_seed=4)
        if style == "mixamo":
            bones = [("mixamorig:" + n, p and "mixamorig:" + p, h, t, r) for n, p, h, t, r in bones]
        target = build_armature(f"{style} rig", bones, rotation_mode="XYZ" if style == "metarig" else "QUATERNION")
    result = run_on(target, bpy.ops.mpm.retarget, source=cmu.name, lock_feet=False, align_floor=False)
    assert result == {"FINISHED"}
    assert target.animation_data.action.name.startswith(cmu.animation_data.action.name)
    frames = np.arange(CMU_FIRST, CMU_FIRST + 120, 7, dtype=float)
    ours = _bone_lengths_kept(target, frames)
    source = world_joints(cmu, frames)
    skel = ext("mapping_store").mapping_for(target)[0].skel
    for a, b in (("left_hip", "left_knee"), ("right_knee", "right_ankle"), ("left_shoulder", "left_elbow"),
                 ("right_elbow", "right_wrist"), ("spine", "thorax")):
        va = source[:, skel.index(b)] - source[:, skel.index(a)]
        vb = ours[:, skel.index(b)] - ours[:, skel.index(a)]
        cos = np.sum(va * vb, -1) / np.linalg.norm(va, axis=-1) / np.linalg.norm(vb, axis=-1)
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 1.0, f"{a}-{b}"


def test_retarget_with_locked_feet_keeps_planted_feet_still(cmu):
    ensure_presets("blender_metarig")
    target = build_armature("metarig", humanoid_bones("metarig", "A", proportions={"LeftLeg": 0.8, "RightLeg": 0.8}))
    assert run_on(target, bpy.ops.mpm.retarget, source=cmu.name, lock_feet=True, align_floor=True) == {"FINISHED"}
    start, end = (int(x) for x in cmu.animation_data.action.frame_range)
    frames = np.arange(start, end + 1, dtype=float)
    joints = _bone_lengths_kept(target, frames)
    skel = ext("engine.skeleton").get_skeleton("anim19")
    contacts = ext("engine.feet").detect_contacts(world_joints(cmu, frames), skel, bpy.context.scene.render.fps)
    steps = 0
    for k, joint in enumerate(contacts.joints):
        for s, e in contacts.intervals(k):
            if joint.endswith("ankle"):
                drift = np.ptp(joints[s : e + 1, skel.index(joint)], axis=0).max()
                assert drift < 1e-4, f"{joint} slides {drift * 1000:.1f} mm in a contact"
                steps += 1
    assert steps >= 3  # a walk: both feet plant
    # Feet on the floor: the lowest ankle contacts at the rig's standing ankle height.
    rest_ankle = np.array(target.matrix_world @ target.data.bones["foot.L"].head_local)[2]
    planted = [joints[contacts.contact[:, k], skel.index(j), 2] for k, j in enumerate(contacts.joints) if j.endswith("ankle")]
    assert np.percentile(np.concatenate(planted), 5) == pytest.approx(rest_ankle, abs=0.005)


def test_retarget_limited_to_arms_keeps_the_rest_of_the_animation(cmu):
    ensure_presets("mixamo")
    bones = humanoid_bones("mixamo", "T")
    target = build_armature("mixamo", bones)
    assert run_on(target, bpy.ops.mpm.retarget, source=cmu.name, lock_feet=False) == {"FINISHED"}
    first = target.animation_data.action
    before = ext("action_io").keys_snapshot(target)
    assert run_on(target, bpy.ops.mpm.retarget, source=cmu.name, parts={"left_arm", "right_arm"}) == {"FINISHED"}
    second = target.animation_data.action
    assert second != first and ext("action_io").keys_snapshot(target).keys() == before.keys()
    after = ext("action_io").keys_snapshot(target)
    arm_bones = ("Shoulder", "Arm", "ForeArm")
    for (path, index), fields in before.items():
        if not any(f'"Left{b}"' in path or f'"Right{b}"' in path for b in arm_bones):
            assert all(np.array_equal(fields[k], after[(path, index)][k]) for k in fields), path
    assert first.name in bpy.data.actions  # the earlier action is kept, unchanged


def test_mapping_preset_round_trips_through_the_user_folder(scene):
    rig = build_armature("Custom", humanoid_bones("cmu", size=1.0))
    # A rig no shipped preset names: map it by hand, save it, and find it again.
    for bone in rig.data.bones:
        bone.name = "x_" + bone.name
    rigs_mapping = ext("engine.rig_mapping")
    from ..rigs import mapping_for

    mapping = mapping_for("cmu").renamed({b: "x_" + b for b in mapping_for("cmu").rig_bones})
    ext("mapping_store").store_mapping(rig, mapping)
    assert run_on(rig, bpy.ops.mpm.mapping_save_preset, name="My Studio Rig") == {"FINISHED"}
    path = ext("mapping_store").user_preset_dir() / "my_studio_rig.json"
    saved = rigs_mapping.RigMapping.load(path)
    assert saved.bones == mapping.bones and saved.tails == mapping.tails and saved.derived == mapping.derived
    assert json.loads(path.read_text())["name"] == "My Studio Rig"
    # A second armature with the same bone names is detected with the saved preset.
    other = build_armature("Other", [("x_" + n, p and "x_" + p, h, t, r) for n, p, h, t, r in humanoid_bones("cmu")])
    assert run_on(other, bpy.ops.mpm.mapping_detect) == {"FINISHED"}
    stored = ext("mapping_store").stored_mapping(other)
    assert stored.bones == mapping.bones and stored.name == "My Studio Rig"
    # Editing a row changes the mapping the operators use.
    row = next(item for item in other.mpm_mapping.joints if item.joint == "head")
    row.source = "NONE"
    assert "head" not in ext("mapping_store").stored_mapping(other).mapped_joints()


def test_retarget_errors_say_what_is_missing(cmu):
    unmapped = build_armature("Tentacle", [("seg1", None, (0, 0, 0), (0, 0, 1), 0.0), ("seg2", "seg1", (0, 0, 1), (0, 0, 2), 0.0)])
    with pytest.raises(RuntimeError, match="no rig mapping fits 'Tentacle'"):
        run_on(unmapped, bpy.ops.mpm.retarget, source=cmu.name)
    with pytest.raises(RuntimeError, match="same armature"):
        run_on(cmu, bpy.ops.mpm.retarget, source=cmu.name)
    with pytest.raises(RuntimeError, match="no source armature"):
        run_on(cmu, bpy.ops.mpm.retarget, source="Nothing")
    bpy.ops.object.select_all(action="DESELECT")
    empty = bpy.data.objects.new("Empty", None)
    bpy.context.scene.collection.objects.link(empty)
    with bpy.context.temp_override(active_object=empty, object=empty):
        assert not bpy.ops.mpm.retarget.poll()


def test_rig_panels_draw(cmu):
    ext("mapping_store").mapping_for(cmu)
    bpy.context.scene.mpm_retarget.source = cmu
    for panel in (bpy.types.MPM_PT_rig_mapping, bpy.types.MPM_PT_retarget, bpy.types.MPM_PT_complete):
        layout = RecordingLayout()
        with bpy.context.temp_override(object=cmu, active_object=cmu):
            panel.draw(type("PanelStandIn", (), {"layout": layout})(), bpy.context)
        assert layout.log, panel
    names = [args[0] for name, args, _ in layout.log if name == "operator"]
    assert "mpm.complete_missing_joints" in names


def test_retarget_onto_a_generated_rigify_rig(extension, tmp_path):
    """Blender's human metarig follows the motion, and so does the rig Rigify generates from
    it, keyed on its FK controls (checked through its ORG bones).

    Run in a separate Blender process: once Rigify is enabled, bpy 4.2 (as a Python module)
    crashes on exit, which would fail the whole suite's process."""
    ensure_presets("blender_metarig", "iclone_cc_base")
    result_file = tmp_path / "rigify.json"
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("rigify_check.py")), str(result_file)],
                          cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=600)
    assert result_file.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(result_file.read_text())
    assert result["finished"], result
    assert result["objects_left"] == 0 and result["bake_constraints_left"] == 0  # helper and constraints are gone
    for control in ("thigh_fk.L", "shin_fk.R", "upper_arm_fk.L", "forearm_fk.R", "torso", "chest", "head"):
        assert control in result["keyed"], control
    assert result["ik_fk_keyed"]
    for (a, b), limit in [(pair, 1.0) for pair in LIMBS] + [(("spine", "thorax"), 6.0)]:
        assert result["angles"][f"{a}-{b}"] < limit, (a, b, result["angles"])
    assert result["metarig_finished"]
    for (a, b), limit in [(pair, 1.0) for pair in LIMBS] + [(("spine", "thorax"), 1.0)]:
        assert result["metarig_angles"][f"{a}-{b}"] < limit, (a, b, result["metarig_angles"])
