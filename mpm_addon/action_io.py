# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading and writing an armature's action in bulk, on the 4.2 and the slotted 4.4+ API.

* Reading: every F-curve's keyframes come out with ``foreach_get`` and are evaluated at
  all frames at once by ``engine.fk`` (Blender's own ``FCurve.evaluate`` only for curves
  numpy cannot reproduce: modifiers, easing interpolations).
* Writing: new keys go in with ``keyframe_points.add`` + ``foreach_set``; keys already on
  a curve stay bit-identical (frame, value, handles, handle types, interpolation).
"""
from __future__ import annotations

from typing import Iterable

import bpy
import numpy as np

from .engine.fk import FCurveError, FCurveKeys, basis_matrices, evaluate_fcurve

ROTATION_PATHS = {"QUATERNION": ("rotation_quaternion", 4), "AXIS_ANGLE": ("rotation_axis_angle", 4)}
_INTERPOLATION = {i.identifier: i.value for i in bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items}


def bone_path(bone: str, prop: str) -> str:
    return f'pose.bones["{bpy.utils.escape_identifier(bone)}"].{prop}'


def rotation_channel(pose_bone: bpy.types.PoseBone) -> tuple[str, int]:
    """(property, size) that holds ``pose_bone``'s rotation in its rotation mode."""
    return ROTATION_PATHS.get(pose_bone.rotation_mode, ("rotation_euler", 3))


def action_fcurves(obj: bpy.types.Object) -> list[bpy.types.FCurve]:
    """The F-curves animating ``obj`` through its assigned action (its slot's on 4.4+)."""
    anim = obj.animation_data
    if anim is None or anim.action is None:
        return []
    if bpy.app.version >= (4, 4):
        from bpy_extras import anim_utils

        bag = anim_utils.animdata_get_channelbag_for_assigned_slot(anim)
        return list(bag.fcurves) if bag is not None else []
    return list(anim.action.fcurves)


def fcurve_map(obj: bpy.types.Object) -> dict[tuple[str, int], bpy.types.FCurve]:
    return {(fc.data_path, fc.array_index): fc for fc in action_fcurves(obj)}


def fcurve_for(action: bpy.types.Action, obj: bpy.types.Object, data_path: str, index: int, group: str) -> bpy.types.FCurve:
    """The F-curve of ``action`` (assigned to ``obj``) for ``data_path[index]``, made if absent."""
    if hasattr(action, "fcurve_ensure_for_datablock"):  # Blender 4.4+: slotted actions
        return action.fcurve_ensure_for_datablock(obj, data_path, index=index, group_name=group)
    existing = action.fcurves.find(data_path, index=index)
    return existing or action.fcurves.new(data_path, index=index, action_group=group)


def remove_fcurve(obj: bpy.types.Object, fcurve: bpy.types.FCurve) -> None:
    """Delete one of the F-curves animating ``obj``."""
    if bpy.app.version >= (4, 4):
        from bpy_extras import anim_utils

        anim_utils.animdata_get_channelbag_for_assigned_slot(obj.animation_data).fcurves.remove(fcurve)
    else:
        obj.animation_data.action.fcurves.remove(fcurve)


def write_channel(obj: bpy.types.Object, bone: str, prop: str, frames: np.ndarray, values: np.ndarray) -> int:
    """Key ``pose.bones[bone].prop`` at ``frames`` with ``values`` (F, size), replacing any
    F-curves it had (dense, linearly interpolated keys). Returns the keys written."""
    path = bone_path(bone, prop)
    for fc in action_fcurves(obj):
        if fc.data_path == path:
            remove_fcurve(obj, fc)
    action = obj.animation_data.action
    for i in range(values.shape[1]):
        insert_keys(fcurve_for(action, obj, path, i, bone), frames, values[:, i])
    return values.size


def assign_action(obj: bpy.types.Object, action: bpy.types.Action) -> None:
    """Make ``action`` ``obj``'s active action (with a slot for it on 4.4+)."""
    if obj.animation_data is None:
        obj.animation_data_create()
    anim = obj.animation_data
    anim.action = action
    if bpy.app.version >= (4, 4) and anim.action_slot is None and len(action.slots):
        anim.action_slot = action.slots[0]


def read_keys(fcurve: bpy.types.FCurve) -> FCurveKeys:
    """The curve's keyframes as arrays; :class:`FCurveError` when numpy cannot evaluate it."""
    if len(fcurve.modifiers):
        raise FCurveError(f"{fcurve.data_path}[{fcurve.array_index}] has modifiers")
    points = fcurve.keyframe_points
    n = len(points)
    arrays = {}
    for name in ("co", "handle_left", "handle_right"):
        a = np.empty(2 * n, dtype=np.float32)
        points.foreach_get(name, a)
        arrays[name] = a.reshape(n, 2).astype(np.float64)
    ipo = np.empty(n, dtype=np.int32)
    points.foreach_get("interpolation", ipo)
    return FCurveKeys(arrays["co"], arrays["handle_left"], arrays["handle_right"], ipo, fcurve.extrapolation)


def key_frames(fcurve: bpy.types.FCurve) -> np.ndarray:
    n = len(fcurve.keyframe_points)
    co = np.empty(2 * n, dtype=np.float32)
    fcurve.keyframe_points.foreach_get("co", co)
    return co[0::2].astype(np.float64)


