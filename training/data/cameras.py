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
    """World -> camera rotation for a camera at ``eye`` looking at ``target``, level with Z up."""
    forward = np.asarray(target, float) - np.asarray(eye, float)
    forward /= np.linalg.norm(forward)
    right = _cross(forward, WORLD_UP)
    if np.linalg.norm(right) < 1e-9:  # looking straight down or up
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    down = _cross(forward, right)
    return np.stack([right, down, forward])


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.cross of two 3-vectors without its axis handling (a camera is drawn per window)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


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


def camera_at(
    target: np.ndarray, azimuth_deg: float, elevation_deg: float, distance: float, fov_deg: float,
    image_size: tuple[int, int] = (1000, 1000), roll_deg: float = 0.0,
) -> Camera:
    """A camera ``distance`` metres from ``target`` looking at it (azimuth 0: from -Y),
    rolled by ``roll_deg`` about its optical axis (positive: the world's up appears turned
    counter-clockwise in the image)."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    direction = np.array([np.sin(az) * np.cos(el), -np.cos(az) * np.cos(el), np.sin(el)])
    eye = np.asarray(target, float) + distance * direction
    rot = look_at(eye, target)
    if roll_deg:
        c, s = np.cos(np.radians(roll_deg)), np.sin(np.radians(roll_deg))
        rot = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]) @ rot
    w, h = image_size
    f = focal_from_fov(w, fov_deg)
    return Camera(rotation=rot, translation=-rot @ eye, focal=(f, f), centre=(w / 2.0, h / 2.0), image_size=(w, h))


def person_height(positions: np.ndarray) -> float:
    """The person's standing extent along Z: 95th percentile over frames of top - bottom."""
    z = np.asarray(positions)[..., 2]
    extent = np.nanmax(z, axis=-1) - np.nanmin(z, axis=-1)
    extent = extent[np.isfinite(extent)]
    return float(np.percentile(extent, 95)) if extent.size else 1.7


def sample_camera(positions: np.ndarray, rng: np.random.Generator, protocol: CameraProtocol = CameraProtocol(),
                  root: int = 0) -> Camera:
    """A random camera for a window of world positions (F, J, 3) under ``protocol``.

    The distance and aim are refined (a few fixed-point steps) so that the person's
    projected vertical extent over the window is the drawn fill and their bounding box
    centre sits at the image centre plus the drawn aim jitter.
    """
    height = person_height(positions)
    w, h = protocol.image_size
    fov = rng.uniform(*protocol.fov_deg)
    focal = focal_from_fov(w, fov)
    fill = rng.uniform(*protocol.fill)
    azimuth, elevation = rng.uniform(*protocol.azimuth_deg), rng.uniform(*protocol.elevation_deg)
    # Drawn only when asked for, so protocols without roll keep their random streams.
    roll = rng.uniform(*protocol.roll_deg) if any(protocol.roll_deg) else 0.0
    aim_px = np.array([w / 2.0, h / 2.0]) + rng.normal(0.0, protocol.aim_jitter * fill * h, 2)
    z = positions[..., 2]
    target = np.append(np.nanmean(positions[:, root, :2], axis=0), np.nanmean((np.nanmax(z, -1) + np.nanmin(z, -1)) / 2))
    distance = focal * height / (fill * h)
    cam = camera_at(target, azimuth, elevation, distance, fov, (w, h), roll)
    for _ in range(4):
        px = cam.project(positions)
        lo, hi = np.nanmin(px, axis=(0, 1)), np.nanmax(px, axis=(0, 1))
        seen = (hi[1] - lo[1]) / h
        if not np.isfinite(seen) or seen <= 0:
            break
        # Move the target to where the box centre should be seen from, at the same depth,
        # then scale the distance by the fill error (size ~ 1 / distance).
        shift = ((lo + hi) / 2.0 - aim_px) / focal * distance
        target = target + cam.rotation[:2].T @ shift
        distance *= seen / fill
        cam = camera_at(target, azimuth, elevation, distance, fov, (w, h), roll)
    return cam


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
        skel = get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
        pts = np.asarray(points, dtype=np.float64)
        f, j = pts.shape[:2]
        if person_height_px is None:
            extent = np.nanmax(pts[..., 1], axis=1) - np.nanmin(pts[..., 1], axis=1)
            person_height_px = float(np.nanmedian(extent)) if np.isfinite(extent).any() else 1.0
        level = rng.uniform(*self.level)
        jitter = self.per_joint(self.jitter, self.default_jitter, skel) * person_height_px * level
        drift = self.per_joint(self.drift, self.default_drift, skel) * person_height_px * level
        noisy = pts + rng.normal(size=(f, j, 2)) * jitter[None, :, None] + rng.normal(size=(1, j, 2)) * drift[None, :, None]
        conf = self.per_joint(self.confidence, self.default_confidence, skel)
        confidence = np.clip(conf[None] + rng.normal(0.0, self.confidence_std, (f, j)), 0.0, 1.0)
        dropped = rng.random((f, j)) < self.per_joint(self.dropout, self.default_dropout, skel)[None]
        if rng.random() < self.occlusion_prob and f > 0:
            limb = ("right_leg", "left_leg", "right_arm", "left_arm")[rng.integers(4)]
            length = int(rng.integers(1, f + 1))
            start = int(rng.integers(0, f - length + 1))
            dropped[start : start + length, skel.limb_indices(limb)] = True
        dropped |= ~np.isfinite(pts).all(-1)
        confidence[dropped] = 0.0
        confidence[~dropped] = np.maximum(confidence[~dropped], self.threshold)
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


def random_bone_factors(skeleton: Skeleton | str, std: float, rng: np.random.Generator, symmetric: bool = True) -> np.ndarray:
    """(J,) log-normal length factors for the bone ending at each joint (root: 1); with
    ``symmetric`` a left bone and its right twin get the same factor."""
    skel = get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
    factors = np.exp(rng.normal(0.0, std, skel.num_joints))
    if symmetric:
        factors = factors[np.minimum(np.arange(skel.num_joints), skel.flip_permutation)]
    factors[skel.root] = 1.0
    return factors


def scale_bones(positions: np.ndarray, factors: np.ndarray, skeleton: Skeleton | str = "anim19") -> np.ndarray:
    """Rebuild (..., J, 3) positions with the bone from each joint's parent scaled by
    ``factors[joint]`` along its own direction; the root stays where it is. A missing
    joint stays missing, and so does a joint whose parent is missing (no bone to scale)."""
    skel = get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
    pos = np.asarray(positions, dtype=np.float64)
    out = pos.copy()
    for child in _parents_first(skel):
        parent = skel.parents[child]
        if parent < 0:
            continue
        out[..., child, :] = out[..., parent, :] + (pos[..., child, :] - pos[..., parent, :]) * factors[child]
    return out


def _parents_first(skel: Skeleton) -> list[int]:
    order, seen = [], set()
    while len(order) < skel.num_joints:
        for j, p in enumerate(skel.parents):
            if j not in seen and (p < 0 or p in seen):
                order.append(j)
                seen.add(j)
    return order
