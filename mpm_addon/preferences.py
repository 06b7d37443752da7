# SPDX-License-Identifier: GPL-3.0-or-later
"""Add-on preferences, keyed by the extension's package name."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import bpy

from .engine.backends import JOBS

PACKAGE = __package__
BUNDLED_MODEL_DIR = Path(__file__).resolve().parent / "assets" / "models"


def get_preferences(context: bpy.types.Context | None = None) -> "MPMPreferences":
    context = context or bpy.context
    return context.preferences.addons[PACKAGE].preferences


def module_available(name: str) -> bool:
    """Whether a module imports here, without importing it (torch is slow to import)."""
    return importlib.util.find_spec(name) is not None


def bundled_models() -> list[str]:
    """Stems of the ONNX model sets shipped inside the extension (``<stem>.<job>.onnx``)."""
    if not BUNDLED_MODEL_DIR.is_dir():
        return []
    suffixes = tuple(f".{job}.onnx" for job in JOBS)
    return sorted({p.name[: -len(s)] for p in BUNDLED_MODEL_DIR.glob("*.onnx") for s in suffixes if p.name.endswith(s)})


class MPMPreferences(bpy.types.AddonPreferences):
    bl_idname = PACKAGE

    backend: bpy.props.EnumProperty(
        name="Backend",
        description="What runs the model",
        items=(
            ("AUTO", "Auto", "PyTorch when Blender's Python has it, else ONNX Runtime"),
            ("ONNXRUNTIME", "ONNX Runtime", "Bundled ONNX Runtime, with its GPU providers when present"),
            ("TORCH", "PyTorch", "PyTorch if importable in Blender's Python (on CUDA when present)"),
        ),
        default="AUTO",
    )
    model_path: bpy.props.StringProperty(
        name="Model",
        description="A model file (.pt checkpoint or .json of an ONNX model set); empty uses the bundled model",
        subtype="FILE_PATH",
        default="",
    )
    default_mode: bpy.props.EnumProperty(
        name="Default Mode",
        items=(
            ("FAST", "Fast", "Full-sequence head with flip augmentation: two windows per stretch of frames"),
            ("ACCURATE", "Accurate", "Centre-frame and full-sequence heads averaged, with flip augmentation: two windows per frame"),
        ),
        default="FAST",
    )
    min_confidence: bpy.props.FloatProperty(
        name="Minimum Confidence",
        description="Keypoints below this confidence are treated as occluded",
        default=0.3,
        min=0.0,
        max=1.0,
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "backend")
        layout.prop(self, "model_path")
        if not self.model_path:
            names = ", ".join(bundled_models()) or "none bundled"
            layout.label(text=f"Bundled model: {names}")
        layout.prop(self, "default_mode")
        layout.prop(self, "min_confidence")
        col = layout.column(align=True)
        col.label(text="ONNX Runtime: " + ("available" if module_available("onnxruntime") else "missing"))
        col.label(text="PyTorch: " + ("available" if module_available("torch") else "not installed (optional)"))


classes = (MPMPreferences,)

register, unregister = bpy.utils.register_classes_factory(classes)
