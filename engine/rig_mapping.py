"""Rig mappings: which bones of a rig give the canonical skeleton's joints.

One bpy-free module that the training readers (BVH, Blender actions) and the add-on
(retargeting, completion) share. A mapping is a small JSON file (docs/contracts.md)::

    {
      "format": "mpm-rig-mapping", "version": 1,
      "name": "Mixamo", "skeleton": "anim19", "rest_pose": "T",
      "bones":   {"mixamorig:Hips": "pelvis", "mixamorig:LeftUpLeg": "left_hip", ...},
      "tails":   {"mixamorig:Head": "head"},
      "derived": {"spine": ["pelvis", "thorax"]}
    }

``bones`` places a joint at a bone's head (a BVH joint's position); ``tails`` at a
bone's tail (a BVH end site, or the bone's only child); ``derived`` at the mean of
other joints. Joints given by none of them are missing (masked for the model).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from .skeleton import Skeleton, get_skeleton

FORMAT = "mpm-rig-mapping"
VERSION = 1
REST_POSES = ("T", "A")
# Repository and extension share the layout <root>/engine and <root>/assets.
DEFAULT_PRESET_DIR = Path(__file__).resolve().parent.parent / "assets" / "mappings"


class MappingError(ValueError):
    """A mapping file or dict that does not follow the format."""


@dataclass
class RigMapping:
    name: str
    skeleton: str = "anim19"
    bones: dict[str, str] = field(default_factory=dict)
    tails: dict[str, str] = field(default_factory=dict)
    derived: dict[str, list[str]] = field(default_factory=dict)
    rest_pose: str = "T"
    description: str = ""

    def __post_init__(self) -> None:
        skel = self.skel
        if self.rest_pose not in REST_POSES:
            raise MappingError(f"mapping {self.name!r}: rest_pose must be one of {REST_POSES}, got {self.rest_pose!r}")
        seen: dict[str, str] = {}
        sources = [(f"bone {b!r}", j) for b, j in self.bones.items()]
        sources += [(f"tail of {b!r}", j) for b, j in self.tails.items()]
        sources += [(f"derived {j!r}", j) for j in self.derived]
        for source, joint in sources:
            if joint not in skel.joints:
                raise MappingError(
                    f"mapping {self.name!r}: {source} maps to {joint!r}, not a joint of {skel.name!r} "
                    f"({', '.join(skel.joints)})"
                )
            if joint in seen:
                raise MappingError(f"mapping {self.name!r}: joint {joint!r} is given twice ({seen[joint]} and {source})")
            seen[joint] = source
        for joint, parts in self.derived.items():
            bad = [p for p in parts if p not in seen or p in self.derived]
            if not parts or bad:
                raise MappingError(
                    f"mapping {self.name!r}: derived joint {joint!r} must average joints given by bones or tails; "
                    f"bad: {bad or parts}"
                )

    @property
    def skel(self) -> Skeleton:
        try:
            return get_skeleton(self.skeleton)
        except KeyError as exc:
            raise MappingError(f"mapping {self.name!r}: {exc.args[0]}") from None

    @property
    def rig_bones(self) -> set[str]:
        """Every rig bone the mapping reads."""
        return set(self.bones) | set(self.tails)

    def mapped_joints(self) -> list[str]:
        return [j for j in self.skel.joints if j in set(self.bones.values()) | set(self.tails.values()) | set(self.derived)]

    def bone_for_joint(self, joint: str) -> str | None:
        """The bone whose head gives ``joint`` (the bone a retargeter rotates), if any."""
        for bone, j in self.bones.items():
            if j == joint:
                return bone
        return None

    # -- positions -------------------------------------------------------------------
    def joint_positions(
        self, heads: Mapping[str, np.ndarray], tails: Mapping[str, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Canonical joint positions from per-bone positions.

        ``heads[bone]`` and ``tails[bone]`` are (F, 3) arrays (bone head / tail, or a BVH
        joint / its end site). Returns ``positions`` (F, J, 3), NaN where missing, and
        ``visible`` (F, J) bool.
        """
        tails = tails or {}
        skel = self.skel
        n = _frame_count(heads, tails)
        pos = np.full((n, skel.num_joints, 3), np.nan, dtype=np.float64)
        for table, source in ((self.bones, heads), (self.tails, tails)):
            for bone, joint in table.items():
                if bone in source:
                    pos[:, skel.index(joint)] = np.asarray(source[bone], dtype=np.float64).reshape(n, 3)
        for joint, parts in self.derived.items():
            pos[:, skel.index(joint)] = np.mean([pos[:, skel.index(p)] for p in parts], axis=0)
        visible = np.isfinite(pos).all(-1)
        return pos, visible

    # -- (de)serialisation -----------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "description": self.description,
            "skeleton": self.skeleton,
            "rest_pose": self.rest_pose,
            "bones": dict(self.bones),
            "tails": dict(self.tails),
            "derived": {k: list(v) for k, v in self.derived.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping, source: str = "<dict>") -> "RigMapping":
        if not isinstance(d, Mapping) or d.get("format") != FORMAT:
            raise MappingError(f"{source} is not a rig mapping (expected \"format\": \"{FORMAT}\")")
        if d.get("version", 0) > VERSION:
            raise MappingError(f"{source} is mapping version {d['version']}; this engine reads up to {VERSION}")
        for key in ("bones", "tails", "derived"):
            if not isinstance(d.get(key, {}), Mapping):
                raise MappingError(f"{source}: '{key}' must be an object")
        if not d.get("bones"):
            raise MappingError(f"{source}: 'bones' is empty: map at least the rig's root bone")
        return cls(
            name=str(d.get("name") or Path(source).stem),
            skeleton=d.get("skeleton", "anim19"),
            bones={str(k): str(v) for k, v in d["bones"].items()},
            tails={str(k): str(v) for k, v in d.get("tails", {}).items()},
            derived={str(k): [str(p) for p in v] for k, v in d.get("derived", {}).items()},
            rest_pose=d.get("rest_pose", "T"),
            description=d.get("description", ""),
        )

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "RigMapping":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise MappingError(f"cannot read rig mapping {path}: {exc}") from None
        return cls.from_dict(data, source=str(path))

    def renamed(self, rename: Mapping[str, str]) -> "RigMapping":
        """A copy whose bone names are replaced through ``rename`` (old -> new)."""
        return RigMapping(
            name=self.name,
            skeleton=self.skeleton,
            bones={rename.get(b, b): j for b, j in self.bones.items()},
            tails={rename.get(b, b): j for b, j in self.tails.items()},
            derived={k: list(v) for k, v in self.derived.items()},
            rest_pose=self.rest_pose,
            description=self.description,
        )


