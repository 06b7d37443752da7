"""Virtual cameras, projection, a detector-noise model, flip and bone-length augmentation.

Conventions (engine/coords.py): world metres, Z up; camera space metres, OpenCV axes
(x right, y down, z forward); pixels from the image's top-left corner; the model sees
``engine.coords.normalize_screen`` of the pixels.

**Camera protocol** (:class:`CameraProtocol`, the defaults): the camera aims so that the
person's bounding box over the window is centred in the image, give or take a jitter of
5 % of their image height (so the person is not always centred), from an azimuth uniform
over 360 degrees (0 = in front of a person facing -Y, i.e. Blender's front view; 90 = at
+X), an elevation uniform in -10..30 degrees (positive looks down), no roll unless
``roll_deg`` gives a range (real cameras are rarely level: the four Pose2Sim demo cameras
roll -3 to 26 degrees), a horizontal field of view uniform in 40..80 degrees on a
1000 x 1000 image, and at the distance at which the person (their vertical extent in the image
over the window, perspective included) fills a fraction of the image height drawn
uniformly in 0.4..0.9. A person who travels far within a window, or spreads their arms
wide, can still leave the frame sideways, as in real footage. Human3.6M's cameras (1145 px
focal on 1000 px, 47 degrees, 4-6 m) lie inside this range.

**Detector noise** (:class:`DetectorNoise`): per joint, a white jitter and a slow offset
that stays for the whole window, both as a fraction of the person's height in pixels;
confidences drawn around per-joint means; dropouts (confidence below the detector's
threshold: joint undetected); and, with ``occlusion_prob``, one limb undetected over a run
of frames. The defaults are measured on the real Pose2Sim demo detections (OpenPose
BODY_25B, 4 cameras, 100 frames at 60 fps; ``python -m training.data.noise_calibration``):
see ``CALIBRATION`` below and training/data/README.md.
"""
from __future__ import annotations

import os
import tomllib
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.coords import focal_from_fov
from engine.skeleton import Skeleton, get_skeleton

WORLD_UP = np.array([0.0, 0.0, 1.0])


# -- cameras ---------------------------------------------------------------------------
@dataclass
class Camera:
    """A pinhole camera with optional OpenCV distortion (k1, k2, p1, p2[, k3]).

    ``rotation`` (3, 3) and ``translation`` (3,) map world to camera: x_cam = R x + t.
    """

    rotation: np.ndarray
    translation: np.ndarray
    focal: tuple[float, float]
    centre: tuple[float, float]
    image_size: tuple[int, int]
    distortion: np.ndarray = field(default_factory=lambda: np.zeros(0))
    name: str = ""

    @property
    def position(self) -> np.ndarray:
        """The camera centre in world coordinates."""
        return -self.rotation.T @ self.translation

    @property
    def intrinsics(self) -> tuple[float, float, float, float]:
        """(fx, fy, cx, cy) in pixels, as the engine takes them."""
        (fx, fy), (cx, cy) = self.focal, self.centre
        return float(fx), float(fy), float(cx), float(cy)

    @property
    def matrix(self) -> np.ndarray:
        (fx, fy), (cx, cy) = self.focal, self.centre
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points, dtype=np.float64) @ self.rotation.T + self.translation

    def camera_to_world(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=np.float64) - self.translation) @ self.rotation

    def project_camera(self, points: np.ndarray) -> np.ndarray:
        """Camera-space points (..., 3) -> pixels (..., 2); points behind the camera -> NaN."""
        p = np.asarray(points, dtype=np.float64)
        z = p[..., 2:3]
        uv = np.where(z > 1e-6, p[..., :2] / np.where(z > 1e-6, z, 1.0), np.nan)
        uv = distort(uv, self.distortion)
        return uv * np.asarray(self.focal) + np.asarray(self.centre)

    def project(self, points_world: np.ndarray) -> np.ndarray:
        return self.project_camera(self.world_to_camera(points_world))

    @classmethod
    def from_opencv(cls, rvec, tvec, matrix, image_size, distortion=(), name: str = "") -> "Camera":
        m = np.asarray(matrix, dtype=np.float64)
        return cls(
            rotation=rodrigues(rvec), translation=np.asarray(tvec, dtype=np.float64), focal=(m[0, 0], m[1, 1]),
            centre=(m[0, 2], m[1, 2]), image_size=tuple(int(round(v)) for v in image_size),
            distortion=np.asarray(distortion, dtype=np.float64), name=name,
        )


