# SPDX-License-Identifier: GPL-3.0-or-later
"""Complete Missing Joints: key the bones an armature's animation lacks.

What is missing: a bone the rig mapping drives with no keys in the frame range, or a
gap in a bone's captured (densely keyed) motion; an animator's sparse keys are never
gaps. Or, on request, the selected bones over the range. The mapped joints' positions
come from the action by forward kinematics in numpy (no frame stepping); the joints
those bones move are hidden from the completion, which fills them; the missing bones
are turned to follow the filled joints, blended into the neighbouring keys at the gap
edges, and keyed on the missing frames only. Every existing key stays bit-identical.
"""
from __future__ import annotations

import bpy
import numpy as np

from . import mapping_store
from .action_io import (
    bone_key_frames, bone_path, channel_values, evaluate_basis, fcurve_for, fcurve_map, insert_keys, rotation_channel,
)
from .completion import METHOD_LABELS, METHODS_3D, CompletionError, complete_positions, metres_per_unit
from .engine.gaps import edge_weights, missing_frames
from .engine.retarget import RetargetError, Retargeter
from .engine.rotations import matrix_to_euler, matrix_to_quaternion, quaternion_continuity, quaternion_to_matrix, slerp
from .panels import View3DSubPanel
from .rig_io import active_armature, armature_linear, armature_or_hint, posed_joints, rig_rest


def is_selected(pose_bone: bpy.types.PoseBone) -> bool:
    """Bone selection: on the pose bone from Blender 5.0, on the bone before."""
    return pose_bone.select if hasattr(pose_bone, "select") else pose_bone.bone.select


# Frames of motion read on each side of the range, as context for the completion.
CONTEXT = 60


class MPM_OT_complete_missing_joints(bpy.types.Operator):
    """Key the bones this armature's animation lacks (no keys, or gaps in captured motion), filled in by the model"""

    bl_idname = "mpm.complete_missing_joints"
    bl_label = "Complete Missing Joints"
    bl_options = {"REGISTER", "UNDO"}

    method: bpy.props.EnumProperty(name="Method", items=METHODS_3D, default="AUTO")
    selected_bones: bpy.props.BoolProperty(
        name="Selected Bones", default=False,
        description="Redo the selected bones over the frame range, instead of finding what is missing",
    )
    frame_start: bpy.props.IntProperty(name="Start", default=0, description="First frame (with End 0: the action's range)")
    frame_end: bpy.props.IntProperty(name="End", default=0, description="Last frame (0: the action's range)")
    blend: bpy.props.IntProperty(name="Blend Frames", default=4, min=0, max=100,
                                 description="Frames over which a filled gap eases into the neighbouring keys")

    @classmethod
    def poll(cls, context):
        if active_armature(context) is None:
            cls.poll_message_set("Select an armature")
            return False
        return True

    def execute(self, context):
        try:
            message = self._complete(context)
        except (CompletionError, RetargetError, mapping_store.MappingMissing) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, message)
        return {"FINISHED"}

    def _frames(self, obj) -> tuple[np.ndarray, np.ndarray]:
        """(frames to complete, frames to read): the range asked for (or the action's), and
        that range widened by up to ``CONTEXT`` frames of the action on each side, so a gap
        at the range's edge is filled from the motion around it."""
        action = obj.animation_data.action if obj.animation_data else None
        span = tuple(int(round(x)) for x in action.frame_range) if action is not None else None
        if self.frame_end > 0:
            if self.frame_end < self.frame_start:
                raise CompletionError(f"frame range {self.frame_start}-{self.frame_end} is empty: End must not be before Start")
            first, last = self.frame_start, self.frame_end
        elif span is None:
            raise CompletionError(f"{obj.name!r} has no action: nothing to complete (give a frame range to key a new one)")
        else:
            first, last = span
        lo, hi = (min(first, max(span[0], first - CONTEXT)), max(last, min(span[1], last + CONTEXT))) if span else (first, last)
        return np.arange(first, last + 1, dtype=np.float64), np.arange(lo, hi + 1, dtype=np.float64)

    def _missing(self, obj, candidates: dict[str, str], frames: np.ndarray, inside: np.ndarray) -> dict[str, np.ndarray]:
        if self.selected_bones:
            chosen = [pb.name for pb in obj.pose.bones if is_selected(pb) and pb.name in candidates]
            if not chosen:
                raise CompletionError(
                    "no selected bone is driven by the rig mapping: select some of " + ", ".join(sorted(candidates)[:8])
                )
            return {b: inside.copy() for b in chosen}
        out = {}
        for bone, role in candidates.items():
            props = [rotation_channel(obj.pose.bones[bone])[0]] + (["location"] if role == "pelvis" else [])
            m = missing_frames(bone_key_frames(obj, bone, props), frames) & inside
            if m.any():
                out[bone] = m
        return out

    def _complete(self, context) -> str:
        obj = context.object
        wanted, frames = self._frames(obj)
        inside = np.isin(frames, wanted)
        mapping, _ = mapping_store.mapping_for(obj)
        rig = rig_rest(obj)
        planner = Retargeter(rig, mapping)
        # Bridges (clavicles, CMU's LowerBack ...) are often left unkeyed on purpose: never "missing".
        candidates = {b: role for b, role in planner.driven_bones.items() if role != "bridge"}
        missing = self._missing(obj, candidates, frames, inside)
        first, last = int(wanted[0]), int(wanted[-1])
        if not missing:
            raise CompletionError(
                f"nothing missing to complete in frames {first}-{last}: every bone the mapping drives is keyed "
                "(to redo some, select them and enable Selected Bones)"
            )
        basis = evaluate_basis(obj, rig.names, frames)
        positions, mapped, _ = posed_joints(obj, rig, mapping, frames, basis)
        visible = mapped.copy()
        skel = mapping.skel
        for j, joint in enumerate(skel.joints):
            for bone in planner.joint_movers(joint) & set(missing):
                visible[:, j] &= ~missing[bone]
        if not (mapped & ~visible).any():
            raise CompletionError("the missing bones move no mapped joint: nothing to complete")
        if not visible.any():
            raise CompletionError("every joint is missing (the hips have no keys?): key the hips and body first")
        fps = context.scene.render.fps / context.scene.render.fps_base
        legs = planner.leg_length()
        unit = metres_per_unit(legs * np.cbrt(abs(np.linalg.det(armature_linear(obj)))) if legs else None,
                               context.scene.unit_settings.scale_length)
        filled = complete_positions(context, self.method, positions, visible, skel, fps, unit)
        unfilled = [skel.joints[j] for j in np.flatnonzero((mapped & ~np.isfinite(filled).all(-1)).any(0))]
        if unfilled:
            raise CompletionError(
                f"{self.method.lower()} cannot fill {', '.join(unfilled)}: missing on every frame read; use the model or Mirror"
            )
        targets = filled @ np.linalg.inv(armature_linear(obj)).T
        solver = Retargeter(rig, mapping, only=missing)
        root = [b for b in missing if candidates[b] == "pelvis"]
        result = solver.solve(targets, basis, root_scale=1.0, root_motion=bool(root))
        keys = 0
        for bone, solved in result.basis.items():
            keys += self._key_bone(obj, bone, frames, missing[bone], basis[bone], solved, bone in root)
        return (f"Completed {len(result.basis)} bones ({', '.join(sorted(result.basis))}) over frames {first}-{last} "
                f"with {keys} new keys ({METHOD_LABELS[self.method].lower()})")

    def _key_bone(self, obj, bone, frames, missing, existing, solved, with_location) -> int:
        keyed = bone_key_frames(obj, bone, [rotation_channel(obj.pose.bones[bone])[0], "location"])
        weight = edge_weights(missing, self.blend, keyed_before=bool((keyed < frames[0]).any()),
                              keyed_after=bool((keyed > frames[-1]).any()))
        q_old = matrix_to_quaternion(existing[:, :3, :3])
        q_new = slerp(q_old, matrix_to_quaternion(solved[:, :3, :3]), weight)
        pb = obj.pose.bones[bone]
        prop, size = rotation_channel(pb)
        current = channel_values(obj, fcurve_map(obj), bone, prop, size, frames)
        values = _rotation_values(pb.rotation_mode, current, q_new, missing)
        action = obj.animation_data.action
        rows = np.flatnonzero(missing)
        count = 0
        for i in range(values.shape[1]):
            fc = fcurve_for(action, obj, bone_path(bone, prop), i, bone)
            count += insert_keys(fc, frames[rows], values[rows, i])
        if with_location:
            loc = existing[:, :3, 3] + weight[:, None] * (solved[:, :3, 3] - existing[:, :3, 3])
            for i in range(3):
                fc = fcurve_for(action, obj, bone_path(bone, "location"), i, bone)
                count += insert_keys(fc, frames[rows], loc[rows, i])
        return count