def _frame_count(*tables: Mapping[str, np.ndarray]) -> int:
    for table in tables:
        for value in table.values():
            return int(np.asarray(value).reshape(-1, 3).shape[0])
    raise MappingError("no bone positions given")


# -- presets and auto-detection ------------------------------------------------------
def load_presets(directory: str | os.PathLike | None = None) -> dict[str, RigMapping]:
    """All ``*.json`` mappings in ``directory`` (the shipped presets by default), by file stem."""
    directory = Path(directory) if directory else DEFAULT_PRESET_DIR
    return {p.stem: RigMapping.load(p) for p in sorted(directory.glob("*.json"))}


def normalize_bone_name(name: str) -> str:
    """Case- and namespace-insensitive bone key: ``mixamorig1:LeftArm`` -> ``leftarm``."""
    return re.sub(r"[\s_.\-]", "", name.rsplit(":", 1)[-1].rsplit("|", 1)[-1]).lower()


def match_mapping(mapping: RigMapping, bone_names: Iterable[str]) -> tuple[float, RigMapping]:
    """How well ``mapping`` fits a rig (fraction of its bones found), and the mapping
    with its bone names replaced by the rig's own spelling."""
    by_key = {}
    for name in bone_names:
        by_key.setdefault(normalize_bone_name(name), name)
    rename = {}
    for bone in mapping.rig_bones:
        actual = bone if bone in by_key.values() else by_key.get(normalize_bone_name(bone))
        if actual is not None:
            rename[bone] = actual
    score = len(rename) / max(1, len(mapping.rig_bones))
    return score, mapping.renamed(rename)


def detect_mapping(
    bone_names: Iterable[str], presets: Mapping[str, RigMapping] | None = None, min_score: float = 0.8
) -> tuple[str, RigMapping] | None:
    """Pick the preset that best fits a rig's bone names; None when none fits ``min_score``."""
    bone_names = list(bone_names)
    presets = load_presets() if presets is None else presets
    best: tuple[float, int, str, RigMapping] | None = None
    for key, mapping in presets.items():
        score, fitted = match_mapping(mapping, bone_names)
        # Prefer the best fit, then the mapping that reads the most bones (more specific).
        candidate = (score, len(mapping.rig_bones), key, fitted)
        if score >= min_score and (best is None or candidate[:2] > best[:2]):
            best = candidate
    return None if best is None else (best[2], best[3])
