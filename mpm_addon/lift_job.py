# SPDX-License-Identifier: GPL-3.0-or-later
"""The "Lift 2D Tracks" pipeline, in three parts so a modal operator can run the slow
middle one in a worker thread:

1. :func:`gather` (main thread, bpy): the tracks, clip size, timing and camera, the model choice.
2. :func:`compute` (any thread, no bpy): open the model, lift, smooth, fit constant bone
   lengths, recover the root trajectory. All of it is the engine's; this only chains it.
3. :func:`apply` (main thread, bpy): the matching camera, the armature and the new action.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import bpy
import numpy as np

from . import baking, camera_match, clips, models, tracks
from .engine import api
from .engine.armature import build_rig, floor_offset, pose_bones, rest_pose
from .engine.backends import Backend
from .engine.coords import camera_to_blender_world
from .engine.postprocess import bone_lengths
from .engine.runtime import default_overlap, dense_overlap, needs_resampling, resample, sequence_window_count
from .engine.skeleton import get_skeleton, skeleton_names


class LiftError(Exception):
    """An expected condition that stops the lift; the message says what is missing."""


class Cancelled(Exception):
    """The user cancelled a running lift."""


@dataclass
class LiftSettings:
    mode: str = "fast"  # engine lift mode
    min_confidence: float = 0.3
    smoothing: str = "none"  # engine smoothing filter
    root_motion: bool = True
    scene_timing: bool = True  # retime to the scene's frame rate when it differs from the clip's


@dataclass
class LiftInput:
    """Everything read from Blender, so :func:`compute` needs no bpy."""

    clip: str
    tracking_object: str
    size: tuple[int, int]
    fps: float
    frame_start: int
    scene_fps: float
    frames: np.ndarray  # (F,) clip frames
    joints: tuple[str, ...]  # joint names of points/confidence
    points: np.ndarray  # (F, J, 2) pixels
    confidence: np.ndarray  # (F, J)
    tracks: dict[str, str]
    ignored: list[str]
    intrinsics: tuple[float, float, float, float]
    model: Path
    backend: str
    lengths: np.ndarray | None = None  # bone lengths to keep (an existing MPM armature's)


@dataclass
class LiftOutput:
    skeleton: str
    poses: np.ndarray  # (F, J, 3) camera space, metres: with the root trajectory when root_motion
    lengths: np.ndarray  # bone lengths, skeleton.bones order
    missing: list[str]  # model joints no track gave
    reprojection_px: float | None = None  # median, when the root trajectory was recovered
    smoothing: tuple[float, float] | None = None  # acceleration error before / after, mm/frame^2
    backend_name: str = ""


def all_joint_names() -> tuple[str, ...]:
    """Every joint any skeleton has (tracks are read before the model says which it uses)."""
    names: list[str] = []
    for sk in skeleton_names():
        names += [j for j in get_skeleton(sk).joints if j not in names]
    return tuple(names)


def find_clip(context: bpy.types.Context, name: str = "") -> bpy.types.MovieClip | None:
    """The clip named ``name``, else the Movie Clip Editor's, else the scene's active clip."""
    if name:
        return bpy.data.movieclips.get(name)
    return getattr(context, "edit_movieclip", None) or context.scene.active_clip


def gather(
    context: bpy.types.Context,
    clip: bpy.types.MovieClip,
    tracking_object: str,
    target: bpy.types.Object | None,
) -> LiftInput:
    """Read the tracks of ``clip``'s tracking object (its active one by default)."""
    tracking = clip.tracking
    obj = tracking.objects.get(tracking_object) if tracking_object else tracking.objects.active
    if obj is None:
        raise LiftError(f"movie clip {clip.name!r} has no tracking object {tracking_object!r}")
    try:
        size = clips.clip_size(clip)
    except ValueError as exc:
        raise LiftError(str(exc)) from None
    joints = all_joint_names()
    arrays = tracks.read_tracks(obj.tracks, joints, size)
    if not arrays.tracks:
        raise LiftError(
            f"no tracks named after joints in {clip.name!r} (tracking object {obj.name!r}, "
            f"{len(obj.tracks)} tracks): expected tracks named like pelvis, left_knee, right_wrist "
            "(or aliases such as LKnee, knee.L); import keypoints with Import Keypoints"
        )
    if not (arrays.confidence > 0).any():
        raise LiftError(f"every marker of the joint tracks in {clip.name!r} is muted: nothing to lift")
    path, backend = models.model_choice(context)
    lengths = None
    if target is not None:
        lengths = np.asarray(target[baking.LENGTHS_PROP], dtype=np.float64)
    return LiftInput(
        clip=clip.name,
        tracking_object=obj.name,
        size=size,
        fps=clips.clip_fps(clip, context.scene),
        frame_start=int(clip.frame_start),
        scene_fps=clips.scene_fps(context.scene),
        frames=arrays.frames,
        joints=joints,
        points=arrays.points,
        confidence=arrays.confidence,
        tracks=arrays.tracks,
        ignored=arrays.ignored,
        intrinsics=camera_match.clip_intrinsics(clip, size),
        model=path,
        backend=backend,
        lengths=lengths,
    )


