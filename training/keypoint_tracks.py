"""2D-only training data (``kind = "keypoints2d"``): a user's own detections, for masked
2D modelling, read by ``training.data.read_keypoints_2d`` (through ``engine.keypoints``).
``path`` is one keypoint file or folder; ``options.image_size`` = [w, h], ``options.fps``
and ``options.person`` fill in what the file does not state."""
from __future__ import annotations

from .run_config import DataSpec


def load_tracks(spec: DataSpec, skeleton: str) -> list[dict]:
    from .data import read_keypoints_2d

    size = spec.options.get("image_size")
    clip = read_keypoints_2d(
        spec.path, skeleton=skeleton, person=spec.options.get("person"), fps=spec.options.get("fps"),
        image_size=tuple(size) if size else None, subject=spec.subjects[0] if spec.subjects else None,
    )
    return [clip.as_dict()]
