"""Canonical skeletons, loaded from ``data/skeletons.json``.

A skeleton is data: joint names in a fixed order, a parent per joint and a root.
Everything else (left/right flip permutation, bones, limb groups) is derived from
the names, so adding a skeleton means editing the JSON file, not the code.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

_SKELETON_FILE = Path(__file__).with_name("data") / "skeletons.json"


@dataclass(frozen=True)
class Skeleton:
    """An ordered set of named joints forming a tree."""

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    root: int = 0
    description: str = ""
    limbs: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if len(self.joints) != len(self.parents):
            raise ValueError(f"skeleton {self.name!r}: {len(self.joints)} joints but {len(self.parents)} parents")
        if len(set(self.joints)) != len(self.joints):
            raise ValueError(f"skeleton {self.name!r}: duplicate joint names")
        for i, p in enumerate(self.parents):
            if (p < 0) != (i == self.root) or p >= len(self.joints):
                raise ValueError(f"skeleton {self.name!r}: bad parent {p} for joint {self.joints[i]!r}")

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        """Index of a joint by name, with an error that lists the valid names."""
        try:
            return self.joints.index(joint)
        except ValueError:
            raise KeyError(f"skeleton {self.name!r} has no joint {joint!r}; joints: {', '.join(self.joints)}") from None

    def indices(self, joints: "list[str] | tuple[str, ...]") -> list[int]:
        return [self.index(j) for j in joints]

    @property
    def flip_permutation(self) -> np.ndarray:
        """Index map that swaps left and right joints (for horizontal-flip augmentation)."""
        perm = np.arange(self.num_joints)
        for i, name in enumerate(self.joints):
            for a, b in (("left_", "right_"), ("right_", "left_")):
                if name.startswith(a):
                    perm[i] = self.index(b + name[len(a):])
        return perm

    @property
    def left(self) -> list[int]:
        return [i for i, n in enumerate(self.joints) if n.startswith("left_")]

    @property
    def right(self) -> list[int]:
        return [i for i, n in enumerate(self.joints) if n.startswith("right_")]

    @property
    def bones(self) -> list[tuple[int, int]]:
        """(parent, child) index pairs, in joint order."""
        return [(p, i) for i, p in enumerate(self.parents) if p >= 0]

    def limb_indices(self, limb: str) -> list[int]:
        """Joint indices of a named limb group (``left_arm`` ...), restricted to this skeleton's joints."""
        if limb not in self.limbs:
            raise KeyError(f"unknown limb {limb!r}; limbs: {', '.join(self.limbs)}")
        return [self.joints.index(j) for j in self.limbs[limb] if j in self.joints]


@lru_cache(maxsize=None)
def _load_all() -> dict[str, Skeleton]:
    data = json.loads(_SKELETON_FILE.read_text(encoding="utf-8"))
    limbs = {k: tuple(v) for k, v in data.get("limbs", {}).items()}
    out = {}
    for name, s in data["skeletons"].items():
        joints = tuple(s["joints"])
        out[name] = Skeleton(
            name=name,
            joints=joints,
            parents=tuple(s["parents"]),
            root=joints.index(s["root"]),
            description=s.get("description", ""),
            limbs=limbs,
        )
    return out


def get_skeleton(name: str) -> Skeleton:
    """Return a canonical skeleton by name (``h36m17`` or ``anim19``)."""
    skeletons = _load_all()
    if name not in skeletons:
        raise KeyError(f"unknown skeleton {name!r}; known: {', '.join(sorted(skeletons))}")
    return skeletons[name]


def skeleton_names() -> list[str]:
    return sorted(_load_all())


def convert_joints(
    values: np.ndarray, src: Skeleton, dst: Skeleton, axis: int = -2, fill: float = np.nan
) -> np.ndarray:
    """Re-order the joint axis of ``values`` from ``src`` to ``dst`` by joint name.

    ``axis`` is ``-2`` for positions ``(..., J, C)`` and ``-1`` for masks or confidences ``(..., J)``.
    Joints ``dst`` has and ``src`` lacks are filled with ``fill`` (NaN, i.e. missing, by default).
    """
    values = np.asarray(values)
    if values.shape[axis] != src.num_joints:
        raise ValueError(f"expected {src.num_joints} joints of {src.name!r} on axis {axis}, got shape {values.shape}")
    moved = np.moveaxis(values, axis, 0)
    out = np.full((dst.num_joints,) + moved.shape[1:], fill, dtype=np.result_type(values.dtype, np.asarray(fill).dtype))
    for i, name in enumerate(dst.joints):
        if name in src.joints:
            out[i] = moved[src.joints.index(name)]
    return np.moveaxis(out, 0, axis)