class ProgressBackend(Backend):
    """A backend that reports each batch it runs and stops when the user cancels."""

    def __init__(self, inner: Backend, on_windows: Callable[[int], None], cancelled: Callable[[], bool]) -> None:
        self.inner = inner
        self.name = inner.name
        self.device = inner.device
        self.config = inner.config
        self.on_windows = on_windows
        self.cancelled = cancelled

    def _run(self, job: str, pose: np.ndarray, visible: np.ndarray) -> np.ndarray:
        if self.cancelled():
            raise Cancelled()
        out = self.inner._run(job, pose, visible)
        self.on_windows(len(pose))
        return out


def expected_windows(backend: Backend, frames: int, fps: float, mode: str) -> int:
    """How many windows the engine will run for a clip (for a progress fraction)."""
    cfg = backend.config
    if needs_resampling(fps, cfg.fps):
        frames = int(np.floor((frames - 1) * cfg.fps / fps + 1e-9)) + 1
    n = cfg.num_frames
    if mode == "accurate":  # a window per frame and the dense full-sequence windows, each plain and mirrored
        return 2 * (frames + sequence_window_count(frames, n, dense_overlap(n)))
    return 2 * sequence_window_count(frames, n, default_overlap(n))  # each plain and mirrored


def compute(
    inp: LiftInput,
    settings: LiftSettings,
    progress: Callable[[float], None] = lambda fraction: None,
    cancelled: Callable[[], bool] = lambda: False,
) -> LiftOutput:
    """Open the model, lift, smooth, fit bone lengths, recover the root path (no bpy)."""
    backend = models.open_backend(inp.model, inp.backend)
    skel = backend.config.skel
    columns = [inp.joints.index(j) for j in skel.joints]
    points = inp.points[:, columns]
    confidence = inp.confidence[:, columns]
    missing = [j for j in skel.joints if j not in inp.tracks]
    if len(missing) == len(skel.joints):
        raise LiftError(f"no track gives a joint of the model's skeleton {skel.name!r} ({', '.join(skel.joints)})")
    total = max(1, expected_windows(backend, len(points), inp.fps, settings.mode))
    done = 0

    def on_windows(count: int) -> None:
        nonlocal done
        done += count
        progress(min(done / total, 1.0))

    lengths = inp.lengths
    if lengths is not None and len(lengths) != len(skel.bones):
        raise LiftError(
            f"the target armature has {len(lengths)} bone lengths but the model's skeleton {skel.name!r} "
            f"has {len(skel.bones)} bones: lift onto a new armature"
        )
    out = LiftOutput(skeleton=skel.name, poses=np.zeros(0), lengths=np.zeros(0), missing=missing,
                     backend_name=backend.name)
    try:  # the engine's errors (InputError) say what is wrong with the tracks
        poses = api.lift(
            ProgressBackend(backend, on_windows, cancelled),
            points,
            confidence,
            image_size=inp.size,
            fps=inp.fps,
            mode=settings.mode,
            min_confidence=settings.min_confidence,
            intrinsics=inp.intrinsics,
        )
        if cancelled():
            raise Cancelled()
        if settings.smoothing != "none":
            smoothed = api.smooth(poses, inp.fps, filter=settings.smoothing)
            poses = smoothed.poses
            out.smoothing = (smoothed.accel_error_before, smoothed.accel_error_after)
        fitted = api.fit_bone_lengths(poses, skel, lengths=lengths)
        out.lengths = bone_lengths(fitted, skel) if lengths is None else lengths
        if settings.root_motion:
            root = api.estimate_root_trajectory(
                points, fitted, intrinsics=inp.intrinsics, confidence=confidence, fps=inp.fps,
                min_confidence=settings.min_confidence,
            )
            fitted = fitted + root[:, None].astype(np.float32)
            out.reprojection_px = median_reprojection_error(
                fitted, points, confidence >= settings.min_confidence, inp.intrinsics
            )
    except ValueError as exc:
        raise LiftError(f"cannot lift the tracks of {inp.clip!r}: {exc}") from None
    out.poses = fitted
    return out


