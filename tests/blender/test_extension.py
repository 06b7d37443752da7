"""The built extension installs in real Blender and works with only what it bundles."""
from __future__ import annotations

import importlib.util
import os
from importlib import import_module
from pathlib import Path

import bpy

from .conftest import MODULE, RecordingLayout


def test_running_the_expected_blender():
    expected = os.environ.get("MPM_EXPECT_BLENDER")
    if expected:
        assert bpy.app.version_string.startswith(expected), bpy.app.version_string


def test_user_files_are_isolated():
    user_dir = Path(bpy.utils.resource_path("USER")).resolve()
    assert user_dir.is_relative_to(Path(os.environ["BLENDER_USER_RESOURCES"]).resolve())


def test_environment_holds_no_runtime_of_its_own():
    # torch and onnxruntime must come from nowhere but the extension: a wheel the zip
    # forgets to bundle must fail here rather than be found in the test environment.
    assert importlib.util.find_spec("torch") is None


def test_extension_registers(extension):
    assert hasattr(bpy.types, "MPM_PT_view3d") and hasattr(bpy.types, "MPM_PT_clip")
    prefs = bpy.context.preferences.addons[MODULE].preferences
    assert prefs.backend == "AUTO"


def test_bundled_onnxruntime_loads_from_the_extension(extension):
    import onnxruntime

    ext_root = Path(bpy.utils.user_resource("EXTENSIONS")).resolve()
    assert Path(onnxruntime.__file__).resolve().is_relative_to(ext_root), onnxruntime.__file__
    assert "CPUExecutionProvider" in onnxruntime.get_available_providers()


def test_engine_is_bundled_and_bpy_free(extension):
    engine = import_module(MODULE + ".engine")
    rig_mapping = import_module(MODULE + ".engine.rig_mapping")
    skeleton = import_module(MODULE + ".engine.skeleton")
    assert skeleton.get_skeleton("anim19").num_joints == 19
    presets = rig_mapping.load_presets()
    assert Path(rig_mapping.DEFAULT_PRESET_DIR).resolve().is_relative_to(Path(engine.__file__).resolve().parents[1])
    assert all(m.skeleton in skeleton.skeleton_names() for m in presets.values())


def draw_panel(panel_cls) -> RecordingLayout:
    layout = RecordingLayout()
    # A Panel instance can only be made by Blender; draw() needs nothing but .layout.
    panel_cls.draw(type("PanelStandIn", (), {"layout": layout})(), bpy.context)
    return layout


def test_panels_draw_without_a_clip(scene, extension):
    for panel_cls in (bpy.types.MPM_PT_view3d, bpy.types.MPM_PT_clip):
        layout = draw_panel(panel_cls)
        texts = layout.texts()
        assert "No movie clip" in texts
        assert any(t.startswith("Model:") for t in texts), texts
        assert any(t.startswith("Backend:") for t in texts), texts
        operators = [args[0] for name, args, _ in layout.log if name == "operator"]
        assert operators == ["mpm.import_keypoints", "mpm.lift_2d_tracks", "mpm.add_mannequin"]


def test_panels_draw_the_clip_and_its_joint_tracks(scene, extension):
    clip_module = import_module(MODULE + ".clips")
    clip = clip_module.new_empty_clip("footage", 320, 240, 3, 30.0, 1)
    tracking_object = clip.tracking.objects.new("actor")
    for name in ("pelvis", "LKnee", "knee.R", "lamp"):
        tracking_object.tracks.new(name=name, frame=1)
    clip.tracking.objects.active = tracking_object
    scene.active_clip = clip
    texts = draw_panel(bpy.types.MPM_PT_clip).texts()
    assert "Clip: footage" in texts and "Tracks: actor" in texts
    assert "Joints tracked: 3 of 19" in texts


def test_preferences_draw(extension):
    prefs = bpy.context.preferences.addons[MODULE].preferences
    layout = RecordingLayout()
    type(prefs).draw(type("PrefsStandIn", (), {"layout": layout, **{k: getattr(prefs, k) for k in (
        "backend", "model_path", "default_mode", "min_confidence")}})(), bpy.context)
    texts = layout.texts()
    assert any(t.startswith("Bundled model:") for t in texts) and "ONNX Runtime: available" in texts


def test_rig_panels_ask_for_an_armature_then_draw_their_tools(scene, extension):
    panels = {bpy.types.MPM_PT_complete: "mpm.complete_missing_joints", bpy.types.MPM_PT_rig_mapping: "mpm.mapping_detect"}
    bpy.context.view_layer.objects.active = None
    for panel_cls in panels:
        layout = draw_panel(panel_cls)
        assert layout.texts() == ["Select an armature"]
    bpy.ops.object.armature_add()
    for panel_cls, operator in panels.items():
        layout = draw_panel(panel_cls)
        assert "Select an armature" not in layout.texts()
        assert operator in [args[0] for name, args, _ in layout.log if name == "operator"]
