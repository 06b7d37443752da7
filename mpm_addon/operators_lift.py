# SPDX-License-Identifier: GPL-3.0-or-later
"""``mpm.lift_2d_tracks``: a clip's joint tracks -> a new action on an MPM armature.

From the UI it runs modally: the model works in a worker thread while Blender shows the
progress and stays responsive; Esc cancels (nothing is created before the lift is done).
From scripts (and redo) it runs straight through ``execute``.
"""
from __future__ import annotations

import threading

import bpy

from . import lift_job
from .baking import LENGTHS_PROP, SKELETON_PROP
from .lift_job import Cancelled, LiftError, LiftSettings, find_clip
from .models import ModelError
from .preferences import get_preferences
from .track_names import match_tracks

MODE_ITEMS = (
    ("FAST", "Fast", "Full-sequence head with flip averaging: two passes per window of frames"),
    ("ACCURATE", "Accurate", "Centre-frame and full-sequence heads averaged, with flip averaging: two passes per frame, slower"),
)
SMOOTHING_ITEMS = (
    ("NONE", "None", "Keep the model's output as it is"),
    ("SAVGOL", "Savitzky-Golay", "Zero-lag polynomial smoothing over about 0.2 s"),
    ("ONE_EURO", "One Euro", "Adaptive low-pass: smooths slow motion more than fast motion"),
)
TIMING_ITEMS = (
    ("SCENE", "Scene Time", "Keys play at the clip's real speed at the scene's frame rate (resampled when the rates differ)"),
    ("CLIP", "Clip Frames", "One key per clip frame, in step with the clip as Blender plays it"),
)
TARGET_ITEMS = (
    ("NEW", "New Armature", "Generate an MPM armature with the lifted bone lengths"),
    ("ACTIVE", "Active MPM Armature", "Bake onto the active MPM armature, keeping its bone lengths (its current action is kept)"),
)
EXPECTED_ERRORS = (LiftError, ModelError)


def clip_problem(context: bpy.types.Context) -> str | None:
    """Why there is nothing to lift in this context, or None."""
    clip = find_clip(context)
    if clip is None:
        if bpy.data.movieclips:
            return None  # a script may name the clip
        return "No movie clip: open one in the Movie Clip Editor or import keypoints"
    tracks = clip.tracking.objects.active.tracks
    chosen, _ = match_tracks([t.name for t in tracks], lift_job.all_joint_names())
    if not chosen:
        return f"No tracks named after joints in clip '{clip.name}' (e.g. pelvis, left_knee): import keypoints or rename tracks"
    return None


