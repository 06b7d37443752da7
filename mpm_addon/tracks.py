# SPDX-License-Identifier: GPL-3.0-or-later
"""Movie Clip tracks <-> keypoint arrays, read and written in bulk (``foreach_get/set``).

Marker coordinates are normalised to the frame (0..1) with the origin at the bottom-left;
keypoint arrays are pixels with the origin at the top-left (docs/contracts.md). A muted
marker, or no marker at a frame, means the joint is occluded there.
"""
from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from .track_names import match_tracks

# Track colours by side, so left and right read at a glance in the Clip Editor.
SIDE_COLOURS = {"left": (0.2, 0.45, 1.0), "right": (1.0, 0.3, 0.2)}
CENTRE_COLOUR = (0.3, 0.9, 0.3)


@dataclass
class TrackArrays:
    """Keypoints read from tracks: ``frames`` (F,) consecutive clip frames, ``points``
    (F,J,2) pixels (NaN where occluded), ``confidence`` (F,J) 1 tracked / 0 occluded,
    ``tracks`` {joint: track name} for the joints found."""

    frames: np.ndarray
    points: np.ndarray
    confidence: np.ndarray
    tracks: dict[str, str]
    ignored: list[str]


def pixels_to_markers(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    return np.stack([points[..., 0] / w, 1.0 - points[..., 1] / h], axis=-1)


def markers_to_pixels(co: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    return np.stack([co[..., 0] * w, (1.0 - co[..., 1]) * h], axis=-1)


def marker_arrays(track: bpy.types.MovieTrackingTrack) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A track's markers in bulk: frames (n,), normalised positions (n, 2), mute flags (n,)."""
    markers = track.markers
    n = len(markers)
    frames = np.empty(n, dtype=np.int32)
    co = np.empty(2 * n, dtype=np.float32)
    mute = np.empty(n, dtype=bool)
    markers.foreach_get("frame", frames)
    markers.foreach_get("co", co)
    markers.foreach_get("mute", mute)
    return frames, co.reshape(n, 2), mute


def read_tracks(tracks: bpy.types.bpy_prop_collection, joints: tuple[str, ...], size: tuple[int, int]) -> TrackArrays:
    """The tracks of ``tracks`` (a tracking object's) that name ``joints``, as arrays over
    the frames from the first to the last marker of any of them."""
    chosen, ignored = match_tracks([t.name for t in tracks], joints)
    per_joint = {}
    for joint, name in chosen.items():
        if len(tracks[name].markers):
            per_joint[joint] = marker_arrays(tracks[name])
    if not per_joint:
        return TrackArrays(np.zeros(0, np.int32), np.zeros((0, len(joints), 2)), np.zeros((0, len(joints))), {}, ignored)
    first = min(int(f.min()) for f, _, _ in per_joint.values())
    last = max(int(f.max()) for f, _, _ in per_joint.values())
    frames = np.arange(first, last + 1, dtype=np.int32)
    points = np.full((len(frames), len(joints), 2), np.nan)
    confidence = np.zeros((len(frames), len(joints)))
    for joint, (f, co, mute) in per_joint.items():
        j = joints.index(joint)
        rows = f - first
        points[rows, j] = markers_to_pixels(co.astype(np.float64), size)
        confidence[rows, j] = np.where(mute, 0.0, 1.0)
    points[confidence == 0] = np.nan
    return TrackArrays(frames, points, confidence, {j: chosen[j] for j in per_joint}, ignored)


def write_tracks(
    tracks: bpy.types.bpy_prop_collection,
    joints: tuple[str, ...] | list[str],
    frames: np.ndarray,
    points: np.ndarray,
    confidence: np.ndarray,
    size: tuple[int, int],
    min_confidence: float,
) -> list[bpy.types.MovieTrackingTrack]:
    """One track per joint with any finite point, named after the joint, one marker per
    frame: positions from ``points`` (F,J,2) pixels; muted where the confidence is below
    ``min_confidence`` or the point is missing (placed at the nearest known position)."""
    frames = np.asarray(frames, dtype=np.int64)
    made = []
    for j, joint in enumerate(joints):
        finite = np.isfinite(points[:, j]).all(axis=-1)
        if not finite.any():
            continue
        filled = _fill_nearest(points[:, j], finite)
        co = pixels_to_markers(filled, size).astype(np.float32)
        mute = ~finite | ~(confidence[:, j] >= min_confidence)
        track = tracks.new(name=joint, frame=int(frames[0]))
        markers = track.markers
        for f in frames[1:]:
            markers.insert_frame(int(f))
        markers.foreach_set("co", co.ravel())
        markers.foreach_set("mute", mute)
        side = joint.split("_", 1)[0]
        track.use_custom_color = True
        track.color = SIDE_COLOURS.get(side, CENTRE_COLOUR)
        made.append(track)
    return made


def _fill_nearest(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Each invalid row of ``values`` (F,C) takes the nearest valid row's value."""
    idx = np.flatnonzero(valid)
    nearest = idx[np.clip(np.searchsorted(idx, np.arange(len(values))), 0, len(idx) - 1)]
    before = idx[np.clip(np.searchsorted(idx, np.arange(len(values))) - 1, 0, len(idx) - 1)]
    rows = np.arange(len(values))
    pick = np.where(np.abs(before - rows) <= np.abs(nearest - rows), before, nearest)
    return values[pick]
