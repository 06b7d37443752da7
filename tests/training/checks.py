"""Plausibility checks for canonical motion (Z up, anim19 / h36m17 joint names)."""
from __future__ import annotations

import numpy as np

from engine.skeleton import Skeleton

RIGID_LIMBS = [
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
]


def joint(pos: np.ndarray, skel: Skeleton, name: str) -> np.ndarray:
    return pos[:, skel.index(name)]


def limb_length_spread(pos: np.ndarray, skel: Skeleton) -> float:
    """Largest relative std over time of a rigid limb's length."""
    worst = 0.0
    for a, b in RIGID_LIMBS:
        d = np.linalg.norm(joint(pos, skel, a) - joint(pos, skel, b), axis=-1)
        worst = max(worst, float(np.std(d) / np.mean(d)))
    return worst


def facing(pos: np.ndarray, skel: Skeleton) -> np.ndarray:
    """(F, 3) horizontal forward direction from the hips: forward = left x up."""
    left = joint(pos, skel, "left_hip") - joint(pos, skel, "right_hip")
    fwd = np.cross(left, [0.0, 0.0, 1.0])
    return fwd / np.linalg.norm(fwd, axis=-1, keepdims=True)


def fraction_upright(pos: np.ndarray, skel: Skeleton) -> float:
    return float(np.mean(joint(pos, skel, "neck")[:, 2] > joint(pos, skel, "pelvis")[:, 2]))


def fraction_toes_ahead(pos: np.ndarray, skel: Skeleton) -> float:
    fwd = facing(pos, skel)
    ahead = [np.einsum("fi,fi->f", joint(pos, skel, f"{s}_toe") - joint(pos, skel, f"{s}_ankle"), fwd) > 0 for s in ("left", "right")]
    return float(np.mean(ahead))


def fraction_knees_forward(pos: np.ndarray, skel: Skeleton) -> float:
    """Knees point forward: the knee lies ahead of the hip-ankle line when the leg bends."""
    fwd = facing(pos, skel)
    out = []
    for s in ("left", "right"):
        hip, knee, ankle = (joint(pos, skel, f"{s}_{j}") for j in ("hip", "knee", "ankle"))
        mid = 0.5 * (hip + ankle)
        bend = np.einsum("fi,fi->f", knee - mid, fwd)
        bent = np.linalg.norm(knee - mid, axis=-1) > 0.03  # straight legs say nothing
        out.append(bend[bent] > 0)
    out = np.concatenate(out)
    return float(np.mean(out)) if out.size else 1.0
