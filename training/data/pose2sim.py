"""Pose2Sim specifics: BODY_25B keypoint names, its anim19 rules, TRC marker names,
OpenPose JSON folders, and triangulated TRC files as MotionClips."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.skeleton import get_skeleton

from .bvh import MotionFileError, to_world_z_up
from .motion import MotionClip
from .trc import read_trc

BODY_25B = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "upper_neck", "head_top", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe",
    "right_small_toe", "right_heel",
]
# Pose2Sim's TRC marker names for BODY_25B keypoints.
TRC_NAMES = {"Nose": "nose", "Neck": "upper_neck", "Head": "head_top"}
ANIM19_FROM_BODY25B = {
    "pelvis": ["left_hip", "right_hip"], "spine": ["left_hip", "right_hip", "left_shoulder", "right_shoulder"],
    "thorax": ["left_shoulder", "right_shoulder"], "neck": ["nose"], "head": ["head_top"],
    "right_toe": ["right_big_toe", "right_small_toe"], "left_toe": ["left_big_toe", "left_small_toe"],
}


def trc_keypoint_name(marker: str) -> str:
    if marker in TRC_NAMES:
        return TRC_NAMES[marker]
    side = {"L": "left_", "R": "right_"}[marker[0]]
    snake = "".join("_" + c.lower() if c.isupper() else c for c in marker[1:]).lstrip("_")
    return side + snake


def to_anim19(values: np.ndarray, names: list[str]) -> np.ndarray:
    """(F, K, C) keypoints named ``names`` -> (F, 19, C) by the BODY_25B rules (NaN = absent)."""
    skel = get_skeleton("anim19")
    out = np.full(values.shape[:1] + (skel.num_joints,) + values.shape[2:], np.nan)
    for j, joint in enumerate(skel.joints):
        parts = ANIM19_FROM_BODY25B.get(joint, [joint])
        if all(p in names for p in parts):
            out[:, j] = np.mean([values[:, names.index(p)] for p in parts], axis=0)
    return out


def read_openpose_folder(folder: Path) -> np.ndarray:
    """(F, 25, 3) x, y, score of the first person of each frame file (NaN when none)."""
    frames = []
    for f in sorted(folder.glob("*.json")):
        people = json.loads(f.read_text()).get("people", [])
        kp = people[0].get("pose_keypoints_2d") if people and people[0] else None
        frames.append(np.asarray(kp, float).reshape(-1, 3) if kp else np.full((25, 3), np.nan))
    if not frames:
        raise ValueError(f"{folder}: no OpenPose JSON files")
    return np.stack(frames)


def read_pose2sim_trc(path: str | Path, skeleton: str = "anim19") -> MotionClip:
    """A Pose2Sim TRC (markers named after BODY_25B / HALPE keypoints: RHip, LBigToe,
    Neck, Head, Nose ...) as a clip: Y up turned Z up, joints by the BODY_25B rules."""
    path = Path(path)
    trc = read_trc(path)
    try:
        names = [trc_keypoint_name(m) for m in trc.markers]
    except (KeyError, IndexError):
        raise MotionFileError(
            f"{path}: its markers ({', '.join(trc.markers[:6])} ...) are not Pose2Sim keypoint names; "
            "only Pose2Sim TRC files are read"
        ) from None
    positions = to_world_z_up(to_anim19(trc.positions, names))
    if not np.isfinite(positions).any():
        raise MotionFileError(f"{path}: none of its markers ({', '.join(trc.markers[:6])} ...) gives an {skeleton} joint")
    clip = MotionClip(positions=positions, fps=trc.fps, subject=path.parent.parent.name, clip=path.stem, source=str(path),
                      meta={"format": "trc"})
    return clip if skeleton == "anim19" else clip.on_skeleton(skeleton)
