# SPDX-License-Identifier: GPL-3.0-or-later
"""Retarget Motion: drive the user's own rig with the motion of another armature.

The source is any armature whose joints a rig mapping gives (the MPM armature a lift
bakes, a BVH import, a Mixamo character ...). Its action is read by forward kinematics
in numpy, the joint positions are retargeted onto the active armature by
``engine.retarget`` (bone lengths kept, knees and elbows as hinges, root motion scaled
by leg length, optionally feet locked and on the floor) and keyed into a **new** action:
the rig's existing actions are never changed. With some body parts chosen, the new
action starts as a copy of the rig's current one, so the other parts keep their motion.
"""
from __future__ import annotations

import bpy
import numpy as np

from . import mapping_store
from .action_io import assign_action, evaluate_basis, rotation_channel, write_channel
from .engine.retarget import RetargetError, Retargeter, motion_targets
from .engine.skeleton import get_skeleton
from .rig_io import armature_linear, posed_joints, rig_rest

PARTS = tuple(get_skeleton("anim19").limbs)
PART_ITEMS = tuple((p, p.replace("_", " ").title(), f"Retarget the {p.replace('_', ' ')}") for p in PARTS)


def _is_armature(self, obj) -> bool:
    return obj.type == "ARMATURE"


class MPMRetargetSettings(bpy.types.PropertyGroup):
    source: bpy.props.PointerProperty(name="Source", type=bpy.types.Object, poll=_is_armature,
                                      description="Armature whose motion drives the active rig")


class MPM_OT_retarget(bpy.types.Operator):
    """Drive the active armature with the source armature's motion, keyed into a new action"""

    bl_idname = "mpm.retarget"
    bl_label = "Retarget Motion"
    bl_options = {"REGISTER", "UNDO"}

    source: bpy.props.StringProperty(name="Source", description="Source armature (default: the one set in the panel)")
    parts: bpy.props.EnumProperty(name="Body Parts", items=PART_ITEMS, options={"ENUM_FLAG"}, default=set(PARTS),
                                  description="Retarget only these parts; the others keep the rig's current animation")
    lock_feet: bpy.props.BoolProperty(name="Lock Feet", default=True,
                                      description="Hold feet still while they touch the ground (no sliding)")
    align_floor: bpy.props.BoolProperty(name="Feet on Floor", default=True,
                                        description="Move the motion up or down so the lowest steps stand on the rig's floor")
    root_motion: bpy.props.BoolProperty(name="Root Motion", default=True,
                                        description="Move the rig through space (else the hips turn in place)")

    @classmethod
    def poll(cls, context):
        obj = context.object
        if obj is None or obj.type != "ARMATURE":
            cls.poll_message_set("Select the armature to drive (the target rig)")
            return False
        return True

    def execute(self, context):
        try:
            message = self._retarget(context)
        except (RetargetError, mapping_store.MappingMissing, ValueError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, message)
        return {"FINISHED"}

    def _retarget(self, context) -> str:
        target = context.object
        source = bpy.data.objects.get(self.source) if self.source else context.scene.mpm_retarget.source
        if source is None or source.type != "ARMATURE":
            raise RetargetError(f"no source armature {self.source!r}: choose the armature whose motion to use"
                                if self.source else "no source armature: choose one in the Retarget panel")
        if source == target:
            raise RetargetError("the source and the target are the same armature: choose another source")
        src_action = source.animation_data.action if source.animation_data else None
        if src_action is None:
            raise RetargetError(f"the source {source.name!r} has no action to retarget")
        if not self.parts:
            raise RetargetError("no body part chosen: choose at least one")
        start, end = (int(round(x)) for x in src_action.frame_range)
        frames = np.arange(start, end + 1, dtype=np.float64)
        src_mapping, _ = mapping_store.mapping_for(source)
        motion, _, _ = posed_joints(source, rig_rest(source), src_mapping, frames)
        rig = rig_rest(target)
        mapping, origin = mapping_store.mapping_for(target)
        parts = None if set(self.parts) == set(PARTS) else set(self.parts)
        retargeter = Retargeter(rig, mapping, parts)
        render = context.scene.render
        targets, scale, _ = motion_targets(
            retargeter, motion, armature_linear(target), fps=render.fps / render.fps_base,
            lock_feet=self.lock_feet, align_floor=self.align_floor,
        )
        current = target.animation_data.action if target.animation_data else None
        action = current.copy() if (current is not None and parts is not None) else bpy.data.actions.new("Retarget")
        action.name = f"{src_action.name} on {target.name}"
        assign_action(target, action)
        passive = evaluate_basis(target, rig.names, frames)
        result = retargeter.solve(targets, passive, root_scale=1.0, root_motion=self.root_motion, leg_reach=self.lock_feet)
        for bone, basis in result.basis.items():
            pose_bone = target.pose.bones[bone]
            prop, _ = rotation_channel(pose_bone)
            location, rotation = result.channels(bone, pose_bone.rotation_mode)
            write_channel(target, bone, prop, frames, rotation)
            if bone == result.root_bone and self.root_motion:
                write_channel(target, bone, "location", frames, location)
        return (f"Retargeted {len(frames)} frames of {source.name} onto {len(result.basis)} bones of {target.name} "
                f"({origin}, motion scaled x{scale:.3g}) into action {action.name!r}")


class MPM_PT_retarget(bpy.types.Panel):
    bl_label = "Retarget"
    bl_idname = "MPM_PT_retarget"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "MPM"
    bl_parent_id = "MPM_PT_view3d"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        settings = context.scene.mpm_retarget
        layout.prop(settings, "source")
        target = context.object
        layout.label(text=f"Target: {target.name}" if target and target.type == "ARMATURE" else "Target: select an armature",
                     icon="ARMATURE_DATA")
        op = layout.operator(MPM_OT_retarget.bl_idname, icon="ARMATURE_DATA")
        op.source = settings.source.name if settings.source else ""


classes = (MPMRetargetSettings, MPM_OT_retarget, MPM_PT_retarget)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.mpm_retarget = bpy.props.PointerProperty(type=MPMRetargetSettings)


def unregister() -> None:
    del bpy.types.Scene.mpm_retarget
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
