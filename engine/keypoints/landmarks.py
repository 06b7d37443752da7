"""MediaPipe Pose landmarks (and any keypoints stored as named columns), as CSV or JSON.

CSV: one row per frame (per person), columns ``<name>_x``, ``<name>_y``, optional
``<name>_z`` (ignored) and a confidence column ``<name>_visibility`` (or ``_presence``,
``_likelihood``, ``_confidence``, ``_score``); names are a format's keypoint names in
any case (MediaPipe's ``nose``, ``left_eye_inner`` ...) or indices ``0``, ``1`` ...; an
optional ``frame`` column numbers the rows (else row order) and an optional ``person``
/ ``track_id`` column tells people apart. A ``#`` before the header (numpy.savetxt)
is allowed.

JSON: a list of frames, or ``{"frames": [...], "image_size": [w, h], "fps": ...}``. A
frame is a list of 33 landmarks or an object with ``landmarks`` / ``pose_landmarks`` /
``landmark`` (a landmark list, a list of them for several people, or protobuf's
``{"landmark": [...]}``) and optionally ``frame``. A landmark is ``{"x", "y", "z",
"visibility"}`` or ``[x, y]`` / ``[x, y, z]`` / ``[x, y, z, visibility]``.

MediaPipe's normalised coordinates (x / width, y / height) are recognised by every value
lying in [-0.5, 1.5] and need the image size to become pixels.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from .detections import Detections, KeypointFileError, make_detection, numbers
from .formats import FORMATS

CONFIDENCE_FIELDS = ("visibility", "presence", "likelihood", "confidence", "score")
FRAME_COLUMNS = ("frame", "frame_id", "frame_index", "frame_idx", "frame_number")
PERSON_COLUMNS = ("person", "person_id", "track_id")
LANDMARK_KEYS = ("pose_landmarks", "landmarks", "landmark")
# Normalised coordinates may stray a little outside the image.
NORMALISED_RANGE = (-0.5, 1.5)


def _column_layout(header: list[str], source: Path) -> "tuple[str | None, list[str], dict[tuple[str, str], int]]":
    """The format the names belong to (None for plain indices), its keypoint names in
    order, and (name, field) -> column."""
    columns: dict[tuple[str, str], int] = {}
    for i, cell in enumerate(header):
        name, _, fld = cell.strip().lstrip("#").strip().lower().rpartition("_")
        if name and fld in ("x", "y", "z", *CONFIDENCE_FIELDS):
            columns[(name, fld)] = i
    names = {n for n, f in columns if f == "x" and (n, "y") in columns}
    if not names:
        raise KeypointFileError(source, "expected a CSV header with <name>_x and <name>_y columns per keypoint")
    matching = [f for f in FORMATS.values() if set(f.keypoints) <= names]
    if matching:
        fmt = max(matching, key=lambda f: f.num_keypoints)
        return fmt.name, list(fmt.keypoints), columns
    if all(n.isdigit() for n in names) and sorted(int(n) for n in names) == list(range(len(names))):
        return None, [str(i) for i in range(len(names))], columns
    raise KeypointFileError(
        source,
        f"keypoint columns {sorted(names)[:6]}... match no known format; expected the names of one of "
        f"{', '.join(FORMATS)} (e.g. MediaPipe's nose_x, left_eye_inner_x ...) or indices 0_x, 1_x ...",
    )


def read_landmark_csv(path: Path, image_size: "tuple[int, int] | None") -> Detections:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise KeypointFileError(path, "expected a header row and at least one row of landmarks")
    header = rows[0]
    format_name, names, columns = _column_layout(header, path)
    lower = [c.strip().lstrip("#").strip().lower() for c in header]
    frame_col = next((lower.index(c) for c in FRAME_COLUMNS if c in lower), None)
    person_col = next((lower.index(c) for c in PERSON_COLUMNS if c in lower), None)
    conf_field = {n: next((f for f in CONFIDENCE_FIELDS if (n, f) in columns), None) for n in names}

    table = np.array([[c.strip() or "nan" for c in r] for r in rows[1:] if len(r) == len(header)], dtype=object)
    if len(table) != len(rows) - 1:
        raise KeypointFileError(path, f"every row should have {len(header)} cells like the header")
    try:
        values = table.astype(np.float64)
    except ValueError:
        raise KeypointFileError(path, "expected numbers in every cell below the header") from None

    xy = np.stack([values[:, [columns[(n, "x")], columns[(n, "y")]]] for n in names], axis=1)
    conf = np.stack(
        [values[:, columns[(n, conf_field[n])]] if conf_field[n] else np.ones(len(values)) for n in names], axis=1
    )
    xy = to_pixels(xy, image_size, path)
    out = Detections(path, format=format_name)
    for r in range(len(values)):
        frame = int(values[r, frame_col]) if frame_col is not None else r
        track = int(values[r, person_col]) if person_col is not None and np.isfinite(values[r, person_col]) else None
        out.add(frame, make_detection(xy[r], conf[r], track))
    return out


def to_pixels(xy: np.ndarray, image_size: "tuple[int, int] | None", source: Path) -> np.ndarray:
    """Normalised coordinates -> pixels (needs the image size); pixel coordinates unchanged."""
    finite = xy[np.isfinite(xy).all(axis=-1)]
    if finite.size == 0 or not ((finite >= NORMALISED_RANGE[0]) & (finite <= NORMALISED_RANGE[1])).all():
        return xy
    if image_size is None:
        raise KeypointFileError(
            source, "coordinates are normalised (0 to 1): pass image_size=(width, height) to turn them into pixels"
        )
    return xy * np.asarray(image_size, dtype=np.float64)


def is_landmark(value) -> bool:
    return (isinstance(value, dict) and "x" in value and "y" in value) or (
        isinstance(value, list) and 2 <= len(value) <= 4 and all(isinstance(v, (int, float)) for v in value)
    )


def is_landmark_json(data) -> bool:
    """MediaPipe-style landmark JSON (see the module docstring)."""
    if isinstance(data, dict):
        return isinstance(data.get("frames"), list) or any(k in data for k in LANDMARK_KEYS)
    if isinstance(data, list):
        first = next((f for f in data if f), None)
        if isinstance(first, dict):
            return any(k in first for k in LANDMARK_KEYS)
        return isinstance(first, list) and bool(first) and (is_landmark(first[0]) or is_landmark_list(first[0]))
    return False


def is_landmark_list(value) -> bool:
    return isinstance(value, list) and bool(value) and is_landmark(value[0])


def _poses(value, source: Path, where: str) -> list[list]:
    """The landmark lists in a frame's value: one pose, several, or protobuf's {"landmark": [...]}."""
    if isinstance(value, dict) and "landmark" in value:
        value = value["landmark"]
    if not value:
        return []
    if is_landmark_list(value):
        return [value]
    if isinstance(value, list) and all(is_landmark_list(p) or (isinstance(p, dict) and "landmark" in p) for p in value):
        return [p["landmark"] if isinstance(p, dict) else p for p in value]
    raise KeypointFileError(source, f"{where}: expected a list of landmarks {{x, y, z, visibility}}")


def _landmark_array(landmarks: list, source: Path, where: str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(landmarks[0], dict):
        xy = numbers([[lm.get("x"), lm.get("y")] for lm in landmarks], source, where)
        conf_key = next((k for k in ("visibility", "presence") if k in landmarks[0]), None)
        conf = numbers([lm.get(conf_key, 0.0) if conf_key else 1.0 for lm in landmarks], source, where)
        return xy, conf
    rows = [list(lm) for lm in landmarks]
    if len({len(r) for r in rows}) != 1:
        raise KeypointFileError(source, f"{where}: landmarks of different lengths")
    arr = numbers(rows, source, where)
    conf = arr[:, 3] if arr.shape[1] == 4 else np.ones(len(arr))
    return arr[:, :2], conf


def read_landmark_json(data, path: Path, image_size: "tuple[int, int] | None") -> Detections:
    frames = data
    file_size = None
    fps = None
    if isinstance(data, dict):
        frames = data["frames"] if isinstance(data.get("frames"), list) else [data]
        if "image_size" in data:
            file_size = tuple(int(v) for v in data["image_size"])
        elif "width" in data and "height" in data:
            file_size = (int(data["width"]), int(data["height"]))
        fps = data.get("fps")
    size = image_size if image_size is not None else file_size
    parsed: list[tuple[int, list[tuple[np.ndarray, np.ndarray]]]] = []
    for n, frame in enumerate(frames):
        number = n
        if isinstance(frame, dict):
            number = int(next((frame[k] for k in ("frame", "frame_id", "frame_index") if k in frame), n))
            key = next((k for k in LANDMARK_KEYS if k in frame), None)
            if key is None:
                raise KeypointFileError(path, f"frame {n}: expected one of {', '.join(LANDMARK_KEYS)}")
            frame = frame[key]
        poses = _poses(frame, path, f"frame {n}")
        parsed.append((number, [_landmark_array(p, path, f"frame {n}") for p in poses]))
    all_xy = [xy for _, poses in parsed for xy, _ in poses]
    if all_xy:
        # One decision for the whole file: normalised or pixels.
        scaled = to_pixels(np.concatenate(all_xy), size, path)
        offsets = np.cumsum([0] + [len(xy) for xy in all_xy])
        all_xy = [scaled[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    out = Detections(path, image_size=file_size, fps=float(fps) if fps else None)
    it = iter(all_xy)
    for number, poses in parsed:
        out.add(number, None)
        for _, conf in poses:
            out.add(number, make_detection(next(it), conf))
    return out
