"""Windowed inference: clips of any length and frame rate through a fixed-window network.

* Full-sequence jobs (fast lifting, 3D and 2D completion): a clip shorter than the window
  is edge-padded to one window (as the authors pad at test time); a longer one is cut into
  windows that overlap by a few frames and are cross-faded there. Windows run in batches,
  so memory stays bounded by the batch, not the clip.
* Centre-frame lifting: one window per frame, centred on it, edge-padded at the clip's ends.
* Flip test-time augmentation (either kind of job, optional): each window also runs
  horizontally mirrored, with the skeleton's left/right permutation, and the mirrored-back
  output is averaged in.
* Frame rate: inputs are resampled to the model's native rate and outputs back.
* View centring (lifting with a model trained on centred views, :mod:`engine.perspective`):
  each window is re-projected into a virtual camera aimed at the person and its 3D output
  turned back into the real camera's axes.

Everything here is numpy; the network runs behind a :class:`~engine.backends.Backend`.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .backends import Backend
from .perspective import ViewCentring

# Overlap between consecutive full-sequence windows, as a fraction of the window: enough to
# cross-fade the window edges, small so that few frames are computed twice.
DEFAULT_OVERLAP_FRACTION = 1 / 16
# Lifting modes (run_lift): the full-sequence head over a few overlapping windows, or both
# heads over dense windows; both with flip test-time augmentation.
MODES = ("fast", "accurate")


@dataclass
class WindowStats:
    """Windows actually run, by (job, window length): for FLOP accounting and benchmarks."""

    windows: Counter = field(default_factory=Counter)

    def add(self, job: str, frames: int, count: int) -> None:
        self.windows[(job, frames)] += count


def default_overlap(window: int) -> int:
    return max(1, round(window * DEFAULT_OVERLAP_FRACTION))


def dense_overlap(window: int) -> int:
    """Overlap of the accurate mode's full-sequence windows: a new window every third of a
    window, so that most frames are the weighted mean of three windows' answers."""
    return window - max(1, window // 3)


def sequence_window_count(num_frames: int, window: int, overlap: int) -> int:
    """Windows :func:`run_sequence` runs over ``num_frames`` frames (one pass, no flip)."""
    return 1 if num_frames <= window else len(window_starts(num_frames, window, overlap))


def default_batch_size(backend: Backend) -> int:
    """Windows per batch: the backend's preferred frames per batch in whole windows."""
    return max(1, backend.batch_frames // backend.config.num_frames)


def window_starts(num_frames: int, window: int, overlap: int) -> np.ndarray:
    """First frame of each window covering ``num_frames`` frames (``num_frames >= window``);
    consecutive windows overlap by ``overlap`` frames, the last one is aligned to the end."""
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must be in [0, {window}) frames for a {window}-frame window, got {overlap}")
    starts = np.arange(0, num_frames - window, window - overlap)
    return np.append(starts, num_frames - window)


def _ramp_weights(window: int, overlap: int, fade_in: bool, fade_out: bool) -> np.ndarray:
    """Cross-fade weights: linear ramps over ``overlap`` frames at the faded ends, 1 elsewhere
    (the smaller of the two ramps where they meet, for overlaps past half a window); two
    windows overlapping by exactly ``overlap`` <= window / 2 frames get weights summing to 1."""
    w = np.ones(window, dtype=np.float32)
    ramp = np.arange(1, overlap + 1, dtype=np.float32) / (overlap + 1)
    if fade_in and overlap:
        w[:overlap] = ramp
    if fade_out and overlap:
        w[window - overlap :] = np.minimum(w[window - overlap :], ramp[::-1])
    return w


def run_sequence(
    backend: Backend,
    job: str,
    pose: np.ndarray,
    visible: np.ndarray,
    overlap: int | None = None,
    batch_size: int | None = None,
    stats: WindowStats | None = None,
    view: ViewCentring | None = None,
    flip_permutation: np.ndarray | None = None,
) -> np.ndarray:
    """Run a full-sequence job over a whole clip: ``pose`` (F, J, C) float32, ``visible`` (F, J)
    -> (F, J, C_out). ``view`` (2D-to-3D jobs only): centre each window's view first.
    ``flip_permutation``: flip test-time augmentation (x mirrored about 0, the image's
    vertical centre line in normalised 2D, the camera axis in 3D)."""
    n = backend.config.num_frames
    frames = len(pose)
    passes = 1 if flip_permutation is None else 2
    if frames <= n:
        index = np.minimum(np.arange(n), frames - 1)  # edge padding after the clip
        out = _run_windows(backend, job, pose[index][None], visible[index][None], view, flip_permutation)[0]
        if stats is not None:
            stats.add(job, n, passes)
        return out[:frames]
    overlap = default_overlap(n) if overlap is None else overlap
    batch_size = default_batch_size(backend) if batch_size is None else batch_size
    batch_size = max(1, batch_size // passes)
    starts = window_starts(frames, n, overlap)
    total = None
    weight = np.zeros(frames, dtype=np.float32)
    offsets = np.arange(n)
    for b in range(0, len(starts), batch_size):
        batch = starts[b : b + batch_size]
        index = batch[:, None] + offsets
        out = _run_windows(backend, job, pose[index], visible[index], view, flip_permutation)
        if total is None:
            total = np.zeros((frames,) + out.shape[2:], dtype=np.float32)
        for k, start in enumerate(batch):
            w = _ramp_weights(n, overlap, fade_in=start > 0, fade_out=start + n < frames)
            total[start : start + n] += out[k] * w[:, None, None]
            weight[start : start + n] += w
    if stats is not None:
        stats.add(job, n, passes * len(starts))
    return total / weight[:, None, None]


def _run_windows(
    backend: Backend, job: str, x: np.ndarray, visible: np.ndarray, view: ViewCentring | None,
    flip_permutation: np.ndarray | None = None,
) -> np.ndarray:
    """One batch of 2D windows (N, T, J, 2) through ``job``, view-centred when ``view`` is
    given; with ``flip_permutation`` the mirrored windows (about the virtual camera's axis
    when centred) run in the same batch and their mirrored-back output is averaged in."""
    rotations = None
    if view is not None:
        rotations = view.rotations(x, visible, backend.config.skel)
        x = view.to_virtual(x, rotations)
    if flip_permutation is None:
        out = backend.run(job, x, visible)
    else:
        out = flip_averaged(lambda xs, vs: backend.run(job, xs, vs), x, visible, flip_permutation)
    return out if rotations is None else ViewCentring.from_virtual(out, rotations)


def mirror(values: np.ndarray, permutation: np.ndarray) -> np.ndarray:
    """The horizontal mirror image of joints (..., J, C): x negated, left and right joints
    swapped by the skeleton's ``flip_permutation``."""
    out = values[..., permutation, :].copy()
    out[..., 0] *= -1
    return out


def flip_averaged(
    run: Callable[[np.ndarray, np.ndarray], np.ndarray], x: np.ndarray, visible: np.ndarray, permutation: np.ndarray
) -> np.ndarray:
    """Flip test-time augmentation: ``run(x, visible)`` on windows (N, T, J, C) and on their
    mirror image, in one batch, the mirrored output mirrored back and averaged in."""
    both = run(np.concatenate([x, mirror(x, permutation)]), np.concatenate([visible, visible[..., permutation]]))
    return 0.5 * (both[: len(x)] + mirror(both[len(x) :], permutation))


def run_centre(
    backend: Backend,
    pose: np.ndarray,
    visible: np.ndarray,
    flip_permutation: np.ndarray | None = None,
    batch_size: int | None = None,
    stats: WindowStats | None = None,
    view: ViewCentring | None = None,
) -> np.ndarray:
    """Centre-frame lifting of every frame: (F, J, 2) -> (F, J, 3), one window per frame.

    With ``flip_permutation`` the horizontally mirrored input (x -> -x, left/right joints
    swapped) runs too, and its mirrored-back output is averaged in. With ``view`` each
    window is centred first (and mirrored about the virtual camera's axis)."""
    n = backend.config.num_frames
    half = n // 2
    frames = len(pose)
    passes = 1 if flip_permutation is None else 2  # each window also runs mirrored
    batch_size = default_batch_size(backend) if batch_size is None else batch_size
    batch_size = max(1, batch_size // passes)
    padded = np.clip(np.arange(-half, frames + half), 0, frames - 1)  # edge padding at both ends
    out = np.empty((frames, pose.shape[1], 3), dtype=np.float32)
    offsets = np.arange(n)
    for b in range(0, frames, batch_size):
        centres = np.arange(b, min(b + batch_size, frames))
        index = padded[centres[:, None] + offsets]
        out[centres] = _run_windows(backend, "lift_centre", pose[index], visible[index], view, flip_permutation)
    if stats is not None:
        stats.add("lift_centre", n, passes * frames)
    return out


def run_lift(
    backend: Backend,
    points: np.ndarray,
    visible: np.ndarray,
    mode: str = "fast",
    view: ViewCentring | None = None,
    overlap: int | None = None,
    batch_size: int | None = None,
    stats: WindowStats | None = None,
) -> np.ndarray:
    """Lift a clip of normalised 2D (F, J, 2) float32 at the model's frame rate to
    root-relative 3D (F, J, 3), in one of the product's :data:`MODES`: ``fast``, the
    full-sequence head over windows overlapping by ``overlap`` frames (default: a sixteenth
    of a window), cross-faded; ``accurate``, the mean of the centre-frame head (one window
    per frame) and the full-sequence head over windows a third of a window apart
    (``overlap`` overrides), which beats either head alone. Both modes use flip test-time
    augmentation: twice the windows, and 2-4 mm better lifting than without it for the
    shipped model (assets/models/MODEL_CARD.md, "Inference modes")."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: expected one of {MODES}")
    flip = backend.config.skel.flip_permutation
    if mode == "fast":
        return run_sequence(
            backend, "lift_full", points, visible, overlap=overlap, batch_size=batch_size, stats=stats, view=view,
            flip_permutation=flip,
        )
    centre = run_centre(backend, points, visible, flip_permutation=flip, batch_size=batch_size, stats=stats, view=view)
    full = run_sequence(
        backend, "lift_full", points, visible, overlap=dense_overlap(backend.config.num_frames) if overlap is None else overlap,
        batch_size=batch_size, stats=stats, view=view, flip_permutation=flip,
    )
    return 0.5 * (centre + full)


def resample(
    values: np.ndarray, visible: np.ndarray | None, src_fps: float, dst_fps: float, num_out: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Linear resampling of (F, J, C) values from ``src_fps`` to ``dst_fps`` (same start time).

    A resampled joint is visible when its visible source neighbours carry at least half the
    interpolation weight (in effect: when its nearest source frame has it); its value is
    interpolated from the visible neighbours only. ``num_out`` fixes the output length
    (default: every output time within the clip). Returns (values, visible)."""
    frames = len(values)
    if visible is None:
        visible = np.ones(values.shape[:2], dtype=bool)
    if num_out is None:
        num_out = int(np.floor((frames - 1) * dst_fps / src_fps + 1e-9)) + 1
    position = np.arange(num_out) * (src_fps / dst_fps)
    i0 = np.clip(np.floor(position).astype(np.int64), 0, frames - 1)
    i1 = np.minimum(i0 + 1, frames - 1)
    a = np.clip(position - i0, 0.0, 1.0).astype(np.float32)[:, None]
    w0 = (1.0 - a) * visible[i0]
    w1 = a * visible[i1]
    total = w0 + w1
    out_visible = total >= 0.5
    safe = np.where(visible[..., None], values, 0.0).astype(np.float32)
    mixed = (w0[..., None] * safe[i0] + w1[..., None] * safe[i1]) / np.maximum(total, 1e-12)[..., None]
    return np.where(out_visible[..., None], mixed, 0.0).astype(np.float32), out_visible


def needs_resampling(fps: float | None, model_fps: float) -> bool:
    return fps is not None and abs(fps - model_fps) > 1e-6 * model_fps
