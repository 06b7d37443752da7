"""What is missing in an animation, how completed values blend in, and non-learned fills.

* :func:`missing_frames`: the frames a bone's keys leave out. Captured motion is keyed
  on (nearly) every frame, so a stretch without keys there is a gap; an animator's
  sparse keys leave nothing missing (the curve between them is the animation).
* :func:`edge_weights`: how much of a completed value to use on each missing frame:
  0 beside an existing key, rising smoothly to 1 a few frames into the gap.
* :func:`fill_interpolate` and :func:`fill_mirrored`: non-learned completions (the
  baselines the model must beat, and a fallback without a model).
"""
from __future__ import annotations

import numpy as np

from .skeleton import Skeleton


def missing_frames(
    key_frames: np.ndarray, frames: np.ndarray, *, dense_spacing: float = 1.5, min_gap: float = 3.0
) -> np.ndarray:
    """(F,) bool: which of ``frames`` a bone's keys (``key_frames``, every channel together)
    leave out.

    No key at all in ``frames``: all missing. Keys whose median spacing is at most
    ``dense_spacing`` frames are captured motion: a stretch between keys (or between a
    key and the range's end) longer than ``min_gap`` times that spacing is missing.
    Sparser keys are an animator's: nothing is missing."""
    frames = np.asarray(frames, dtype=np.float64)
    keys = np.unique(np.asarray(key_frames, dtype=np.float64))
    inside = keys[(keys >= frames.min() - 0.5) & (keys <= frames.max() + 0.5)] if len(frames) else keys
    if len(inside) == 0:
        return np.ones(len(frames), dtype=bool)
    if len(keys) < 2:
        return np.zeros(len(frames), dtype=bool)
    spacing = float(np.median(np.diff(keys)))
    if spacing > dense_spacing:
        return np.zeros(len(frames), dtype=bool)
    longest = min_gap * spacing
    bounds = np.concatenate([[frames.min() - longest - 1], keys, [frames.max() + longest + 1]])
    # Each frame lies between two keys (or a key and a range end); missing if they are far apart.
    pos = np.searchsorted(bounds, frames, side="right")
    before, after = bounds[pos - 1], bounds[np.minimum(pos, len(bounds) - 1)]
    on_key = np.isclose(frames, before)
    at_start = pos - 1 == 0
    at_end = pos == len(bounds) - 1
    span = np.where(at_start, after - frames.min() + spacing, np.where(at_end, frames.max() - before + spacing, after - before))
    return (span > longest) & ~on_key


def edge_weights(missing: np.ndarray, blend: int, keyed_before: bool = True, keyed_after: bool = True) -> np.ndarray:
    """(F,) weight of completed values: 0 where not missing, ramping smoothly (over
    ``blend`` frames) from the frames beside existing keys to 1 inside a gap. A gap
    touching the start (end) of the range ramps there only if ``keyed_before``
    (``keyed_after``): keys outside the range border it."""
    missing = np.asarray(missing, dtype=bool)
    n = len(missing)
    weight = missing.astype(np.float64)
    if blend <= 0:
        return weight
    d = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    for start, stop in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)):
        idx = np.arange(start, stop)
        dist = np.full(len(idx), np.inf)
        if start > 0 or keyed_before:
            dist = np.minimum(dist, idx - start + 1)
        if stop < n or keyed_after:
            dist = np.minimum(dist, stop - idx)
        x = np.clip(dist / (blend + 1), 0.0, 1.0)
        weight[start:stop] = x * x * (3 - 2 * x)
    return weight


def fill_interpolate(positions: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Hidden joints linearly interpolated over time between visible frames (held at the ends)."""
    out = np.array(positions, dtype=np.float64)
    frames = np.arange(len(out))
    for j in range(out.shape[1]):
        seen = visible[:, j]
        if seen.all() or not seen.any():
            continue
        for c in range(out.shape[2]):
            out[~seen, j, c] = np.interp(frames[~seen], frames[seen], out[seen, j, c])
    return out


def fill_mirrored(positions: np.ndarray, visible: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Hidden joints copied from their visible mirror joints, reflected across the body's
    mid plane (the pelvis' frame: hips' line, pelvis to thorax) and placed relative to the
    pelvis; joints without a visible mirror are interpolated."""
    pos = np.asarray(positions, dtype=np.float64)
    out = pos.copy()
    idx = skeleton.index
    body = fill_interpolate(pos, visible)  # the body's frame, where its own joints are hidden too
    lateral = body[:, idx("left_hip")] - body[:, idx("right_hip")]
    up = body[:, idx("thorax")] - body[:, idx("pelvis")]
    a = lateral / np.linalg.norm(lateral, axis=-1, keepdims=True)
    b = up - np.sum(up * a, -1, keepdims=True) * a
    b /= np.linalg.norm(b, axis=-1, keepdims=True)
    frame = np.stack([a, b, np.cross(a, b)], -1)  # columns: lateral, up, forward
    reflect = np.diag([-1.0, 1.0, 1.0])
    perm = skeleton.flip_permutation
    origin = body[:, idx("pelvis")]
    filled = visible.copy()
    for j in range(skeleton.num_joints):
        m = perm[j]
        use = ~visible[:, j] & visible[:, m] & (m != j)
        if not use.any():
            continue
        local = np.einsum("fji,fj->fi", frame[use], pos[use, m] - origin[use]) @ reflect
        out[use, j] = np.einsum("fij,fj->fi", frame[use], local) + origin[use]
        filled[use, j] = True
    return fill_interpolate(out, filled)
