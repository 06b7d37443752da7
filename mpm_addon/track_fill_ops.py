# SPDX-License-Identifier: GPL-3.0-or-later
"""Fill Track Gaps: 2D positions for the frames a person's joint tracks lost.

The tracks of the clip's active tracking object named after joints (``left_knee``,
``Left Knee``, aliases such as ``LKnee``: see :mod:`.track_names`) are read in bulk; a
frame where a track has no marker or a muted one is a gap. The completion fills every
gap between the first and the last frame of the tracks. Filled positions go into a
companion track per joint, ``<track>.filled`` (orange), holding markers only on the
filled frames (a muted marker ends each filled stretch): the tracked markers stay
untouched and the filled ones are easy to tell apart, review and delete. Filling again
rewrites the companion tracks.
"""
from __future__ import annotations

import bpy
import numpy as np

from .completion import METHOD_LABELS, METHODS_2D, CompletionError, complete_points
from .engine.skeleton import get_skeleton
from .panels import ClipSubPanel
from .track_names import match_tracks
from .tracks import marker_arrays, markers_to_pixels, pixels_to_markers

SUFFIX = ".filled"
FILLED_COLOUR = (1.0, 0.55, 0.0)


def _clip(context) -> bpy.types.MovieClip | None:
    space = context.space_data
    clip = getattr(space, "clip", None) if space is not None else None
    return clip or context.scene.active_clip


def joint_tracks(tracks, joints) -> dict[str, bpy.types.MovieTrackingTrack]:
    """Tracks naming ``joints`` by joint name or alias (:mod:`.track_names`), one per joint;
    the ``.filled`` companion tracks are never read back."""
    chosen, _ = match_tracks([t.name for t in tracks if not t.name.endswith(SUFFIX)], joints)
    return {joint: tracks[name] for joint, name in chosen.items()}


def read_markers(track, first: int, count: int, size) -> tuple[np.ndarray, np.ndarray]:
    """Pixel positions (count, 2) (origin top-left) and seen flags (count,) of a track."""
    frames, co, mute = marker_arrays(track)
    points = np.full((count, 2), np.nan)
    seen = np.zeros(count, dtype=bool)
    rows = frames - first
    keep = (rows >= 0) & (rows < count)
    points[rows[keep]] = markers_to_pixels(co[keep].astype(np.float64), size)
    seen[rows[keep]] = ~mute[keep]
    return points, seen


class MPM_OT_fill_track_gaps(bpy.types.Operator):
    """Fill the frames where a person's joint tracks are missing or muted, into companion '.filled' tracks"""

    bl_idname = "mpm.fill_track_gaps"
    bl_label = "Fill Track Gaps"
    bl_options = {"REGISTER", "UNDO"}

    method: bpy.props.EnumProperty(name="Method", items=METHODS_2D, default="AUTO")

    @classmethod
    def poll(cls, context):
        if _clip(context) is None:
            cls.poll_message_set("Open a movie clip with joint tracks")
            return False
        return True

    def execute(self, context):
        try:
            message = self._fill(context)
        except CompletionError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, message)
        return {"FINISHED"}

    def _fill(self, context) -> str:
        clip = _clip(context)
        skeleton = get_skeleton("anim19")
        tracks = clip.tracking.objects.active.tracks
        found = joint_tracks(tracks, skeleton.joints)
        if not found:
            raise CompletionError(
                f"clip {clip.name!r} has no track named after a joint (e.g. {', '.join(skeleton.joints[:4])})"
            )
        frames = [track.markers[i].frame for track in found.values() for i in (0, -1) if len(track.markers)]
        first, last = min(frames), max(frames)
        count = last - first + 1
        size = tuple(clip.size)
        points = np.full((count, skeleton.num_joints, 2), np.nan)
        visible = np.zeros((count, skeleton.num_joints), dtype=bool)
        for joint, track in found.items():
            j = skeleton.index(joint)
            points[:, j], visible[:, j] = read_markers(track, first, count, size)
        gaps = ~visible[:, [skeleton.index(j) for j in found]]
        if not gaps.any():
            raise CompletionError(f"nothing to fill: the {len(found)} joint tracks have a tracked marker on every frame {first}-{last}")
        render = context.scene.render
        fps = clip.fps or render.fps / render.fps_base  # an image sequence has no rate of its own
        filled = complete_points(context, self.method, points, visible, skeleton, size, fps)
        written = 0
        for joint, track in found.items():
            j = skeleton.index(joint)
            hole = ~visible[:, j]
            if hole.any():
                _write_companion(tracks, track.name + SUFFIX, first, filled[:, j], hole, size)
                written += int(hole.sum())
        return f"Filled {written} markers on {int(gaps.any(axis=0).sum())} tracks of {clip.name} ({METHOD_LABELS[self.method].lower()}); see the '{SUFFIX}' tracks"


def _write_companion(tracks, name: str, first: int, points: np.ndarray, hole: np.ndarray, size) -> None:
    """Markers at the ``hole`` frames (and a muted one after each stretch) in track ``name``,
    made or reused (tracks cannot be removed through the API; stale markers are)."""
    rows = np.flatnonzero(hole)
    ends = [r + 1 for r in rows if r + 1 < len(hole) and not hole[r + 1]]
    needed = sorted(set((first + np.concatenate([rows, ends])).astype(int).tolist()))
    track = tracks.get(name) or tracks.new(name=name, frame=needed[0])
    track.use_custom_color = True
    track.color = FILLED_COLOUR
    track.select = False
    for frame in needed:
        track.markers.insert_frame(frame)
    for frame in [m.frame for m in track.markers if m.frame not in set(needed)]:
        track.markers.delete_frame(frame)
    frames = np.empty(len(track.markers), dtype=np.int32)
    track.markers.foreach_get("frame", frames)
    rows_all = frames - first
    co = pixels_to_markers(points, size).astype(np.float32)
    track.markers.foreach_set("co", co[rows_all].ravel())
    track.markers.foreach_set("mute", ~hole[rows_all])


class MPM_PT_fill_tracks(ClipSubPanel, bpy.types.Panel):
    bl_label = "Fill Track Gaps"
    bl_idname = "MPM_PT_fill_tracks"

    def draw(self, context):
        self.layout.operator(MPM_OT_fill_track_gaps.bl_idname, icon="TRACKING")


classes = (MPM_OT_fill_track_gaps, MPM_PT_fill_tracks)

register, unregister = bpy.utils.register_classes_factory(classes)
