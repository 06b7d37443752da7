"""2D keypoint formats as data (``data/keypoint_formats.json``) and their conversion to
the canonical skeletons.

A format is its keypoint names in the tool's index order plus one rule per ``anim19``
joint (``h36m17`` is a subset): copy a keypoint, average several, take a weighted sum,
or mark the joint absent. Derived joints take the *minimum* confidence of their parts
and are absent (NaN, confidence 0) when any part is absent.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Mapping

import numpy as np

from ..skeleton import get_skeleton, skeleton_names

if TYPE_CHECKING:
    from .track import KeypointTrack

_FORMATS_FILE = Path(__file__).resolve().parent.parent / "data" / "keypoint_formats.json"
# Every rule set must build this skeleton's joints; the others are subsets of it.
_RULE_SKELETON = "anim19"


@dataclass(frozen=True)
class JointRule:
    """How one canonical joint is built: a weighted sum of keypoints (empty = absent)."""

    indices: tuple[int, ...]
    weights: tuple[float, ...]

    @property
    def absent(self) -> bool:
        return not self.indices


@dataclass(frozen=True)
class KeypointFormat:
    """A detector's keypoint layout and its rules for the canonical joints."""

    name: str
    title: str
    description: str
    keypoints: tuple[str, ...]
    rules: dict[str, JointRule]
    aliases: tuple[str, ...] = ()

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    def index(self, keypoint: str) -> int:
        try:
            return self.keypoints.index(keypoint)
        except ValueError:
            raise KeyError(f"format {self.name!r} has no keypoint {keypoint!r}") from None


def _parse_rule(fmt_name: str, joint: str, rule, keypoints: list[str]) -> JointRule:
    if rule is None:
        return JointRule((), ())
    if isinstance(rule, str):
        parts = {rule: 1.0}
    elif isinstance(rule, dict) and set(rule) == {"mean"}:
        parts = {k: 1.0 / len(rule["mean"]) for k in rule["mean"]}
    elif isinstance(rule, dict) and set(rule) == {"weights"}:
        parts = {k: float(w) for k, w in rule["weights"].items()}
    else:
        raise ValueError(f"keypoint format {fmt_name!r}, joint {joint!r}: bad rule {rule!r}")
    unknown = [k for k in parts if k not in keypoints]
    if unknown:
        raise ValueError(f"keypoint format {fmt_name!r}, joint {joint!r}: unknown keypoints {unknown}")
    if abs(sum(parts.values()) - 1.0) > 1e-6:
        # A sum of weights other than 1 would make the joint move with the image origin.
        raise ValueError(f"keypoint format {fmt_name!r}, joint {joint!r}: weights sum to {sum(parts.values())}, not 1")
    return JointRule(tuple(keypoints.index(k) for k in parts), tuple(parts.values()))


@lru_cache(maxsize=None)
def _load_formats() -> dict[str, KeypointFormat]:
    raw = json.loads(_FORMATS_FILE.read_text(encoding="utf-8"))["formats"]
    joints = get_skeleton(_RULE_SKELETON).joints
    out: dict[str, KeypointFormat] = {}
    for name, spec in raw.items():
        base = raw[spec["base"]] if "base" in spec else {"keypoints": [], "joints": {}}
        keypoints = list(base["keypoints"]) + list(spec["keypoints"])
        for group, count in spec.get("extra", []):
            keypoints += [f"{group}_{i}" for i in range(count)]
        rule_specs = {**base["joints"], **spec["joints"]}
        missing = [j for j in joints if j not in rule_specs]
        if missing:
            raise ValueError(f"keypoint format {name!r} has no rule for joints {missing}")
        out[name] = KeypointFormat(
            name=name,
            title=spec.get("title", name),
            description=spec.get("description", ""),
            keypoints=tuple(keypoints),
            rules={j: _parse_rule(name, j, rule_specs[j], keypoints) for j in joints},
            aliases=tuple(spec.get("aliases", ())),
        )
    return out


def _key(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "").replace(" ", "")


def format_names() -> list[str]:
    return list(_load_formats())


