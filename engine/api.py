"""One function per job: lift 2D to 3D, complete 3D, complete 2D.

All take whole clips (any length, any frame rate) as numpy arrays in the model skeleton's
joint order and return numpy arrays; the windowing, resampling and masking happen in
:mod:`engine.runtime`. Post-processing (bone lengths, smoothing) and the root trajectory
live in :mod:`engine.postprocess` and :mod:`engine.trajectory` and are re-exported here.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import validate
from .backends import Backend, load_backend
from .coords import denormalize_screen, normalize_screen
from .gap_choice import fill_choosing_per_gap
from .gaps import fill_interpolate, fill_mirrored
from .perspective import ViewCentring
from .postprocess import fit_bone_lengths, smooth
from .runtime import MODES, WindowStats, needs_resampling, resample, run_lift, run_sequence
from .trajectory import DEFAULT_FOV_DEG, camera_intrinsics, estimate_root_trajectory

__all__ = [
    "load_backend", "lift", "complete_3d", "complete_2d", "fit_bone_lengths", "smooth", "estimate_root_trajectory",
]


def _check_backend(backend: Any) -> Backend:
    if not isinstance(backend, Backend):
        raise validate.InputError(
            f"backend: expected an engine backend from engine.load_backend(path), got {type(backend).__name__}"
        )
    return backend


def _run_at_model_rate(backend: Backend, fps: float | None, values: np.ndarray, visible: np.ndarray, run) -> np.ndarray:
    """Resample (values, visible) to the model's frame rate, ``run`` them, resample the result back."""
    model_fps = backend.config.fps
    if not needs_resampling(fps, model_fps):
        return run(values, visible)
    frames = len(values)
    values, visible = resample(values, visible, fps, model_fps)
    if not visible.any():  # joints seen only in isolated frames can all vanish at a lower rate
        raise validate.InputError(
            f"no visible joint is left after resampling from {fps} to the model's {model_fps} fps; "
            "expected joints observed in consecutive frames"
        )
    out = run(values, visible)
    back, _ = resample(out, None, model_fps, fps, num_out=frames)
    return back


def lift(
    backend: Backend,
    points_px: Any,
    confidence: Any = None,
    image_size: tuple[float, float] | None = None,
    fps: float | None = None,
    mode: str = "fast",
    min_confidence: float = 0.3,
    *,
    intrinsics: Any = None,
    fov_deg: float = DEFAULT_FOV_DEG,
    batch_size: int | None = None,
    overlap: int | None = None,
    stats: WindowStats | None = None,
) -> np.ndarray:
    """Lift 2D keypoints in pixels (F, J, 2) to 3D (F, J, 3): camera-space metres, root-relative.

    Joints that are NaN, or whose ``confidence`` (F, J) is below ``min_confidence``, are
    masked (the network fills them in). ``fps`` is the clip's frame rate (None: the
    model's). ``mode``: ``fast`` (full-sequence head, one window per ``num_frames`` frames)
    or ``accurate`` (the mean of the centre-frame head, one window per frame, and the
    full-sequence head over windows a third of a window apart); each with flip test-time
    augmentation (every window also run mirrored). ``overlap``: frames shared by
    consecutive full-sequence windows (default: a sixteenth of a window in fast mode, two
    thirds in accurate mode).
    A model trained on centred views (``config.view_centring``) lifts each window as if
    the camera were aimed at the person (:mod:`engine.perspective`), which needs the
    camera: ``intrinsics`` (fx, fy, cx, cy) in pixels, or else a horizontal field of view
    ``fov_deg`` with the principal point at the image centre (the same camera
    :func:`estimate_root_trajectory` assumes)."""
    backend = _check_backend(backend)
    cfg = backend.config
    skel = cfg.skel
    points = validate.joint_array("points_px", points_px, skel, 2).astype(np.float32, copy=False)
    w, h = validate.image_size(image_size)
    fps = validate.frame_rate(fps)
    mode = validate.choice("mode", mode, MODES)
    visible = np.isfinite(points).all(-1)
    if confidence is not None:
        conf = validate.joint_mask("confidence", confidence, len(points), skel, dtype="float")
        visible &= np.nan_to_num(conf, nan=0.0) >= min_confidence
    validate.some_visible("points_px", visible, f"all NaN or confidence below min_confidence={min_confidence}")
    normalised = _normalised(points, visible, w, h)
    view = ViewCentring.from_pixels(camera_intrinsics((w, h), intrinsics, fov_deg), w, h) if cfg.view_centring else None

    def run(values: np.ndarray, vis: np.ndarray) -> np.ndarray:
        return run_lift(backend, values, vis, mode, view=view, overlap=overlap, batch_size=batch_size, stats=stats)

    return _run_at_model_rate(backend, fps, normalised, visible, run)


