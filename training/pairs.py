"""2D-3D training pairs: windows of ``num_frames`` at the model's frame rate, seen by a
virtual camera, as the batches the trainer feeds MPM.

A batch is a dict of tensors (B = rows, T = window, J = joints)::

    pose_2d          (B, T, J, 2) float  model input: image-normalised 2D (noisy)
    valid_2d         (B, T, J)    bool   the input joint was detected
    target_2d        (B, T, J, 2) float  clean 2D (masked-2D target)
    target_valid_2d  (B, T, J)    bool
    pose_3d          (B, T, J, 3) float  camera space, metres, root-relative (0 where missing)
    valid_3d         (B, T, J)    bool
    has_3d           (B,)         bool   False for 2D-only data

Sources: :class:`MotionPairs` (3D mocap clips seen from virtual cameras),
:class:`CameraPairs` (camera-space 3D with its real 2D, e.g. Human3.6M or MPI-INF-3DHP)
and :class:`Keypoint2DPairs` (2D-only tracks for masked 2D modelling).
:class:`MixedBatches` mixes several sources in every batch, deterministically from
(seed, epoch, step, rank) so a run can stop and resume anywhere.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np
import torch

from engine.coords import normalize_screen
from engine.perspective import ViewCentring
from engine.skeleton import Skeleton, convert_joints, get_skeleton

from .data.cameras import (
    CameraBatch, CameraProtocol, DetectorNoise, cameras_at, random_bone_factors, sample_cameras, scale_bones,
)


MIN_DEPTH_M = 0.5  # joints nearer the camera than this get no 2D
CAMERA_TRIES = 4


def plausible_cameras(positions: np.ndarray, rng: np.random.Generator, protocol: CameraProtocol, root: int) -> CameraBatch:
    """``sample_cameras`` for windows (B, F, J, 3), redrawn where the result is
    implausible: for a person who travels far within the window the distance and aim
    iteration can run away (cameras 20 m up, or ones the person walks through). Accepted:
    every joint at least 1 m in front of the lens and the window's joints within about one
    image of the frame. After ``CAMERA_TRIES`` refusals, a camera aimed at the path's
    middle from far enough away."""
    positions = np.asarray(positions, dtype=np.float64)
    w, h = protocol.image_size
    cams = None
    todo = np.arange(len(positions))
    for _ in range(CAMERA_TRIES):
        drawn = sample_cameras(positions[todo], rng, protocol, root)
        if cams is None:
            cams = drawn
        else:
            cams.take(todo, drawn)
        cam3d = drawn.world_to_camera(positions[todo])
        px = drawn.project_camera(cam3d)
        finite = np.isfinite(cam3d).all(-1)
        near = np.where(finite, cam3d[..., 2], np.inf).min(axis=(1, 2))
        outside = finite[..., None] & ((px <= [-w, -h]) | (px >= [2 * w, 2 * h]) | np.isnan(px))
        ok = finite.any(axis=(1, 2)) & (near >= 1.0) & ~outside.any(axis=(1, 2, 3))
        todo = todo[~ok]
        if not len(todo):
            return cams
    path = positions[todo][:, :, root]
    with np.errstate(invalid="ignore"):
        centre = np.nanmean(path, axis=1)
        travel = np.nanmax(np.linalg.norm(path - centre[:, None], axis=-1), axis=1)
    n = len(todo)
    cams.take(todo, cameras_at(centre, rng.uniform(*protocol.azimuth_deg, size=n), rng.uniform(*protocol.elevation_deg, size=n),
                               4.0 + 2.0 * travel, float(np.mean(protocol.fov_deg)), protocol.image_size))
    return cams


# -- windows ---------------------------------------------------------------------------
class Windows:
    """Frames of many sequences stored end to end, and the window centres to sample.

    A window around centre c covers frames c - T//2 .. c + T//2 of its sequence, with the
    first / last frame repeated past the ends (so every frame is a centre once).
    """

    def __init__(self, lengths: Sequence[int], num_frames: int, stride: int = 1) -> None:
        if stride < 1:
            raise ValueError(f"window stride must be >= 1, got {stride}")
        self.num_frames = num_frames
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        seq, centre = [], []
        for i, n in enumerate(self.lengths):
            c = np.arange(0, n, stride)
            seq.append(np.full(len(c), i))
            centre.append(c)
        self.sequence = np.concatenate(seq) if seq else np.zeros(0, np.int64)
        self.centre = np.concatenate(centre) if centre else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self.centre)

    def frame_index(self, rows: np.ndarray) -> np.ndarray:
        """(B, T) indices into the stored frames for window ``rows``."""
        return self.frame_position(rows, np.ones(len(rows))).astype(np.int64)

    def frame_position(self, rows: np.ndarray, speed: np.ndarray) -> np.ndarray:
        """(B, T) fractional positions among the stored frames for window ``rows`` played
        ``speed`` (B,) times as fast about its centre, clamped to its sequence's ends."""
        half = self.num_frames // 2
        seq, centre = self.sequence[rows], self.centre[rows]
        offsets = np.arange(-half, half + 1)[None, :] * np.asarray(speed, np.float64)[:, None]
        local = np.clip(centre[:, None] + offsets, 0, self.lengths[seq][:, None] - 1)
        return self.starts[seq][:, None] + local

    def take(self, stored: np.ndarray, rows: np.ndarray, speed: np.ndarray | None = None) -> np.ndarray:
        """(B, T, ...) of ``stored`` (frames end to end, (N, ...)) for window ``rows``, each
        played ``speed`` (B,) times as fast (None: as recorded, ``stored``'s own dtype).
        Between stored frames linear (float64); on a stored frame that frame as is, since
        the next one may be another sequence's, or missing (NaN)."""
        if speed is None:
            return stored[self.frame_index(rows)]
        pos = self.frame_position(rows, speed)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, len(stored) - 1)
        w = (pos - lo).reshape(pos.shape + (1,) * (stored.ndim - 1))
        a, b = stored[lo].astype(np.float64), stored[hi].astype(np.float64)
        return np.where(w > 0, (1 - w) * a + w * b, a)