def median_reprojection_error(poses: np.ndarray, points: np.ndarray, visible: np.ndarray, intrinsics) -> float:
    """Median pixel distance between camera-space joints projected with ``intrinsics`` and
    the visible 2D points."""
    fx, fy, cx, cy = intrinsics
    z = np.maximum(poses[..., 2], 1e-6)
    projected = np.stack([fx * poses[..., 0] / z + cx, fy * poses[..., 1] / z + cy], axis=-1)
    return float(np.median(np.linalg.norm(projected - points, axis=-1)[visible]))


@dataclass
class Baked:
    armature: bpy.types.Object
    action: bpy.types.Action
    camera: bpy.types.Object | None
    frame_range: tuple[int, int]
    kept_action: str | None  # the target's previous action, kept with a fake user


def apply(
    context: bpy.types.Context,
    inp: LiftInput,
    out: LiftOutput,
    settings: LiftSettings,
    target: bpy.types.Object | None,
) -> Baked:
    """Make the camera, the armature (or reuse ``target``) and bake a new action."""
    scene = context.scene
    collection = context.collection or scene.collection
    poses = out.poses.astype(np.float64)
    camera = None
    if settings.root_motion:
        world = camera_to_blender_world(poses, camera_match.front_view_matrix())
        height = floor_offset(world)
        camera_matrix = camera_match.front_view_matrix(height)
        world[..., 2] += height
        camera = camera_match.new_matching_camera(f"MPM {inp.clip} camera", bpy.data.movieclips[inp.clip],
                                                  inp.size, camera_matrix, collection)
        camera_match.match_render_size(scene, inp.size)
        if scene.camera is None:
            scene.camera = camera
    else:
        world = camera_to_blender_world(poses)
        world[..., 2] += floor_offset(world)
    first = inp.frame_start + int(inp.frames[0]) - 1  # clip frame -> scene frame
    if settings.scene_timing and needs_resampling(inp.scene_fps, inp.fps):
        first = inp.frame_start + int(round((int(inp.frames[0]) - 1) * inp.scene_fps / inp.fps))
        world, _ = resample(world, None, inp.fps, inp.scene_fps)
    frames = first + np.arange(len(world))
    rig = build_rig(get_skeleton(out.skeleton))
    kept_action = None
    if target is None:
        rest = rest_pose(rig, out.lengths)
        armature = baking.new_armature(f"MPM {inp.clip}", rest, collection, context.view_layer)
    else:
        armature = target
        try:
            rest = baking.rest_from_armature(target, rig)
        except ValueError as exc:
            raise LiftError(str(exc)) from None
        to_local = np.linalg.inv(np.array(target.matrix_world))
        world = world @ to_local[:3, :3].T + to_local[:3, 3]
        previous = target.animation_data.action if target.animation_data else None
        if previous is not None:
            previous.use_fake_user = True
            kept_action = previous.name
    quats, location = pose_bones(rest, world)
    action = baking.new_action(inp.clip, armature)
    baking.bake_pose(armature, action, rig.names, frames, quats, rig.names[rig.root], location)
    armature["mpm_clip"] = inp.clip
    return Baked(armature, action, camera, (int(frames[0]), int(frames[-1])), kept_action)

