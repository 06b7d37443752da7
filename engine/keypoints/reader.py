"""Reading any supported keypoint file or folder: detect its type, its keypoint format,
and return one person's track (or the list of people)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .detections import Detection, Detections, KeypointFileError, frame_numbers
from .exchange import is_exchange_file, read_exchange
from ..skeleton import get_skeleton
from .formats import FORMATS, KeypointFormat, formats_with_count, get_format, to_skeleton
from .landmarks import is_landmark_json, read_landmark_csv, read_landmark_json
from .openpose import frame_files, is_openpose_frame, people_from_frame
from .results import (
    is_coco_result,
    is_frame_record,
    is_instance,
    read_coco_results,
    read_frame_records,
    read_instances,
    read_mmpose_demo,
    read_mmpose_frames,
)
from .track import KeypointTrack, PersonInfo, build_track, describe_people
from .tracking import track_people

EXPECTED = (
    "expected COCO-style keypoint results, AlphaPose alphapose-results.json, MMPose / ViTPose JSON, "
    "an OpenPose per-frame JSON file or folder, MediaPipe landmarks (.csv or .json) or an mpm-keypoints file"
)
# Two formats with the same keypoint count are told apart by their bone lengths: the
# wrong order's are longer by this factor at least (about 2 to 3 on Pose2Sim's BODY_25B).
BONE_SPREAD_RATIO = 1.5


def load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise KeypointFileError(path, f"not a text file; {EXPECTED}") from None
    except json.JSONDecodeError as e:
        raise KeypointFileError(path, f"not valid JSON ({e}); {EXPECTED}") from None


def _detections_from_json(data, path: Path, image_size: "tuple[int, int] | None") -> Detections:
    if isinstance(data, dict):
        if is_exchange_file(data):
            return read_exchange(data, path)
        if is_openpose_frame(data):
            out = Detections(path)
            frame = frame_numbers([path.name])[path.name]
            out.add(frame, None)
            for det in people_from_frame(data, path):
                out.add(frame, det)
            return out
        if "instance_info" in data:
            return read_mmpose_demo(data, path)
        if is_landmark_json(data):
            return read_landmark_json(data, path, image_size)
        raise KeypointFileError(path, f"unrecognised JSON object with keys {sorted(data)[:8]}; {EXPECTED}")
    if isinstance(data, list):
        first = next((e for e in data if e), None)
        if first is None:
            raise KeypointFileError(path, "holds no detections (an empty list)")
        if is_frame_record(first):
            return read_frame_records(data, path)
        if is_coco_result(first):
            return read_coco_results(data, path)
        if is_instance(first):
            return read_instances(data, path)
        if isinstance(first, list) and first and is_instance(first[0]):
            return read_mmpose_frames(data, path)
        if is_landmark_json(data):
            return read_landmark_json(data, path, image_size)
        raise KeypointFileError(path, f"unrecognised list of {type(first).__name__}; {EXPECTED}")
    raise KeypointFileError(path, f"unrecognised JSON {type(data).__name__}; {EXPECTED}")


def _people_from_frame_file(data, path: Path) -> list[Detection]:
    if is_openpose_frame(data):
        return people_from_frame(data, path)
    if isinstance(data, list) and all(is_instance(e) for e in data):  # MMPose inferencer, one file per image
        return read_instances(data, path).all()
    raise KeypointFileError(
        path, "expected an OpenPose frame ({'version', 'people': [...]}) or a list of MMPose instances, like the other frames"
    )


def _read_folder(folder: Path) -> Detections:
    files = frame_files(folder)
    if not files:
        raise KeypointFileError(folder, "no .json files; expected a folder of OpenPose per-frame JSON files")
    numbers = frame_numbers([f.name for f in files])
    out = Detections(folder)
    for f in files:
        frame = numbers[f.name]
        out.add(frame, None)
        for det in _people_from_frame_file(load_json(f), f):
            out.add(frame, det)
    return out


def load_detections(path: "str | Path", image_size: "tuple[int, int] | None" = None) -> Detections:
    """Every detection of a supported file or folder, by frame, before tracking."""
    path = Path(path)
    if not path.exists():
        raise KeypointFileError(path, "no such file or folder")
    if path.is_dir():
        return _read_folder(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_landmark_csv(path, image_size)
    if suffix != ".json":
        raise KeypointFileError(path, f"unsupported file type {suffix or '(none)'!r}; {EXPECTED}")
    return _detections_from_json(load_json(path), path, image_size)


def _bone_spread(fmt: KeypointFormat, detections: list[Detection]) -> float:
    """Median over people of their mean bone length relative to their size, if their
    keypoints were in ``fmt``'s order: keypoints read in the wrong order join distant
    points, so the right format gives the shortest bones."""
    points = np.stack([d.points for d in detections])
    confidence = np.stack([d.confidence for d in detections])
    sizes = np.array([max(d.size, 1.0) for d in detections])
    joints, _ = to_skeleton(points, fmt, confidence=confidence)
    bones = np.array(get_skeleton("anim19").bones)
    lengths = np.linalg.norm(joints[:, bones[:, 0]] - joints[:, bones[:, 1]], axis=-1) / sizes[:, None]
    measured = np.isfinite(lengths).any(axis=1)
    if not measured.any():
        return np.inf
    return float(np.median(np.nanmean(lengths[measured], axis=1)))


def resolve_format(detections: Detections, format: "str | None" = None) -> KeypointFormat:
    """The keypoint format: given, stated by the file, or from the keypoint count (BODY_25
    and BODY_25B, both 25, by which order gives a compact skeleton)."""
    if not detections.all():
        raise KeypointFileError(detections.source, "no person with any detected keypoint in any frame")
    k = detections.num_keypoints
    if format is not None:
        fmt = get_format(format)
        if k and fmt.num_keypoints != k:
            raise KeypointFileError(
                detections.source, f"people have {k} keypoints, but format {fmt.name!r} has {fmt.num_keypoints}"
            )
        return fmt
    if detections.format is not None:
        return get_format(detections.format)
    candidates = formats_with_count(k)
    if not candidates:
        known = ", ".join(f"{f.name} ({f.num_keypoints})" for f in FORMATS.values())
        raise KeypointFileError(detections.source, f"{k} keypoints per person match no known format; known: {known}")
    if len(candidates) == 1:
        return candidates[0]
    sample = detections.all()[:500]
    spread = sorted((_bone_spread(f, sample), f.name) for f in candidates)
    if np.isfinite(spread[0][0]) and spread[1][0] > BONE_SPREAD_RATIO * spread[0][0]:
        return get_format(spread[0][1])
    names = " or ".join(f.name for f in candidates)
    raise KeypointFileError(
        detections.source, f"{k} keypoints could be {names} and the positions do not tell which: pass format="
    )


def read_keypoints(
    path: "str | Path",
    person: "int | None" = None,
    format: "str | None" = None,
    image_size: "tuple[int, int] | None" = None,
    fps: "float | None" = None,
) -> KeypointTrack:
    """One person's 2D keypoint track from a keypoint file or folder (type and keypoint
    format detected; ``format`` overrides the latter).

    ``person`` is an id from :func:`list_people` (default: the most prominent: largest
    over the most frames). ``image_size`` (w, h) turns normalised coordinates (MediaPipe)
    into pixels and is recorded on the track, as is ``fps``; both default to what the file
    says, else None.
    """
    if image_size is not None and (len(image_size) != 2 or min(image_size) <= 0):
        raise ValueError(f"image_size should be (width, height) in pixels, got {image_size!r}")
    if fps is not None and not fps > 0:
        raise ValueError(f"fps should be a positive frame rate, got {fps!r}")
    detections = load_detections(path, image_size)
    fmt = resolve_format(detections, format)
    return build_track(detections, fmt.name, person, image_size=image_size, fps=fps)


def list_people(
    path: "str | Path", format: "str | None" = None, image_size: "tuple[int, int] | None" = None
) -> list[PersonInfo]:
    """The people found in a keypoint file, most prominent (the default pick) first."""
    detections = load_detections(path, image_size)
    resolve_format(detections, format)  # refuses empty files and unknown formats, as read_keypoints does
    return describe_people(track_people(detections.frames))
