"""Input checks with errors that say what is wrong and what was expected.

Every public engine function checks its arrays here before numpy, torch or ONNX Runtime
sees them, so a user gets "points: expected (frames, 19, 2) ..." instead of a traceback
from inside a framework.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .skeleton import Skeleton, skeleton_names, get_skeleton


class InputError(ValueError):
    """Bad input to an engine function: names the argument, what was wrong and what was expected."""


def _numeric_array(name: str, values: Any) -> np.ndarray:
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: expected a numeric array, got {type(values).__name__} ({exc})") from None
    if array.dtype == np.bool_ or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise InputError(f"{name}: expected a float (or integer) array, got dtype {array.dtype}")
    return array


def _layout_hint(shape: tuple[int, ...], skeleton: Skeleton, channels: int) -> str:
    j = skeleton.num_joints
    if len(shape) == 3 and shape[1] == channels and shape[2] == j:
        return f"; the axes look swapped: expected (frames, joints, {channels}), e.g. values.transpose(0, 2, 1)"
    if len(shape) == 2 and shape[1] == j * channels:
        return f"; flat joints: reshape to (frames, {j}, {channels})"
    if len(shape) == 3 and shape[1] != j:
        others = [n for n in skeleton_names() if get_skeleton(n).num_joints == shape[1]]
        if others:
            return f"; {shape[1]} joints is the {others[0]!r} layout: convert with engine.skeleton.convert_joints"
        return "; convert detector keypoints with engine.keypoints.to_skeleton"
    return ""


def joint_array(name: str, values: Any, skeleton: Skeleton, channels: int, allow_nan: bool = True) -> np.ndarray:
    """A (frames, J, channels) float array of ``skeleton``'s joints, at least one frame, no inf
    (NaN only where ``allow_nan``: it marks a missing joint)."""
    array = _numeric_array(name, values)
    expected = f"(frames, {skeleton.num_joints}, {channels}) for skeleton {skeleton.name!r}"
    if array.ndim != 3 or array.shape[1:] != (skeleton.num_joints, channels):
        raise InputError(f"{name}: expected shape {expected}, got {array.shape}{_layout_hint(array.shape, skeleton, channels)}")
    if len(array) == 0:
        raise InputError(f"{name}: empty clip (0 frames); expected at least one frame of shape {expected[1:]}")
    if np.issubdtype(array.dtype, np.floating):
        if np.isinf(array).any():
            frames = np.unique(np.nonzero(np.isinf(array))[0])[:5].tolist()
            raise InputError(f"{name}: infinite values at frames {frames}; expected finite numbers (NaN marks a missing joint)")
        if not allow_nan and np.isnan(array).any():
            frames = np.unique(np.nonzero(np.isnan(array))[0])[:5].tolist()
            raise InputError(f"{name}: NaN at frames {frames}; expected finite values everywhere")
    return array


def point_array(
    name: str, values: Any, channels: int, allow_nan: bool = True, shape: tuple[int, ...] | None = None
) -> np.ndarray:
    """A (frames, points, channels) float array of any point count (for skeleton-agnostic tools)."""
    array = _numeric_array(name, values)
    if array.ndim != 3 or array.shape[2] != channels:
        raise InputError(f"{name}: expected shape (frames, points, {channels}), got {array.shape}")
    if shape is not None and array.shape != shape:
        raise InputError(f"{name}: expected shape {shape} to match the other input, got {array.shape}")
    if len(array) == 0:
        raise InputError(f"{name}: empty clip (0 frames); expected at least one frame")
    finite = np.isfinite(array) if allow_nan is False else ~np.isinf(array)
    if np.issubdtype(array.dtype, np.floating) and not finite.all():
        frames = np.unique(np.nonzero(~finite)[0])[:5].tolist()
        what = "NaN or infinite values" if not allow_nan else "infinite values"
        raise InputError(f"{name}: {what} at frames {frames}; expected finite numbers")
    return array


def joint_mask(name: str, values: Any, frames: int, skeleton: Skeleton, dtype: str = "bool") -> np.ndarray:
    """A (frames, J) bool mask (``dtype="bool"``) or float confidence (``"float"``)."""
    if dtype == "bool":
        array = np.asarray(values)
        if array.dtype != np.bool_:
            raise InputError(f"{name}: expected a bool array (True = observed), got dtype {array.dtype}")
    else:
        array = _numeric_array(name, values).astype(np.float32)
        if np.isinf(array).any():
            raise InputError(f"{name}: infinite confidence values; expected finite numbers (NaN counts as 0)")
    if array.shape != (frames, skeleton.num_joints):
        raise InputError(f"{name}: expected shape ({frames}, {skeleton.num_joints}) to match the joints, got {array.shape}")
    return array


def image_size(value: Any) -> tuple[float, float]:
    if value is None:
        raise InputError("image_size: required to normalise pixel keypoints; expected (width, height) in pixels")
    try:
        w, h = (float(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"image_size: expected (width, height) in pixels, got {value!r}") from None
    if not (np.isfinite(w) and np.isfinite(h) and w > 0 and h > 0):
        raise InputError(f"image_size: expected positive finite (width, height), got {value!r}")
    return w, h


def frame_rate(value: Any, name: str = "fps") -> float | None:
    if value is None:
        return None
    try:
        fps = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name}: expected frames per second as a number, got {value!r}") from None
    if not np.isfinite(fps) or fps <= 0:
        raise InputError(f"{name}: expected a positive frame rate, got {value!r}")
    return fps


def choice(name: str, value: Any, options: tuple[str, ...]) -> str:
    if value not in options:
        raise InputError(f"{name}: expected one of {', '.join(map(repr, options))}, got {value!r}")
    return value


def some_visible(name: str, visible: np.ndarray, why: str) -> None:
    if not visible.any():
        raise InputError(f"{name}: no visible joint in the whole clip ({why}); expected at least one observed joint")
