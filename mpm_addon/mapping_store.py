# SPDX-License-Identifier: GPL-3.0-or-later
"""Rig mappings for the user's armatures: presets (shipped and the user's own), the
mapping kept on an armature object, and auto-detection.

The user's presets live in the extension's user folder
(``bpy.utils.extension_path_user(__package__, path="mappings")``), so they survive
updates of the extension; a user preset with the name of a shipped one replaces it.
"""
from __future__ import annotations

import re
from pathlib import Path

import bpy

from .engine.rig_mapping import MappingError, RigMapping, detect_mapping, load_presets, match_mapping

SOURCES = (
    ("NONE", "Unmapped", "The rig has no bone at this joint: the joint is missing"),
    ("HEAD", "Bone Head", "The joint is at the head (start) of a bone"),
    ("TAIL", "Bone Tail", "The joint is at the tail (end) of a bone"),
    ("MEAN", "Mean", "The joint is the mean of other joints (e.g. the pelvis between the hips)"),
)


class MappingMissing(Exception):
    """An armature has no mapping and none of the presets fits it."""


def user_preset_dir(package: str = __package__, create: bool = True) -> Path:
    """The user's preset folder of the extension ``package`` (this one by default)."""
    return Path(bpy.utils.extension_path_user(package, path="mappings", create=create))


def all_presets(package: str | None = __package__) -> dict[str, RigMapping]:
    """Shipped presets, then the user's (which replace shipped ones of the same name;
    ``package=None``: shipped only). Unreadable preset files are skipped
    (:func:`preset_problems` says why)."""
    presets = dict(load_presets())
    if package is not None:
        for path in sorted(user_preset_dir(package, create=False).glob("*.json")):
            try:
                presets[path.stem] = RigMapping.load(path)
            except MappingError:
                continue
    return presets


def preset_problems() -> list[str]:
    """Why user preset files were skipped, one line each."""
    problems = []
    for path in sorted(user_preset_dir().glob("*.json")):
        try:
            RigMapping.load(path)
        except MappingError as exc:
            problems.append(str(exc))
    return problems


def preset_file_name(name: str) -> str:
    """A file name for a preset named ``name`` (letters, digits, ``_`` and ``-``)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", name.strip()).strip("_").lower()
    if not stem:
        raise MappingError("a preset needs a name with at least one letter or digit")
    return stem + ".json"


def save_preset(mapping: RigMapping) -> Path:
    return mapping.save(user_preset_dir() / preset_file_name(mapping.name))


# -- the mapping kept on an armature -------------------------------------------------------
def stored_mapping(obj: bpy.types.Object) -> RigMapping | None:
    """The mapping edited on ``obj`` (its MPM Rig Mapping panel), or None if it has none
    (or the extension's properties are not registered, as in ``train_bridge.py``)."""
    pg = getattr(obj, "mpm_mapping", None)
    if pg is None or not len(pg.joints):
        return None
    bones, tails, derived = {}, {}, {}
    for item in pg.joints:
        if item.source == "HEAD" and item.bone:
            bones[item.bone] = item.joint
        elif item.source == "TAIL" and item.bone:
            tails[item.bone] = item.joint
        elif item.source == "MEAN" and item.mean_of.strip():
            derived[item.joint] = [p.strip() for p in item.mean_of.split(",") if p.strip()]
    if not bones:
        return None
    return RigMapping(name=pg.name or obj.name, skeleton=pg.skeleton, bones=bones, tails=tails, derived=derived,
                      rest_pose=pg.rest_pose)


def store_mapping(obj: bpy.types.Object, mapping: RigMapping) -> None:
    """Write ``mapping`` into ``obj``'s editable mapping: one row per skeleton joint."""
    pg = obj.mpm_mapping
    pg.joints.clear()
    pg.name = mapping.name
    pg.skeleton = mapping.skeleton
    pg.rest_pose = mapping.rest_pose
    heads = {j: b for b, j in mapping.bones.items()}
    tails = {j: b for b, j in mapping.tails.items()}
    for joint in mapping.skel.joints:
        item = pg.joints.add()
        item.joint = joint
        if joint in heads:
            item.source, item.bone = "HEAD", heads[joint]
        elif joint in tails:
            item.source, item.bone = "TAIL", tails[joint]
        elif joint in mapping.derived:
            item.source, item.mean_of = "MEAN", ", ".join(mapping.derived[joint])
        else:
            item.source = "NONE"


def mapping_for(obj: bpy.types.Object, presets: dict[str, RigMapping] | None = None) -> tuple[RigMapping, str]:
    """``obj``'s mapping and where it came from: its stored mapping, else the best-fitting
    of ``presets`` (default :func:`all_presets`), then stored on it. :class:`MappingMissing`
    names what to do."""
    stored = stored_mapping(obj)
    bone_names = [b.name for b in obj.data.bones]
    if stored is not None:
        score, fitted = match_mapping(stored, bone_names)
        if score < 1.0:
            missing = [b for b in sorted(fitted.rig_bones) if b not in bone_names]
            raise MappingMissing(
                f"the rig mapping of {obj.name!r} names bones the armature lacks: {', '.join(missing[:6])}; "
                "fix them in the MPM Rig Mapping panel"
            )
        return fitted, f"mapping of {obj.name}"
    found = detect_mapping(bone_names, all_presets() if presets is None else presets)
    if found is None:
        raise MappingMissing(
            f"no rig mapping fits {obj.name!r} (its bones are named like {', '.join(bone_names[:4])}): "
            "map its bones in the MPM Rig Mapping panel (and save it as a preset for next time)"
        )
    key, mapping = found
    mapping = only_present(mapping, set(bone_names))
    if hasattr(obj, "mpm_mapping"):
        store_mapping(obj, mapping)
    return mapping, f"preset {key}"


def only_present(mapping: RigMapping, bone_names: set[str]) -> RigMapping:
    """``mapping`` without the bones the rig lacks (their joints become missing)."""
    bones = {b: j for b, j in mapping.bones.items() if b in bone_names}
    tails = {b: j for b, j in mapping.tails.items() if b in bone_names}
    given = set(bones.values()) | set(tails.values())
    derived = {j: parts for j, parts in mapping.derived.items() if set(parts) <= given}
    return RigMapping(name=mapping.name, skeleton=mapping.skeleton, bones=bones, tails=tails, derived=derived,
                      rest_pose=mapping.rest_pose, description=mapping.description)
