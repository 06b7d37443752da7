"""Small keypoint files in each tool's own layout, written from a synthetic walking person.

The person is given by keypoint *name* (so every format's layout follows from the engine's
format table); the left side of a person facing the camera is on the image's right.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# Left-side keypoints of a person about 400 px tall, (x, y) from the pelvis, image axes.
_LEFT = {
    "eye": (8, -355), "eye_inner": (5, -355), "eye_outer": (12, -355), "ear": (18, -350),
    "shoulder": (45, -260), "elbow": (60, -180), "wrist": (65, -110),
    "pinky": (68, -95), "index": (66, -92), "thumb": (60, -98),
    "hip": (22, 0), "knee": (25, 100), "ankle": (26, 190),
    "big_toe": (22, 205), "small_toe": (34, 203), "heel": (28, 198), "foot_index": (24, 206),
}
_CENTRE = {
    "nose": (0, -345), "neck": (0, -260), "upper_neck": (0, -300), "head_top": (0, -400), "head": (0, -395),
    "mid_hip": (0, 0), "hip": (0, 0),
}
_MOUTH = {"mouth_left": (6, -335), "mouth_right": (-6, -335)}


def keypoint_xy(name: str) -> tuple[float, float]:
    """Pelvis-relative pixel offset of a keypoint name of any supported format."""
    if name in _MOUTH:
        return _MOUTH[name]
    for side, sign in (("left_", 1), ("right_", -1)):
        if name.startswith(side):
            x, y = _LEFT[name[len(side):]]
            return sign * x, y
    return _CENTRE[name]


def walking_person(names: tuple[str, ...], frames: int, start=(500.0, 500.0), step=(3.0, 0.5), scale=1.0,
                   seed=0) -> np.ndarray:
    """(F, K, 3) x, y, confidence: the person walking; every 7th frame the left knee is
    unsure (confidence 0.1) and in frame 3 the right wrist is not detected (all zero)."""
    base = np.array([keypoint_xy(n) for n in names], dtype=np.float64) * scale
    rng = np.random.default_rng(seed)
    out = np.zeros((frames, len(names), 3))
    for f in range(frames):
        out[f, :, :2] = base + np.array(start) + f * np.array(step) + rng.normal(0, 0.5, base.shape)
        out[f, :, 2] = 0.9
    if "left_knee" in names:
        out[::7, names.index("left_knee"), 2] = 0.1
    if "right_wrist" in names and frames > 3:
        out[3, names.index("right_wrist")] = 0.0
    return out.round(3)


def _flat(kp: np.ndarray) -> list[float]:
    return [float(v) for v in kp.reshape(-1)]


def write_coco(path: Path, people: list[np.ndarray]) -> Path:
    """COCO keypoint results: one entry per person per image."""
    entries = [
        {"image_id": f, "category_id": 1, "keypoints": _flat(p[f]), "score": 0.95}
        for f in range(len(people[0])) for p in people
    ]
    path.write_text(json.dumps(entries))
    return path


def write_mmpose(path: Path, walk: np.ndarray) -> Path:
    """MMPose 1.x inferencer output for a video (ViTPose through MMPose writes the same)."""
    records = []
    for f, kp in enumerate(walk):
        box = [float(kp[:, 0].min()), float(kp[:, 1].min()), float(kp[:, 0].max()), float(kp[:, 1].max())]
        instance = {"keypoints": kp[:, :2].tolist(), "keypoint_scores": kp[:, 2].tolist(), "bbox": box, "bbox_score": 0.9}
        records.append({"frame_id": f, "instances": [instance]})
    path.write_text(json.dumps(records))
    return path


def write_alphapose(path: Path, walk: np.ndarray) -> Path:
    """AlphaPose alphapose-results.json (Halpe-26)."""
    entries = [{"image_id": f"{f}.jpg", "category_id": 1, "keypoints": _flat(kp), "score": 2.5, "idx": 1}
               for f, kp in enumerate(walk)]
    path.write_text(json.dumps(entries))
    return path


def write_openpose_folder(folder: Path, walk: np.ndarray, stem: str = "video") -> Path:
    """OpenPose --write_json: one file per frame."""
    folder.mkdir(parents=True, exist_ok=True)
    for f, kp in enumerate(walk):
        frame = {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": _flat(kp),
                                             "face_keypoints_2d": [], "hand_left_keypoints_2d": [],
                                             "hand_right_keypoints_2d": []}]}
        (folder / f"{stem}_{f:012d}_keypoints.json").write_text(json.dumps(frame))
    return folder


def write_mediapipe_csv(path: Path, walk: np.ndarray, names: tuple[str, ...], size: tuple[int, int]) -> Path:
    """MediaPipe Pose landmarks, normalised to the image, with visibility."""
    header = ["frame"] + [f"{n}_{c}" for n in names for c in ("x", "y", "z", "visibility")]
    rows = []
    for f, kp in enumerate(walk):
        cells = [str(f)]
        for x, y, c in kp:
            cells += [f"{x / size[0]:.7f}", f"{y / size[1]:.7f}", "-0.1", f"{c:.3f}"]
        rows.append(",".join(cells))
    path.write_text("\n".join([",".join(header)] + rows) + "\n")
    return path


def write_mediapipe_json(path: Path, walk: np.ndarray, size: tuple[int, int], fps: float) -> Path:
    """MediaPipe landmarks as JSON frames, with the image size and frame rate."""
    frames = [{"frame": f, "pose_landmarks": {"landmark": [
        {"x": x / size[0], "y": y / size[1], "z": 0.0, "visibility": c} for x, y, c in kp]}}
        for f, kp in enumerate(walk)]
    path.write_text(json.dumps({"image_size": list(size), "fps": fps, "frames": frames}))
    return path
