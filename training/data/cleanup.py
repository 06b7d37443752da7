"""Checks that turn raw rig positions into trustworthy clips: units, height, up axis, T-pose.

Rules (documented in training/data/README.md):

* **Units.** A BVH file does not say its unit. The body's size decides: among metres,
  centimetres, millimetres and inches, the unit whose estimated standing height is
  nearest 1.70 m (in ratio) wins.
* **Implausible height.** When the height, in the right unit, still lies outside
  ``PLAUSIBLE_HEIGHT`` (e.g. CMU subject 61's BVH, rescaled to about 0.65 of real size),
  the clip is scaled uniformly to ``NOMINAL_HEIGHT``; the factor is kept in ``meta``.
  This would wrongly enlarge a child's capture: pass ``rescale_height=False`` then.
* **Height estimate.** Pose independent: the median over frames of the bone chain
  neck (base of skull) -> thorax -> spine -> pelvis plus the mean leg (hip -> knee ->
  ankle), times ``HEIGHT_PER_CHAIN`` (measured on the CMU ASF subjects, whose units are
  known: the head above the skull base and the ankle height add about 9 % to that
  chain, median over clips of the 95th-percentile head-top-to-lowest-foot height).
* **Prepended rest pose.** Frame 0 is dropped when it holds a rest pose (both upper arms
  and forearms pointing away from the body, between 40 degrees below and 25 above the
  horizontal: a T-pose or a shallow A-pose) *and* the step to frame 1 is more than
  ``REST_POSE_JUMP`` times the clip's median frame-to-frame step. A clip that really
  starts in a T-pose and moves on smoothly keeps its frame 0. (On the shared CMU data:
  every subject-61 clip and iClone clips 07_03..07_12 have one; the others do not.)
"""
from __future__ import annotations

import numpy as np

from engine.skeleton import Skeleton

UNIT_CANDIDATES = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254}
NOMINAL_HEIGHT = 1.70
PLAUSIBLE_HEIGHT = (1.45, 2.05)
HEIGHT_PER_CHAIN = 1.09
REST_POSE_ARM_TILT_DEG = (-40.0, 25.0)
REST_POSE_JUMP = 5.0


def _dist(pos: np.ndarray, skel: Skeleton, a: str, b: str) -> np.ndarray:
    return np.linalg.norm(pos[:, skel.index(a)] - pos[:, skel.index(b)], axis=-1)


def estimate_height(positions: np.ndarray, skel: Skeleton) -> float:
    """Standing height (in the positions' unit) from bone lengths; NaN if the chain is unmapped."""
    pos = np.asarray(positions, dtype=np.float64)
    trunk = _dist(pos, skel, "neck", "thorax") + _dist(pos, skel, "thorax", "spine") + _dist(pos, skel, "spine", "pelvis")
    legs = [
        _dist(pos, skel, f"{s}_hip", f"{s}_knee") + _dist(pos, skel, f"{s}_knee", f"{s}_ankle") for s in ("left", "right")
    ]
    leg = np.nanmean(np.stack(legs), axis=0)
    chain = trunk + leg
    chain = chain[np.isfinite(chain)]
    return float(np.median(chain) * HEIGHT_PER_CHAIN) if chain.size else float("nan")


def guess_unit(height_in_file_units: float) -> tuple[str, float]:
    """(unit name, metres per unit) that makes the estimated height most adult-like."""
    if not np.isfinite(height_in_file_units) or height_in_file_units <= 0:
        raise ValueError("cannot guess the unit: the rig's legs and trunk are not mapped")
    name = min(UNIT_CANDIDATES, key=lambda u: abs(np.log(height_in_file_units * UNIT_CANDIDATES[u] / NOMINAL_HEIGHT)))
    return name, UNIT_CANDIDATES[name]


def height_rescale(height_m: float) -> float:
    """Factor that brings an implausible height to ``NOMINAL_HEIGHT`` (1.0 when plausible)."""
    lo, hi = PLAUSIBLE_HEIGHT
    if not np.isfinite(height_m) or lo <= height_m <= hi:
        return 1.0
    return NOMINAL_HEIGHT / height_m


def up_axis(positions_y_up: np.ndarray, skel: Skeleton) -> str:
    """'Y' or 'Z': the file axis the torso points along (before any axis conversion)."""
    torso = positions_y_up[:, skel.index("thorax")] - positions_y_up[:, skel.index("pelvis")]
    torso = np.nanmedian(torso, axis=0)
    return "Z" if abs(torso[2]) > abs(torso[1]) else "Y"


def is_rest_pose(frame: np.ndarray, skel: Skeleton) -> bool:
    """True when both arms of one (J, 3) Z-up frame are held out straight (T- or A-pose)."""
    lo, hi = np.sin(np.radians(REST_POSE_ARM_TILT_DEG))
    for side, other in (("left", "right"), ("right", "left")):
        sh, el, wr = (frame[skel.index(f"{side}_{j}")] for j in ("shoulder", "elbow", "wrist"))
        outward = sh - frame[skel.index(f"{other}_shoulder")]
        outward = outward / np.linalg.norm(outward)
        for a, b in ((sh, el), (el, wr)):
            seg = b - a
            length = np.linalg.norm(seg)
            if not np.isfinite(length) or length == 0 or not lo <= seg[2] / length <= hi:
                return False
            if np.dot(seg, outward) <= 0.6 * length:
                return False
    return True


def first_step_ratio(positions: np.ndarray) -> float:
    """Root-relative motion from frame 0 to 1 over the median step of the next 200 frames."""
    rel = positions - positions[:, :1]
    steps = np.nanmean(np.linalg.norm(np.diff(rel[:202], axis=0), axis=-1), axis=-1)
    typical = np.median(steps[1:]) if steps.size > 1 else np.nan
    return float(steps[0] / max(typical, 1e-9)) if np.isfinite(typical) else 0.0


def drop_tpose_frame(positions: np.ndarray, skel: Skeleton) -> tuple[np.ndarray, int]:
    """Drop a prepended rest-pose frame 0; returns the positions and how many frames were dropped."""
    if positions.shape[0] > 2 and is_rest_pose(positions[0], skel) and first_step_ratio(positions) > REST_POSE_JUMP:
        return positions[1:], 1
    return positions, 0
