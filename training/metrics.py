"""Pose-accuracy metrics (numpy, metres in, millimetres out).

Conventions follow docs/formats.md §5: MPJPE is the mean Euclidean joint error after
root alignment (protocol 1); P-MPJPE aligns each frame by Procrustes (rotation, scale,
translation; protocol 2); PCK counts joints within 150 mm and AUC averages PCK over
thresholds 0, 5, ..., 150 mm (31 values); the acceleration error compares second
differences x[t-1] - 2 x[t] + x[t+1] (mm per frame squared at the clip's frame rate).
Joints whose ground truth is NaN are left out of every metric.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PCK_THRESHOLD = 0.150
AUC_THRESHOLDS = np.linspace(0.0, 0.150, 31)


def joint_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(..., J) Euclidean distances; NaN where the ground truth is missing."""
    return np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(gt, np.float64), axis=-1)


def _frame_mean(err: np.ndarray, joints: np.ndarray | None = None) -> np.ndarray:
    if joints is not None:
        err = np.where(joints, err, np.nan)
    with np.errstate(invalid="ignore"):
        return np.nanmean(err, axis=-1) if np.isfinite(err).any() else np.full(err.shape[:-1], np.nan)


def mpjpe(pred: np.ndarray, gt: np.ndarray, joints: np.ndarray | None = None) -> np.ndarray:
    """Per-frame MPJPE (N,) in metres; ``joints`` (N, J) or (J,) bool restricts the joints."""
    return _frame_mean(joint_errors(pred, gt), joints)


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Align each frame of ``pred`` (N, J, 3) to ``gt`` by rotation, scale and translation
    (the VideoPose3D / MotionBERT P-MPJPE recipe); joints missing in ``gt`` are ignored."""
    pred = np.asarray(pred, np.float64)
    gt = np.asarray(gt, np.float64)
    valid = np.isfinite(gt).all(-1) & np.isfinite(pred).all(-1)
    w = valid[..., None].astype(np.float64)
    count = np.maximum(w.sum(-2, keepdims=True), 1.0)
    g = np.nan_to_num(gt)
    p = np.nan_to_num(pred)
    mu_g = (g * w).sum(-2, keepdims=True) / count
    mu_p = (p * w).sum(-2, keepdims=True) / count
    x = (g - mu_g) * w
    y = (p - mu_p) * w
    norm_x = np.sqrt((x**2).sum((-2, -1), keepdims=True)) + 1e-12
    norm_y = np.sqrt((y**2).sum((-2, -1), keepdims=True)) + 1e-12
    x, y = x / norm_x, y / norm_y
    u, s, vt = np.linalg.svd(np.swapaxes(x, -1, -2) @ y)
    v = np.swapaxes(vt, -1, -2)
    r = v @ np.swapaxes(u, -1, -2)
    # No reflections: flip the last singular direction where det(R) < 0.
    sign = np.sign(np.linalg.det(r))[..., None]
    v = v.copy()
    v[..., -1] *= sign
    s = s.copy()
    s[..., -1] *= sign[..., 0]
    r = v @ np.swapaxes(u, -1, -2)
    scale = s.sum(-1)[..., None, None] * norm_x / norm_y
    return scale * ((p - mu_p) @ r) + mu_g


def p_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-frame P-MPJPE (N,) in metres."""
    return mpjpe(procrustes_align(pred, gt), gt)


def pck(pred: np.ndarray, gt: np.ndarray, threshold: float = PCK_THRESHOLD, joints: np.ndarray | None = None) -> np.ndarray:
    """Per-frame share (0..1) of the given joints within ``threshold`` metres."""
    err = joint_errors(pred, gt)
    hit = np.where(np.isfinite(err), (err < threshold).astype(np.float64), np.nan)
    return _frame_mean(hit, joints)


def auc(pred: np.ndarray, gt: np.ndarray, joints: np.ndarray | None = None) -> np.ndarray:
    """Per-frame mean PCK over the 31 thresholds 0..150 mm."""
    return np.mean([pck(pred, gt, t, joints) for t in AUC_THRESHOLDS], axis=0)


def accel_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-frame (N - 2,) mean joint error of the second differences, metres / frame^2."""
    def accel(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        return x[:-2] - 2.0 * x[1:-1] + x[2:]

    if len(pred) < 3:
        return np.zeros(0)
    return mpjpe(accel(pred), accel(gt))


def means_by_action(values: np.ndarray, actions: Sequence[str | None] | None) -> dict[str, float]:
    """{action: mean of its values}, in order of first appearance (NaN values ignored;
    frames without an action count as the action ""); {} when no action is known."""
    values = np.asarray(values, np.float64)
    if actions is None or all(a is None for a in actions):
        return {}
    keep = np.isfinite(values)
    labels = np.asarray([a if a is not None else "" for a in actions], dtype=object)
    return {str(a): float(values[keep & (labels == a)].mean()) for a in dict.fromkeys(labels[keep])}


def average_by_action(values: np.ndarray, actions: Sequence[str | None] | None) -> float:
    """Human3.6M-style averaging: mean per action, then mean over actions (plain mean
    when no action is known). NaN values are ignored."""
    values = np.asarray(values, np.float64)
    keep = np.isfinite(values)
    if not keep.any():
        return float("nan")
    per_action = means_by_action(values, actions)
    return float(np.mean(list(per_action.values()))) if per_action else float(values[keep].mean())
