"""Virtual cameras and a detector-noise model for making 2D-3D pairs from 3D motion.

The training-data side of the project owns the calibrated versions of these
(``training/data/cameras.py``); this module is the trainer's geometry: a look-at camera
per window, OpenCV camera axes (x right, y down, z forward, metres), pinhole projection
to pixels. World space is Z up (``MotionClip``).

Protocol (the documented defaults): the camera aims at the subject's mean root position
over the window (plus an offset of about 0.3 m, so the subject is not always centred),
from an azimuth drawn uniformly over the full circle, an elevation between -5 and 30
degrees (slightly below to well above the hips), 2.5 to 8 m away, with a horizontal field
of view of 25-75 degrees, on an image drawn from square, landscape 16:9 and portrait 9:16
(phone) frames. Normalised by the image width (the paper's normalisation), a 1.7 m person
then spans about 0.3 to 3 units: from a small figure in a wide shot to one filling a
portrait frame (Human3.6M: about 0.6; the Pose2Sim demo's portrait cameras: about 1.5).
Joints that fall outside the image are not detected.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.skeleton import Skeleton

WORLD_UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class CameraProtocol:
    azimuth_deg: tuple[float, float] = (0.0, 360.0)
    elevation_deg: tuple[float, float] = (-5.0, 30.0)
    distance_m: tuple[float, float] = (2.5, 8.0)
    fov_deg: tuple[float, float] = (25.0, 75.0)
    image_sizes: tuple[tuple[int, int], ...] = ((1000, 1000), (1920, 1080), (1080, 1920))
    aim_jitter_m: float = 0.3

    def __post_init__(self) -> None:
        sizes = tuple(tuple(int(v) for v in size) for size in self.image_sizes)
        if not sizes or any(len(size) != 2 or min(size) <= 0 for size in sizes):
            raise ValueError(f"image_sizes must be a list of [width, height] pairs, got {self.image_sizes}")
        object.__setattr__(self, "image_sizes", sizes)


@dataclass(frozen=True)
class NoiseConfig:
    """Detector-like corruption of the 2D input, in pixels of the virtual image.

    ``jitter_px``: range of the per-window standard deviation of white jitter;
    ``dropout``: chance a joint is undetected in a frame; ``limb_occlusion``: chance a
    window has one limb undetected over a random run of frames.
    """

    jitter_px: tuple[float, float] = (0.0, 0.0)
    dropout: float = 0.0
    limb_occlusion: float = 0.0

    @property
    def active(self) -> bool:
        return self.jitter_px[1] > 0 or self.dropout > 0 or self.limb_occlusion > 0


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(B, 3, 3) world -> camera rotations (rows: right, down, forward) for cameras at
    ``eye`` looking at ``target``, level with the Z-up world."""
    forward = target - eye
    forward /= np.linalg.norm(forward, axis=-1, keepdims=True)
    right = np.cross(forward, WORLD_UP)
    right /= np.linalg.norm(right, axis=-1, keepdims=True)
    down = np.cross(forward, right)
    return np.stack([right, down, forward], axis=-2)


def cameras_at(target: np.ndarray, azimuth_deg: np.ndarray, elevation_deg: np.ndarray, distance_m: np.ndarray, fov_deg: np.ndarray, image_size: np.ndarray) -> dict[str, np.ndarray]:
    """Cameras (B,) around ``target`` (B, 3) on images ``image_size`` ((w, h) or (B, 2)).
    Azimuth 0 looks along +Y (Blender's front view: the camera stands at -Y), 90 stands
    at +X; elevation > 0 looks down; ``fov_deg`` is the horizontal field of view."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    direction = np.stack([np.sin(az) * np.cos(el), -np.cos(az) * np.cos(el), np.sin(el)], axis=-1)
    eye = target + direction * np.asarray(distance_m)[:, None]
    size = np.broadcast_to(np.asarray(image_size, np.float64), (len(eye), 2)).copy()
    focal = size[:, 0] / (2.0 * np.tan(np.radians(fov_deg) / 2.0))
    return {"rotation": look_at(eye, target), "eye": eye, "focal": np.asarray(focal, np.float64), "centre": size / 2.0, "size": size}


def sample_cameras(protocol: CameraProtocol, root: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One random camera per window; ``root`` (B, T, 3) is the root joint's world path."""
    b = root.shape[0]
    target = np.nanmean(root, axis=1) + rng.normal(0.0, protocol.aim_jitter_m, (b, 3))

    def draw(lo_hi: tuple[float, float]) -> np.ndarray:
        return rng.uniform(lo_hi[0], lo_hi[1], b)

    sizes = np.asarray(protocol.image_sizes, np.float64)[rng.integers(len(protocol.image_sizes), size=b)]
    return cameras_at(target, draw(protocol.azimuth_deg), draw(protocol.elevation_deg), draw(protocol.distance_m), draw(protocol.fov_deg), sizes)


