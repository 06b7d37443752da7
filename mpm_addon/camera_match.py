# SPDX-License-Identifier: GPL-3.0-or-later
"""A Blender camera matching a movie clip's tracking camera, and its intrinsics.

The clip's camera (Movie Clip Editor > Track > Camera: focal length, sensor width,
principal point) gives pinhole intrinsics in pixels for the engine's root trajectory. The
generated camera has the same lens, sensor (fitted to the width) and principal point (as
lens shift), looks along world +Y with Z up, and shows the clip as its background. Pixels
are taken as square (the clip camera's pixel aspect is not used).
"""
from __future__ import annotations

import bpy
import numpy as np
from mathutils import Matrix


def clip_intrinsics(clip: bpy.types.MovieClip, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """(fx, fy, cx, cy) in pixels, origin at the top-left (the engine's image convention).

    Blender keeps the principal point in pixels from the bottom-left corner."""
    cam = clip.tracking.camera
    w, h = size
    fx = cam.focal_length / cam.sensor_width * w
    ppx, ppy = cam.principal_point_pixels
    if clip.size[0] <= 0:  # footage unreadable: Blender cannot scale the point, assume the centre
        ppx, ppy = w / 2.0, h / 2.0
    return fx, fx, float(ppx), float(h - ppy)


def front_view_matrix(height: float = 0.0) -> np.ndarray:
    """World matrix (4x4) of a camera at (0, 0, height) looking along +Y with Z up."""
    m = np.eye(4)
    m[:3, :3] = [[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]  # 90 deg about X
    m[2, 3] = height
    return m


def new_matching_camera(
    name: str,
    clip: bpy.types.MovieClip,
    size: tuple[int, int],
    matrix_world: np.ndarray,
    collection: bpy.types.Collection,
) -> bpy.types.Object:
    """A camera object with the clip camera's lens, sensor and principal point."""
    track_cam = clip.tracking.camera
    w, h = size
    _, _, cx, cy = clip_intrinsics(clip, size)
    data = bpy.data.cameras.new(name)
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = track_cam.sensor_width
    data.lens = track_cam.focal_length
    # Blender shifts the view window in units of the fitted (horizontal) size.
    data.shift_x = (0.5 * w - cx) / w
    data.shift_y = (cy - 0.5 * h) / w
    data.show_background_images = True
    background = data.background_images.new()
    background.source = "MOVIE_CLIP"
    background.clip = clip
    background.alpha = 0.8
    obj = bpy.data.objects.new(name, data)
    obj.matrix_world = Matrix([list(row) for row in matrix_world])
    obj.rotation_mode = "XYZ"
    collection.objects.link(obj)
    return obj


def match_render_size(scene: bpy.types.Scene, size: tuple[int, int]) -> None:
    """Render at the clip's size (as Blender's Setup Tracking Scene does), so the camera
    frames what the clip shows."""
    scene.render.resolution_x, scene.render.resolution_y = int(size[0]), int(size[1])
    scene.render.resolution_percentage = 100
    scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0

