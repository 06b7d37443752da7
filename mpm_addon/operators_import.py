# SPDX-License-Identifier: GPL-3.0-or-later
"""``mpm.import_keypoints``: 2D keypoint files -> Movie Clip tracks, one per joint.

Reads every format ``engine.keypoints`` reads (COCO-style JSON incl. MMPose / ViTPose,
AlphaPose JSON, OpenPose per-frame JSON folders BODY_25 / BODY_25B, MediaPipe CSV / JSON,
the mpm-keypoints exchange file), converts it to the ``anim19`` joints and writes one
track per joint, named after it, into a new tracking object of the current clip or of a
new empty clip. Keypoints below the confidence threshold become muted markers. Files can
also be dropped onto the Movie Clip Editor or the 3D Viewport.
"""
from __future__ import annotations

import os
from pathlib import Path

import bpy
import numpy as np

from . import clips, tracks
from .engine.keypoints import KeypointFileError, format_names, list_people, read_keypoints, to_skeleton
from .engine.skeleton import get_skeleton
from .preferences import get_preferences

TRACK_SKELETON = "anim19"
# Size of a new clip when neither the file nor the user gives one.
FALLBACK_SIZE = (1920, 1080)
READ_ERRORS = (KeypointFileError, ValueError, KeyError, OSError)

# People in recently browsed files, by (path, modification time): the enum callback runs
# on every redraw, and Blender needs the item strings kept alive.
_people_cache: dict[tuple[str, float], list[tuple[str, str, str]]] = {}


def keypoint_source(filepath: str, directory: str, files) -> Path:
    """The file to read, or the folder when several files (OpenPose frames) or none are chosen."""
    names = [f.name for f in files if f.name]
    if len(names) > 1 or (not filepath and directory) or (filepath and Path(filepath).is_dir()):
        return Path(directory or filepath)
    return Path(filepath)


def _people_items(self, context):
    path = keypoint_source(self.filepath, self.directory, self.files)
    auto = [("AUTO", "Most Prominent", "The person seen largest over the most frames")]
    try:
        key = (str(path), os.path.getmtime(path))
    except OSError:
        return auto
    if key not in _people_cache:
        try:
            people = list_people(path)
        except READ_ERRORS:
            people = []
        if len(_people_cache) > 16:
            _people_cache.clear()
        _people_cache[key] = auto + [(str(p.id), f"Person {p.id}", p.label()) for p in people]
    return _people_cache[key]


def _format_items(self, context):
    return [("AUTO", "Detect", "From the file, or from the keypoint count")] + [(n, n, "") for n in format_names()]


