# SPDX-License-Identifier: GPL-3.0-or-later
"""Which Movie Clip track gives which joint: track names and their accepted aliases.

A track named exactly like a joint of the model's skeleton (``pelvis``, ``left_knee``,
``right_toe`` ...) always wins. Otherwise names are compared without case, spaces, dots,
dashes and underscores, with the side given as a prefix or suffix (``left``/``l``,
``right``/``r``): ``LKnee``, ``knee.L``, ``Left Knee`` and ``knee_left`` all name
``left_knee``. The aliases below cover the names of the common 2D detectors (OpenPose,
COCO, MediaPipe, Halpe) and of hand-made tracks; docs/blender_extension.md lists them.
OpenPose's ``Neck`` (the base of the neck) is ``thorax`` here: ``neck`` is the canonical
joint 9 of Human3.6M (the nose on detectors), so the name ``neck`` keeps that meaning.
"""
from __future__ import annotations

import re

# Joints without a side: alias keys (normalised) -> joint.
CENTRE_ALIASES = {
    "pelvis": ("pelvis", "hip", "hips", "midhip", "root", "hipcenter", "hipcentre"),
    "spine": ("spine", "belly", "midspine", "spinemid", "torso", "abdomen"),
    "thorax": ("thorax", "chest", "upperchest", "spineshoulder", "neckbase", "midshoulder", "shouldercenter"),
    "neck": ("neck", "nose", "headbase", "skullbase"),
    "head": ("head", "headtop", "topofhead", "crown"),
}
# Joints with a side: alias keys of the part -> part; the joint is "<side>_<part>".
SIDE_ALIASES = {
    "hip": ("hip", "upleg", "upperleg"),
    "knee": ("knee", "lowerleg", "lowleg"),
    "ankle": ("ankle", "foot"),
    "toe": ("toe", "toes", "toetip", "bigtoe", "footindex", "foottip"),
    "shoulder": ("shoulder", "upperarm"),
    "elbow": ("elbow", "lowerarm", "forearm"),
    "wrist": ("wrist", "hand"),
}
SIDES = (("left", "left"), ("right", "right"), ("l", "left"), ("r", "right"))


def normalise(name: str) -> str:
    """Lower case without separators: ``Left Knee`` / ``left_knee`` / ``knee.L`` -> ``leftknee`` / ``kneel``."""
    return re.sub(r"[\s_.\-]", "", name).lower()


def joint_for_track(name: str, joints: tuple[str, ...] | list[str]) -> str | None:
    """The joint of ``joints`` a track named ``name`` gives, or None."""
    if name in joints:
        return name
    key = normalise(name)
    for joint in joints:
        if key == normalise(joint):
            return joint
    for joint, aliases in CENTRE_ALIASES.items():
        if key in aliases and joint in joints:
            return joint
    for prefix, side in SIDES:
        for part, aliases in SIDE_ALIASES.items():
            joint = f"{side}_{part}"
            if joint in joints and any(key in (prefix + a, a + prefix) for a in aliases):
                return joint
    return None


def match_tracks(track_names: list[str], joints: tuple[str, ...] | list[str]) -> tuple[dict[str, str], list[str]]:
    """Pick one track per joint.

    Returns ({joint: track name}, [names of tracks ignored because another track already
    gives their joint]). Exact joint names win over aliases; otherwise the first track
    in name order wins."""
    chosen: dict[str, str] = {}
    ignored: list[str] = []
    ranked = sorted(track_names, key=lambda n: (n not in joints, n))
    for name in ranked:
        joint = joint_for_track(name, joints)
        if joint is None:
            continue
        if joint in chosen:
            ignored.append(name)
        else:
            chosen[joint] = name
    return chosen, ignored
