"""Identity tracking across frames: which detection in each frame is which person.

Track ids stored in the file (AlphaPose ``idx`` under PoseFlow, MMPose ``track_id``,
OpenPose ``person_id``, our exchange files) are used when every detection has one and
no id repeats within a frame. Otherwise detections are linked greedily, frame by frame,
to the track whose last detection they resemble most (bounding-box IoU and keypoint
distance), as simple online trackers do; a detection resembling no track starts a new one.
"""
from __future__ import annotations

import numpy as np

from .detections import Detection

# Keypoint distances are judged relative to the person's size: sigma = this x size.
KEYPOINT_SIGMA = 0.15
# Below this similarity (mean of IoU and keypoint similarity, both in [0, 1]) a detection
# is not the same person.
MIN_SIMILARITY = 0.25
# A track unseen for more frames than this is not continued.
MAX_GAP_FRAMES = 30


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _keypoint_similarity(a: Detection, b: Detection) -> float:
    both = a.present & b.present
    if not both.any():
        return 0.0
    scale = max(a.size, b.size, 1.0) * KEYPOINT_SIGMA
    d2 = ((a.points[both] - b.points[both]) ** 2).sum(axis=1)
    return float(np.exp(-d2 / (2 * scale * scale)).mean())


def similarity(a: Detection, b: Detection) -> float:
    """How alike two detections are, in [0, 1]."""
    return 0.5 * (_iou(a.box, b.box) + _keypoint_similarity(a, b))


def file_ids_usable(frames: dict[int, list[Detection]]) -> bool:
    """True when every detection carries a track id and none repeats within a frame."""
    for people in frames.values():
        ids = [d.track_id for d in people]
        if None in ids or len(set(ids)) != len(ids):
            return False
    return any(frames.values())


def assign_tracks(frames: dict[int, list[Detection]]) -> dict[int, list[int]]:
    """Track id of each detection, per frame (same order as ``frames[f]``).

    Ids from the file are kept when usable; otherwise ids are 0, 1, ... in order of
    first appearance.
    """
    if file_ids_usable(frames):
        return {f: [int(d.track_id) for d in people] for f, people in frames.items()}

    last: dict[int, tuple[int, Detection]] = {}  # track id -> (frame last seen, detection)
    out: dict[int, list[int]] = {}
    next_id = 0
    for frame in sorted(frames):
        people = frames[frame]
        live = [t for t, (seen, _) in last.items() if frame - seen <= MAX_GAP_FRAMES]
        pairs = sorted(
            ((similarity(last[t][1], d), t, i) for t in live for i, d in enumerate(people)),
            reverse=True,
        )
        ids: list[int | None] = [None] * len(people)
        used: set[int] = set()
        for score, t, i in pairs:
            if score < MIN_SIMILARITY:
                break
            if ids[i] is None and t not in used:
                ids[i] = t
                used.add(t)
        # New tracks, numbered left to right so ids are reproducible.
        for i in sorted((i for i in range(len(people)) if ids[i] is None), key=lambda i: people[i].box[0]):
            ids[i] = next_id
            next_id += 1
        for i, t in enumerate(ids):
            last[t] = (frame, people[i])
        out[frame] = [int(t) for t in ids]
    return out