def rodrigues(rvec) -> np.ndarray:
    """OpenCV rotation vector -> (3, 3) matrix."""
    r = np.asarray(rvec, dtype=np.float64).reshape(3)
    theta = np.linalg.norm(r)
    if theta < 1e-12:
        return np.eye(3)
    k = r / theta
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(theta) * kx + (1.0 - np.cos(theta)) * kx @ kx


def distort(uv: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """OpenCV radial-tangential distortion of normalised image points (..., 2)."""
    c = np.zeros(5)
    coeffs = np.asarray(coeffs, dtype=np.float64).reshape(-1)[:5]
    c[: coeffs.size] = coeffs
    if not c.any():
        return uv
    k1, k2, p1, p2, k3 = c
    x, y = uv[..., 0], uv[..., 1]
    r2 = x * x + y * y
    radial = 1.0 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([xd, yd], axis=-1)


def read_pose2sim_calibration(path: str | os.PathLike) -> dict[str, Camera]:
    """Cameras of a Pose2Sim / OpenCV calibration TOML (``[cam_01]`` with size, matrix,
    distortions, rotation (Rodrigues), translation)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read calibration {path}: {exc}") from None
    cams = {}
    for key, c in data.items():
        if not isinstance(c, dict) or "matrix" not in c:
            continue
        try:
            cams[key] = Camera.from_opencv(c["rotation"], c["translation"], c["matrix"], c["size"], c.get("distortions", ()), c.get("name", key))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{path}: camera {key!r} lacks or garbles {exc}") from None
    if not cams:
        raise ValueError(f"{path}: no cameras ([cam_xx] tables with a 'matrix')")
    return cams


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World -> camera rotation (..., 3, 3) for cameras at ``eye`` (..., 3) looking at
    ``target``, level with Z up."""
    forward = np.asarray(target, float) - np.asarray(eye, float)
    forward = forward / np.linalg.norm(forward, axis=-1, keepdims=True)
    right = _cross(forward, WORLD_UP)
    norm = np.linalg.norm(right, axis=-1, keepdims=True)
    # Looking straight down or up: any level right axis will do.
    right = np.where(norm < 1e-9, [1.0, 0.0, 0.0], right / np.maximum(norm, 1e-9))
    down = _cross(forward, right)
    return np.stack([right, down, forward], axis=-2)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.cross of (..., 3) vectors without its axis handling (cheaper on small arrays)."""
    a, b = np.broadcast_arrays(a, b)
    return np.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1], a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                     a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], axis=-1)


@dataclass(frozen=True)
class CameraProtocol:
    """Ranges the virtual cameras are drawn from (uniformly); see the module docstring."""

    azimuth_deg: tuple[float, float] = (0.0, 360.0)
    elevation_deg: tuple[float, float] = (-10.0, 30.0)
    fill: tuple[float, float] = (0.4, 0.9)
    fov_deg: tuple[float, float] = (40.0, 80.0)
    image_size: tuple[int, int] = (1000, 1000)
    aim_jitter: float = 0.05
    roll_deg: tuple[float, float] = (0.0, 0.0)


@dataclass
class CameraBatch:
    """B undistorted pinhole cameras of one image size, as arrays: ``rotation`` (B, 3, 3),
    ``translation`` (B, 3), ``focal`` (B,) (square pixels), principal point at the image
    centre. What training draws per window; :meth:`camera` gives one as a :class:`Camera`."""

    rotation: np.ndarray
    translation: np.ndarray
    focal: np.ndarray
    image_size: tuple[int, int]

    def __len__(self) -> int:
        return len(self.focal)

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """(B, ..., 3) world points, row b seen by camera b."""
        p = np.asarray(points, dtype=np.float64)
        shape = (len(self),) + (1,) * (p.ndim - 3)
        rot_t = self.rotation.swapaxes(-1, -2).reshape(shape + (3, 3))
        return p @ rot_t + self.translation.reshape(shape + (1, 3))

    def project_camera(self, points: np.ndarray) -> np.ndarray:
        """(B, ..., 3) camera-space points -> pixels (B, ..., 2); behind the camera -> NaN."""
        p = np.asarray(points, dtype=np.float64)
        z = p[..., 2:3]
        uv = np.where(z > 1e-6, p[..., :2] / np.where(z > 1e-6, z, 1.0), np.nan)
        w, h = self.image_size
        return uv * self.focal.reshape((len(self),) + (1,) * (p.ndim - 1)) + np.array([w / 2.0, h / 2.0])

    def project(self, points_world: np.ndarray) -> np.ndarray:
        return self.project_camera(self.world_to_camera(points_world))

    def camera(self, i: int) -> Camera:
        w, h = self.image_size
        f = float(self.focal[i])
        return Camera(rotation=self.rotation[i].copy(), translation=self.translation[i].copy(), focal=(f, f),
                      centre=(w / 2.0, h / 2.0), image_size=(w, h))

    def take(self, rows: np.ndarray, other: "CameraBatch") -> None:
        """Replace ``rows`` by the cameras of ``other`` (one per row, same image size)."""
        self.rotation[rows], self.translation[rows], self.focal[rows] = other.rotation, other.translation, other.focal


def cameras_at(
    target: np.ndarray, azimuth_deg: np.ndarray, elevation_deg: np.ndarray, distance: np.ndarray, fov_deg: np.ndarray,
    image_size: tuple[int, int] = (1000, 1000), roll_deg: np.ndarray | float = 0.0,
) -> CameraBatch:
    """:func:`camera_at` for B cameras at once (``target`` (B, 3), the rest (B,) or scalars)."""
    target = np.asarray(target, float)
    b = len(target)
    az, el = np.radians(np.broadcast_to(azimuth_deg, b)), np.radians(np.broadcast_to(elevation_deg, b))
    direction = np.stack([np.sin(az) * np.cos(el), -np.cos(az) * np.cos(el), np.sin(el)], axis=-1)
    eye = target + np.broadcast_to(distance, b)[:, None] * direction
    rot = look_at(eye, target)
    roll = np.radians(np.broadcast_to(roll_deg, b))
    if roll.any():
        c, s = np.cos(roll), np.sin(roll)
        zero, one = np.zeros(b), np.ones(b)
        spin = np.stack([np.stack([c, s, zero], -1), np.stack([-s, c, zero], -1), np.stack([zero, zero, one], -1)], axis=-2)
        rot = spin @ rot
    w, h = image_size
    focal = focal_from_fov(w, np.broadcast_to(np.asarray(fov_deg, float), b))
    return CameraBatch(rotation=rot, translation=-np.einsum("bij,bj->bi", rot, eye), focal=np.array(focal, float),
                       image_size=(int(w), int(h)))


def camera_at(
    target: np.ndarray, azimuth_deg: float, elevation_deg: float, distance: float, fov_deg: float,
    image_size: tuple[int, int] = (1000, 1000), roll_deg: float = 0.0,
) -> Camera:
    """A camera ``distance`` metres from ``target`` looking at it (azimuth 0: from -Y),
    rolled by ``roll_deg`` about its optical axis (positive: the world's up appears turned
    counter-clockwise in the image)."""
    batch = cameras_at(np.asarray(target, float)[None], azimuth_deg, elevation_deg, distance, fov_deg, image_size, roll_deg)
    return batch.camera(0)


def person_heights(positions: np.ndarray) -> np.ndarray:
    """(B,) standing extent along Z of windows (B, F, J, 3): the 95th percentile over
    frames of top - bottom (1.7 m where no frame has a joint)."""
    z = np.asarray(positions)[..., 2]
    extent = np.fmax.reduce(z, axis=-1) - np.fmin.reduce(z, axis=-1)  # NaN-ignoring
    gaps = np.isnan(extent).any(-1)
    # np.nanpercentile loops over rows in Python: only the windows with empty frames take it.
    height = np.percentile(extent, 95, axis=-1) if extent.shape[-1] else np.full(extent.shape[:-1], np.nan)
    if gaps.any():
        with _quiet_nan_warnings():
            height[gaps] = np.nanpercentile(extent[gaps], 95, axis=-1)
    return np.where(np.isfinite(height), height, 1.7)


def person_height(positions: np.ndarray) -> float:
    """The person's standing extent along Z: 95th percentile over frames of top - bottom."""
    return float(person_heights(np.asarray(positions)[None])[0])


def sample_cameras(positions: np.ndarray, rng: np.random.Generator, protocol: CameraProtocol = CameraProtocol(),
                   root: int = 0) -> CameraBatch:
    """One random camera per window of world positions (B, F, J, 3) under ``protocol``.

    The distance and aim are refined (a few fixed-point steps) so that the person's
    projected vertical extent over the window is the drawn fill and their bounding box
    centre sits at the image centre plus the drawn aim jitter.
    """
    positions = np.asarray(positions, dtype=np.float64)
    b = len(positions)
    height = person_heights(positions)
    w, h = protocol.image_size
    fov = rng.uniform(*protocol.fov_deg, size=b)
    focal = focal_from_fov(w, fov)
    fill = rng.uniform(*protocol.fill, size=b)
    azimuth, elevation = rng.uniform(*protocol.azimuth_deg, size=b), rng.uniform(*protocol.elevation_deg, size=b)
    # Drawn only when asked for, so protocols without roll keep their random streams.
    roll = rng.uniform(*protocol.roll_deg, size=b) if any(protocol.roll_deg) else np.zeros(b)
    aim_px = np.array([w / 2.0, h / 2.0]) + rng.normal(0.0, 1.0, (b, 2)) * (protocol.aim_jitter * fill * h)[:, None]
    z = positions[..., 2]
    with _quiet_nan_warnings():
        middle = np.nanmean((np.fmax.reduce(z, -1) + np.fmin.reduce(z, -1)) / 2, axis=-1)
        target = np.concatenate([np.nanmean(positions[:, :, root, :2], axis=1), middle[:, None]], axis=-1)
    distance = focal * height / (fill * h)
    cams = cameras_at(target, azimuth, elevation, distance, fov, (w, h), roll)
    active = np.ones(b, bool)
    for _ in range(4):
        px = cams.project(positions)
        lo, hi = np.fmin.reduce(px, axis=(1, 2)), np.fmax.reduce(px, axis=(1, 2))  # NaN-ignoring
        seen = (hi[:, 1] - lo[:, 1]) / h
        active &= np.isfinite(seen) & (seen > 0)
        if not active.any():
            break
        # Move the target to where the box centre should be seen from, at the same depth,
        # then scale the distance by the fill error (size ~ 1 / distance).
        shift = ((lo + hi) / 2.0 - aim_px) / focal[:, None] * distance[:, None]
        moved = target + np.einsum("bki,bk->bi", cams.rotation[:, :2], shift)
        target = np.where(active[:, None], moved, target)
        distance = np.where(active, distance * seen / fill, distance)
        cams.take(active, cameras_at(target[active], azimuth[active], elevation[active], distance[active],
                                     fov[active], (w, h), roll[active]))
    return cams


def sample_camera(positions: np.ndarray, rng: np.random.Generator, protocol: CameraProtocol = CameraProtocol(),
                  root: int = 0) -> Camera:
    """:func:`sample_cameras` for one window (F, J, 3)."""
    return sample_cameras(np.asarray(positions)[None], rng, protocol, root).camera(0)


@contextmanager
def _quiet_nan_warnings():
    """All-NaN slices (a window with a joint missing throughout) are expected here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# -- detector noise ----------------------------------------------------------------------
# Measured on the Pose2Sim demo (training/data/noise_calibration.py), per anim19 joint, as
# a fraction of the person's height in pixels: "jitter" = std of the residual (detection
# - re-projected triangulation) after removing its 9-frame moving average; "drift" = std
# of that moving average about its mean; "confidence" = mean BODY_25B score; "dropout" =
# share of detections below 0.3. Person ~700-760 px high: a jitter of 0.004 is ~3 px.
CALIBRATION: dict[str, dict[str, float]] = {
    "pelvis": {"jitter": 0.0036, "drift": 0.0063, "confidence": 0.63, "dropout": 0.00},
    "right_hip": {"jitter": 0.0025, "drift": 0.0065, "confidence": 0.64, "dropout": 0.00},
    "right_knee": {"jitter": 0.0048, "drift": 0.0087, "confidence": 0.66, "dropout": 0.00},
    "right_ankle": {"jitter": 0.0034, "drift": 0.0067, "confidence": 0.64, "dropout": 0.00},
    "left_hip": {"jitter": 0.0040, "drift": 0.0077, "confidence": 0.63, "dropout": 0.00},
    "left_knee": {"jitter": 0.0033, "drift": 0.0081, "confidence": 0.66, "dropout": 0.00},
    "left_ankle": {"jitter": 0.0030, "drift": 0.0047, "confidence": 0.65, "dropout": 0.00},
    "spine": {"jitter": 0.0031, "drift": 0.0037, "confidence": 0.64, "dropout": 0.00},
    "thorax": {"jitter": 0.0046, "drift": 0.0043, "confidence": 0.66, "dropout": 0.00},
    "neck": {"jitter": 0.0015, "drift": 0.0288, "confidence": 0.61, "dropout": 0.00},
    "head": {"jitter": 0.0041, "drift": 0.0063, "confidence": 0.59, "dropout": 0.00},
    "left_shoulder": {"jitter": 0.0070, "drift": 0.0066, "confidence": 0.65, "dropout": 0.00},
    "left_elbow": {"jitter": 0.0042, "drift": 0.0071, "confidence": 0.63, "dropout": 0.00},
    "left_wrist": {"jitter": 0.0043, "drift": 0.0068, "confidence": 0.63, "dropout": 0.02},
    "right_shoulder": {"jitter": 0.0058, "drift": 0.0052, "confidence": 0.65, "dropout": 0.00},
    "right_elbow": {"jitter": 0.0035, "drift": 0.0069, "confidence": 0.61, "dropout": 0.00},
    "right_wrist": {"jitter": 0.0045, "drift": 0.0075, "confidence": 0.57, "dropout": 0.01},
    "right_toe": {"jitter": 0.0045, "drift": 0.0070, "confidence": 0.50, "dropout": 0.01},
    "left_toe": {"jitter": 0.0027, "drift": 0.0045, "confidence": 0.56, "dropout": 0.03},
}


@dataclass(frozen=True)
class DetectorNoise:
    """Detector-like corruption of clean 2D (see the module docstring).

    ``jitter`` and ``drift``: per-joint std as a fraction of the person's pixel height
    (missing joints use ``default_jitter`` / ``default_drift``); ``level``: a range the
    per-window multiplier of both is drawn from (1 = as measured on the real detections);
    ``confidence``: per-joint mean score, ``confidence_std`` its spread; ``dropout``:
    per-joint chance that a joint is undetected in a frame; ``occlusion_prob``: chance a
    window loses one limb for a run of frames.
    """

    jitter: dict[str, float] = field(default_factory=lambda: {j: v["jitter"] for j, v in CALIBRATION.items()})
    drift: dict[str, float] = field(default_factory=lambda: {j: v["drift"] for j, v in CALIBRATION.items()})
    confidence: dict[str, float] = field(default_factory=lambda: {j: v["confidence"] for j, v in CALIBRATION.items()})
    dropout: dict[str, float] = field(default_factory=lambda: {j: v["dropout"] for j, v in CALIBRATION.items()})
    default_jitter: float = 0.004
    default_drift: float = 0.004
    default_confidence: float = 0.6
    default_dropout: float = 0.02
    confidence_std: float = 0.1
    level: tuple[float, float] = (0.5, 2.0)
    occlusion_prob: float = 0.1
    threshold: float = 0.3

    def per_joint(self, table: dict[str, float], default: float, skeleton: Skeleton) -> np.ndarray:
        return np.array([table.get(j, default) for j in skeleton.joints])

    def apply(
        self, points: np.ndarray, rng: np.random.Generator, skeleton: Skeleton | str = "anim19",
        person_height_px: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Noisy pixels and confidences for clean (F, J, 2) pixels of one window.

        Undetected joints get NaN and confidence 0 (the engine's input convention).
        """
        height = None if person_height_px is None else np.array([person_height_px], float)
        noisy, confidence = self.apply_batch(np.asarray(points)[None], rng, skeleton, height)
        return noisy[0], confidence[0]

    def apply_batch(
        self, points: np.ndarray, rng: np.random.Generator, skeleton: Skeleton | str = "anim19",
        person_height_px: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`apply` for B windows (B, F, J, 2) at once, each with its own level,
        drift and occlusion; ``person_height_px`` (B,) defaults to each window's median
        vertical extent."""
        skel = get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
        pts = np.asarray(points, dtype=np.float64)
        b, f, j = pts.shape[:3]
        if person_height_px is None:
            with _quiet_nan_warnings():
                extent = np.nanmax(pts[..., 1], axis=2) - np.nanmin(pts[..., 1], axis=2)
                person_height_px = np.nanmedian(extent, axis=1)
            person_height_px = np.where(np.isfinite(person_height_px), person_height_px, 1.0)
        scale = (np.asarray(person_height_px, float) * rng.uniform(*self.level, size=b))[:, None, None, None]
        jitter = self.per_joint(self.jitter, self.default_jitter, skel)[None, None, :, None] * scale
        drift = self.per_joint(self.drift, self.default_drift, skel)[None, None, :, None] * scale
        noisy = pts + rng.normal(size=(b, f, j, 2)) * jitter + rng.normal(size=(b, 1, j, 2)) * drift
        conf = self.per_joint(self.confidence, self.default_confidence, skel)
        confidence = np.clip(conf + rng.normal(0.0, self.confidence_std, (b, f, j)), 0.0, 1.0)
        dropped = rng.random((b, f, j)) < self.per_joint(self.dropout, self.default_dropout, skel)
        if f > 0:
            for row in np.flatnonzero(rng.random(b) < self.occlusion_prob):
                limb = ("right_leg", "left_leg", "right_arm", "left_arm")[rng.integers(4)]
                length = int(rng.integers(1, f + 1))
                start = int(rng.integers(0, f - length + 1))
                dropped[row, start : start + length, skel.limb_indices(limb)] = True
        dropped |= ~np.isfinite(pts).all(-1)
        confidence = np.where(dropped, 0.0, np.maximum(confidence, self.threshold))
        noisy[dropped] = np.nan
        return noisy.astype(np.float32), confidence.astype(np.float32)


# -- augmentation ------------------------------------------------------------------------
def flip_positions(positions: np.ndarray, skeleton: Skeleton | str = "anim19", axis: int = 0) -> np.ndarray:
    """Mirror 3D positions (..., J, 3) across the plane normal to ``axis`` (0 = x: left-right
    in camera space and Blender's front view) and swap left and right joints."""
    skel = get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
    out = np.array(positions, dtype=np.float64, copy=True)
    out[..., axis] *= -1.0
    return out[..., skel.flip_permutation, :]


def flip_points(points: np.ndarray, image_width: float, skeleton: Skeleton | str = "anim19") -> np.ndarray:
    """Mirror pixels (..., J, 2) horizontally in an image ``image_width`` wide and swap sides."""
    skel = get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
    out = np.array(points, dtype=np.float64, copy=True)
    out[..., 0] = image_width - out[..., 0]
    return out[..., skel.flip_permutation, :]


def random_bone_factors(skeleton: Skeleton | str, std: float, rng: np.random.Generator, symmetric: bool = True,
                        count: int | None = None) -> np.ndarray:
    """(J,) log-normal length factors for the bone ending at each joint (root: 1), or
    (count, J) with ``count``; with ``symmetric`` a left bone and its right twin get the
    same factor."""
    skel = get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
    shape = (skel.num_joints,) if count is None else (count, skel.num_joints)
    factors = np.exp(rng.normal(0.0, std, shape))
    if symmetric:
        factors = factors[..., np.minimum(np.arange(skel.num_joints), skel.flip_permutation)]
    factors[..., skel.root] = 1.0
    return factors


def scale_bones(positions: np.ndarray, factors: np.ndarray, skeleton: Skeleton | str = "anim19") -> np.ndarray:
    """Rebuild (..., J, 3) positions with the bone from each joint's parent scaled by
    ``factors[..., joint]`` along its own direction; the root stays where it is. A missing
    joint stays missing, and so does a joint whose parent is missing (no bone to scale).
    ``factors`` (J,) scales every pose alike; (B, J) scales windows (B, F, J, 3) each
    their own way."""
    skel = get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
    pos = np.asarray(positions, dtype=np.float64)
    factors = np.asarray(factors, dtype=np.float64)
    # Per-joint factors broadcast over the leading axes they share with a joint's (..., 3) slice.
    per_joint = factors.reshape(factors.shape[:-1] + (1,) * (pos.ndim - factors.ndim) + factors.shape[-1:])
    out = pos.copy()
    for child in _parents_first(skel):
        parent = skel.parents[child]
        if parent < 0:
            continue
        out[..., child, :] = out[..., parent, :] + (pos[..., child, :] - pos[..., parent, :]) * per_joint[..., child]
    return out


def _parents_first(skel: Skeleton) -> list[int]:
    order, seen = [], set()
    while len(order) < skel.num_joints:
        for j, p in enumerate(skel.parents):
            if j not in seen and (p < 0 or p in seen):
                order.append(j)
                seen.add(j)
    return order
