"""OpenPose ``--write_json`` output: one JSON file per frame (formats.md section 3).

Each file is ``{"version": ..., "people": [{"person_id": [-1], "pose_keypoints_2d":
[x, y, c] x K, ...}]}``; missing keypoints are 0, 0, 0. Pose2Sim writes the same schema
(with ``{}`` for a person it could not associate) and also stores other models in it
(HALPE_26, COCO_17, BlazePose 33), so the keypoint count decides the format.
"""
from __future__ import annotations

from pathlib import Path

from .detections import Detection, KeypointFileError, detection_from_xyc, parse_track_id


def is_openpose_frame(data) -> bool:
    return isinstance(data, dict) and isinstance(data.get("people"), list)


def people_from_frame(data: dict, source: Path) -> list[Detection]:
    """The detected people of one OpenPose frame; empty person objects are skipped."""
    if not is_openpose_frame(data):
        raise KeypointFileError(source, "expected an OpenPose frame: a JSON object with a 'people' list")
    people = []
    for n, person in enumerate(data["people"]):
        if not isinstance(person, dict):
            raise KeypointFileError(source, f"people[{n}] is not a JSON object")
        values = person.get("pose_keypoints_2d")
        if not values:  # {} (Pose2Sim) or an empty list: nobody there
            continue
        det = detection_from_xyc(values, source, f"people[{n}].pose_keypoints_2d", parse_track_id(person.get("person_id")))
        if det is not None:
            people.append(det)
    return people


def frame_files(folder: Path) -> list[Path]:
    """The per-frame JSON files of a folder: OpenPose's ``*_keypoints.json`` when there are
    any (other JSON files beside them are not frames), else every ``*.json``."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".json")
    keypoint_files = [p for p in files if p.name.endswith("_keypoints.json")]
    return keypoint_files or files
