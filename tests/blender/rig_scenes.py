"""Armatures and actions for the rig tests, built in real Blender from tests/rigs.py."""
from __future__ import annotations

import bpy
import numpy as np

from .conftest import MODULE

CMU_CLIP = ("cmu_iclone", "002_01.bvh")  # walking: a real capture for completion and retargeting


def ext(name: str):
    from importlib import import_module

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


def key_basis(obj: bpy.types.Object, basis: np.ndarray, names: list[str], frames: np.ndarray, name: str) -> bpy.types.Action:
    """A new action on ``obj`` keying each bone's basis (F, B, 4, 4): quaternion and location."""
    action_io = ext("action_io")
    rotations = ext("engine.rotations")
    action = bpy.data.actions.new(name)
    action_io.assign_action(obj, action)
    for b, bone in enumerate(names):
        q = rotations.quaternion_continuity(rotations.matrix_to_quaternion(basis[:, b, :3, :3]))
        action_io.write_channel(obj, bone, "rotation_quaternion", frames, q)
        if np.abs(basis[:, b, :3, 3]).max() > 0:
            action_io.write_channel(obj, bone, "location", frames, basis[:, b, :3, 3])
    return action


def import_bvh(path) -> bpy.types.Object:
    bpy.ops.import_anim.bvh(filepath=str(path), update_scene_fps=True, update_scene_duration=True)
    return bpy.context.object


def world_joints(obj: bpy.types.Object, frames: np.ndarray) -> np.ndarray:
    """(F, J, 3) world joint positions of ``obj`` through its mapping, by frame stepping
    (Blender's own evaluation, independent of the extension's numpy FK)."""
    mapping, _ = ext("mapping_store").mapping_for(obj)
    scene = bpy.context.scene
    out = []
    for f in frames:
        scene.frame_set(int(f))
        heads = {pb.name: np.array(obj.matrix_world @ pb.head) for pb in obj.pose.bones}
        tails = {pb.name: np.array(obj.matrix_world @ pb.tail) for pb in obj.pose.bones}
        pos, _ = mapping.joint_positions({k: v[None] for k, v in heads.items()}, {k: v[None] for k, v in tails.items()})
        out.append(pos[0])
    return np.array(out)