def complete_3d(
    backend: Backend,
    poses: Any,
    visible: Any = None,
    fps: float | None = None,
    *,
    batch_size: int | None = None,
    overlap: int | None = None,
    stats: WindowStats | None = None,
    anchor: bool = True,
    choose_per_gap: bool = False,
) -> np.ndarray:
    """Fill the missing joints of a 3D clip (F, J, 3), camera-space metres (with flip
    test-time augmentation: every window also completed mirrored).

    ``visible`` (F, J) bool marks observed joints (default: the finite ones). Observed joints
    come back bit-for-bit unchanged (same dtype as ``poses``). Poses may carry a global
    position: each frame is made root-relative for the network with the root joint where
    observed, interpolated over time where not (no observed root at all: taken as
    root-relative already).

    ``anchor``: shift each filled stretch by the model's own error on the frames beside it,
    interpolated across (as :func:`complete_2d`). ``choose_per_gap``: fill each gap with the
    model, by linear interpolation or with the mirrored limb, whichever fills stand-ins of
    that gap cut elsewhere in the same clip best (:mod:`engine.gap_choice`)."""
    backend = _check_backend(backend)
    skel = backend.config.skel
    poses = validate.joint_array("poses", poses, skel, 3)
    if not np.issubdtype(poses.dtype, np.floating):
        poses = poses.astype(np.float32)
    visible = _observed_mask("poses", poses, visible, skel)
    model_fps = validate.frame_rate(fps)

    def run(values: np.ndarray, vis: np.ndarray) -> np.ndarray:
        # With flip averaging, as lifting: 0.8-3.6 mm better on the missing joints of the
        # shipped model's Table 4 cases (assets/models/MODEL_CARD.md).
        return run_sequence(
            backend, "complete_3d", values, vis, overlap=overlap, batch_size=batch_size, stats=stats,
            flip_permutation=skel.flip_permutation,
        )

    def model_fill(values: np.ndarray, vis: np.ndarray) -> np.ndarray:
        offset = _root_offsets(values, vis, skel.root)
        relative = np.where(vis[..., None], values - offset[:, None], 0.0).astype(np.float32)
        predicted = _run_at_model_rate(backend, model_fps, relative, vis, run) + offset[:, None]
        return _keep_observed(values, vis, predicted, anchor)

    if choose_per_gap:
        candidates = {
            "model": model_fill, "interpolation": fill_interpolate,
            "mirror": lambda values, vis: fill_mirrored(values, vis, skel),
        }
        filled, _ = fill_choosing_per_gap(poses, visible, candidates)
        return filled.astype(poses.dtype)
    return model_fill(poses, visible)


