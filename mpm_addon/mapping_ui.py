# SPDX-License-Identifier: GPL-3.0-or-later
"""Reviewing and editing an armature's rig mapping, and saving it as a preset.

The mapping lives on the armature object (``Object.mpm_mapping``): one row per joint of
the skeleton saying where the rig has that joint (a bone's head or tail, or the mean of
other joints). Auto-detection fills it from the best-fitting preset; the user corrects
rows in a list and saves the result as a preset for the next rig of the same kind.
"""
from __future__ import annotations

import bpy

from . import mapping_store
from .engine.rig_mapping import MappingError, RigMapping, match_mapping
from .panels import View3DSubPanel
from .rig_io import active_armature, armature_or_hint


def _bone_search(self, context, edit_text):
    obj = active_armature(context)
    if obj is None:
        return []
    text = edit_text.lower()
    return [b.name for b in obj.data.bones if text in b.name.lower()]


class MPMJointSource(bpy.types.PropertyGroup):
    joint: bpy.props.StringProperty(name="Joint", description="Joint of the model's skeleton")
    source: bpy.props.EnumProperty(name="Source", items=mapping_store.SOURCES, default="NONE")
    bone: bpy.props.StringProperty(name="Bone", description="Bone whose head or tail is this joint", search=_bone_search)
    mean_of: bpy.props.StringProperty(name="Mean Of", description="Joints to average, separated by commas")


class MPMRigMapping(bpy.types.PropertyGroup):
    name: bpy.props.StringProperty(name="Name", description="Name of the mapping (and of its preset file)")
    skeleton: bpy.props.StringProperty(name="Skeleton", default="anim19")
    rest_pose: bpy.props.EnumProperty(
        name="Rest Pose", items=(("T", "T-Pose", "Arms out sideways at rest"), ("A", "A-Pose", "Arms lowered at rest")),
        description="How the rig's arms rest (a hint: retargeting measures the actual rest pose)",
    )
    joints: bpy.props.CollectionProperty(type=MPMJointSource)
    active_index: bpy.props.IntProperty(name="Active Joint")


def _preset_items(self, context):
    items = [(key, m.name, m.description or m.name) for key, m in sorted(mapping_store.all_presets().items())]
    return items or [("NONE", "No Presets", "No rig-mapping presets found")]


class MPM_OT_mapping_detect(bpy.types.Operator):
    """Fill the active armature's rig mapping from the preset that fits its bone names best"""

    bl_idname = "mpm.mapping_detect"
    bl_label = "Detect Mapping"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if active_armature(context) is None:
            cls.poll_message_set("Select an armature")
            return False
        return True

    def execute(self, context):
        obj = active_armature(context)
        for problem in mapping_store.preset_problems():
            self.report({"WARNING"}, f"skipped a preset: {problem}")
        obj.mpm_mapping.joints.clear()
        try:
            mapping, origin = mapping_store.mapping_for(obj)
        except mapping_store.MappingMissing as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        mapped = len(mapping.mapped_joints())
        self.report({"INFO"}, f"{obj.name}: {origin} ({mapped} of {mapping.skel.num_joints} joints mapped)")
        return {"FINISHED"}


class MPM_OT_mapping_load_preset(bpy.types.Operator):
    """Fill the active armature's rig mapping from a chosen preset"""

    bl_idname = "mpm.mapping_load_preset"
    bl_label = "Load Mapping Preset"
    bl_options = {"REGISTER", "UNDO"}
    bl_property = "preset"

    preset: bpy.props.EnumProperty(name="Preset", items=_preset_items)

    @classmethod
    def poll(cls, context):
        return MPM_OT_mapping_detect.poll(context)

    def invoke(self, context, event):
        context.window_manager.invoke_search_popup(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        obj = active_armature(context)
        presets = mapping_store.all_presets()
        if self.preset not in presets:
            self.report({"ERROR"}, f"no rig-mapping preset {self.preset!r}")
            return {"CANCELLED"}
        score, fitted = match_mapping(presets[self.preset], [b.name for b in obj.data.bones])
        mapping_store.store_mapping(obj, mapping_store.only_present(fitted, {b.name for b in obj.data.bones}))
        level = "INFO" if score >= 0.8 else "WARNING"
        self.report({level}, f"{self.preset}: {score:.0%} of its bones found in {obj.name}")
        return {"FINISHED"}


class MPM_OT_mapping_save_preset(bpy.types.Operator):
    """Save the active armature's rig mapping as a preset in your MPM Pose user folder"""

    bl_idname = "mpm.mapping_save_preset"
    bl_label = "Save Mapping Preset"

    name: bpy.props.StringProperty(name="Name", description="Preset name (also its file name)")

    @classmethod
    def poll(cls, context):
        obj = active_armature(context)
        if obj is None or not len(obj.mpm_mapping.joints):
            cls.poll_message_set("The active armature has no rig mapping yet: detect or load one first")
            return False
        return True

    def invoke(self, context, event):
        self.name = self.name or active_armature(context).mpm_mapping.name
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context):
        obj = active_armature(context)
        try:
            mapping = mapping_store.stored_mapping(obj)
            if mapping is None:
                raise MappingError("the mapping gives no joint at any bone head: map at least the hips")
            mapping = RigMapping.from_dict({**mapping.to_dict(), "name": self.name or mapping.name})
            path = mapping_store.save_preset(mapping)
        except MappingError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        obj.mpm_mapping.name = mapping.name
        self.report({"INFO"}, f"Saved rig-mapping preset {path}")
        return {"FINISHED"}


class MPM_UL_joint_sources(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        row = layout.row(align=True)
        row.label(text=item.joint, icon="BONE_DATA" if item.source != "NONE" else "ERROR")
        row.prop(item, "source", text="")
        if item.source in ("HEAD", "TAIL"):
            row.prop(item, "bone", text="")
        elif item.source == "MEAN":
            row.prop(item, "mean_of", text="")


class MPM_PT_rig_mapping(View3DSubPanel, bpy.types.Panel):
    bl_label = "Rig Mapping"
    bl_idname = "MPM_PT_rig_mapping"

    def draw(self, context):
        layout = self.layout
        obj = armature_or_hint(layout, context)
        if obj is None:
            return
        pg = obj.mpm_mapping
        row = layout.row(align=True)
        row.operator(MPM_OT_mapping_detect.bl_idname, icon="VIEWZOOM")
        row.operator(MPM_OT_mapping_load_preset.bl_idname, text="Load Preset", icon="PRESET")
        if not len(pg.joints):
            layout.label(text="No mapping yet: detect one or load a preset", icon="INFO")
            return
        layout.prop(pg, "name")
        layout.prop(pg, "rest_pose")
        layout.template_list("MPM_UL_joint_sources", "", pg, "joints", pg, "active_index", rows=6)
        unmapped = [item.joint for item in pg.joints if item.source == "NONE"]
        if unmapped:
            layout.label(text=f"Missing: {', '.join(unmapped)}", icon="ERROR")
        layout.operator(MPM_OT_mapping_save_preset.bl_idname, icon="FILE_TICK")


classes = (
    MPMJointSource, MPMRigMapping, MPM_OT_mapping_detect, MPM_OT_mapping_load_preset, MPM_OT_mapping_save_preset,
    MPM_UL_joint_sources, MPM_PT_rig_mapping,
)


_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register_classes()
    bpy.types.Object.mpm_mapping = bpy.props.PointerProperty(type=MPMRigMapping)


def unregister() -> None:
    del bpy.types.Object.mpm_mapping
    _unregister_classes()

