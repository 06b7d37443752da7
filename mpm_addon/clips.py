# SPDX-License-Identifier: GPL-3.0-or-later
"""Movie clips: empty clips for imported keypoints, and the frame rate and size of any clip.

Blender has no ``movieclips.new``: an empty clip is a sequence of blank PNG frames (one
image, the rest hard links to it) in the extension's user folder, loaded as a clip with a
fake user so it survives saving. Its frame rate and size are also stored on the clip
(image sequences report 0 fps, and a clip whose files are gone reports size 0).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import bpy

FPS_PROP = "mpm_fps"
SIZE_PROP = "mpm_size"


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


def clip_fps(clip: bpy.types.MovieClip, scene: bpy.types.Scene) -> float:
    """The clip's frame rate: the movie's, else the one stored at import, else the scene's."""
    if clip.fps > 0:
        return float(clip.fps)
    stored = clip.get(FPS_PROP)
    return float(stored) if stored else scene_fps(scene)


def clip_size(clip: bpy.types.MovieClip) -> tuple[int, int]:
    """(width, height) in pixels; the stored size when the footage cannot be read."""
    w, h = clip.size
    if w > 0 and h > 0:
        return int(w), int(h)
    stored = clip.get(SIZE_PROP)
    if stored:
        return int(stored[0]), int(stored[1])
    raise ValueError(f"movie clip {clip.name!r} has no size: its footage {clip.filepath!r} cannot be read")


def blank_frames_folder() -> Path:
    """Where blank clip frames live: the extension's user folder (kept across sessions)."""
    package = __package__
    try:
        return Path(bpy.utils.extension_path_user(package, path="blank_clips", create=True))
    except (ValueError, AttributeError):  # not running as an installed extension
        folder = Path(bpy.utils.user_resource("DATAFILES", path="mpm_pose/blank_clips", create=True))
        return folder


def _blank_sequence(width: int, height: int, frames: int) -> Path:
    """First file of a sequence of ``frames`` blank PNGs of the given size: one image,
    made once per size, and a folder of hard links to it per length."""
    root = blank_frames_folder()
    image_path = root / f"blank_{width}x{height}.png"
    if not image_path.exists():
        image = bpy.data.images.new("mpm_blank_frame", width, height, alpha=False)
        try:
            image.generated_color = (0.05, 0.05, 0.05, 1.0)
            image.filepath_raw = str(image_path)
            image.file_format = "PNG"
            image.save()
        finally:
            bpy.data.images.remove(image)
    folder = root / f"{width}x{height}_{frames}"
    folder.mkdir(exist_ok=True)
    for f in range(1, frames + 1):
        path = folder / f"blank_{f:06d}.png"
        if not path.exists():
            try:
                os.link(image_path, path)
            except OSError:  # file systems without hard links
                shutil.copyfile(image_path, path)
    return folder / "blank_000001.png"


def new_empty_clip(name: str, width: int, height: int, frames: int, fps: float, frame_start: int) -> bpy.types.MovieClip:
    """A clip of blank frames of the given size, length, frame rate and scene start frame."""
    if width < 1 or height < 1 or frames < 1:
        raise ValueError(f"an empty clip needs a positive size and length, got {width}x{height}, {frames} frames")
    first = _blank_sequence(width, height, frames)
    clip = bpy.data.movieclips.load(str(first))
    clip.name = name
    clip.use_fake_user = True
    clip.frame_start = frame_start
    clip[FPS_PROP] = float(fps)
    clip[SIZE_PROP] = (int(width), int(height))
    return clip
