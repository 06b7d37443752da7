# SPDX-License-Identifier: GPL-3.0-or-later
"""Fast key baking on every supported action API, and the generated MPM armature.

Keys go in through ``keyframe_points.add`` + ``foreach_set`` (never ``keyframe_insert``
per frame). F-curves come from :mod:`.action_io`, which covers both the 4.2 and the
slotted 4.4+ action API.
"""
from __future__ import annotations

from typing import Iterable

import bpy
import numpy as np

from .action_io import assign_action, bone_path, fcurve_for
from .engine.armature import RestPose, Rig

# Custom properties the extension leaves on what it makes.
SKELETON_PROP = "mpm_skeleton"
LENGTHS_PROP = "mpm_bone_lengths"


def new_action(name: str, obj: bpy.types.Object) -> bpy.types.Action:
    """A new action (a unique name next to existing ones, never a reuse) assigned to ``obj``."""
    action = bpy.data.actions.new(name)
    assign_action(obj, action)
    return action


def write_keys(fcurve: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray) -> None:
    """Key ``values`` at ``frames`` in one go, linearly interpolated (dense baked keys)."""
    n = len(frames)
    points = fcurve.keyframe_points
    points.add(n)
    co = np.empty(2 * n, dtype=np.float32)
    co[0::2] = frames
    co[1::2] = values
    points.foreach_set("co", co)
    points.foreach_set("interpolation", np.full(n, _LINEAR, dtype=np.int32))
    fcurve.update()


_LINEAR = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value


def bake_pose(
    obj: bpy.types.Object,
    action: bpy.types.Action,
    bone_names: Iterable[str],
    frames: np.ndarray,
    quaternions: np.ndarray,
    root_bone: str,
    root_location: np.ndarray,
) -> int:
    """Key every bone's rotation (quaternions (F,B,4) w-x-y-z) and the root bone's
    location (F,3) at scene ``frames`` (F,). Returns the number of F-curves written."""
    count = 0
    for b, name in enumerate(bone_names):
        path = bone_path(name, "rotation_quaternion")
        for i in range(4):
            write_keys(fcurve_for(action, obj, path, i, name), frames, quaternions[:, b, i])
            count += 1
    path = bone_path(root_bone, "location")
    for i in range(3):
        write_keys(fcurve_for(action, obj, path, i, root_bone), frames, root_location[:, i])
        count += 1
    return count


def new_armature(
    name: str, rest: RestPose, collection: bpy.types.Collection, view_layer: bpy.types.ViewLayer
) -> bpy.types.Object:
    """An armature object with the MPM bones in ``rest`` (heads, tails and rolls), marked
    with its skeleton and bone lengths (joint order) so a later lift can reuse them."""
    data = bpy.data.armatures.new(name)
    data.display_type = "OCTAHEDRAL"
    obj = bpy.data.objects.new(name, data)
    collection.objects.link(obj)
    obj.show_in_front = True
    rig = rest.rig
    previous_active = view_layer.objects.active
    view_layer.objects.active = obj
    with bpy.context.temp_override(active_object=obj, object=obj, edit_object=obj):
        bpy.ops.object.mode_set(mode="EDIT")
        try:
            bones = []
            for b, bone_name in enumerate(rig.names):
                bone = data.edit_bones.new(bone_name)
                bone.head = rest.heads[b]
                bone.tail = rest.tails[b]
                bone.align_roll(rest.z_axes[b])
                p = rig.parent[b]
                if p >= 0:
                    bone.parent = bones[p]
                    bone.use_connect = bool(np.allclose(rest.heads[b], rest.tails[p]))
                bones.append(bone)
        finally:
            bpy.ops.object.mode_set(mode="OBJECT")
    for pose_bone in obj.pose.bones:
        pose_bone.rotation_mode = "QUATERNION"
    obj[SKELETON_PROP] = rig.skeleton.name
    obj[LENGTHS_PROP] = [float(x) for x in rest.lengths]
    view_layer.objects.active = previous_active if previous_active is not None else obj
    return obj


def rest_from_armature(obj: bpy.types.Object, rig: Rig) -> RestPose:
    """The rest pose of an armature made by :func:`new_armature` (as it is now, so edits
    to its rest pose are respected). ``ValueError`` when it lacks one of ``rig``'s bones."""
    bones = obj.data.bones
    missing = [name for name in rig.names if name not in bones]
    if missing:
        raise ValueError(f"armature {obj.name!r} lacks the MPM bones {missing}: lift onto a new armature")
    joints = np.zeros((rig.skeleton.num_joints, 3))
    matrices = np.zeros((rig.num_bones, 3, 3))
    for b, name in enumerate(rig.names):
        bone = bones[name]
        joints[rig.head[b]] = bone.head_local
        joints[rig.tail[b]] = bone.tail_local
        matrices[b] = np.array(bone.matrix_local)[:3, :3]
    return RestPose(rig, joints, matrices)
