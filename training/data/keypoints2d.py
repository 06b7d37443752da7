"""2D-only keypoint files (detector output on one's own footage) -> KeypointClip.

A thin adapter over ``engine.keypoints`` (imported when first used, so the rest of the
readers work without it).
"""
from __future__ import annotations

import os
from pathlib import Path

from .bvh import MotionFileError
from .motion import KeypointClip


def read_keypoints_2d(
    path: str | os.PathLike, skeleton: str = "anim19", person: int | None = None, fps: float | None = None,
    image_size: tuple[int, int] | None = None, subject: str | None = None,
) -> KeypointClip:
    """One person's track from any keypoint file ``engine.keypoints.read_keypoints`` reads,
    converted to ``skeleton`` (derived joints included, NaN where absent)."""
    try:
        from engine.keypoints import read_keypoints, to_skeleton
    except ImportError:
        raise MotionFileError(f"{path}: reading 2D keypoint files needs engine.keypoints, which this installation lacks") from None
    path = Path(path)
    try:
        track = read_keypoints(path, person=person, image_size=image_size, fps=fps)
    except (ValueError, OSError) as exc:  # KeypointFileError is a ValueError
        raise MotionFileError(f"{path}: {exc}") from None
    size = track.image_size or image_size
    rate = track.fps or fps
    if size is None or rate is None:
        missing = " and ".join(n for n, v in (("image_size", size), ("fps", rate)) if v is None)
        raise MotionFileError(f"{path}: the keypoint file does not state its {missing}; pass {missing}=")
    points, confidence = to_skeleton(track, skeleton=skeleton)
    return KeypointClip(
        points=points, confidence=confidence, image_size=tuple(size), fps=float(rate),
        subject=subject or path.parent.name, clip=path.stem, source=str(path), skeleton=skeleton,
    )
