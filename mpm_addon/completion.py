# SPDX-License-Identifier: GPL-3.0-or-later
"""Filling missing joints, by the model or by a non-learned method, for the operators.

``MODEL`` runs the engine's masked completion (``engine.api.complete_3d`` /
``complete_2d``) on the model the preferences choose (opened through ``models``);
``INTERPOLATE`` bridges each gap linearly in time; ``MIRROR`` copies the other side's
limb reflected across the body (3D only); ``AUTO`` takes, gap by gap, whichever of these
fills stand-ins of the gap cut elsewhere in the same clip best. The non-learned methods
need no model.
"""
from __future__ import annotations

import bpy
import numpy as np

from .engine.coords import blender_world_to_camera, camera_to_blender_world
from .engine.gaps import fill_interpolate, fill_mirrored
from .engine.skeleton import Skeleton

METHODS_3D = (
    # Measured in benchmarks/bench_gap_filling.py --dims 3: which fill is best depends on
    # the motion (interpolation for legs and short gaps, the model for arms lost long), and
    # trying them on stand-in gaps of the same clip picks well gap by gap.
    ("AUTO", "Best per Gap", "Each gap filled by the model, interpolation or the mirrored limb, whichever fills "
     "stand-in gaps cut elsewhere in the same clip best (best; runs the model a few more times)"),
    ("MODEL", "Model", "The pose model fills the missing joints from everything it sees"),
    ("INTERPOLATE", "Interpolate", "Straight lines in time across each gap (no model)"),
    ("MIRROR", "Mirror", "The other side's limb, reflected across the body (no model)"),
)
METHODS_2D = (
    # Measured in benchmarks/bench_gap_filling.py: the model wins on arms, many joints and
    # long gaps, interpolation on gaps of a few frames and on legs that barely move.
    ("AUTO", "Best per Gap", "Each gap filled by the model or by interpolation, whichever fills stand-in gaps "
     "cut elsewhere in the same tracks better (best; runs the model a few more times)"),
    ("MODEL", "Model", "The pose model fills every gap from the rest of the body and the motion around it"),
    METHODS_3D[2],
)
# The name each method shows in the operators' reports (the 2D and 3D lists share them).
METHOD_LABELS = {identifier: label for identifier, label, _ in METHODS_3D + METHODS_2D}


class CompletionError(Exception):
    """No completion possible: the message says why and what to do."""


def _engine_api():
    try:
        from .engine import api
    except ImportError as exc:  # a build without the model runtime
        raise CompletionError(f"this build of MPM Pose cannot run the model ({exc}); use a non-learned method") from None
    return api


def open_model(context: bpy.types.Context, skeleton: Skeleton):
    """The model the preferences choose, checked to use ``skeleton``."""
    try:
        from . import models
    except ImportError as exc:
        raise CompletionError(f"this build of MPM Pose cannot run the model ({exc}); use a non-learned method") from None
    try:
        backend = models.open_backend(*models.model_choice(context))
    except models.ModelError as exc:
        raise CompletionError(str(exc)) from None
    if backend.config.skeleton != skeleton.name:
        raise CompletionError(
            f"the model works on the {backend.config.skeleton!r} skeleton but the rig mapping gives {skeleton.name!r} "
            "joints: choose a model for this skeleton in the preferences"
        )
    return backend


def complete_positions(
    context: bpy.types.Context, method: str, positions: np.ndarray, visible: np.ndarray, skeleton: Skeleton, fps: float,
    metres_per_unit: float = 1.0,
) -> np.ndarray:
    """``positions`` (F, J, 3) in world axes with the hidden joints filled; the model sees
    them in metres (``metres_per_unit``)."""
    positions = np.where(visible[..., None], positions, np.nan)  # hidden values are not known
    if method == "INTERPOLATE":
        return fill_interpolate(positions, visible)
    if method == "MIRROR":
        return fill_mirrored(positions, visible, skeleton)
    api = _engine_api()
    backend = open_model(context, skeleton)
    camera = blender_world_to_camera(positions * metres_per_unit)
    try:
        filled = api.complete_3d(backend, camera, visible, fps, choose_per_gap=method == "AUTO")
    except ValueError as exc:
        raise CompletionError(f"the model cannot complete this clip: {exc}") from None
    return np.where(visible[..., None], positions, camera_to_blender_world(filled) / metres_per_unit)


def metres_per_unit(leg_length: float | None, scale_length: float) -> float:
    """Metres per world unit for a rig whose legs (hip to ankle) measure ``leg_length``
    world units: the scene's unit scale, unless that makes the legs implausible for a
    person (under 0.3 m or over 1.5 m, e.g. a centimetre rig in a metre scene); then the
    rig is taken at human size (legs 0.85 m)."""
    if not leg_length:
        return scale_length
    metres = leg_length * scale_length
    return scale_length if 0.3 <= metres <= 1.5 else 0.85 / leg_length


def complete_points(
    context: bpy.types.Context, method: str, points: np.ndarray, visible: np.ndarray, skeleton: Skeleton,
    image_size: tuple[int, int], fps: float,
) -> np.ndarray:
    """2D ``points`` (F, J, 2) in pixels with the hidden ones filled."""
    points = np.where(visible[..., None], points, np.nan)
    if method == "INTERPOLATE":
        return fill_interpolate(points, visible)
    api = _engine_api()
    backend = open_model(context, skeleton)
    try:
        filled = api.complete_2d(backend, points, visible, image_size, fps, choose_per_gap=method == "AUTO")
    except ValueError as exc:
        raise CompletionError(f"the model cannot fill these tracks: {exc}") from None
    return np.where(visible[..., None], points, filled)
