"""The modal path of Lift 2D Tracks (what a click in the UI runs): a worker thread, progress,
Esc. Background Blender runs no event loop, so the test plays the window manager's part: it
calls the operator's own ``invoke`` and ``modal`` with timer and key events."""
from __future__ import annotations

import time
import types

import bpy
import pytest

from . import keypoint_files as kf
from .conftest import ext


class WindowManagerStandIn:
    def __init__(self) -> None:
        self.progress: list[int] = []
        self.timers = 0

    def progress_begin(self, low, high):
        self.progress.append(low)

    def progress_update(self, value):
        self.progress.append(value)

    def progress_end(self):
        pass

    def event_timer_add(self, step, window=None):
        self.timers += 1
        return object()

    def event_timer_remove(self, timer):
        self.timers -= 1

    def modal_handler_add(self, operator):
        return True


class ContextStandIn:
    """Blender's context with the window manager played by the test."""

    def __init__(self) -> None:
        self.window_manager = WindowManagerStandIn()
        self.window = None
        self.workspace = None

    def __getattr__(self, name):
        return getattr(bpy.context, name)


def operator_stand_in(**properties):
    """The operator's methods on a plain object holding its properties."""
    cls = bpy.types.MPM_OT_lift_2d_tracks
    op = types.SimpleNamespace(**{
        "clip": "", "tracking_object": "", "mode": "FAST", "min_confidence": 0.3, "smoothing": "NONE",
        "root_motion": True, "timing": "SCENE", "target": "NEW", **properties,
    })
    op.properties = types.SimpleNamespace(is_property_set=lambda name: True)
    op.reports = []
    op.report = lambda kind, text: op.reports.append((kind, text))
    for name in ("_fill_defaults", "_settings", "_target", "_prepare", "_finish", "_work", "_set_progress", "invoke",
                 "modal"):
        setattr(op, name, types.MethodType(getattr(cls, name), op))
    return op


def event(kind: str):
    return types.SimpleNamespace(type=kind, value="PRESS")


def run_modal(op, context, escape_after: int | None = None, limit_s: float = 60.0) -> set[str]:
    assert op.invoke(context, event("LEFTMOUSE")) == {"RUNNING_MODAL"}
    start, ticks = time.perf_counter(), 0
    while time.perf_counter() - start < limit_s:
        if escape_after is not None and ticks == escape_after:
            op.modal(context, event("ESC"))
        result = op.modal(context, event("TIMER"))
        if result != {"RUNNING_MODAL"}:
            return result
        ticks += 1
        time.sleep(0.02)
    pytest.fail("the modal lift did not finish")


@pytest.fixture
def long_clip(scene, tmp_path, bundled_model):
    scene.render.fps = 30
    names = ext("engine.keypoints").get_format("coco17").keypoints
    path = kf.write_coco(tmp_path / "walk.json", [kf.walking_person(names, 1500)])
    assert bpy.ops.mpm.import_keypoints(filepath=str(path), clip_target="NEW", width=1280, height=720,
                                        fps=30) == {"FINISHED"}
    return scene.active_clip


def test_modal_lift_shows_progress_and_finishes(long_clip):
    op, context = operator_stand_in(mode="ACCURATE"), ContextStandIn()
    assert run_modal(op, context) == {"FINISHED"}
    progress = context.window_manager.progress
    assert progress[-1] == 100 and sorted(progress) == progress and len(set(progress)) > 2
    assert context.window_manager.timers == 0
    assert f"MPM {long_clip.name}" in bpy.data.objects and op.reports[-1][0] == {"INFO"}


def test_escape_cancels_and_creates_nothing(long_clip):
    objects, actions = set(bpy.data.objects), set(bpy.data.actions)
    op, context = operator_stand_in(mode="ACCURATE"), ContextStandIn()
    assert run_modal(op, context, escape_after=0) == {"CANCELLED"}
    assert "cancelled" in op.reports[-1][1] and context.window_manager.timers == 0
    assert set(bpy.data.objects) == objects and set(bpy.data.actions) == actions


def test_expected_errors_in_the_worker_become_reports(long_clip, preferences, tmp_path):
    (tmp_path / "broken.lift_full.onnx").write_bytes(b"not a model")
    preferences.model_path = str(tmp_path / "broken")
    op, context = operator_stand_in(), ContextStandIn()
    assert run_modal(op, context) == {"CANCELLED"}
    assert op.reports[-1][0] == {"ERROR"} and "cannot use the model" in op.reports[-1][1]