class PairSource(Protocol):
    """Anything :class:`MixedBatches` can draw rows from."""

    def __len__(self) -> int: ...

    def make(self, rows: np.ndarray, rng: np.random.Generator, augment: bool = True) -> dict[str, np.ndarray]:
        """Rows of a batch; ``augment=False`` (validation) keeps the random camera but
        adds no noise, flip or bone scaling."""
        ...


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation. ``bone_scale``: standard deviation of the per-bone length
    factor (left and right scaled alike); ``flip_prob``: horizontal flip with left/right
    swap; ``noise``: the detector-noise model (``training.data.cameras.DetectorNoise``,
    calibrated on real detections) applied to the 2D input, or None for clean 2D;
    ``speed``: each window (of every source kind) played this many times as fast about its
    centre, drawn log-uniformly per window from ``(low, high)`` (frames interpolated; (1, 1):
    as recorded)."""

    flip_prob: float = 0.5
    bone_scale: float = 0.0
    noise: DetectorNoise | None = None
    speed: tuple[float, float] = (1.0, 1.0)

    def draw_speed(self, rng: np.random.Generator, count: int) -> np.ndarray | None:
        """(count,) playback speeds, or None (and nothing drawn) at the recorded speed, so
        that runs without it draw exactly the batches they drew before it existed."""
        if self.speed == (1.0, 1.0):
            return None
        lo, hi = np.log(self.speed)
        return np.exp(rng.uniform(lo, hi, count))


def _empty_like_batch(b: int, t: int, j: int) -> dict[str, np.ndarray]:
    return {
        "pose_2d": np.zeros((b, t, j, 2), np.float32),
        "valid_2d": np.zeros((b, t, j), bool),
        "target_2d": np.zeros((b, t, j, 2), np.float32),
        "target_valid_2d": np.zeros((b, t, j), bool),
        "pose_3d": np.zeros((b, t, j, 3), np.float32),
        "valid_3d": np.zeros((b, t, j), bool),
        "has_3d": np.zeros((b,), bool),
    }


def flip_pairs(batch: dict[str, np.ndarray], rows: np.ndarray, skeleton: Skeleton) -> None:
    """Mirror ``rows`` of a batch horizontally in place (x -> -x, left <-> right)."""
    perm = skeleton.flip_permutation
    for key in batch:
        value = batch[key]
        if value.ndim < 3:
            continue
        part = value[rows][:, :, perm]
        if value.ndim == 4:
            part = part.copy()
            part[..., 0] *= -1.0
        value[rows] = part


def root_relative(pose: np.ndarray, root: int) -> np.ndarray:
    return pose - pose[..., root : root + 1, :]


class MotionPairs:
    """3D mocap clips (``MotionClip``) seen by a random virtual camera per window.

    Each window draws one of ``cameras`` (``training.data.cameras.CameraProtocol``: its
    image size, field of view, how much of the frame the person fills ...) and a camera
    from it; detector noise, and joints leaving the image, make the 2D input. With
    ``view_centring`` (the model config's) each window is then seen exactly as the engine
    will lift it: re-projected into a camera aimed at its detected joints
    (``engine.perspective``), the 3D turned with it."""

    def __init__(
        self,
        clips: Sequence,
        skeleton: str | Skeleton,
        num_frames: int,
        fps: float,
        cameras: Sequence[CameraProtocol] = (CameraProtocol(),),
        augment: AugmentConfig = AugmentConfig(),
        stride: int = 1,
        view_centring: bool = False,
    ) -> None:
        self.skeleton = get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
        self.view_centring = view_centring
        if not clips:
            raise ValueError("MotionPairs needs at least one clip")
        if not cameras:
            raise ValueError("MotionPairs needs at least one camera protocol")
        frames, lengths, self.actions, self.names = [], [], [], []
        for clip in clips:
            positions = clip.resampled(fps).positions
            if clip.skeleton != self.skeleton.name:
                positions = convert_joints(positions, get_skeleton(clip.skeleton), self.skeleton)
            frames.append(positions.astype(np.float32))
            lengths.append(len(positions))
            self.actions.append(getattr(clip, "action", None))
            self.names.append(f"{clip.subject}/{clip.clip}")
        self.frames = np.concatenate(frames)
        self.subjects = {str(c.subject) for c in clips}
        self.windows = Windows(lengths, num_frames, stride)
        self.cameras = tuple(cameras)
        self.augment = augment
        self.fps = fps

    def __len__(self) -> int:
        return len(self.windows)

    def world_windows(self, rows: np.ndarray, speed: np.ndarray | None = None) -> np.ndarray:
        """(B, T, J, 3) world positions of window ``rows``, each played ``speed`` (B,) times
        as fast (None: as recorded)."""
        return self.windows.take(self.frames, rows, speed)

    def make(self, rows: np.ndarray, rng: np.random.Generator, augment: bool = True) -> dict[str, np.ndarray]:
        skel, aug = self.skeleton, self.augment
        speed = aug.draw_speed(rng, len(rows)) if augment else None
        # Interpolated windows come as float64 already: no second copy of them.
        world = self.world_windows(rows, speed).astype(np.float64, copy=False)
        b, t, j, _ = world.shape
        out = _empty_like_batch(b, t, j)
        if augment and aug.bone_scale > 0:
            world = scale_bones(world, random_bone_factors(skel, aug.bone_scale, rng, count=b), skel)
        # Every protocol's windows at once: one camera per window, drawn in arrays.
        protocol_of_row = rng.integers(len(self.cameras), size=b)
        for k, protocol in enumerate(self.cameras):
            picked = np.flatnonzero(protocol_of_row == k)
            if len(picked):
                cams = plausible_cameras(world[picked], rng, protocol, skel.root)
                self._fill_rows(out, picked, world[picked], cams, rng if augment else None)
        out["has_3d"][:] = True
        if augment and aug.flip_prob > 0:
            flip = rng.random(b) < aug.flip_prob
            if flip.any():
                flip_pairs(out, np.flatnonzero(flip), skel)
        return out

    def _fill_rows(self, out: dict[str, np.ndarray], rows: np.ndarray, world: np.ndarray, cams: CameraBatch,
                   rng: np.random.Generator | None) -> None:
        """Rows ``rows`` of a batch: windows ``world`` (R, T, J, 3) through ``cams``; noise with ``rng``."""
        skel = self.skeleton
        w, h = cams.image_size
        cam3d = cams.world_to_camera(world)
        px = cams.project_camera(cam3d)
        # A joint almost at (or behind) the lens projects anywhere: no 2D for it.
        px[cam3d[..., 2] < MIN_DEPTH_M] = np.nan
        present = np.isfinite(world).all(-1)
        valid = present & np.isfinite(px).all(-1)
        out["valid_3d"][rows] = present
        out["target_valid_2d"][rows] = valid
        noisy = px
        if rng is not None and self.augment.noise is not None:
            noisy, _ = self.augment.noise.apply_batch(px, rng, skel)
        detected = valid & np.isfinite(noisy).all(-1)
        if rng is not None:
            # A detector sees nothing outside the frame: truncated people are part of the task.
            with np.errstate(invalid="ignore"):
                detected &= (noisy[..., 0] >= 0) & (noisy[..., 0] < w) & (noisy[..., 1] >= 0) & (noisy[..., 1] < h)
        pose_3d = root_relative(cam3d, skel.root)
        pose_2d, target_2d = np.nan_to_num(normalize_screen(noisy, w, h)), np.nan_to_num(normalize_screen(px, w, h))
        if self.view_centring:
            view = ViewCentring.from_pixels((cams.focal, cams.focal, w / 2.0, h / 2.0), w, h)
            turn = view.rotations(pose_2d, detected, skel)
            pose_2d, target_2d = view.to_virtual(pose_2d, turn), view.to_virtual(target_2d, turn)
            pose_3d = np.einsum("nij,ntkj->ntki", turn, pose_3d)
        out["pose_3d"][rows] = np.nan_to_num(pose_3d)
        out["target_2d"][rows] = target_2d
        out["valid_2d"][rows] = detected
        out["pose_2d"][rows] = pose_2d


class CameraPairs:
    """Camera-space 3D with the 2D of the same camera (Human3.6M, MPI-INF-3DHP layouts).

    ``sequences``: dicts with ``pose_3d`` (F, J, 3) metres camera space, ``pose_2d``
    (F, J, 2) pixels, ``image_size`` (w, h), optional ``target_2d`` (clean 2D, pixels),
    ``valid`` (F,) frames with ground truth, ``fps``, ``action``, ``name``; joints in the
    order of ``skeleton``. Sequences are resampled by picking frames (50 -> 25 fps takes
    every second frame, as the paper does).
    """

    def __init__(self, sequences: Sequence[dict], skeleton: str | Skeleton, num_frames: int, fps: float, augment: AugmentConfig = AugmentConfig(flip_prob=0.5), stride: int = 1) -> None:
        self.skeleton = get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
        if not sequences:
            raise ValueError("CameraPairs needs at least one sequence")
        p3, p2, t2, norm, valid, lengths = [], [], [], [], [], []
        self.actions, self.names = [], []
        for seq in sequences:
            step = seq.get("fps", fps) / fps
            if abs(step - round(step)) > 1e-6 or round(step) < 1:
                raise ValueError(f"sequence {seq.get('name')}: {seq.get('fps')} fps is not a whole multiple of the model's {fps} fps")
            pick = slice(None, None, int(round(step)))
            w, h = seq["image_size"]
            pose_3d = np.asarray(seq["pose_3d"], np.float32)[pick]
            pose_2d = np.asarray(seq["pose_2d"], np.float32)[pick]
            target = np.asarray(seq.get("target_2d", seq["pose_2d"]), np.float32)[pick]
            p3.append(pose_3d)
            p2.append(normalize_screen(pose_2d, w, h))
            t2.append(normalize_screen(target, w, h))
            frame_valid = np.asarray(seq.get("valid", np.ones(len(seq["pose_3d"]), bool)), bool)[pick]
            valid.append(frame_valid)
            lengths.append(len(pose_3d))
            self.actions.append(seq.get("action"))
            self.names.append(seq.get("name", f"seq{len(self.names)}"))
        self.subjects = {str(seq.get("subject", "")) for seq in sequences}
        self.pose_3d = np.concatenate(p3)
        self.pose_2d = np.concatenate(p2)
        self.target_2d = np.concatenate(t2)
        self.frame_valid = np.concatenate(valid)
        self.windows = Windows(lengths, num_frames, stride)
        self.augment = augment
        self.fps = fps

    def __len__(self) -> int:
        return len(self.windows)

    def make(self, rows: np.ndarray, rng: np.random.Generator, augment: bool = True) -> dict[str, np.ndarray]:
        skel = self.skeleton
        speed = self.augment.draw_speed(rng, len(rows)) if augment else None
        take = lambda stored: self.windows.take(stored, rows, speed)  # noqa: E731
        p2, t2, p3 = take(self.pose_2d), take(self.target_2d), take(self.pose_3d)
        # A frame between two is labelled only where both are (interpolated validity is 1);
        # only the window's frames are converted, not the whole dataset's flags per batch.
        frame_valid = take(self.frame_valid) == 1
        b, t = p2.shape[:2]
        out = _empty_like_batch(b, t, skel.num_joints)
        out["pose_2d"][:] = np.nan_to_num(p2)
        out["valid_2d"][:] = np.isfinite(p2).all(-1)
        out["target_2d"][:] = np.nan_to_num(t2)
        out["target_valid_2d"][:] = np.isfinite(t2).all(-1)
        out["pose_3d"][:] = np.nan_to_num(root_relative(p3, skel.root))
        out["valid_3d"][:] = np.isfinite(p3).all(-1) & frame_valid[..., None]
        out["has_3d"][:] = True
        if augment:
            flip = rng.random(b) < self.augment.flip_prob
            if flip.any():
                flip_pairs(out, np.flatnonzero(flip), skel)
        return out


class Keypoint2DPairs:
    """2D-only tracks (``KeypointClip.as_dict()``: pixels, NaN or low confidence = not
    detected) for masked 2D modelling."""

    def __init__(self, tracks: Sequence[dict], skeleton: str | Skeleton, num_frames: int, fps: float, augment: AugmentConfig = AugmentConfig(), stride: int = 1, min_confidence: float = 0.3) -> None:
        self.skeleton = get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
        pts, lengths = [], []
        for track in tracks:
            w, h = track["image_size"]
            step = max(1, int(round(track.get("fps", fps) / fps)))
            points = np.asarray(track["points"], np.float32)
            if track.get("confidence") is not None:
                points = np.where((np.asarray(track["confidence"]) >= min_confidence)[..., None], points, np.nan)
            pts.append(normalize_screen(points[::step], w, h))
            lengths.append(len(pts[-1]))
        self.subjects = {str(t.get("subject", "")) for t in tracks}
        self.points = np.concatenate(pts)
        self.windows = Windows(lengths, num_frames, stride)
        self.augment = augment

    def __len__(self) -> int:
        return len(self.windows)

    def make(self, rows: np.ndarray, rng: np.random.Generator, augment: bool = True) -> dict[str, np.ndarray]:
        speed = self.augment.draw_speed(rng, len(rows)) if augment else None
        p = self.windows.take(self.points, rows, speed)
        b, t = p.shape[:2]
        out = _empty_like_batch(b, t, self.skeleton.num_joints)
        out["pose_2d"][:] = out["target_2d"][:] = np.nan_to_num(p)
        out["valid_2d"][:] = out["target_valid_2d"][:] = np.isfinite(p).all(-1)
        if augment:
            flip = rng.random(b) < self.augment.flip_prob
            if flip.any():
                flip_pairs(out, np.flatnonzero(flip), self.skeleton)
        return out


# -- batches ---------------------------------------------------------------------------
class MixedBatches:
    """Batches mixing several sources in fixed shares, reproducible from
    (seed, epoch, step, rank): every epoch each source is walked in its own shuffled
    order; rank r of ``world`` ranks takes its own disjoint rows of each global batch."""

    def __init__(self, sources: Sequence[PairSource], weights: Sequence[float], batch_size: int, seed: int, steps_per_epoch: int | None = None, world: int = 1) -> None:
        if len(sources) != len(weights) or not sources:
            raise ValueError("MixedBatches needs one weight per source and at least one source")
        if batch_size % world:
            raise ValueError(f"batch size {batch_size} is not divisible by the {world} processes")
        if any(len(s) == 0 for s in sources):
            raise ValueError("a data source has no windows")
        self.sources = list(sources)
        self.local_batch = batch_size // world
        self.world = world
        self.seed = seed
        self.shares = _largest_remainder(np.asarray(weights, np.float64), self.local_batch)
        total = sum(len(s) for s in sources)
        self.steps_per_epoch = steps_per_epoch or max(1, math.ceil(total / batch_size))
        self._orders: dict[tuple[int, int], np.ndarray] = {}

    def _order(self, epoch: int, source: int) -> np.ndarray:
        key = (epoch, source)
        if key not in self._orders:
            self._orders = {k: v for k, v in self._orders.items() if k[0] == epoch}
            self._orders[key] = np.random.default_rng([self.seed, epoch, source, 7]).permutation(len(self.sources[source]))
        return self._orders[key]

    def rows(self, epoch: int, step: int, rank: int, source: int) -> np.ndarray:
        n = int(self.shares[source])
        order = self._order(epoch, source)
        start = (step * self.world + rank) * n
        return order[np.arange(start, start + n) % len(order)]

    def batch(self, epoch: int, step: int, rank: int = 0) -> dict[str, torch.Tensor]:
        parts = []
        for i, source in enumerate(self.sources):
            if self.shares[i] == 0:
                continue
            rng = np.random.default_rng([self.seed, epoch, step, rank, i])
            parts.append(source.make(self.rows(epoch, step, rank, i), rng))
        return {k: torch.from_numpy(np.concatenate([p[k] for p in parts])) for k in parts[0]}


class EpochSteps(torch.utils.data.Dataset):
    """The batches of one epoch from ``start`` on, as a dataset a DataLoader's worker
    processes can prepare ahead of the training step (item k = step start + k)."""

    def __init__(self, batches: MixedBatches, epoch: int, start: int, rank: int) -> None:
        self.batches, self.epoch, self.start, self.rank = batches, epoch, start, rank

    def __len__(self) -> int:
        return self.batches.steps_per_epoch - self.start

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        return self.batches.batch(self.epoch, self.start + k, self.rank)


def epoch_batches(batches: MixedBatches, epoch: int, start: int, rank: int, workers: int):
    """Iterate the batches of ``epoch`` from step ``start``; with ``workers`` > 0 they are
    made in background processes (the same batches: each depends only on its step)."""
    steps = EpochSteps(batches, epoch, start, rank)
    if workers <= 0:
        return (steps[k] for k in range(len(steps)))
    return iter(torch.utils.data.DataLoader(
        steps, batch_size=None, shuffle=False, num_workers=workers, prefetch_factor=4,
        worker_init_fn=_single_thread,
    ))


def _single_thread(_: int) -> None:
    torch.set_num_threads(1)


def _largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    if (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"data weights must be >= 0 with a positive sum, got {weights.tolist()}")
    exact = weights / weights.sum() * total
    shares = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - shares))[: total - shares.sum()]:
        shares[i] += 1
    return shares
