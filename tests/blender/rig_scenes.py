"""Armatures, actions and clips for the rig tests, built in real Blender (bones from tests/rigs.py)."""
from __future__ import annotations

import os
import shutil
from importlib import import_module
from pathlib import Path

import bpy
import numpy as np
import pytest

from ..conftest import require_shared_data
from .conftest import MODULE

CMU_CLIP = ("cmu_iclone", "002_01.bvh")  # a real walk, 60 fps, in centimetres
CMU_FIRST = 2  # frame 1 of these files is a prepended T-pose


def ext(name: str):
    """A module of the installed extension."""
    return import_module(f"{MODULE}.{name}")


def build_armature(name: str, bones, rotation_mode: str = "QUATERNION") -> bpy.types.Object:
    """An armature object from (name, parent, head, tail, roll) tuples (tests/rigs.py)."""
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    with bpy.context.temp_override(active_object=obj, object=obj, edit_object=obj):
        bpy.ops.object.mode_set(mode="EDIT")
        made = {}
        for bone_name, parent, head, tail, roll in bones:
            eb = data.edit_bones.new(bone_name)
            eb.head, eb.tail, eb.roll = tuple(head), tuple(tail), roll
            made[bone_name] = eb
        for bone_name, parent, head, tail, roll in bones:
            if parent:
                made[bone_name].parent = made[parent]
                made[bone_name].use_connect = bool(np.allclose(made[parent].tail, head))
        bpy.ops.object.mode_set(mode="OBJECT")
    for pb in obj.pose.bones:
        pb.rotation_mode = rotation_mode
    return obj


def key_basis(obj: bpy.types.Object, basis: np.ndarray, frames: np.ndarray, name: str) -> bpy.types.Action:
    """A new action on ``obj`` keying every bone's basis (F, B, 4, 4) in bone order."""
    action_io = ext("action_io")
    rotations = ext("engine.rotations")
    action = bpy.data.actions.new(name)
    action_io.assign_action(obj, action)
    for b, bone in enumerate(obj.data.bones):
        q = rotations.quaternion_continuity(rotations.matrix_to_quaternion(basis[:, b, :3, :3]))
        action_io.write_channel(obj, bone.name, "rotation_quaternion", frames, q)
        if np.abs(basis[:, b, :3, 3]).max() > 0:
            action_io.write_channel(obj, bone.name, "location", frames, basis[:, b, :3, 3])
    return action


def ensure_presets(*names: str) -> None:
    """The shipped presets ``names`` must exist; before the presets are merged a developer
    may point MPM_TEST_MAPPINGS at a folder holding them (copied to the user presets)."""
    shipped = ext("engine.rig_mapping").load_presets()
    lacking = [n for n in names if n not in shipped]
    extra = os.environ.get("MPM_TEST_MAPPINGS")
    if lacking and extra:
        user = ext("mapping_store").user_preset_dir()
        for n in lacking:
            shutil.copy(Path(extra) / f"{n}.json", user)
        lacking = []
    if lacking:
        message = f"the extension ships no rig-mapping preset {lacking} (assets/mappings)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)


def import_cmu() -> bpy.types.Object:
    """The real CMU walk as an armature with its action (in metres, 60 fps)."""
    path = require_shared_data(*CMU_CLIP)
    ensure_presets("iclone_cc_base")
    bpy.ops.import_anim.bvh(filepath=str(path), global_scale=0.01, update_scene_fps=True, update_scene_duration=True)
    return bpy.context.object


def world_joints(obj: bpy.types.Object, frames: np.ndarray, mapping=None) -> np.ndarray:
    """(F, J, 3) world joint positions of ``obj`` through ``mapping`` (default: the one stored
    on it), by frame stepping: Blender's own evaluation, independent of the extension's numpy
    forward kinematics."""
    if mapping is None:
        mapping, _ = ext("mapping_store").mapping_for(obj)
    scene = bpy.context.scene
    out = []
    for f in frames:
        scene.frame_set(int(f))
        heads = {pb.name: np.array(obj.matrix_world @ pb.head)[None] for pb in obj.pose.bones}
        tails = {pb.name: np.array(obj.matrix_world @ pb.tail)[None] for pb in obj.pose.bones}
        out.append(mapping.joint_positions(heads, tails)[0][0])
    return np.array(out)


def run_on(obj: bpy.types.Object, operator, **props):
    """Run ``operator`` with ``obj`` active and selected (as a user would)."""
    bpy.context.view_layer.objects.active = obj
    with bpy.context.temp_override(active_object=obj, object=obj, selected_objects=[obj]):
        return operator(**props)


def delete_keys(obj: bpy.types.Object, bones: list[str], first: int, last: int) -> None:
    """Remove the keys of ``bones`` on frames first..last (a capture that lost them)."""
    for fc in ext("action_io").action_fcurves(obj):
        if any(f'"{b}"' in fc.data_path for b in bones):
            points = fc.keyframe_points
            for k in reversed(range(len(points))):
                if first <= points[k].co[0] <= last:
                    points.remove(points[k], fast=True)
            fc.update()


def one_frame_clip(folder: Path, size=(640, 480)) -> bpy.types.MovieClip:
    """A movie clip (one blank PNG) to hang tracks on."""
    img = bpy.data.images.new("frame", *size)
    img.filepath_raw = str(folder / "frame_0001.png")
    img.file_format = "PNG"
    img.save()
    clip = bpy.data.movieclips.load(img.filepath_raw)
    bpy.context.scene.active_clip = clip
    return clip