def _rotation_values(mode: str, current: np.ndarray, q_new: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Channel values (F, 3|4) in ``mode``: the bone's ``current`` values (its curves),
    replaced on the missing frames by ``q_new`` continuously with the frames before each
    gap (no quaternion sign flip or 360-degree Euler jump against the existing keys)."""
    out = np.array(current, dtype=np.float64)
    d = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    runs = list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))
    if mode == "QUATERNION":
        for start, stop in runs:
            q = quaternion_continuity(q_new[start:stop])
            ref = out[start - 1] if start > 0 else out[start]
            out[start:stop] = -q if np.dot(q[0], ref) < 0 else q
    elif mode == "AXIS_ANGLE":
        q = quaternion_continuity(q_new)
        angle = 2 * np.arctan2(np.linalg.norm(q[:, 1:], axis=1), q[:, 0])
        axis = q[:, 1:] / np.maximum(np.linalg.norm(q[:, 1:], axis=1, keepdims=True), 1e-12)
        out[missing] = np.concatenate([angle[:, None], axis], axis=1)[missing]
    else:
        for start, stop in runs:
            previous = out[start - 1] if start > 0 else out[start]
            out[start:stop] = matrix_to_euler(quaternion_to_matrix(q_new[start:stop]), mode, previous)
    return out


class MPM_PT_complete(View3DSubPanel, bpy.types.Panel):
    bl_label = "Complete Missing Joints"
    bl_idname = "MPM_PT_complete"

    def draw(self, context):
        layout = self.layout
        obj = armature_or_hint(layout, context)
        if obj is None:
            return
        col = layout.column(align=True)
        col.operator(MPM_OT_complete_missing_joints.bl_idname, icon="MOD_ARMATURE").method = "AUTO"
        op = col.operator(MPM_OT_complete_missing_joints.bl_idname, text="Redo Selected Bones", icon="BONE_DATA")
        op.selected_bones = True
        op.frame_start, op.frame_end = context.scene.frame_start, context.scene.frame_end


classes = (MPM_OT_complete_missing_joints, MPM_PT_complete)

register, unregister = bpy.utils.register_classes_factory(classes)
