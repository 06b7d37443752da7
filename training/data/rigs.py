"""Rig bone positions -> canonical MotionClip, shared by the BVH and ASF/AMC readers."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from engine.rig_mapping import RigMapping, detect_mapping, load_presets, match_mapping
from engine.skeleton import convert_joints, get_skeleton

from .bvh import MotionFileError, to_world_z_up
from .cmu import cmu_ids
from .cleanup import drop_tpose_frame, estimate_height, guess_unit, height_rescale, up_axis
from .motion import MotionClip

log = logging.getLogger(__name__)
MappingArg = RigMapping | str | os.PathLike | None


def resolve_mapping(mapping: MappingArg, bone_names: list[str], source: str) -> RigMapping:
    """A mapping fitted to the rig's bone names: given (object, preset name or JSON path) or detected."""
    if mapping is None:
        found = detect_mapping(bone_names)
        if found is None:
            raise MotionFileError(
                f"{source}: no rig-mapping preset fits its bones ({', '.join(bone_names[:12])}"
                f"{', ...' if len(bone_names) > 12 else ''}); write a mapping file (docs/rig_mappings.md) and pass it"
            )
        return found[1]
    if not isinstance(mapping, RigMapping):
        presets = load_presets()
        mapping = presets[str(mapping)] if str(mapping) in presets else RigMapping.load(mapping)
    score, fitted = match_mapping(mapping, bone_names)
    if score < 1.0:
        absent = [b for b in fitted.rig_bones if b not in bone_names]
        log.warning("%s: mapping %r names bones the rig lacks: %s", source, mapping.name, ", ".join(absent))
    return fitted


def clip_from_rig(
    names: list[str],
    heads: np.ndarray,
    tails: np.ndarray,
    *,
    fps: float,
    mapping: RigMapping,
    source: str,
    subject: str,
    clip: str,
    metres_per_unit: float | None = None,
    file_up: str | None = "auto",
    skeleton: str = "anim19",
    rescale_height: bool = True,
    drop_tpose: bool = True,
    action: str | None = None,
) -> MotionClip:
    """Map (F, N, 3) bone heads/tails in file axes to a clip in metres, world Z up.

    ``metres_per_unit`` None guesses the unit from the body size; ``file_up`` 'Y', 'Z' or
    'auto' (the axis the torso points along).
    """
    by_name = {n: i for i, n in enumerate(names)}
    head_map = {b: heads[:, by_name[b]] for b in mapping.bones if b in by_name}
    tail_map = {b: tails[:, by_name[b]] for b in mapping.tails if b in by_name}
    if not head_map:
        raise MotionFileError(f"{source}: mapping {mapping.name!r} finds none of its bones in the file")
    positions, _ = mapping.joint_positions(head_map, tail_map)
    skel = mapping.skel
    meta: dict = {"mapping": mapping.name}
    if file_up == "auto":
        file_up = up_axis(positions, skel)
    if file_up == "Y":
        positions = to_world_z_up(positions)
    meta["file_up"] = file_up
    height = estimate_height(positions, skel)
    if metres_per_unit is None:
        try:
            unit, metres_per_unit = guess_unit(height)
        except ValueError as exc:
            raise MotionFileError(f"{source}: {exc}") from None
        meta["unit"] = unit
    height_m = height * metres_per_unit
    factor = height_rescale(height_m) if rescale_height else 1.0
    if factor != 1.0:
        log.info("%s: estimated height %.2f m is implausible; scaling by %.3f", source, height_m, factor)
        meta["height_rescale"] = factor
    positions = positions * (metres_per_unit * factor)
    meta["height_m"] = height_m * factor
    if drop_tpose:
        positions, dropped = drop_tpose_frame(positions, skel)
        meta["dropped_tpose_frames"] = dropped
    if positions.shape[0] == 0:
        raise MotionFileError(f"{source}: no frames")
    if skeleton != skel.name:
        positions = convert_joints(positions, skel, get_skeleton(skeleton))
    return MotionClip(
        positions=positions.astype(np.float32), fps=fps, subject=subject, clip=clip, source=source,
        action=action, skeleton=skeleton, meta=meta,
    )


def file_ids(path: Path) -> tuple[str, str]:
    """(subject, clip) for a file: CMU names give their ids, others the folder and stem."""
    ids = cmu_ids(path.stem)
    if ids:
        return f"{ids[0]:02d}", f"{ids[0]:02d}_{ids[1]:02d}"
    return path.parent.name or "subject", path.stem
