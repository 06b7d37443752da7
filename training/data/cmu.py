"""CMU motion capture database specifics: file ids, the CMU_data.csv table, frame-rate check."""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# CMU clips are named <subject>_<trial>[suffix]: 02_01.amc, 002_01.bvh, 61_01_scaled.bvh.
_CMU_NAME = re.compile(r"^(\d{1,3})_(\d{1,3})(?:_[A-Za-z]\w*)?$")
TABLE_NAME = "CMU_data.csv"
TABLE_FPS = 60.0  # the table's "Frames 60fps" column counts frames at 60 fps


@dataclass(frozen=True)
class CmuEntry:
    subject: int
    trial: int
    description: str
    framerate: float
    frames_60fps: int


def cmu_ids(stem: str) -> tuple[int, int] | None:
    """(subject, trial) when a file stem follows CMU naming, else None."""
    m = _CMU_NAME.match(stem)
    return (int(m.group(1)), int(m.group(2))) if m else None


def find_table(path: Path) -> Path | None:
    """CMU_data.csv in the file's folder or one of its two parents."""
    for folder in list(path.parents)[:3]:
        candidate = folder / TABLE_NAME
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=8)
def read_table(path: Path) -> dict[tuple[int, int], CmuEntry]:
    out = {}
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        for row in csv.DictReader(fh):
            try:
                key = (int(row["Subject"]), int(row["Trial #"]))
                out[key] = CmuEntry(
                    key[0], key[1], row.get("Motion Description", "").strip(),
                    float(row.get("framerate") or "nan"), int(row.get("Frames 60fps") or -1),
                )
            except (KeyError, ValueError):
                continue
    return out


def check_frame_rate(entry: CmuEntry, num_frames: int, fps: float) -> tuple[float, str | None]:
    """Compare a file's frame count and rate with the table's duration.

    Returns the frame rate to use and a note. When the file's duration disagrees with the
    table but the count fits the table at another standard rate, the header is wrong and
    that rate is used.
    """
    if entry.frames_60fps <= 0:
        return fps, None
    expected_s = entry.frames_60fps / TABLE_FPS
    tolerance_s = 2.0 / TABLE_FPS
    if abs(num_frames / fps - expected_s) <= tolerance_s:
        return fps, None
    for rate in (120.0, 60.0, 30.0, 24.0, 25.0, 50.0):
        if abs(num_frames / rate - expected_s) <= tolerance_s:
            return rate, f"Frame Time says {fps:.3f} fps but CMU_data.csv's duration fits {rate:g} fps: using {rate:g}"
    return fps, (
        f"duration {num_frames / fps:.2f} s differs from CMU_data.csv's {expected_s:.2f} s "
        f"({entry.frames_60fps} frames at 60 fps); keeping the file's {fps:.3f} fps"
    )