class MPM_OT_import_keypoints(bpy.types.Operator):
    """Import 2D keypoints (COCO / MMPose / ViTPose / AlphaPose JSON, OpenPose JSON folder, MediaPipe CSV or JSON) as Movie Clip tracks, one per joint"""

    bl_idname = "mpm.import_keypoints"
    bl_label = "Import Keypoints"
    bl_options = {"REGISTER", "UNDO"}

    filepath: bpy.props.StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE"})
    directory: bpy.props.StringProperty(subtype="DIR_PATH", options={"SKIP_SAVE"})
    files: bpy.props.CollectionProperty(type=bpy.types.OperatorFileListElement, options={"HIDDEN", "SKIP_SAVE"})
    filter_glob: bpy.props.StringProperty(default="*.json;*.csv", options={"HIDDEN"})

    person: bpy.props.EnumProperty(name="Person", description="Whom to import when the file holds several people", items=_people_items)
    keypoint_format: bpy.props.EnumProperty(name="Keypoint Format", items=_format_items)
    clip_target: bpy.props.EnumProperty(
        name="Clip",
        items=(
            ("CURRENT", "Current Clip", "The Movie Clip Editor's clip, or the scene's active clip (a new one when there is none)"),
            ("NEW", "New Empty Clip", "A new clip of blank frames with the size, frame rate and start frame below"),
        ),
        default="CURRENT",
    )
    width: bpy.props.IntProperty(name="Width", description="New clip width in pixels; 0: from the file", default=0, min=0)
    height: bpy.props.IntProperty(name="Height", description="New clip height in pixels; 0: from the file", default=0, min=0)
    fps: bpy.props.FloatProperty(name="Frame Rate", description="New clip frame rate; 0: from the file, else the scene's", default=0.0, min=0.0)
    frame_start: bpy.props.IntProperty(name="Start Frame", description="Scene frame where a new clip starts", default=1)
    first_clip_frame: bpy.props.IntProperty(
        name="Clip Frame of File Frame 0",
        description="Where the file's frame numbers land on the clip (1: frame 0 of the file is the clip's first frame)",
        default=1,
    )
    min_confidence: bpy.props.FloatProperty(
        name="Minimum Confidence", description="Keypoints below this confidence become muted (occluded) markers",
        default=0.3, min=0.0, max=1.0,
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if context.scene is None:
            cls.poll_message_set("No scene to import into")
            return False
        return True

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        layout.prop(self, "person")
        layout.prop(self, "keypoint_format")
        layout.prop(self, "min_confidence")
        layout.prop(self, "first_clip_frame")
        layout.prop(self, "clip_target")
        col = layout.column(align=True)
        col.enabled = self.clip_target == "NEW" or _current_clip(context) is None
        col.prop(self, "width")
        col.prop(self, "height")
        col.prop(self, "fps")
        col.prop(self, "frame_start")

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if not self.properties.is_property_set("min_confidence"):
            self.min_confidence = get_preferences(context).min_confidence
        if self.filepath or self.directory:  # dropped on an editor: ask only for the options
            return context.window_manager.invoke_props_dialog(self)
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        source = keypoint_source(self.filepath, self.directory, self.files)
        if not str(source) or str(source) == ".":
            self.report({"ERROR"}, "No keypoint file or folder given")
            return {"CANCELLED"}
        clip = _current_clip(context) if self.clip_target == "CURRENT" else None
        try:
            size = clips.clip_size(clip) if clip is not None else None
        except ValueError as exc:
            self.report({"ERROR"}, f"Cannot import onto the current clip: {exc}; choose New Empty Clip")
            return {"CANCELLED"}
        if size is None and self.width and self.height:
            size = (self.width, self.height)
        try:
            track = read_keypoints(
                source,
                person=None if self.person == "AUTO" else int(self.person),
                format=None if self.keypoint_format == "AUTO" else self.keypoint_format,
                image_size=size,
            )
            points, confidence = to_skeleton(track, skeleton=TRACK_SKELETON)
        except READ_ERRORS as exc:
            message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            if "normalised" in message and clip is None:
                message += "; set Width and Height of the new clip"
            self.report({"ERROR"}, f"Cannot import {source}: {message}")
            return {"CANCELLED"}
        clip_frames = np.asarray(track.frames, dtype=np.int64) + self.first_clip_frame
        if clip is None:
            size = size or track.image_size or _fallback_size(points)
            fps = self.fps or track.fps or clips.scene_fps(context.scene)
            clip = clips.new_empty_clip(source.stem or source.name, size[0], size[1], int(clip_frames.max()),
                                        fps, self.frame_start)
        name = source.stem if len(track.people) <= 1 else f"{source.stem} person {track.person}"
        tracking_object = clip.tracking.objects.new(name)
        clip.tracking.objects.active = tracking_object
        joints = get_skeleton(TRACK_SKELETON).joints
        made = tracks.write_tracks(tracking_object.tracks, joints, clip_frames, points, confidence, size,
                                   self.min_confidence)
        _show_clip(context, clip)
        observed = np.isfinite(points).all(-1) & (confidence >= self.min_confidence)
        self.report(
            {"INFO"},
            f"Imported {len(clip_frames)} frames of person {track.person} ({track.format}, "
            f"{len(track.people)} in the file) as {len(made)} tracks in '{clip.name}' > '{tracking_object.name}'; "
            f"{100 * (1 - observed.mean()):.0f}% of markers muted (occluded or below {self.min_confidence:.2f})",
        )
        return {"FINISHED"}


def _current_clip(context: bpy.types.Context) -> bpy.types.MovieClip | None:
    return getattr(context, "edit_movieclip", None) or context.scene.active_clip


def _fallback_size(points: np.ndarray) -> tuple[int, int]:
    """A frame holding every keypoint: the usual HD frame, or larger when they spill over."""
    extent = np.nanmax(points.reshape(-1, 2), axis=0) if np.isfinite(points).any() else np.zeros(2)
    return max(FALLBACK_SIZE[0], int(np.ceil(extent[0]))), max(FALLBACK_SIZE[1], int(np.ceil(extent[1])))


def _show_clip(context: bpy.types.Context, clip: bpy.types.MovieClip) -> None:
    """Make ``clip`` the one the Clip Editor shows and the scene's active clip."""
    space = context.space_data
    if space is not None and space.type == "CLIP_EDITOR":
        space.clip = clip
    context.scene.active_clip = clip


class MPM_FH_keypoints(bpy.types.FileHandler):
    """Drop keypoint files onto the Movie Clip Editor or the 3D Viewport."""

    bl_idname = "MPM_FH_keypoints"
    bl_label = "MPM keypoints"
    bl_import_operator = "mpm.import_keypoints"
    bl_file_extensions = ".json;.csv"

    @classmethod
    def poll_drop(cls, context: bpy.types.Context) -> bool:
        return context.area is not None and context.area.type in {"CLIP_EDITOR", "VIEW_3D"}


classes = (MPM_OT_import_keypoints, MPM_FH_keypoints)

register, unregister = bpy.utils.register_classes_factory(classes)