def complete_2d(
    backend: Backend,
    points_px: Any,
    visible: Any = None,
    image_size: tuple[float, float] | None = None,
    fps: float | None = None,
    *,
    batch_size: int | None = None,
    overlap: int | None = None,
    stats: WindowStats | None = None,
    anchor: bool = True,
    choose_per_gap: bool = False,
) -> np.ndarray:
    """Fill gaps in 2D tracks (F, J, 2) in pixels; observed joints come back unchanged.

    ``anchor``: shift each filled stretch so that it meets the observed track at both ends
    (the model's own error on the frames beside the gap, interpolated across it), so a
    filled stretch joins its track without a jump; the shipped model fills 0.5-4.7 px
    closer with it in 19 of 20 gap cases (benchmarks/bench_gap_filling.py).

    ``choose_per_gap``: fill each gap with the model or by linear interpolation, whichever
    fills stand-ins of that gap cut elsewhere in the same tracks better
    (:func:`engine.gap_choice.fill_choosing_per_gap`; the model runs a few more times)."""
    backend = _check_backend(backend)
    skel = backend.config.skel
    points = validate.joint_array("points_px", points_px, skel, 2)
    if not np.issubdtype(points.dtype, np.floating):
        points = points.astype(np.float32)
    w, h = validate.image_size(image_size)
    visible = _observed_mask("points_px", points, visible, skel)
    model_fps = validate.frame_rate(fps)

    def run(values: np.ndarray, vis: np.ndarray) -> np.ndarray:
        # No flip averaging here: measured on the shipped model it moved the gap cases by
        # -0.5..+0.5 px, nothing for twice the windows (lifting and 3D completion gain from it).
        return run_sequence(backend, "complete_2d", values, vis, overlap=overlap, batch_size=batch_size, stats=stats)

    def model_fill(values: np.ndarray, vis: np.ndarray) -> np.ndarray:
        predicted = denormalize_screen(_run_at_model_rate(backend, model_fps, _normalised(values, vis, w, h), vis, run), w, h)
        return _keep_observed(values, vis, predicted, anchor)

    if choose_per_gap:
        filled, _ = fill_choosing_per_gap(points, visible, {"model": model_fill, "interpolation": fill_interpolate})
        return filled.astype(points.dtype)
    return model_fill(points, visible)


def _keep_observed(values: np.ndarray, visible: np.ndarray, predicted: np.ndarray, anchor: bool) -> np.ndarray:
    """``values`` where observed, ``predicted`` elsewhere; with ``anchor`` each filled stretch
    is first shifted by the prediction's error on the observed frames beside it,
    interpolated across, so that it meets the observed values at both ends."""
    if anchor:
        predicted = predicted + fill_interpolate(np.where(visible[..., None], values - predicted, 0.0), visible)
    return np.where(visible[..., None], values, predicted.astype(values.dtype))


def _normalised(points: np.ndarray, visible: np.ndarray, w: float, h: float) -> np.ndarray:
    """Image-normalised float32 copy with hidden joints zeroed (the network replaces them anyway)."""
    out = normalize_screen(points, w, h)
    out[~visible] = 0.0
    return out


def _observed_mask(name: str, values: np.ndarray, visible: Any, skel) -> np.ndarray:
    finite = np.isfinite(values).all(-1)
    if visible is None:
        visible = finite
    else:
        visible = validate.joint_mask("visible", visible, len(values), skel)
        bad = visible & ~finite
        if bad.any():
            frames = np.unique(np.nonzero(bad)[0])[:5].tolist()
            raise validate.InputError(f"{name}: joints marked visible are NaN at frames {frames}; expected finite observed joints")
    validate.some_visible(name, visible, "every joint NaN or marked not visible")
    return visible


def _root_offsets(poses: np.ndarray, visible: np.ndarray, root: int) -> np.ndarray:
    """Per-frame root position (F, 3): observed, else linearly interpolated in time, else 0."""
    have = visible[:, root]
    frames = np.arange(len(poses))
    if not have.any():
        return np.zeros((len(poses), 3), dtype=np.float64)
    known = poses[have, root].astype(np.float64)
    return np.stack([np.interp(frames, frames[have], known[:, c]) for c in range(3)], axis=1)
