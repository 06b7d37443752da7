"""TRC marker files (OpenSim; Pose2Sim's triangulated keypoints) -> positions.

Layout: line 1 ``PathFileType``; line 2 the header names (``DataRate ... Units ...``);
line 3 their values; line 4 ``Frame# Time <marker> ...`` (one name per X/Y/Z triple);
line 5 the X1 Y1 Z1 ... labels; then one tab-separated row per frame. Y is up.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .bvh import MotionFileError
from .cleanup import UNIT_CANDIDATES


@dataclass
class TrcData:
    markers: list[str]
    positions: np.ndarray  # (F, M, 3) metres, the file's axes (Y up)
    fps: float
    frames: np.ndarray  # (F,) the file's frame numbers


def read_trc(path: str | os.PathLike) -> TrcData:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise MotionFileError(f"cannot read TRC file {path}: {exc.strerror or exc}") from None
    if len(lines) < 6 or not lines[0].startswith("PathFileType"):
        raise MotionFileError(f"{path} is not a TRC file (expected 'PathFileType' on line 1 and 5 header lines)")
    header = dict(zip(lines[1].split("\t"), lines[2].split("\t")))
    try:
        fps = float(header["DataRate"])
        unit = header.get("Units", "m").strip().lower()
        scale = UNIT_CANDIDATES[{"millimeters": "mm", "meters": "m"}.get(unit, unit)]
    except (KeyError, ValueError):
        raise MotionFileError(f"{path}: TRC header needs DataRate and Units (m, mm, cm), got {header}") from None
    markers = [m for m in lines[3].split("\t")[2:] if m.strip()]
    rows = [l.split("\t") for l in lines[5:] if l.strip()]
    n = 2 + 3 * len(markers)
    try:
        table = np.array([[float(v) if v.strip() else np.nan for v in r[:n]] + [np.nan] * (n - len(r)) for r in rows])
    except ValueError:
        raise MotionFileError(f"{path}: a data row holds something other than numbers") from None
    if table.size == 0:
        raise MotionFileError(f"{path}: no frames")
    return TrcData(markers, table[:, 2:].reshape(len(rows), len(markers), 3) * scale, fps, table[:, 0].astype(int))
