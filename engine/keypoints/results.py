"""COCO-style keypoint results, AlphaPose and MMPose JSON (formats.md section 3).

* COCO results / AlphaPose ``alphapose-results.json``: a flat list, one entry per person
  per image: ``image_id`` (int, or an image name for AlphaPose), ``keypoints``
  [x, y, score] x K, ``score``, AlphaPose ``idx`` (a track id under PoseFlow).
* MMPose 0.x (ViTPose): a list of ``{bbox, keypoints: [[x, y, score] x K]}`` for one
  image, or a list of such lists, one per frame.
* MMPose 1.x instances: ``{keypoints: [[x, y] x K], keypoint_scores, bbox, bbox_score,
  (track_id)}``; the inferencer writes a list of instances per image or a list of
  ``{frame_id, instances}`` per video; ``demo/topdown_demo_with_mmdet.py`` writes
  ``{meta_info, instance_info}`` with ``instance_info`` one of those two.
"""
from __future__ import annotations

from pathlib import Path

from .detections import (
    Detection,
    Detections,
    KeypointFileError,
    detection_from_xyc,
    frame_numbers,
    make_detection,
    numbers,
    parse_track_id,
)


def is_coco_result(entry) -> bool:
    """A COCO / AlphaPose entry: a flat ``keypoints`` list beside an ``image_id``."""
    return (
        isinstance(entry, dict)
        and "image_id" in entry
        and isinstance(entry.get("keypoints"), list)
        and all(isinstance(v, (int, float)) or v is None for v in entry["keypoints"][:3])
    )


def is_instance(entry) -> bool:
    """An MMPose instance (0.x or 1.x): ``keypoints`` as one list per keypoint."""
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("keypoints"), list)
        and bool(entry["keypoints"])
        and isinstance(entry["keypoints"][0], list)
    )


def is_frame_record(entry) -> bool:
    """An MMPose inferencer / demo video frame: ``{frame_id, instances}``."""
    return isinstance(entry, dict) and "instances" in entry and isinstance(entry["instances"], list)


def read_coco_results(entries: list, source: Path) -> Detections:
    """COCO keypoint results or AlphaPose results, grouped by image into frames."""
    out = Detections(source)
    for n, entry in enumerate(entries):
        if not is_coco_result(entry):
            raise KeypointFileError(
                source, f"entry {n}: expected {{'image_id', 'keypoints': [x, y, score, ...]}} like the other entries"
            )
    numbers_of = frame_numbers([e["image_id"] for e in entries])
    for n, entry in enumerate(entries):
        det = detection_from_xyc(entry["keypoints"], source, f"entry {n} keypoints", parse_track_id(entry.get("idx")))
        out.add(numbers_of[entry["image_id"]], det)
    return out


def detection_from_instance(inst: dict, source: Path, where: str) -> "Detection | None":
    """One MMPose instance: 1.x (``keypoints`` [[x, y]] + ``keypoint_scores``) or
    0.x (``keypoints`` [[x, y, score]])."""
    if not is_instance(inst):
        raise KeypointFileError(source, f"{where}: expected an MMPose instance with 'keypoints': [[x, y], ...]")
    track_id = parse_track_id(inst.get("track_id"))
    if "keypoint_scores" in inst:
        xy = numbers(inst["keypoints"], source, f"{where} keypoints")
        scores = numbers(inst["keypoint_scores"], source, f"{where} keypoint_scores").reshape(-1)
        if xy.ndim != 2 or xy.shape[1] < 2 or len(scores) != len(xy):
            raise KeypointFileError(
                source, f"{where}: expected keypoints (K, 2) and keypoint_scores (K,), got {xy.shape} and {scores.shape}"
            )
        return make_detection(xy[:, :2], scores, track_id)
    return detection_from_xyc(inst["keypoints"], source, f"{where} keypoints", track_id)


def read_instances(instances: list, source: Path, frame: int = 0, out: "Detections | None" = None) -> Detections:
    """The people of one image (an MMPose instance list) as one frame."""
    out = out if out is not None else Detections(source)
    out.add(frame, None)
    for n, inst in enumerate(instances):
        out.add(frame, detection_from_instance(inst, source, f"frame {frame} instance {n}"))
    return out


def read_frame_records(records: list, source: Path) -> Detections:
    """MMPose per-frame records ``[{frame_id, instances}]`` (inferencer: from 0; demo: from 1)."""
    out = Detections(source)
    for n, rec in enumerate(records):
        if not is_frame_record(rec) or "frame_id" not in rec:
            raise KeypointFileError(source, f"record {n}: expected {{'frame_id', 'instances': [...]}}")
        read_instances(rec["instances"], source, int(rec["frame_id"]), out)
    return out


def read_mmpose_frames(frames: list, source: Path) -> Detections:
    """MMPose 0.x results saved per frame: a list of instance lists."""
    out = Detections(source)
    for n, instances in enumerate(frames):
        if not isinstance(instances, list):
            raise KeypointFileError(source, f"frame {n}: expected a list of instances")
        read_instances(instances, source, n, out)
    return out


def read_mmpose_demo(data: dict, source: Path) -> Detections:
    """``results_<name>.json`` of MMPose's demo: ``{meta_info, instance_info}``."""
    info = data.get("instance_info")
    if not isinstance(info, list):
        raise KeypointFileError(source, "'instance_info' should be a list of frames or of instances")
    if info and is_frame_record(info[0]):
        return read_frame_records(info, source)
    return read_instances(info, source)