def evaluate(fcurve: bpy.types.FCurve, frames: np.ndarray) -> np.ndarray:
    """The curve's values at ``frames``: numpy when it can, else Blender's evaluation."""
    try:
        keys = read_keys(fcurve)
        if len(keys.co):
            return evaluate_fcurve(keys, frames)
    except FCurveError:
        pass
    return np.array([fcurve.evaluate(float(f)) for f in frames])


def channel_values(
    obj: bpy.types.Object, curves: dict, bone: str, prop: str, size: int, frames: np.ndarray
) -> np.ndarray:
    """(F, size) values of ``pose.bones[bone].prop``: its F-curves, else its current value."""
    current = np.array(getattr(obj.pose.bones[bone], prop), dtype=np.float64).reshape(size)
    out = np.tile(current, (len(frames), 1))
    path = bone_path(bone, prop)
    for i in range(size):
        fc = curves.get((path, i))
        if fc is not None and len(fc.keyframe_points):
            out[:, i] = evaluate(fc, frames)
    return out


def evaluate_basis(obj: bpy.types.Object, bones: Iterable[str], frames: np.ndarray) -> dict[str, np.ndarray]:
    """Each bone's local transform (F, 4, 4) at ``frames`` from the action, no frame stepping."""
    curves = fcurve_map(obj)
    out = {}
    for bone in bones:
        pb = obj.pose.bones[bone]
        prop, size = rotation_channel(pb)
        out[bone] = basis_matrices(
            location=channel_values(obj, curves, bone, "location", 3, frames),
            rotation=channel_values(obj, curves, bone, prop, size, frames),
            rotation_mode=pb.rotation_mode,
            scale=channel_values(obj, curves, bone, "scale", 3, frames),
        )
    return out


def bone_key_frames(obj: bpy.types.Object, bone: str, props: Iterable[str]) -> np.ndarray:
    """Frames keyed on any channel of ``props`` of a bone (sorted, unique)."""
    paths = {bone_path(bone, p) for p in props}
    found = [key_frames(fc) for fc in action_fcurves(obj) if fc.data_path in paths]
    return np.unique(np.concatenate(found)) if found else np.zeros(0)


def insert_keys(fcurve: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray) -> int:
    """Add keys at ``frames`` (where the curve has none), leaving its keys bit-identical.

    New keys take the interpolation of the key before them (linear if none). Returns the
    number of keys added."""
    points = fcurve.keyframe_points
    old = _snapshot(points)
    have = set(old["co"][:, 0].tolist())
    frames = np.asarray(frames, dtype=np.float32)
    new = np.array([f not in have for f in frames.tolist()], dtype=bool)
    frames, values = frames[new], np.asarray(values, dtype=np.float32)[new]
    if not len(frames):
        return 0
    n_old = len(old["co"])
    points.add(len(frames))
    total = n_old + len(frames)
    co = np.empty((total, 2), dtype=np.float32)
    points.foreach_get("co", co.ravel())
    co[n_old:, 0], co[n_old:, 1] = frames, values
    points.foreach_set("co", co.ravel())
    ipo = np.full(len(frames), _INTERPOLATION["LINEAR"], dtype=np.int32)
    if n_old:
        before = np.searchsorted(old["co"][:, 0], frames) - 1
        ipo = np.where(before >= 0, old["interpolation"][np.maximum(before, 0)], ipo)
    all_ipo = np.empty(total, dtype=np.int32)
    points.foreach_get("interpolation", all_ipo)
    all_ipo[n_old:] = ipo
    points.foreach_set("interpolation", all_ipo)
    fcurve.update()  # sorts by frame, sets the new keys' automatic handles
    _restore(points, old)
    return len(frames)


_KEY_FIELDS = {"co": (2, np.float32), "handle_left": (2, np.float32), "handle_right": (2, np.float32),
               "handle_left_type": (1, np.int32), "handle_right_type": (1, np.int32), "interpolation": (1, np.int32),
               "easing": (1, np.int32), "type": (1, np.int32)}


def _snapshot(points) -> dict[str, np.ndarray]:
    n = len(points)
    out = {}
    for name, (width, dtype) in _KEY_FIELDS.items():
        a = np.empty(n * width, dtype=dtype)
        points.foreach_get(name, a)
        out[name] = a.reshape(n, width) if width > 1 else a
    return out


def _restore(points, old: dict[str, np.ndarray]) -> None:
    """Put the snapshot's keys back exactly (the update may have moved their handles)."""
    if not len(old["co"]):
        return
    now = _snapshot(points)
    rows = np.searchsorted(now["co"][:, 0], old["co"][:, 0])
    for name in _KEY_FIELDS:
        now[name][rows] = old[name]
        points.foreach_set(name, now[name].ravel())


def keys_snapshot(obj: bpy.types.Object) -> dict[tuple[str, int], dict[str, np.ndarray]]:
    """Every key of ``obj``'s action, field by field (to check that keys stayed as they were)."""
    return {(fc.data_path, fc.array_index): _snapshot(fc.keyframe_points) for fc in action_fcurves(obj)}
