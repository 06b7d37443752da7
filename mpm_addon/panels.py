# SPDX-License-Identifier: GPL-3.0-or-later
"""Sidebar panels ("MPM" tab) in the 3D Viewport and the Movie Clip Editor."""
from __future__ import annotations

import bpy

from .lift_job import all_joint_names, find_clip
from .preferences import bundled_models, get_preferences, module_available
from .track_names import match_tracks


def draw_status(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    prefs = get_preferences(context)
    col = layout.column(align=True)
    model = bpy.path.basename(prefs.model_path) if prefs.model_path else ", ".join(bundled_models()) or "no model"
    col.label(text=f"Model: {model}", icon="FILE")
    runtime_ok = module_available("onnxruntime") or module_available("torch")
    col.label(
        text="Backend: " + prefs.backend.replace("ONNXRUNTIME", "ONNX Runtime").title(),
        icon="CHECKMARK" if runtime_ok else "ERROR",
    )


def draw_clip_summary(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    """Which clip and tracking object a lift would read, and how many joints it finds."""
    clip = find_clip(context)
    box = layout.box()
    if clip is None:
        box.label(text="No movie clip", icon="INFO")
        return
    tracking_object = clip.tracking.objects.active
    joints = all_joint_names()
    found, _ = match_tracks([t.name for t in tracking_object.tracks], joints)
    box.label(text=f"Clip: {clip.name}", icon="SEQUENCE")
    box.label(text=f"Tracks: {tracking_object.name}", icon="TRACKING")
    box.label(text=f"Joints tracked: {len(found)} of {len(joints)}", icon="CHECKMARK" if found else "ERROR")


def draw_actions(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    col = layout.column(align=True)
    col.operator("mpm.import_keypoints", icon="IMPORT")
    col.operator("mpm.lift_2d_tracks", icon="ARMATURE_DATA")
    col.operator("mpm.add_mannequin", icon="OUTLINER_OB_MESH")


class View3DSidebar:
    """Placement of the add-on's 3D Viewport panels: the sidebar's MPM tab."""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "MPM"


class ClipSidebar:
    """Placement of the add-on's Movie Clip Editor panels: the sidebar's MPM tab."""

    bl_space_type = "CLIP_EDITOR"
    bl_region_type = "UI"
    bl_category = "MPM"


class View3DSubPanel(View3DSidebar):
    """A closed-by-default section under the main 3D Viewport panel."""

    bl_parent_id = "MPM_PT_view3d"
    bl_options = {"DEFAULT_CLOSED"}


class ClipSubPanel(ClipSidebar):
    """A closed-by-default section under the main Movie Clip Editor panel."""

    bl_parent_id = "MPM_PT_clip"
    bl_options = {"DEFAULT_CLOSED"}


class MainPanel:
    bl_label = "MPM Pose"

    def draw(self, context: bpy.types.Context) -> None:
        draw_clip_summary(self.layout, context)
        draw_actions(self.layout, context)
        draw_status(self.layout, context)


class MPM_PT_view3d(MainPanel, View3DSidebar, bpy.types.Panel):
    bl_idname = "MPM_PT_view3d"


class MPM_PT_clip(MainPanel, ClipSidebar, bpy.types.Panel):
    bl_idname = "MPM_PT_clip"


classes = (MPM_PT_view3d, MPM_PT_clip)

register, unregister = bpy.utils.register_classes_factory(classes)
