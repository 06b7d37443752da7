"""Feet that do not slide: contact detection, foot locking and floor alignment.

All on joint positions (F, J, 3), Z up, before retargeting (no IK anywhere):

* :func:`detect_contacts` marks frames where an ankle or toe is low and still (its own
  speed and its height above its lowest level in the clip, in metres).
* :func:`lock_feet` holds every contact joint at one place for the whole contact
  (where it was on average), blending in and out over a few frames around it.
* :func:`floor_offset` is the vertical shift that puts the lowest contacts at the
  heights the rig's ankles and toes have when it stands on its floor.

The retargeter's ``leg_reach`` then bends the rig's own knees so its ankles land on
the locked positions.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import Skeleton

FOOT_JOINTS = ("left_ankle", "left_toe", "right_ankle", "right_toe")


@dataclass
class FootContacts:
    """``contact`` (F, K) bool for ``joints`` (K names of the skeleton)."""

    joints: tuple[str, ...]
    contact: np.ndarray

    def intervals(self, k: int) -> list[tuple[int, int]]:
        """(first, last) frame of each contact of joint ``k``."""
        return [(s, e - 1) for s, e in _runs(self.contact[:, k], True)]


def _runs(mask: np.ndarray, value: bool) -> list[tuple[int, int]]:
    """(start, stop) of each run of ``value`` in ``mask`` (stop exclusive)."""
    d = np.diff(np.concatenate([[0], (mask == value).astype(np.int8), [0]]))
    return [(int(s), int(e)) for s, e in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1))]


def detect_contacts(
    positions: np.ndarray,
    skeleton: Skeleton,
    fps: float,
    *,
    max_speed: float = 0.35,
    max_height: float = 0.06,
    min_duration: float = 0.1,
    up_axis: int = 2,
) -> FootContacts:
    """Contact frames of the ankles and toes of ``positions`` (F, J, 3) in metres.

    A joint is in contact where it moves slower than ``max_speed`` (m/s, smoothed over
    three frames) and is within ``max_height`` (m) of its lowest level in the clip (its
    2nd percentile: the clip is assumed to be on one floor). Contacts and gaps shorter
    than ``min_duration`` seconds are dropped / closed."""
    positions = np.asarray(positions, dtype=np.float64)
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    joints = tuple(j for j in FOOT_JOINTS if j in skeleton.joints)
    if not joints:
        raise ValueError(f"skeleton {skeleton.name!r} has no ankle or toe joints ({', '.join(FOOT_JOINTS)})")
    n = len(positions)
    contact = np.zeros((n, len(joints)), dtype=bool)
    shortest = max(1, int(round(min_duration * fps)))
    for k, joint in enumerate(joints):
        p = positions[:, skeleton.index(joint)]
        finite = np.isfinite(p).all(-1)
        if finite.sum() < 3:
            continue
        speed = np.full(n, np.inf)
        grad = np.gradient(p, axis=0) * fps if n > 1 else np.zeros_like(p)
        speed[finite] = np.linalg.norm(grad[finite], axis=-1)
        speed = np.convolve(np.nan_to_num(speed, nan=np.inf, posinf=1e9), np.ones(3) / 3, mode="same")
        height = p[:, up_axis] - np.percentile(p[finite, up_axis], 2)
        c = finite & (speed < max_speed) & (height < max_height)
        contact[:, k] = _clean(c, shortest)
    return FootContacts(joints, contact)


def _clean(mask: np.ndarray, shortest: int) -> np.ndarray:
    """Close gaps and drop runs shorter than ``shortest`` frames."""
    mask = mask.copy()
    for s, e in _runs(mask, False):
        if 0 < s and e < len(mask) and e - s < shortest:
            mask[s:e] = True
    for s, e in _runs(mask, True):
        if e - s < shortest:
            mask[s:e] = False
    return mask


def lock_feet(positions: np.ndarray, contacts: FootContacts, skeleton: Skeleton, blend: int = 4) -> np.ndarray:
    """A copy of ``positions`` with each contact joint held still during each contact
    (at its mean position there) and eased back to its own path over ``blend`` frames
    before and after."""
    out = np.array(positions, dtype=np.float64)
    n = len(out)
    for k, joint in enumerate(contacts.joints):
        j = skeleton.index(joint)
        for s, e in contacts.intervals(k):
            anchor = np.nanmean(out[s : e + 1, j], axis=0)
            out[s : e + 1, j] = anchor
            for step in range(1, blend + 1):
                w = 0.5 * (1 + np.cos(np.pi * step / (blend + 1)))  # 1 at the contact, 0 beyond
                for f in (s - step, e + step):
                    if 0 <= f < n and not contacts.contact[f, k]:
                        out[f, j] += w * (anchor - out[f, j])
    return out


def floor_offset(
    positions: np.ndarray, contacts: FootContacts, skeleton: Skeleton, rest_heights: dict[str, float], up_axis: int = 2,
    percentile: float = 5.0,
) -> float:
    """Vertical shift putting the lowest contacts (``percentile`` of contact heights,
    robust to a stray low frame) at the rig's standing heights ``rest_heights`` (joint ->
    height of that joint above the floor when the rig stands). 0 without contacts."""
    gaps = []
    for k, joint in enumerate(contacts.joints):
        if joint not in rest_heights:
            continue
        z = positions[contacts.contact[:, k], skeleton.index(joint), up_axis]
        gaps.append(z[np.isfinite(z)] - rest_heights[joint])
    gaps = np.concatenate(gaps) if gaps else np.zeros(0)
    return float(-np.percentile(gaps, percentile)) if len(gaps) else 0.0