class MPM_OT_lift_2d_tracks(bpy.types.Operator):
    """Lift the clip's joint tracks to 3D and bake them as a new action on an MPM armature"""

    bl_idname = "mpm.lift_2d_tracks"
    bl_label = "Lift 2D Tracks"
    bl_options = {"REGISTER", "UNDO"}

    clip: bpy.props.StringProperty(name="Clip", description="Movie clip to lift; empty: the Clip Editor's or the scene's active clip")
    tracking_object: bpy.props.StringProperty(
        name="Tracking Object", description="Tracking object whose tracks are the joints; empty: the active one"
    )
    mode: bpy.props.EnumProperty(name="Mode", items=MODE_ITEMS, default="FAST")
    min_confidence: bpy.props.FloatProperty(
        name="Minimum Confidence", description="Markers weighted below this count as occluded", default=0.3, min=0.0, max=1.0
    )
    smoothing: bpy.props.EnumProperty(name="Smoothing", items=SMOOTHING_ITEMS, default="NONE")
    root_motion: bpy.props.BoolProperty(
        name="Root Motion from Camera",
        description="Recover where the person is from the clip's camera (focal length, sensor) and add a camera matching the clip",
        default=True,
    )
    timing: bpy.props.EnumProperty(name="Timing", items=TIMING_ITEMS, default="SCENE")
    target: bpy.props.EnumProperty(name="Target", items=TARGET_ITEMS, default="NEW")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if context.mode != "OBJECT":
            cls.poll_message_set("Switch to Object Mode to lift tracks")
            return False
        problem = clip_problem(context)
        if problem:
            cls.poll_message_set(problem)
            return False
        return True

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        for name in ("mode", "min_confidence", "smoothing", "root_motion", "timing", "target"):
            layout.prop(self, name)

    # -- shared steps -------------------------------------------------------------
    def _fill_defaults(self, context: bpy.types.Context) -> None:
        prefs = get_preferences(context)
        if not self.properties.is_property_set("mode"):
            self.mode = prefs.default_mode
        if not self.properties.is_property_set("min_confidence"):
            self.min_confidence = prefs.min_confidence

    def _settings(self) -> LiftSettings:
        return LiftSettings(
            mode=self.mode.lower(),
            min_confidence=self.min_confidence,
            smoothing=self.smoothing.lower(),
            root_motion=self.root_motion,
            scene_timing=self.timing == "SCENE",
        )

    def _target(self, context: bpy.types.Context) -> bpy.types.Object | None:
        if self.target == "NEW":
            return None
        obj = context.active_object
        if obj is None or obj.type != "ARMATURE" or SKELETON_PROP not in obj or LENGTHS_PROP not in obj:
            raise LiftError("the active object is not an MPM armature: select one, or lift onto a New Armature")
        return obj

    def _prepare(self, context: bpy.types.Context) -> lift_job.LiftInput:
        self._fill_defaults(context)
        clip = find_clip(context, self.clip)
        if clip is None:
            where = f"named {self.clip!r}" if self.clip else "in the Movie Clip Editor or as the scene's active clip"
            raise LiftError(f"no movie clip {where}")
        self._target_obj = self._target(context)
        return lift_job.gather(context, clip, self.tracking_object, self._target_obj)

    def _finish(self, context: bpy.types.Context, inp: lift_job.LiftInput, out: lift_job.LiftOutput) -> set[str]:
        baked = lift_job.apply(context, inp, out, self._settings(), self._target_obj)
        first, last = baked.frame_range
        text = (
            f"Baked frames {first}-{last} of '{inp.clip}' onto '{baked.armature.name}' as action "
            f"'{baked.action.name}' ({out.backend_name}, {self.mode.lower()})"
        )
        if out.reprojection_px is not None:
            text += f"; joints re-project onto the tracks within {out.reprojection_px:.1f} px (median)"
        if out.missing:
            text += f"; no track for {', '.join(out.missing)} (the model filled them in)"
        if inp.ignored:
            text += f"; ignored duplicate tracks {', '.join(inp.ignored)}"
        if baked.kept_action:
            text += f"; previous action '{baked.kept_action}' kept with a fake user"
        self.report({"INFO"}, text)
        return {"FINISHED"}

    # -- straight through (scripts, redo) ---------------------------------------------
    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            inp = self._prepare(context)
            out = lift_job.compute(inp, self._settings())
            return self._finish(context, inp, out)
        except EXPECTED_ERRORS as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}

    # -- modal, with progress and Esc ----------------------------------------------
    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        try:
            self._input = self._prepare(context)
        except EXPECTED_ERRORS as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self._progress = 0.0
        self._cancel = False
        self._result: lift_job.LiftOutput | None = None
        self._error: BaseException | None = None
        settings = self._settings()
        self._thread = threading.Thread(target=self._work, args=(settings,), daemon=True)
        self._thread.start()
        wm = context.window_manager
        wm.progress_begin(0, 100)
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def _work(self, settings: LiftSettings) -> None:
        try:
            self._result = lift_job.compute(
                self._input, settings, progress=self._set_progress, cancelled=lambda: self._cancel
            )
        except BaseException as exc:  # handed to the main thread, which reports or re-raises it
            self._error = exc

    def _set_progress(self, fraction: float) -> None:
        self._progress = fraction

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if event.type == "ESC":
            self._cancel = True
        if event.type != "TIMER":
            return {"RUNNING_MODAL"}
        wm = context.window_manager
        wm.progress_update(int(100 * self._progress))
        if context.workspace is not None:
            context.workspace.status_text_set(f"MPM: lifting '{self._input.clip}' {100 * self._progress:.0f}%  (Esc to cancel)")
        if self._thread.is_alive():
            return {"RUNNING_MODAL"}
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        if context.workspace is not None:
            context.workspace.status_text_set(None)
        if isinstance(self._error, Cancelled):
            self.report({"INFO"}, "Lift cancelled: nothing was changed")
            return {"CANCELLED"}
        if isinstance(self._error, EXPECTED_ERRORS):
            self.report({"ERROR"}, str(self._error))
            return {"CANCELLED"}
        if self._error is not None:
            raise self._error
        try:
            return self._finish(context, self._input, self._result)
        except EXPECTED_ERRORS as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}


classes = (MPM_OT_lift_2d_tracks,)

register, unregister = bpy.utils.register_classes_factory(classes)
