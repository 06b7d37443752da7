"""A synthetic person for keypoint tests: named anatomical points in image pixels.

The person faces the camera, so their left side is on the image's right (+x); y points
down; the pelvis is at the origin before ``offset``. About 300 px tall at scale 1.
"""
from __future__ import annotations

import numpy as np

from engine.keypoints import get_format

_HALF = {  # left side; the right side mirrors x
    "eye": (8, -258), "eye_inner": (5, -258), "eye_outer": (11, -258), "ear": (16, -254),
    "shoulder": (40, -205), "elbow": (50, -140), "wrist": (55, -80),
    "pinky": (58, -65), "index": (55, -62), "thumb": (50, -68),
    "hip": (22, 0), "knee": (25, 100), "ankle": (25, 190),
    "big_toe": (28, 215), "small_toe": (40, 212), "heel": (22, 198), "foot_index": (30, 215),
}
ANATOMY = {
    "nose": (0, -250), "head_top": (0, -290), "head": (0, -290), "upper_neck": (0, -230),
    "neck": (0, -205), "mid_hip": (0, 0), "hip": (0, 0),
    "mouth_left": (6, -240), "mouth_right": (-6, -240),
}
for part, (x, y) in _HALF.items():
    ANATOMY[f"left_{part}"] = (x, y)
    ANATOMY[f"right_{part}"] = (-x, y)


def anatomy(name: str) -> tuple[float, float]:
    if name in ANATOMY:
        return ANATOMY[name]
    group = name.rsplit("_", 1)[0]  # face_12, left_hand_3 ...
    return {"face": ANATOMY["nose"], "left_hand": ANATOMY["left_wrist"], "right_hand": ANATOMY["right_wrist"]}[group]


def person(fmt: str, offset=(500.0, 600.0), scale: float = 1.0, confidence: float = 0.9, drop=()) -> np.ndarray:
    """(K, 3) [x, y, confidence] of the synthetic person in ``fmt``; ``drop`` names are 0, 0, 0."""
    f = get_format(fmt)
    out = np.zeros((f.num_keypoints, 3))
    for i, name in enumerate(f.keypoints):
        if name not in drop:
            x, y = anatomy(name)
            out[i] = (offset[0] + scale * x, offset[1] + scale * y, confidence)
    return out
