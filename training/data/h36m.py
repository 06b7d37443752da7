"""Human3.6M in VideoPose3D's layout (``data_3d_h36m.npz``).

``positions_3d``: a pickled dict subject ("S1") -> action ("Directions 1") -> (F, 32, 3)
float32 world coordinates in metres (Z up), 50 fps. The 17 joints of ``h36m17`` are the
32-joint indices below (docs: formats.md §1b); the toes of ``anim19`` stay missing.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from engine.skeleton import convert_joints, get_skeleton

from .bvh import MotionFileError
from .motion import MotionClip
from .npzfile import load_npz, pickled_dict

H36M_FPS = 50.0
H36M32_TO_H36M17 = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]


def is_h36m_npz(keys: set[str]) -> bool:
    return "positions_3d" in keys


def action_name(take: str) -> str:
    """"Directions 1" -> "Directions" (Human3.6M averages errors per action)."""
    return re.sub(r"\s*\d+$", "", take).strip() or take


def read_h36m_npz(path: str | Path, subjects=None, skeleton: str = "anim19") -> list[MotionClip]:
    """Every (subject, take) of a VideoPose3D ``data_3d_h36m.npz`` as a 50 fps clip."""
    path = Path(path)
    data = pickled_dict(load_npz(path, allow_pickle=True), "positions_3d", path)
    h36m17, target = get_skeleton("h36m17"), get_skeleton(skeleton)
    clips = []
    for subject in sorted(data):
        if subjects is not None and subject not in subjects:
            continue
        if not isinstance(data[subject], dict):
            raise MotionFileError(f"{path}: positions_3d[{subject!r}] should map actions to arrays")
        for take in sorted(data[subject]):
            pos = np.asarray(data[subject][take], dtype=np.float32)
            if pos.ndim != 3 or pos.shape[1:] != (32, 3):
                raise MotionFileError(f"{path}: {subject}/{take} has shape {pos.shape}, expected (F, 32, 3)")
            pos17 = pos[:, H36M32_TO_H36M17]
            clips.append(MotionClip(
                positions=convert_joints(pos17, h36m17, target), fps=H36M_FPS, subject=subject,
                clip=f"{subject}/{take}", source=str(path), action=action_name(take), skeleton=skeleton,
                meta={"format": "h36m-vp3d"},
            ))
    if not clips:
        raise MotionFileError(f"{path}: no Human3.6M takes{' for subjects ' + str(list(subjects)) if subjects else ''}")
    return clips