def normalize_rows(px: np.ndarray, size: np.ndarray) -> np.ndarray:
    """``engine.coords.normalize_screen`` with one image size (w, h) per row of (B, ..., 2)."""
    shape = (len(px),) + (1,) * (px.ndim - 2)
    w = size[:, 0].reshape(shape + (1,))
    offset = np.stack([np.ones(len(size)), size[:, 1] / size[:, 0]], -1).reshape(shape + (2,))
    return (px / w * 2.0 - offset).astype(np.float32)


def inside_image(px: np.ndarray, size: np.ndarray) -> np.ndarray:
    """(B, ...) bool: the pixel lies within its row's image."""
    shape = (len(px),) + (1,) * (px.ndim - 2)
    w, h = size[:, 0].reshape(shape), size[:, 1].reshape(shape)
    return (px[..., 0] >= 0) & (px[..., 0] < w) & (px[..., 1] >= 0) & (px[..., 1] < h)


def to_camera(world: np.ndarray, cams: dict[str, np.ndarray]) -> np.ndarray:
    """World points (B, ..., 3) -> camera space of camera b (OpenCV axes, metres)."""
    b = world.shape[0]
    rel = world.reshape(b, -1, 3) - cams["eye"][:, None]
    return (rel @ np.swapaxes(cams["rotation"], 1, 2)).reshape(world.shape).astype(np.float32)


def project(cam3d: np.ndarray, cams: dict[str, np.ndarray]) -> np.ndarray:
    """Pinhole projection of camera-space points (B, ..., 3) to pixels (B, ..., 2)."""
    b, ones = cam3d.shape[0], (1,) * (cam3d.ndim - 2)
    z = np.maximum(cam3d[..., 2:3], 1e-3)
    focal = np.asarray(cams["focal"]).reshape((b,) + ones + (1,))
    centre = np.asarray(cams["centre"]).reshape((b,) + ones + (2,))
    return (cam3d[..., :2] / z * focal + centre).astype(np.float32)


def apply_detector_noise(px: np.ndarray, valid: np.ndarray, noise: NoiseConfig, skeleton: Skeleton, rng: np.random.Generator, focal: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Noisy pixels and the detected mask for (B, T, J, 2) clean projections."""
    detected = valid.copy()
    if not noise.active:
        return px, detected
    b, t, j, _ = px.shape
    out = px.copy()
    if noise.jitter_px[1] > 0:
        sigma = rng.uniform(noise.jitter_px[0], noise.jitter_px[1], (b, 1, 1, 1))
        out += rng.normal(0.0, 1.0, px.shape).astype(np.float32) * sigma.astype(np.float32)
    if noise.dropout > 0:
        detected &= rng.random((b, t, j)) >= noise.dropout
    if noise.limb_occlusion > 0:
        limbs = [skeleton.limb_indices(n) for n in ("right_leg", "left_leg", "right_arm", "left_arm")]
        for i in np.flatnonzero(rng.random(b) < noise.limb_occlusion):
            limb = limbs[rng.integers(len(limbs))]
            length = int(rng.integers(1, t + 1))
            start = int(rng.integers(0, t - length + 1))
            detected[i, start : start + length, limb] = False
    return out, detected
