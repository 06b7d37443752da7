"""Our own keypoint exchange file: plain JSON that keeps everything a track knows.

    {"format": "mpm-keypoints", "version": 1, "keypoint_format": "coco17",
     "keypoints": [names...], "image_size": [w, h] | null, "fps": 30.0 | null,
     "frames": [frame numbers...],
     "people": [{"id": 0, "points": [[[x, y] | [null, null] per keypoint] per frame],
                 "confidence": [[c per keypoint] per frame]}]}

Absent keypoints are ``[null, null]`` with confidence 0.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from .detections import Detections, KeypointFileError, make_detection, numbers
from .formats import get_format
from .track import KeypointTrack

EXCHANGE_FORMAT = "mpm-keypoints"
EXCHANGE_VERSION = 1


def is_exchange_file(data) -> bool:
    return isinstance(data, dict) and data.get("format") == EXCHANGE_FORMAT


def write_keypoints(path: "str | Path", tracks: "KeypointTrack | Sequence[KeypointTrack]") -> Path:
    """Write one or more people's tracks (same format and frames) to an exchange file."""
    tracks = [tracks] if isinstance(tracks, KeypointTrack) else list(tracks)
    if not tracks:
        raise ValueError("write_keypoints: no track to write")
    first = tracks[0]
    for t in tracks[1:]:
        if t.format != first.format or not np.array_equal(t.frames, first.frames):
            raise ValueError("write_keypoints: all tracks must share one keypoint format and one set of frames")
    ids = [t.person if t.person is not None else i for i, t in enumerate(tracks)]
    if len(set(ids)) != len(ids):
        raise ValueError(f"write_keypoints: person ids repeat: {ids}")

    def rounded(values: np.ndarray, digits: int):
        return [[None if not np.isfinite(v) else round(float(v), digits) for v in row] for row in values]

    doc = {
        "format": EXCHANGE_FORMAT,
        "version": EXCHANGE_VERSION,
        "keypoint_format": first.format,
        "keypoints": list(first.keypoint_names),
        "image_size": [int(v) for v in first.image_size] if first.image_size is not None else None,
        "fps": float(first.fps) if first.fps is not None else None,
        "frames": [int(f) for f in first.frames],
        "people": [
            {
                "id": int(pid),
                "points": [rounded(frame, 3) for frame in t.points],
                "confidence": rounded(t.confidence, 4),
            }
            for pid, t in zip(ids, tracks)
        ],
    }
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_exchange(data: dict, source: Path) -> Detections:
    if data.get("version") != EXCHANGE_VERSION:
        raise KeypointFileError(source, f"mpm-keypoints version {data.get('version')!r}; this reader knows version {EXCHANGE_VERSION}")
    try:
        fmt = get_format(str(data.get("keypoint_format")))
    except KeyError as e:
        raise KeypointFileError(source, str(e.args[0])) from None
    frames = numbers(data.get("frames", []), source, "frames").astype(np.int64).reshape(-1)
    size = data.get("image_size")
    out = Detections(
        source,
        format=fmt.name,
        image_size=tuple(int(v) for v in size) if size else None,
        fps=float(data["fps"]) if data.get("fps") else None,
    )
    for f in frames:
        out.add(int(f), None)
    for n, person in enumerate(data.get("people", [])):
        shape = (len(frames), fmt.num_keypoints)
        points = numbers(person.get("points"), source, f"people[{n}].points")
        conf = numbers(person.get("confidence"), source, f"people[{n}].confidence")
        if points.shape != shape + (2,) or conf.shape != shape:
            raise KeypointFileError(
                source, f"people[{n}]: expected points {shape + (2,)} and confidence {shape}, got {points.shape} and {conf.shape}"
            )
        for f, xy, c in zip(frames, points, conf):
            out.add(int(f), make_detection(xy, c, int(person.get("id", n))))
    return out
