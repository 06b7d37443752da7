# SPDX-License-Identifier: GPL-3.0-or-later
"""Sidebar panels ("MPM" tab) in the 3D Viewport and the Movie Clip Editor."""
from __future__ import annotations

import bpy

from .preferences import bundled_models, get_preferences, module_available


def draw_status(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    prefs = get_preferences(context)
    col = layout.column(align=True)
    model = prefs.model_path or ", ".join(p.stem for p in bundled_models()) or "no model"
    col.label(text=f"Model: {model}", icon="FILE")
    runtime_ok = module_available("onnxruntime") or module_available("torch")
    col.label(
        text="Backend: " + prefs.backend.replace("ONNXRUNTIME", "ONNX Runtime").title(),
        icon="CHECKMARK" if runtime_ok else "ERROR",
    )


class MPM_PT_view3d(bpy.types.Panel):
    bl_label = "MPM Pose"
    bl_idname = "MPM_PT_view3d"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "MPM"

    def draw(self, context: bpy.types.Context) -> None:
        draw_status(self.layout, context)


class MPM_PT_clip(bpy.types.Panel):
    bl_label = "MPM Pose"
    bl_idname = "MPM_PT_clip"
    bl_space_type = "CLIP_EDITOR"
    bl_region_type = "UI"
    bl_category = "MPM"

    def draw(self, context: bpy.types.Context) -> None:
        draw_status(self.layout, context)


classes = (MPM_PT_view3d, MPM_PT_clip)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
