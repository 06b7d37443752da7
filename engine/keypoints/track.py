"""One person's keypoint track, the people found in a file, and how the track is built."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .detections import Detections
from .formats import get_format, to_skeleton
from .tracking import Tracked, track_people

# Frame numbers are filled into a contiguous timeline unless fewer than this share of the
# numbers in their range are present (e.g. unrelated COCO image ids): then only the
# present frames are kept, and ``frames`` says which they are.
MIN_DENSE_FRACTION = 0.25


@dataclass(frozen=True)
class PersonInfo:
    """A person (identity track) found in a keypoint file."""

    id: int
    num_frames: int
    first_frame: int
    last_frame: int
    mean_score: float
    mean_size: float

    @property
    def prominence(self) -> float:
        """Size summed over the frames the person is in: the default pick is the largest."""
        return self.num_frames * self.mean_size

    def label(self) -> str:
        return (
            f"person {self.id}: {self.num_frames} frames ({self.first_frame}-{self.last_frame}), "
            f"score {self.mean_score:.2f}, {self.mean_size:.0f} px"
        )


@dataclass
class KeypointTrack:
    """One person's 2D keypoints over time, in a detector format.

    ``points`` (F, K, 2) pixels, NaN where absent; ``confidence`` (F, K), 0 where absent;
    ``frames`` (F,) the file's frame numbers; ``people`` every person found in the file
    (most prominent first), ``person`` the id of the one this track holds.
    """

    points: np.ndarray
    confidence: np.ndarray
    format: str
    frames: np.ndarray
    image_size: "tuple[int, int] | None" = None
    fps: "float | None" = None
    person: "int | None" = None
    people: tuple[PersonInfo, ...] = field(default_factory=tuple)
    source: "str | None" = None

    def __post_init__(self) -> None:
        self.format = get_format(self.format).name
        k = get_format(self.format).num_keypoints
        self.points = np.asarray(self.points, dtype=np.float32)
        self.confidence = np.asarray(self.confidence, dtype=np.float32)
        self.frames = np.asarray(self.frames, dtype=np.int64)
        f = len(self.frames)
        if self.points.shape != (f, k, 2) or self.confidence.shape != (f, k):
            raise ValueError(
                f"KeypointTrack of {self.format!r}: expected points ({f}, {k}, 2) and confidence ({f}, {k}), "
                f"got {self.points.shape} and {self.confidence.shape}"
            )

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    @property
    def keypoint_names(self) -> tuple[str, ...]:
        return get_format(self.format).keypoints

    def to_skeleton(self, skeleton: str = "anim19") -> tuple[np.ndarray, np.ndarray]:
        """``(points (F, J, 2), confidence (F, J))`` in a canonical skeleton."""
        return to_skeleton(self, skeleton=skeleton)


def describe_people(tracked: Tracked) -> list[PersonInfo]:
    """Statistics per track id, most prominent first."""
    stats: dict[int, list] = {}
    for frame, people in tracked.items():
        for pid, det in people.items():
            stats.setdefault(pid, []).append((frame, det.score, det.size))
    infos = []
    for pid, rows in stats.items():
        frames, scores, sizes = (np.array(c) for c in zip(*rows))
        infos.append(
            PersonInfo(
                id=pid,
                num_frames=len(rows),
                first_frame=int(frames.min()),
                last_frame=int(frames.max()),
                mean_score=float(scores.mean()),
                mean_size=float(sizes.mean()),
            )
        )
    return sorted(infos, key=lambda p: (-p.prominence, p.id))


def timeline(frame_numbers: "list[int]") -> np.ndarray:
    """The frames a track spans: contiguous from first to last, unless the numbers are sparse."""
    present = np.unique(np.asarray(frame_numbers, dtype=np.int64))
    span = int(present[-1] - present[0]) + 1
    if len(present) >= MIN_DENSE_FRACTION * span:
        return np.arange(present[0], present[-1] + 1, dtype=np.int64)
    return present


def build_track(
    detections: Detections,
    format: str,
    person: "int | None" = None,
    image_size: "tuple[int, int] | None" = None,
    fps: "float | None" = None,
) -> KeypointTrack:
    """Track identities, pick a person (default: the most prominent) and lay their
    detections on the file's timeline (NaN, confidence 0 where they are not seen)."""
    fmt = get_format(format)
    tracked = track_people(detections.frames)
    people = describe_people(tracked)
    if person is None:
        person = people[0].id
    elif not isinstance(person, (int, np.integer)) or person not in {p.id for p in people}:
        raise KeyError(
            f"{detections.source}: no person {person!r}; people found: " + "; ".join(p.label() for p in people)
        )
    frames = timeline(list(detections.frames))
    row = {int(f): i for i, f in enumerate(frames)}
    points = np.full((len(frames), fmt.num_keypoints, 2), np.nan, dtype=np.float32)
    confidence = np.zeros((len(frames), fmt.num_keypoints), dtype=np.float32)
    for frame, people_here in tracked.items():
        if person in people_here:
            points[row[frame]] = people_here[person].points
            confidence[row[frame]] = people_here[person].confidence
    return KeypointTrack(
        points=points,
        confidence=confidence,
        format=fmt.name,
        frames=frames,
        image_size=tuple(int(v) for v in image_size) if image_size is not None else detections.image_size,
        fps=float(fps) if fps is not None else detections.fps,
        person=int(person),
        people=tuple(people),
        source=str(detections.source),
    )
