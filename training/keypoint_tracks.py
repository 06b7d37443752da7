"""2D-only training data (``kind = "keypoints2d"``): a user's own detections, for masked
2D modelling. Read with the engine's keypoint readers (``engine.keypoints``), converted to
the model's skeleton; joints below ``options.min_confidence`` (default 0.3) are missing.
``options.image_size`` = [w, h] and ``options.fps`` fill in what a file does not state."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .run_config import DataSpec


def load_tracks(spec: DataSpec, skeleton: str) -> list[dict]:
    try:
        from engine.keypoints import read_keypoints, to_skeleton
    except ImportError:
        raise RuntimeError(
            f"data source {spec.path}: 2D keypoint files need the engine's keypoint readers (engine.keypoints), "
            "which this installation lacks"
        ) from None
    path = Path(spec.path)
    files = sorted(p for p in path.iterdir() if p.is_file() or p.is_dir()) if path.is_dir() and spec.options.get("many") else [path]
    tracks = []
    for f in files:
        track = read_keypoints(f)
        points, confidence = to_skeleton(track, skeleton=skeleton)
        points = np.where((confidence >= spec.options.get("min_confidence", 0.3))[..., None], points, np.nan)
        size = track.image_size or spec.options.get("image_size")
        if size is None:
            raise ValueError(f"{f}: the file gives no image size; set options.image_size = [w, h] in the data source")
        tracks.append({"points": points, "image_size": tuple(size), "fps": track.fps or spec.options.get("fps", 30.0), "subject": f.stem})
    return tracks