def get_format(name: "str | KeypointFormat") -> KeypointFormat:
    """A keypoint format by name or alias (case, ``-`` and ``_`` ignored: ``BODY_25B`` works)."""
    if isinstance(name, KeypointFormat):
        return name
    formats = _load_formats()
    for fmt in formats.values():
        if _key(name) in {_key(fmt.name), *map(_key, fmt.aliases)}:
            return fmt
    raise KeyError(f"unknown keypoint format {name!r}; known: {', '.join(formats)}")


def formats_with_count(count: int) -> list[KeypointFormat]:
    """Formats with ``count`` keypoints (BODY_25 and BODY_25B share 25)."""
    return [f for f in _load_formats().values() if f.num_keypoints == count]


# Known formats by name (read-only).
FORMATS: Mapping[str, KeypointFormat] = MappingProxyType(_load_formats())


def to_skeleton(
    track_or_points: "KeypointTrack | np.ndarray",
    format: "str | KeypointFormat | None" = None,
    skeleton: str = "anim19",
    confidence: "np.ndarray | None" = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints of a detector format -> joints of a canonical skeleton.

    ``track_or_points`` is a :class:`KeypointTrack` (its format and confidence are used) or
    an array ``(..., K, C)`` of any number of coordinates C, with ``format`` naming its
    layout and ``confidence`` ``(..., K)`` (default: 1 where the point is finite).
    Returns ``(points (..., J, C), confidence (..., J))``; absent joints are NaN with
    confidence 0. A keypoint counts as absent when it is not finite or its confidence
    is not positive.
    """
    if hasattr(track_or_points, "points") and hasattr(track_or_points, "confidence"):
        track = track_or_points
        if isinstance(format, str) and format in skeleton_names():
            raise TypeError(f"to_skeleton(track, {format!r}): the second argument is the keypoint format; pass skeleton={format!r}")
        if format is not None and get_format(format).name != track.format:
            raise ValueError(f"to_skeleton: track is {track.format!r} but format={format!r} was given")
        if confidence is not None:
            raise ValueError("to_skeleton: a KeypointTrack carries its own confidence; do not pass one")
        points, confidence, fmt = track.points, track.confidence, get_format(track.format)
    else:
        if format is None:
            raise ValueError("to_skeleton: an array of keypoints needs format= (e.g. 'coco17')")
        fmt = get_format(format)
        points = np.asarray(track_or_points, dtype=np.float64)
    if points.ndim < 2 or points.shape[-2] != fmt.num_keypoints:
        raise ValueError(
            f"to_skeleton: expected keypoints (..., {fmt.num_keypoints}, C) of format {fmt.name!r}, got shape {points.shape}"
        )
    points = np.asarray(points, dtype=np.float64)
    if confidence is None:
        confidence = np.ones(points.shape[:-1])
    confidence = np.asarray(confidence, dtype=np.float64)
    if confidence.shape != points.shape[:-1]:
        raise ValueError(f"to_skeleton: confidence shape {confidence.shape} does not match points {points.shape[:-1]}")

    present = np.isfinite(points).all(axis=-1) & (np.nan_to_num(confidence, nan=0.0) > 0)
    target = get_skeleton(skeleton)
    out_points = np.full(points.shape[:-2] + (target.num_joints, points.shape[-1]), np.nan)
    out_conf = np.zeros(points.shape[:-2] + (target.num_joints,))
    for j, joint in enumerate(target.joints):
        rule = fmt.rules.get(joint)
        if rule is None:
            raise KeyError(f"keypoint format {fmt.name!r} has no rule for joint {joint!r} of skeleton {skeleton!r}")
        if rule.absent:
            continue
        idx = list(rule.indices)
        weights = np.asarray(rule.weights)
        ok = present[..., idx].all(axis=-1)
        value = np.einsum("...kc,k->...c", np.where(present[..., idx, None], points[..., idx, :], 0.0), weights)
        out_points[..., j, :] = np.where(ok[..., None], value, np.nan)
        out_conf[..., j] = np.where(ok, confidence[..., idx].min(axis=-1), 0.0)
    return out_points.astype(np.float32), out_conf.astype(np.float32)
