"""Identity tracking across frames: which detection in each frame is which person.

Track ids stored in the file (AlphaPose ``idx`` under PoseFlow, MMPose ``track_id``,
OpenPose ``person_id``, our exchange files) are used when every detection has one and
no id repeats within a frame. Otherwise detections are linked greedily, frame by frame,
to the track whose last detection they resemble most (bounding-box IoU and keypoint
distance), as simple online trackers do; a detection resembling no track starts a new one.
A detector sometimes splits one person into parts (OpenPose does, in the bundled sample's
frame 37) or reports them twice: a detection left over after matching, whose keypoints
sit where a matched track's were, is merged into that track's detection (per keypoint,
the more confident of the two).
"""
from __future__ import annotations

import numpy as np

from .detections import Detection

# Keypoint distances are judged relative to the person's size: sigma = this x size.
KEYPOINT_SIGMA = 0.15
# Below this similarity (mean of IoU and keypoint similarity, both in [0, 1]) a detection
# is not the same person.
MIN_SIMILARITY = 0.25
# A split-off part or duplicate joins a track only if its keypoints match the track's this well.
MIN_PART_SIMILARITY = 0.5
# A track unseen for more frames than this is not continued.
MAX_GAP_FRAMES = 30

Tracked = dict[int, dict[int, Detection]]  # frame -> {track id: detection}


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def keypoint_similarity(a: Detection, b: Detection) -> float:
    """Mean Gaussian similarity of the keypoints both detections hold, in [0, 1]."""
    both = a.present & b.present
    if not both.any():
        return 0.0
    scale = max(a.size, b.size, 1.0) * KEYPOINT_SIGMA
    d2 = ((a.points[both] - b.points[both]) ** 2).sum(axis=1)
    return float(np.exp(-d2 / (2 * scale * scale)).mean())


def similarity(a: Detection, b: Detection) -> float:
    """How alike two detections are, in [0, 1]."""
    return 0.5 * (_iou(a.box, b.box) + keypoint_similarity(a, b))


def _merge(a: Detection, b: Detection) -> Detection:
    """Two parts of one person: per keypoint, the more confident."""
    take_b = b.confidence > a.confidence
    return Detection(
        points=np.where(take_b[:, None], b.points, a.points),
        confidence=np.where(take_b, b.confidence, a.confidence),
        track_id=a.track_id,
    )


def file_ids_usable(frames: dict[int, list[Detection]]) -> bool:
    """True when every detection carries a track id and none repeats within a frame."""
    for people in frames.values():
        ids = [d.track_id for d in people]
        if None in ids or len(set(ids)) != len(ids):
            return False
    return any(frames.values())


def track_people(frames: dict[int, list[Detection]]) -> Tracked:
    """Each frame's detections keyed by track id.

    Ids from the file are kept when usable; otherwise ids are 0, 1, ... in order of
    first appearance (left to right within a frame).
    """
    if file_ids_usable(frames):
        return {f: {int(d.track_id): d for d in people} for f, people in frames.items()}

    last: dict[int, tuple[int, Detection]] = {}  # track id -> (frame last seen, detection)
    out: Tracked = {}
    next_id = 0
    for frame in sorted(frames):
        people = frames[frame]
        live = [t for t, (seen, _) in last.items() if frame - seen <= MAX_GAP_FRAMES]
        pairs = sorted(
            ((similarity(last[t][1], d), t, i) for t in live for i, d in enumerate(people)),
            reverse=True,
        )
        matched: dict[int, Detection] = {}
        taken: set[int] = set()
        for score, t, i in pairs:
            if score < MIN_SIMILARITY:
                break
            if i not in taken and t not in matched:
                matched[t] = people[i]
                taken.add(i)
        for i in sorted(set(range(len(people))) - taken, key=lambda i: people[i].box[0]):
            part = people[i]
            fits = {t: keypoint_similarity(last[t][1], part) for t in matched if t in last}
            owner = max(fits, key=fits.get, default=None)
            if owner is not None and fits[owner] >= MIN_PART_SIMILARITY:
                matched[owner] = _merge(matched[owner], part)
            else:
                matched[next_id] = part
                next_id += 1
        for t, det in matched.items():
            last[t] = (frame, det)
        out[frame] = matched
    return out
