"""View centring: lift each window as if the camera were aimed at the person.

A network that lifts a window of 2D keypoints learns the pose *as seen along the
optical axis*: the virtual cameras of training frame the person in the middle of the
image. A person off to one side of a real image is seen along a ray that is turned away
from the optical axis, so the same body looks turned, and a window-normalised network
(which no longer knows where in the image the person was) lifts it turned: on held-out
CMU motion, 12 degrees off-axis costs 11-16 mm MPJPE sideways and 40 mm up or down
(training/README.md).

With the camera's intrinsics the fix is exact geometry, not learning. Per window:

1. the ray through the centre of the visible joints' bounding box over all its frames,
   the framing training aims at; where no foot is seen in the window (legs occluded or
   out of the picture) that box lacks its lower half, so the aim is the root's mean
   position instead (occluded legs: 102 mm against 108 with the box, unchanged otherwise);
2. the rotation ``R`` of a virtual camera at the same place that pans (about the camera's
   y axis) and then tilts (about its new x axis) onto that ray: a tripod's pan and tilt,
   so a level camera stays level;
3. the window's 2D re-projected into that virtual camera (same focal length, principal
   point at the image centre), lifted, and the 3D output turned back with ``R^T``.

Everything works in the model's normalised image coordinates (:mod:`engine.coords`):
``x / w * 2 - [1, h / w]``, so intrinsics are given in pixels and converted here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import Skeleton


def pan_tilt(pan: np.ndarray | float, tilt: np.ndarray | float) -> np.ndarray:
    """Rotations (..., 3, 3) of camera space, ``x_cam -> R @ x_cam``, for a camera turned
    by ``pan`` radians about its y axis, then by ``tilt`` about its new x axis. A point on
    the optical axis moves to +x (right in the image) for a positive pan and to -y (up)
    for a positive tilt."""
    pan, tilt = np.broadcast_arrays(np.asarray(pan, dtype=np.float64), np.asarray(tilt, dtype=np.float64))
    cp, sp, ct, st = np.cos(pan), np.sin(pan), np.cos(tilt), np.sin(tilt)
    zero, one = np.zeros_like(pan), np.ones_like(pan)
    pan_m = np.stack([cp, zero, sp, zero, one, zero, -sp, zero, cp], -1).reshape(pan.shape + (3, 3))
    tilt_m = np.stack([one, zero, zero, zero, ct, -st, zero, st, ct], -1).reshape(pan.shape + (3, 3))
    return tilt_m @ pan_m


@dataclass(frozen=True)
class ViewCentring:
    """Pinhole intrinsics in normalised image units: focal lengths and principal point,
    each a number, or an array (N,) with one camera per window (training batches)."""

    fx: float | np.ndarray
    fy: float | np.ndarray
    cx: float | np.ndarray
    cy: float | np.ndarray

    def _per_window(self, name: str, ndim: int) -> np.ndarray:
        """A field shaped to broadcast against window arrays of ``ndim`` dimensions."""
        value = np.asarray(getattr(self, name), dtype=np.float64)
        return value.reshape(value.shape + (1,) * (ndim - 1)) if value.ndim else value

    @classmethod
    def from_pixels(cls, intrinsics: tuple, width: float, height: float) -> "ViewCentring":
        """(fx, fy, cx, cy) in pixels (numbers, or arrays (N,) per window) for an image
        ``width`` x ``height``."""
        fx, fy, cx, cy = (np.asarray(v, dtype=np.float64) for v in intrinsics)
        return cls(2.0 * fx / width, 2.0 * fy / width, 2.0 * cx / width - 1.0, 2.0 * cy / width - height / width)

    def rotations(self, points: np.ndarray, visible: np.ndarray, skeleton: Skeleton | None = None) -> np.ndarray:
        """Per window (N, T, J, 2) normalised points and (N, T, J) visibility -> the
        camera-to-virtual-camera rotations (N, 3, 3) aiming at each window's bounding-box
        centre (identity for a window with nothing visible). With the ``skeleton`` of the
        joints, a window with no foot seen aims at its root instead."""
        n = len(points)
        flat = points.reshape(n, -1, 2).astype(np.float64)
        seen = visible.reshape(n, -1)
        anything = seen.any(1)
        seen = seen | ~anything[:, None]  # an empty window: any finite box, replaced below
        lo = np.where(seen[..., None], flat, np.inf).min(1)
        hi = np.where(seen[..., None], flat, -np.inf).max(1)
        principal = np.stack(np.broadcast_arrays(self._per_window("cx", 1), self._per_window("cy", 1)), -1)
        centre = np.where(anything[:, None], 0.5 * (lo + hi), principal)
        feet = [i for i, name in enumerate(skeleton.joints) if name.endswith(("ankle", "toe"))] if skeleton is not None else []
        if feet:
            root_seen = visible[:, :, skeleton.root]
            use_root = ~visible[:, :, feet].any((1, 2)) & root_seen.any(1)
            root = np.where(root_seen[..., None], points[:, :, skeleton.root], 0.0).sum(1) / np.maximum(root_seen.sum(1), 1)[:, None]
            centre = np.where(use_root[:, None], root, centre)
        dx = (centre[:, 0] - self._per_window("cx", 1)) / self._per_window("fx", 1)
        dy = (centre[:, 1] - self._per_window("cy", 1)) / self._per_window("fy", 1)
        # Pan about y so the ray lands in the y-z plane, then tilt about the new x onto the axis.
        return pan_tilt(-np.arctan2(dx, 1.0), np.arctan2(dy, np.hypot(dx, 1.0)))

    def to_virtual(self, points: np.ndarray, rotations: np.ndarray) -> np.ndarray:
        """Windows of normalised 2D (N, T, J, 2) as the virtual cameras ``rotations`` (N, 3, 3)
        see them (principal point at the image centre), float32. Hidden joints keep finite
        values; the network ignores them."""
        fx, fy, cx, cy = (self._per_window(k, points.ndim) for k in ("fx", "fy", "cx", "cy"))
        rays = np.concatenate(
            np.broadcast_arrays((points[..., :1] - cx) / fx, (points[..., 1:2] - cy) / fy, np.ones(points.shape[:-1] + (1,))),
            -1,
        )
        turned = np.einsum("nij,ntkj->ntki", rotations, rays)
        depth = np.maximum(turned[..., 2:3], 1e-6)  # a joint behind the virtual camera stays finite
        return np.concatenate([turned[..., :1] / depth * fx, turned[..., 1:2] / depth * fy], -1).astype(np.float32)

    @staticmethod
    def from_virtual(poses: np.ndarray, rotations: np.ndarray) -> np.ndarray:
        """3D output of the virtual cameras, (N, J, 3) or (N, T, J, 3), back in the real
        camera's axes (``R^T`` per window), float32."""
        if poses.ndim == 3:
            return np.einsum("nji,nkj->nki", rotations, poses).astype(np.float32)
        return np.einsum("nji,ntkj->ntki", rotations, poses).astype(np.float32)
