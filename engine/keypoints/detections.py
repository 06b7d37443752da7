"""What every reader returns: the detections of each frame, before identity tracking."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np


class KeypointFileError(ValueError):
    """A keypoint file or folder that cannot be read; the message names it and what was expected."""

    def __init__(self, path: "str | Path", problem: str):
        self.path = Path(path)
        super().__init__(f"{self.path}: {problem}")


@dataclass
class Detection:
    """One person in one frame: pixel positions (K, 2), NaN where absent, and confidences (K,).

    Treated as immutable: its box and size are computed once (tracking asks often)."""

    points: np.ndarray
    confidence: np.ndarray
    track_id: "int | None" = None

    @cached_property
    def present(self) -> np.ndarray:
        return self.confidence > 0

    @cached_property
    def box(self) -> np.ndarray:
        """Bounding box [x0, y0, x1, y1] of the present keypoints."""
        p = self.points[self.present]
        return np.concatenate([p.min(axis=0), p.max(axis=0)])

    @cached_property
    def size(self) -> float:
        """Longer side of the bounding box, in pixels (how big the person appears)."""
        x0, y0, x1, y1 = self.box
        return float(max(x1 - x0, y1 - y0))

    @cached_property
    def score(self) -> float:
        """Mean confidence of the present keypoints."""
        return float(self.confidence[self.present].mean())


def make_detection(xy: np.ndarray, confidence: "np.ndarray | None", track_id: "int | None" = None) -> "Detection | None":
    """A detection from raw arrays; absent keypoints (confidence <= 0 or non-finite values)
    become NaN with confidence 0. ``None`` when no keypoint is present."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    conf = np.ones(len(xy)) if confidence is None else np.asarray(confidence, dtype=np.float64).reshape(-1)
    present = np.isfinite(xy).all(axis=1) & np.isfinite(conf) & (conf > 0)
    if not present.any():
        return None
    return Detection(
        points=np.where(present[:, None], xy, np.nan),
        confidence=np.where(present, conf, 0.0),
        track_id=track_id,
    )


@dataclass
class Detections:
    """A reader's output: frame number -> people detected there (an empty list is a frame
    seen with nobody in it), plus what the file says about itself."""

    source: Path
    num_keypoints: int = 0  # set by the first detection added
    frames: dict[int, list[Detection]] = field(default_factory=dict)
    format: "str | None" = None
    image_size: "tuple[int, int] | None" = None
    fps: "float | None" = None

    def add(self, frame: int, detection: "Detection | None") -> None:
        people = self.frames.setdefault(int(frame), [])
        if detection is not None:
            if not self.num_keypoints:
                self.num_keypoints = len(detection.points)
            if len(detection.points) != self.num_keypoints:
                raise KeypointFileError(
                    self.source,
                    f"frame {frame} has a person with {len(detection.points)} keypoints, others have {self.num_keypoints}",
                )
            people.append(detection)

    def all(self) -> list[Detection]:
        return [d for people in self.frames.values() for d in people]


_DIGITS = re.compile(r"(\d+)")


def frame_number_from_name(name: str) -> "int | None":
    """The frame number in a file or image name: the last run of digits in its stem
    (``cam01.0042.json``, ``video_000000000042_keypoints.json``, ``frame_42.json``, ``42.jpg``)."""
    stem = Path(str(name)).name
    stem = re.sub(r"_keypoints$", "", re.sub(r"(\.[A-Za-z]+)+$", "", stem))
    runs = _DIGITS.findall(stem)
    return int(runs[-1]) if runs else None


def frame_numbers(keys: list) -> dict:
    """Frame numbers for image ids or names: integers as they are, names by their digits;
    when a name holds no digits, or two names give the same number, every key is numbered
    by its order of first appearance."""
    numbers = {}
    for key in keys:
        if isinstance(key, (int, np.integer)) or (isinstance(key, float) and float(key).is_integer()):
            numbers[key] = int(key)
        else:
            numbers[key] = frame_number_from_name(str(key))
    values = list(numbers.values())
    if None in values or len(set(values)) != len(values):
        return {key: i for i, key in enumerate(dict.fromkeys(keys))}
    return numbers


def parse_track_id(value) -> "int | None":
    """A track id as files store it: an int, a float, ``[n]`` (OpenPose, AlphaPose); -1 = none."""
    if isinstance(value, (list, tuple)):
        value = value[0] if len(value) == 1 else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        return None
    return int(value) if int(value) >= 0 else None


def numbers(values, source: "str | Path", where: str) -> np.ndarray:
    """A JSON list of numbers (null = NaN) as a float array, or an error saying where."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise KeypointFileError(source, f"{where}: expected numbers, got {str(values)[:80]}") from None


def detection_from_xyc(values, source: "str | Path", where: str, track_id: "int | None" = None) -> "Detection | None":
    """A detection from ``[x, y, confidence] x K``, flat (COCO, AlphaPose, OpenPose) or as
    K triples (MMPose 0.x)."""
    arr = numbers(values, source, where)
    if arr.ndim == 1 and arr.size % 3 == 0:
        arr = arr.reshape(-1, 3)
    if arr.ndim != 2 or arr.shape[1] != 3 or len(arr) == 0:
        raise KeypointFileError(
            source, f"{where}: expected keypoints as [x, y, confidence] for each keypoint, got shape {arr.shape}"
        )
    return make_detection(arr[:, :2], arr[:, 2], track_id)
